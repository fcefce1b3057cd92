"""Intervals for balanced accuracy, F1, ROC AUC, ECE and mean scores at every group size (issue 36, point 1):
checked against scipy as oracle and against the point estimates they must contain. Their coverage is measured in
tests/test_verdicts.py and `python -m benchmarks.coverage`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import binomtest
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from audit import group_metrics
from audit.fairness._small_sample import (
    _hanley_mcneil_variance,
    auc_interval,
    balanced_accuracy_interval,
    ece_interval,
    f1_interval,
    mean_interval,
)

counts = st.integers(min_value=0, max_value=60)


@settings(max_examples=60, deadline=None)
@given(tp=counts, fp=counts, fn=counts)
def test_f1_is_the_exact_interval_of_the_jaccard_index_mapped(tp, fp, fn):
    low, high = f1_interval(tp, fp, fn, 0.95)
    if tp + fp + fn == 0:
        assert np.isnan(low) and np.isnan(high)
        return
    oracle = binomtest(tp, tp + fp + fn).proportion_ci(0.95, method="exact")
    assert np.isclose(low, 2 * oracle.low / (1 + oracle.low)) and np.isclose(high, 2 * oracle.high / (1 + oracle.high))
    assert low - 1e-12 <= 2 * tp / (2 * tp + fp + fn) <= high + 1e-12


@settings(max_examples=60, deadline=None)
@given(tp=counts, fn=counts, tn=counts, fp=counts)
def test_balanced_accuracy_is_the_mover_sum_of_the_exact_recall_limits(tp, fn, tn, fp):
    low, high = balanced_accuracy_interval(tp, fn, tn, fp, 0.95)
    if tp + fn + tn + fp == 0:
        assert np.isnan(low) and np.isnan(high)
        return
    y_true = np.r_[np.ones(tp + fn), np.zeros(tn + fp)]
    y_pred = np.r_[np.ones(tp), np.zeros(fn), np.zeros(tn), np.ones(fp)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns on one class present; its value is that recall
        value = balanced_accuracy_score(y_true, y_pred)
    assert low - 1e-12 <= value <= high + 1e-12 and 0 <= low <= high <= 1
    if tp + fn and tn + fp:
        first = binomtest(tp, tp + fn).proportion_ci(0.95, method="exact")
        second = binomtest(tn, tn + fp).proportion_ci(0.95, method="exact")
        a, b = tp / (tp + fn), tn / (tn + fp)
        expected_low = (a + b - np.hypot(a - first.low, b - second.low)) / 2
        expected_high = (a + b + np.hypot(first.high - a, second.high - b)) / 2
        assert np.isclose(low, max(expected_low, 0)) and np.isclose(high, min(expected_high, 1))


@settings(max_examples=40, deadline=None)
@given(
    n_pos=st.integers(min_value=1, max_value=40),
    n_neg=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_auc_limits_solve_newcombes_equation_as_brent_finds_them(n_pos, n_neg, seed):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    scores = rng.normal(y * rng.uniform(0, 2), 1)
    auc = roc_auc_score(y, scores)
    low, high = auc_interval(np.array([auc]), np.array([n_pos]), np.array([n_neg]), 0.95)
    z2 = 1.959963984540054**2

    def gap(theta):
        return (auc - theta) ** 2 - z2 * _hanley_mcneil_variance(np.array(theta), n_pos, n_neg)

    expected_low = 0.0 if auc <= 0 else brentq(gap, 0.0, auc - 1e-12 if auc < 1 else 1 - 1e-12)
    expected_high = 1.0 if auc >= 1 else brentq(gap, auc + 1e-12 if auc > 0 else 1e-12, 1.0)
    assert abs(low[0] - expected_low) < 1e-9 and abs(high[0] - expected_high) < 1e-9
    assert low[0] <= auc <= high[0]


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=80))
def test_the_betting_interval_holds_the_mean_and_narrows_with_rows(values):
    x = np.array(values)
    low, high = mean_interval(x, 0.95)
    assert 0 <= low <= x.mean() <= high <= 1
    wider = mean_interval(np.tile(x, 4), 0.95)
    assert wider[1] - wider[0] <= high - low + 2e-3  # four times the rows never widen it (beyond the grid step)


def test_engine_values_lie_inside_their_intervals_at_every_size_and_nothing_is_bare():
    rng = np.random.default_rng(3)
    sizes = {"a": 3, "b": 7, "c": 25, "d": 400}
    group = np.repeat(list(sizes), list(sizes.values()))
    y = rng.random(len(group)) < 0.4
    scores = np.clip(rng.beta(2, 3, len(group)) + 0.3 * y, 0, 1)
    metrics = ("selection_rate", "balanced_accuracy", "f1", "roc_auc", "ece", "mean_score")
    table = group_metrics(
        y_true=y, y_pred=scores > 0.5, scores=scores, sensitive=pd.DataFrame({"g": group}), metrics=metrics
    )
    for row in table.groups:
        for metric in metrics:
            value, interval = row.values[metric], row.ci.get(metric)
            if value is None:
                assert metric in row.undefined
                continue
            assert interval is not None, (row.name, metric, row.no_interval)
            assert interval[0] - 1e-9 <= value <= interval[1] + 1e-9, (row.name, metric, value, interval)
    d = table.group("g=d")
    assert np.isclose(d.values["f1"], f1_score(y[group == "d"], scores[group == "d"] > 0.5))
    low, high = ece_interval(y[group == "b"], scores[group == "b"], 0.95)
    assert table.group("g=b").ci["ece"] == [low, high]
    assert table.overall_ci["roc_auc"] is not None and table.overall_ci["f1"] is not None


def test_weighted_small_groups_say_why_their_score_metrics_have_no_interval():
    rng = np.random.default_rng(4)
    group = np.repeat(["small", "large"], [12, 300])
    y = rng.random(len(group)) < 0.5
    scores = rng.random(len(group))
    table = group_metrics(
        y_true=y,
        y_pred=scores > 0.5,
        scores=scores,
        sensitive=pd.DataFrame({"g": group}),
        metrics=("f1", "roc_auc", "mean_score"),
        sample_weight=rng.uniform(0.5, 2, len(group)),
    )
    small = table.group("g=small")
    assert small.ci["f1"] is not None  # Kish's effective counts
    assert small.ci.get("roc_auc") is None and "weighted data under 30 rows" in small.no_interval["roc_auc"]
    assert table.group("g=large").ci["roc_auc"] is not None and not table.group("g=large").no_interval
