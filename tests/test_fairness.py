import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from hypothesis import given, settings
from hypothesis import strategies as st
from fairlearn.metrics import false_negative_rate, true_negative_rate
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_score

from audit import DataError, group_metrics


def _npv(y, p, sample_weight=None):
    return precision_score(
        ~np.asarray(y, bool), ~np.asarray(p, bool), zero_division=np.nan, sample_weight=sample_weight
    )


def _base_rate(y, p, sample_weight=None):
    return np.average(np.asarray(y, float), weights=sample_weight)


FAIRLEARN_METRICS = {
    "count": lambda y, p, sample_weight=None: len(y),
    "base_rate": _base_rate,
    "selection_rate": selection_rate,
    "accuracy": accuracy_score,
    "balanced_accuracy": balanced_accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "tnr": true_negative_rate,
    "precision": lambda y, p, sample_weight=None: precision_score(
        y, p, zero_division=np.nan, sample_weight=sample_weight
    ),
    "npv": _npv,
    "f1": lambda y, p, sample_weight=None: f1_score(y, p, zero_division=np.nan, sample_weight=sample_weight),
}
ALL = tuple(FAIRLEARN_METRICS)


def _metric_frame(y_true, y_pred, sensitive, sample_weight=None):
    params = None if sample_weight is None else {name: {"sample_weight": sample_weight} for name in FAIRLEARN_METRICS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn warns about undefined rates; we compare defined ones only
        return MetricFrame(
            metrics=FAIRLEARN_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive, sample_params=params
        )


def _key(group):
    return tuple(group.key.values()) if len(group.key) > 1 else next(iter(group.key.values()))


def _assert_matches_fairlearn(table, frame: MetricFrame):
    by_group = frame.by_group
    for group in table.groups:
        key = _key(group)
        for metric, value in group.values.items():
            expected = by_group.loc[key, metric]
            if value is None:
                # fairlearn's confusion-matrix rates report 0 where the rate is undefined; sklearn's NaN
                assert np.isnan(expected) or expected == 0, (group.name, metric)
            else:
                assert value == pytest.approx(float(expected), abs=1e-9), (group.name, metric)
    for metric, disparity in table.disparities.items():
        # fairlearn lists every combination of categories; compare over the groups that occur and are defined
        defined = pd.Series(
            [float(by_group.loc[_key(g), metric]) for g in table.groups if g.values[metric] is not None], dtype=float
        )
        if len(defined) >= 2:
            assert disparity.difference == pytest.approx(defined.max() - defined.min(), abs=1e-9)
            if defined.max() > 0:
                assert disparity.ratio == pytest.approx(defined.min() / defined.max(), abs=1e-9)


@pytest.mark.parametrize("columns", [["sex"], ["race"], ["sex", "race"]])
def test_matches_fairlearn_on_the_adult_model(adult_test, adult_model, columns):
    y_true = (adult_test["income"] == ">50K").to_numpy()
    y_pred = adult_model.predict(adult_test) == 1
    table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=adult_test[columns], metrics=ALL, n_boot=0)
    _assert_matches_fairlearn(table, _metric_frame(y_true, y_pred, adult_test[columns]))
    # the disparity fairlearn's own summary reports, under its own name
    if columns == ["sex"]:
        from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

        assert table.disparities["selection_rate"].difference == pytest.approx(
            demographic_parity_difference(y_true, y_pred, sensitive_features=adult_test["sex"]), abs=1e-12
        )
        assert table.disparities["selection_rate"].ratio == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, sensitive_features=adult_test["sex"]), abs=1e-12
        )


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=120).flatmap(
        lambda n: st.tuples(
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n),
            st.lists(st.sampled_from(["x", "y"]), min_size=n, max_size=n),
            st.one_of(st.none(), st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=n, max_size=n)),
        )
    )
)
def test_property_agrees_with_fairlearn(data):
    y_true, y_pred, first, second = (np.array(v) for v in data[:4])
    weights = None if data[4] is None else np.array(data[4])
    if weights is not None:
        weights[weights < 1e-3] = 0.0  # exact zeros are allowed; subnormal weights only test float noise
    sensitive = pd.DataFrame({"first": first, "second": second})
    for columns in (["first"], ["first", "second"]):
        table = group_metrics(
            y_true=y_true, y_pred=y_pred, sensitive=sensitive[columns], metrics=ALL, sample_weight=weights, n_boot=0
        )
        assert sum(g.n for g in table.groups) == len(y_true)
        if weights is not None and any(
            weights[(sensitive[columns] == list(g.key.values())).all(axis=1)].sum() == 0 for g in table.groups
        ):
            continue  # sklearn refuses all-zero-weight groups outright; ours reports them undefined
        _assert_matches_fairlearn(table, _metric_frame(y_true, y_pred, sensitive[columns], weights))


