"""Pooled (empirical-Bayes) estimates: oracles for their parts, properties, planted data, the engine's record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betainc, betaincinv, expit
from sklearn.linear_model import LogisticRegression

from audit.fairness._pooling import _fit_logit, _main_effects, _mixture_quantiles, pool_rates
from audit.fairness._tables import group_metrics
from audit.fairness._types import FairnessTable
from audit.result._serde import from_dict, to_dict
from benchmarks.pooling import measure


def test_the_parent_model_is_scikit_learns_logistic_regression_on_the_counts():
    rng = np.random.default_rng(3)
    keys = [(s, r) for s in "FM" for r in "ABCD"]
    n = rng.integers(5, 200, len(keys)).astype(float)
    x = rng.binomial(n.astype(int), expit(rng.normal(-0.5, 0.6, len(keys)))).astype(float)
    design = _main_effects(keys, 2)
    ours, covariance = _fit_logit(x, n, design, ridge=0.0)
    # the oracle: one row per (group, outcome), weighted by its count
    rows = np.vstack([design, design])[:, 1:]
    labels = np.r_[np.ones(len(keys)), np.zeros(len(keys))]
    oracle = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(rows, labels, sample_weight=np.r_[x, n - x])
    np.testing.assert_allclose(ours, np.r_[oracle.intercept_, oracle.coef_[0]], atol=1e-5)
    assert np.all(np.linalg.eigvalsh(covariance) > 0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.5, 300), st.floats(0.5, 300), st.floats(0.01, 1)), min_size=1, max_size=6),
    st.floats(0.01, 0.2),
)
def test_mixture_quantiles_invert_the_mixtures_distribution_function(components, tail):
    a = np.array([[c[0] for c in components]])
    b = np.array([[c[1] for c in components]])
    w = np.array([c[2] for c in components])
    w /= w.sum()
    low, high = _mixture_quantiles(a, b, w, (tail, 1 - tail))
    for quantile, q in ((low, tail), (high, 1 - tail)):  # to within 1e-6 on the rate's scale
        below, above = np.clip(quantile[:, None] - 1e-6, 0, 1), np.clip(quantile[:, None] + 1e-6, 0, 1)
        assert betainc(a, b, below) @ w <= q <= betainc(a, b, above) @ w
    if len(components) == 1:  # one component: the beta's own quantile
        assert low[0] == pytest.approx(betaincinv(a[0, 0], b[0, 0], tail), abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_a_pooled_rate_lies_between_the_raw_rate_and_its_prior_and_inside_its_interval(data):
    n_groups = data.draw(st.integers(5, 12))
    n = np.array(data.draw(st.lists(st.integers(0, 150), min_size=n_groups, max_size=n_groups)), float)
    n[:5] = np.maximum(n[:5], 1)  # the engine pools where at least 5 groups have rows
    fractions = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n_groups, max_size=n_groups)))
    x = np.floor(fractions * n)
    keys = [(f"g{i}",) for i in range(n_groups)]
    pooled = pool_rates(x, n, keys, ["group"], 0.95)
    has = n > 0
    raw = x[has] / n[has]
    lower = np.minimum(raw, pooled.prior_means[has]) - 1e-9
    upper = np.maximum(raw, pooled.prior_means[has]) + 1e-9
    assert np.all((lower <= pooled.values[has]) & (pooled.values[has] <= upper))
    assert np.all((pooled.low[has] <= pooled.values[has] + 1e-9) & (pooled.values[has] <= pooled.high[has] + 1e-9))
    assert np.all((pooled.weight[has] > 0) & (pooled.weight[has] < 1))
    assert np.all(np.isnan(pooled.values[~has]))
    # the prior of a one-feature table is the other groups' rate (the fit's small ridge matters only at 0 or 1)
    others = (x.sum() - x[has]) / np.maximum(n.sum() - n[has], 1)
    clear = (n.sum() - n[has] >= 50) & (others > 0.05) & (others < 0.95)
    np.testing.assert_allclose(pooled.prior_means[has][clear], others[clear], atol=2e-3)


def test_on_planted_intersectional_data_pooling_lowers_the_error_and_its_intervals_cover():
    # a few draws of every scenario of benchmarks.pooling (300 there: mse ratio 0.45, coverage 0.94)
    summary = measure(draws=6, seed=11)
    assert summary["pooled_mse_ratio"] < 0.8
    assert summary["pooled_coverage"] >= 0.88
    # the planted outlier is pulled towards its parents: raw intervals cover it, the pooled ones less often
    assert summary["planted_outlier"]["mse_ratio"] > 1


@pytest.fixture(scope="module")
def intersectional_rows():
    rng = np.random.default_rng(0)
    rows = 1500
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], rows),
            "race": rng.choice(list("ABCDEF"), rows, p=[0.5, 0.25, 0.12, 0.08, 0.03, 0.02]),
        }
    )
    return frame, rng.binomial(1, 0.3, rows), rng.binomial(1, 0.35, rows), rng.uniform(0.5, 2, rows)


def test_the_engine_pools_proportions_of_many_small_groups_and_records_how(intersectional_rows):
    frame, y_true, y_pred, _ = intersectional_rows
    table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=frame[["sex", "race"]], n_boot=0)
    assert table.pooling.metrics == ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "npv")
    assert "additive logit model of sex and race" in table.pooling.prior and table.pooling.reason == ""
    for group in table.groups:
        assert set(group.pooled) <= set(table.pooling.metrics)  # balanced accuracy and F1 are not proportions
        for metric, estimate in group.pooled.items():
            assert group.values[metric] is not None and estimate.ci is not None
            assert estimate.ci[0] <= estimate.value <= estimate.ci[1]
    # small groups lean on the others more than large ones
    weights = {g.n: g.pooled["selection_rate"].own_weight for g in table.groups}
    assert weights[min(weights)] < weights[max(weights)]
    # two groups say too little about how much groups differ
    without = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=frame[["sex"]], n_boot=0)
    assert without.pooling.metrics == () and "at least 5 groups" in without.pooling.reason
    assert all(g.pooled == {} for g in without.groups)
    loaded = from_dict(FairnessTable, to_dict(table), "fairness.0")
    assert loaded.groups[5].pooled == table.groups[5].pooled and loaded.pooling == table.pooling


def test_weighted_rows_are_not_pooled_and_say_why(intersectional_rows):
    frame, y_true, y_pred, weights = intersectional_rows
    table = group_metrics(
        y_true=y_true, y_pred=y_pred, sensitive=frame[["sex", "race"]], sample_weight=weights, n_boot=0
    )
    assert table.pooling.metrics == () and "weighted" in table.pooling.reason
    assert all(g.pooled == {} for g in table.groups)
