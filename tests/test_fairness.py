import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, precision_score

from audit import DataError, group_metrics

FAIRLEARN_METRICS = {
    "selection_rate": selection_rate,
    "accuracy": accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "precision": lambda y, p: precision_score(y, p, zero_division=np.nan),
}
ALL = tuple(FAIRLEARN_METRICS)


def _metric_frame(y_true, y_pred, sensitive):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn warns about undefined rates; we compare defined ones only
        return MetricFrame(metrics=FAIRLEARN_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive)


def _key(group):
    return tuple(group.key.values()) if len(group.key) > 1 else next(iter(group.key.values()))


def _assert_matches_fairlearn(table, frame: MetricFrame):
    by_group = frame.by_group
    for group in table.groups:
        key = _key(group)
        for metric, value in group.values.items():
            expected = by_group.loc[key, metric]
            if value is None:
                assert np.isnan(expected) or metric in ("tpr", "fpr")  # fairlearn reports 0 for empty TPR/FPR
            else:
                assert value == pytest.approx(float(expected), abs=1e-12), (group.name, metric)
    for metric, disparity in table.disparities.items():
        # fairlearn lists every combination of categories; compare over the groups that occur and are defined
        defined = pd.Series([float(by_group.loc[_key(g), metric]) for g in table.groups
                             if g.values[metric] is not None], dtype=float)
        if len(defined) >= 2:
            assert disparity.difference == pytest.approx(defined.max() - defined.min(), abs=1e-12)
            if defined.max() > 0:
                assert disparity.ratio == pytest.approx(defined.min() / defined.max(), abs=1e-12)


@pytest.mark.parametrize("columns", [["sex"], ["race"], ["sex", "race"]])
def test_matches_fairlearn_on_the_adult_model(adult_test, adult_model, columns):
    y_true = (adult_test["income"] == ">50K").to_numpy()
    y_pred = adult_model.predict(adult_test) == 1
    table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=adult_test[columns], metrics=ALL)
    _assert_matches_fairlearn(table, _metric_frame(y_true, y_pred, adult_test[columns]))
    # the disparity fairlearn's own summary reports, under its own name
    if columns == ["sex"]:
        from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

        assert table.disparities["selection_rate"].difference == pytest.approx(
            demographic_parity_difference(y_true, y_pred, sensitive_features=adult_test["sex"]), abs=1e-12)
        assert table.disparities["selection_rate"].ratio == pytest.approx(
            demographic_parity_ratio(y_true, y_pred, sensitive_features=adult_test["sex"]), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=200).flatmap(lambda n: st.tuples(
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n),
    st.lists(st.sampled_from(["x", "y"]), min_size=n, max_size=n))))
def test_property_agrees_with_fairlearn(data):
    y_true, y_pred, first, second = (np.array(v) for v in data)
    sensitive = pd.DataFrame({"first": first, "second": second})
    for columns in (["first"], ["first", "second"]):
        table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=sensitive[columns], metrics=ALL)
        assert sum(g.n for g in table.groups) == len(y_true)
        _assert_matches_fairlearn(table, _metric_frame(y_true, y_pred, sensitive[columns]))


def test_undefined_metric_is_none_with_a_reason():
    table = group_metrics(y_true=np.array([0, 0, 1, 1], bool), y_pred=np.array([1, 0, 1, 0], bool),
                          sensitive=pd.DataFrame({"g": ["a", "a", "b", "b"]}), metrics=("tpr", "fpr"))
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
    biased = group_metrics(y_true=biased_frame["label"].to_numpy(bool), y_pred=biased_frame["decision"].to_numpy(bool),
                           sensitive=sensitive)
    assert biased.disparities["selection_rate"].worst_group == "group=B"
    assert biased.disparities["selection_rate"].ratio == pytest.approx(0.5, abs=0.05)
    rng = np.random.default_rng(1)
    fair = group_metrics(y_true=biased_frame["label"].to_numpy(bool), y_pred=rng.random(len(biased_frame)) < 0.45,
                         sensitive=sensitive)
    assert fair.disparities["selection_rate"].ratio > 0.9


def test_length_mismatch_and_empty():
    with pytest.raises(DataError, match="same length"):
        group_metrics(y_true=np.ones(3, bool), y_pred=np.ones(2, bool), sensitive=pd.DataFrame({"g": list("abc")}))
    with pytest.raises(DataError, match="empty data"):
        group_metrics(y_true=np.ones(0, bool), y_pred=np.ones(0, bool), sensitive=pd.DataFrame({"g": []}))