def test_undefined_metric_is_none_with_a_reason():
    table = group_metrics(
        y_true=np.array([0, 0, 1, 1], bool),
        y_pred=np.array([1, 0, 1, 0], bool),
        sensitive=pd.DataFrame({"g": ["a", "a", "b", "b"]}),
        metrics=("tpr", "fpr"),
    )
    a = table.groups[0]
    assert a.values["tpr"] is None and a.undefined["tpr"] == "the group has no positive labels"
    assert a.values["fpr"] == 0.5
    assert "Undefined for g=a" in table.disparities["tpr"].note


def test_small_groups_are_flagged_not_dropped():
    sensitive = pd.DataFrame({"g": ["big"] * 50 + ["tiny"] * 3})
    y = np.ones(53, dtype=bool)
    table = group_metrics(y_true=y, y_pred=y, sensitive=sensitive, min_group_size=30)
    assert [(g.name, g.n, g.small) for g in table.groups] == [("g=big", 50, False), ("g=tiny", 3, True)]


def test_reliable_disparities_leave_out_thin_denominators():
    # group b has 40 rows but only 2 positives: its TPR is not compared in the reliable view
    y_true = np.array([True] * 40 + [False] * 20 + [True] * 2 + [False] * 38)
    y_pred = np.array([True] * 40 + [False] * 20 + [False] * 2 + [False] * 38)
    sensitive = pd.DataFrame({"g": ["a"] * 60 + ["b"] * 40})
    table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=sensitive, metrics=("tpr",), min_group_size=30)
    assert table.disparities["tpr"].ratio == 0.0
    assert table.disparities_reliable["tpr"].ratio is None
    assert "fewer than 30 rows" in table.disparities_reliable["tpr"].note


def test_planted_bias_is_found_and_a_fair_control_is_not(biased_frame):
    sensitive = biased_frame[["group"]]
    biased = group_metrics(
        y_true=biased_frame["label"].to_numpy(bool), y_pred=biased_frame["decision"].to_numpy(bool), sensitive=sensitive
    )
    assert biased.disparities["selection_rate"].worst_group == "group=B"
    assert biased.disparities["selection_rate"].ratio == pytest.approx(0.5, abs=0.05)
    rng = np.random.default_rng(1)
    fair = group_metrics(
        y_true=biased_frame["label"].to_numpy(bool), y_pred=rng.random(len(biased_frame)) < 0.45, sensitive=sensitive
    )
    assert fair.disparities["selection_rate"].ratio > 0.9


def test_length_mismatch_and_empty():
    with pytest.raises(DataError, match="same length"):
        group_metrics(y_true=np.ones(3, bool), y_pred=np.ones(2, bool), sensitive=pd.DataFrame({"g": list("abc")}))
    with pytest.raises(DataError, match="empty data"):
        group_metrics(y_true=np.ones(0, bool), y_pred=np.ones(0, bool), sensitive=pd.DataFrame({"g": []}))


def test_score_metrics_match_scikit_learn(adult_test, adult_model):
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_auc_score

    y_true = (adult_test["income"] == ">50K").to_numpy()
    scores = adult_model.predict_proba(adult_test)[:, 1]
    table = group_metrics(
        y_true=y_true,
        y_pred=scores >= 0.5,
        sensitive=adult_test[["sex"]],
        scores=scores,
        metrics=("roc_auc", "ece", "mean_score"),
        n_boot=200,
    )
    for group in table.groups:
        mask = (adult_test["sex"] == group.key["sex"]).to_numpy()
        assert group.values["roc_auc"] == pytest.approx(roc_auc_score(y_true[mask], scores[mask]), abs=1e-12)
        observed, predicted = calibration_curve(y_true[mask], scores[mask], n_bins=10, strategy="uniform")
        counts = np.histogram(scores[mask], bins=np.linspace(0, 1, 11))[0]
        expected_ece = np.sum(counts[counts > 0] / mask.sum() * np.abs(observed - predicted))
        assert group.values["ece"] == pytest.approx(expected_ece, abs=1e-9)
        assert group.values["mean_score"] == pytest.approx(scores[mask].mean(), abs=1e-12)
        low, high = group.ci["roc_auc"]
        assert low < group.values["roc_auc"] < high


