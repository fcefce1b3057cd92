import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_absolute_error

from audit import AuditConfig, DataConfig, DataError, run_audit
from audit.fairness._tasks import multiclass_group_metrics, regression_group_metrics
from reports import render_html


@pytest.fixture()
def frame():
    rng = np.random.default_rng(0)
    n = 3000
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.4, 0.1])
    x = rng.normal(size=n)
    y = 2 * x + (group == "a") * 0.5 + rng.normal(size=n)
    cls = np.where(y > 1, "high", np.where(y < -1, "low", "mid"))
    return pd.DataFrame({"x": x, "group": group, "y": y, "cls": cls})


def test_regression_metrics_match_fairlearn(frame):
    prediction = frame["y"].to_numpy() + np.random.default_rng(1).normal(size=len(frame)) * 0.3
    table = regression_group_metrics(y_true=frame["y"], y_pred=prediction, sensitive=frame[["group"]], n_boot=200)
    reference = MetricFrame(
        metrics={"mae": mean_absolute_error, "mean_prediction": lambda y, p: np.mean(p)},
        y_true=frame["y"],
        y_pred=prediction,
        sensitive_features=frame["group"],
    )
    for group in table.groups:
        for metric in ("mae", "mean_prediction"):
            assert group.values[metric] == pytest.approx(reference.by_group.loc[group.key["group"], metric], abs=1e-12)
            low, high = group.ci[metric]
            assert low <= group.values[metric] <= high
    assert table.disparities["mae"].difference == pytest.approx(reference.difference()["mae"], abs=1e-12)


def test_multiclass_selection_rates_per_class(frame):
    rng = np.random.default_rng(2)
    prediction = np.where(rng.random(len(frame)) < 0.8, frame["cls"], "mid")
    table = multiclass_group_metrics(y_true=frame["cls"], y_pred=prediction, sensitive=frame[["group"]], n_boot=200)
    expected = pd.crosstab(frame["group"], prediction, normalize="index")
    for group in table.groups:
        for cls in ("high", "low", "mid"):
            assert group.values[f"selection_rate[{cls}]"] == pytest.approx(expected.loc[group.key["group"], cls])
        mask = (frame["group"] == group.key["group"]).to_numpy()
        assert group.values["accuracy"] == pytest.approx((prediction[mask] == frame["cls"].to_numpy()[mask]).mean())
    disparity = table.disparities["selection_rate[high]"]
    assert disparity.best_group == "group=a"  # the planted offset makes group a score high more often
    assert disparity.to_benchmark["group=b"].p_value_holm < 0.05
    with pytest.raises(DataError, match=r"Predictions hold classes \['other'\]"):
        multiclass_group_metrics(
            y_true=["a", "b"], y_pred=["a", "other"], sensitive=pd.DataFrame({"g": [1, 2]}), classes=["a", "b"]
        )


def test_run_audit_for_regression_and_multiclass_models(frame):
    regression = run_audit(
        AuditConfig(data=DataConfig(label="y", sensitive=("group",), features=("x",), task="regression")),
        data=frame,
        model=LinearRegression().fit(frame[["x"]], frame["y"]),
    )
    assert regression.fairness[0].metrics == ("count", "mean_prediction", "mean_label", "mae")
    assert regression.model.task == "regression" and regression.model.mae > 0
    assert regression.skipped[0].reason.startswith("Attributions cover binary classifiers")
    assert regression.regulatory.four_fifths == [] and regression.regulatory.ll144 is None
    multiclass = run_audit(
        AuditConfig(data=DataConfig(label="cls", sensitive=("group",), features=("x",), task="multiclass")),
        data=frame,
        model=LogisticRegression().fit(frame[["x"]], frame["cls"]),
    )
    assert "selection_rate[high]" in multiclass.fairness[0].metrics
    assert 0.5 < multiclass.model.accuracy <= 1
    html = render_html(multiclass)
    assert "selection_rate[high]" in html and "(multiclass)" in html


def test_regression_label_must_be_numeric(frame):
    with pytest.raises(DataError, match=r'task = "regression" needs a numeric label, but \'cls\' holds'):
        run_audit(
            AuditConfig(data=DataConfig(label="cls", sensitive=("group",), task="regression")),
            data=frame,
            model=LinearRegression(),
        )