def test_bootstrap_intervals_agree_with_fairlearn(adult_test, adult_model):
    rows = adult_test.iloc[:5000]  # fairlearn resamples row by row: keep its share of the suite short
    y_true = (rows["income"] == ">50K").to_numpy()
    y_pred = adult_model.predict(rows) == 1
    table = group_metrics(
        y_true=y_true, y_pred=y_pred, sensitive=rows[["sex"]], metrics=("selection_rate", "tpr"), n_boot=2000, seed=0
    )
    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=rows["sex"],
        n_boot=200,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    low, high = frame.by_group_ci
    for group in table.groups:
        for metric in ("selection_rate", "tpr"):
            ours = group.ci[metric]
            theirs = (low.loc[group.key["sex"], metric], high.loc[group.key["sex"], metric])
            width = theirs[1] - theirs[0]
            # two independent Monte Carlo estimates of the same interval: bounds agree to a fraction of its width
            assert ours[0] == pytest.approx(theirs[0], abs=0.25 * width + 1e-3)
            assert ours[1] == pytest.approx(theirs[1], abs=0.25 * width + 1e-3)
    d_low, d_high = frame.difference_ci()
    ours = table.disparities["selection_rate"].difference_ci
    width = d_high["selection_rate"] - d_low["selection_rate"]
    assert ours[0] == pytest.approx(d_low["selection_rate"], abs=0.25 * width + 1e-3)
    assert ours[1] == pytest.approx(d_high["selection_rate"], abs=0.25 * width + 1e-3)


def test_bootstrap_is_seeded_and_constant_weights_change_nothing(biased_frame):
    args = dict(
        y_true=biased_frame["label"].to_numpy(bool),
        y_pred=biased_frame["decision"].to_numpy(bool),
        sensitive=biased_frame[["group"]],
        metrics=("selection_rate", "tpr"),
        n_boot=300,
        seed=5,
    )
    first, second = group_metrics(**args), group_metrics(**args)
    assert first.groups[0].ci == second.groups[0].ci
    doubled = group_metrics(**args, sample_weight=np.full(len(biased_frame), 2.0))
    assert doubled.groups[0].values == first.groups[0].values
    np.testing.assert_allclose(doubled.groups[0].ci["tpr"], first.groups[0].ci["tpr"])
    assert doubled.weighted and not first.weighted


def test_fairlearn_summary_metrics_under_their_names(adult_test, adult_model):
    from fairlearn.metrics import (
        demographic_parity_ratio,
        equal_opportunity_difference,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    y_true = (adult_test["income"] == ">50K").to_numpy()
    y_pred = adult_model.predict(adult_test) == 1
    race = adult_test["race"]
    table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=adult_test[["race"]], n_boot=0)
    for name, function in (
        ("demographic_parity_ratio", demographic_parity_ratio),
        ("equalized_odds_difference", equalized_odds_difference),
        ("equalized_odds_ratio", equalized_odds_ratio),
        ("equal_opportunity_difference", equal_opportunity_difference),
    ):
        assert table.summary[name]["value"] == pytest.approx(
            function(y_true, y_pred, sensitive_features=race), abs=1e-12
        ), name


def test_reference_group_and_overall_comparisons(biased_frame):
    table = group_metrics(
        y_true=biased_frame["label"].to_numpy(bool),
        y_pred=biased_frame["decision"].to_numpy(bool),
        sensitive=biased_frame[["group"]],
        metrics=("selection_rate",),
        reference="group=B",
        n_boot=0,
    )
    disparity = table.disparities["selection_rate"]
    a, b = (table.group(n).values["selection_rate"] for n in ("group=A", "group=B"))
    assert disparity.to_reference["group=A"].ratio == pytest.approx(a / b)
    assert disparity.to_overall["group=B"].difference == pytest.approx(b - table.overall["selection_rate"])
    # each comparison kind has its own test of exactly its pair
    assert disparity.to_reference["group=A"].compared_with == "group=B"
    assert disparity.to_benchmark["group=B"].compared_with == disparity.benchmark_group == "group=A"
    with pytest.raises(DataError, match="The reference group 'group=C' does not occur"):
        group_metrics(y_true=[1, 0], y_pred=[1, 0], sensitive=pd.DataFrame({"group": ["A", "B"]}), reference="group=C")


def test_bad_inputs_are_refused_with_reasons():
    sensitive = pd.DataFrame({"g": ["a", "b", "a"]})
    with pytest.raises(DataError, match=r"non-negative\. Got -1\.0 instead"):
        group_metrics(y_true=[1, 0, 1], y_pred=[1, 0, 0], sensitive=sensitive, sample_weight=[1, -1, 1])
    with pytest.raises(DataError, match=r"finite and non-negative\. Got nan instead"):
        group_metrics(y_true=[1, 0, 1], y_pred=[1, 0, 0], sensitive=sensitive, sample_weight=[1, np.nan, 1])
    with pytest.raises(
        DataError, match=r"'y_pred' parameter of group_metrics must hold binary values .* Got 2 instead"
    ):
        group_metrics(y_true=[1, 0, 1], y_pred=[1, 2, 0], sensitive=sensitive)
    with pytest.raises(DataError, match="need scores"):
        group_metrics(y_true=[1, 0, 1], y_pred=[1, 0, 0], sensitive=sensitive, metrics=("roc_auc",))
