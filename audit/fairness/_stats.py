"""Significance tests for group disparities: two-proportion z test, Fisher's exact test for small counts,
and Holm's step-down correction across the comparisons of one table."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

# the resampling helpers live in the bottom layer (explainers' quality checks use them too)
from explainers._stats import interval_or_none, percentile_interval, resampled_ratio_of_sums

__all__ = [
    "compare_proportions",
    "holm",
    "interval_or_none",
    "percentile_interval",
    "proportion_interval",
    "difference_interval",
    "ratio_interval",
    "mover_difference",
    "mover_ratio",
    "effective_counts",
    "resampled_ratio_of_sums",
]


def compare_proportions(
    x1: float, n1: float, x2: float, n2: float, *, min_expected: float = 5.0
) -> tuple[float | None, str]:
    """p-value of H0 "same proportion" for x1/n1 vs x2/n2, and the test used.

    The z test (pooled) is used when every expected cell of the 2x2 table is at least ``min_expected``;
    otherwise Fisher's exact test. Returns (None, reason) when a group has no rows for the metric.
    """
    if n1 <= 0 or n2 <= 0:
        return None, "not tested: a group has no rows for this metric"
    x1, n1, x2, n2 = (int(round(v)) for v in (x1, n1, x2, n2))
    total, successes = n1 + n2, x1 + x2
    expected = [n * s / total for n in (n1, n2) for s in (successes, total - successes)]
    if min(expected) < min_expected:
        from scipy.stats import fisher_exact

        _, p_value = fisher_exact([[x1, n1 - x1], [x2, n2 - x2]])
        return float(min(1.0, p_value)), "fisher_exact"
    pooled = successes / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0, "two_proportion_z"
    z = (x1 / n1 - x2 / n2) / se
    return float(math.erfc(abs(z) / math.sqrt(2))), "two_proportion_z"


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (family-wise error control); ``None`` entries are left out and kept None."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


# --- intervals for proportions and their comparisons ---------------------------------------------------
# Group rates are proportions, and the percentile bootstrap collapses on small or extreme counts (5 of 5
# positives gave [1.0, 1.0]). Rates therefore get Clopper-Pearson intervals, whose coverage never falls
# below the nominal level; differences and ratios of two rates get MOVER intervals (Newcombe 1998;
# Donner & Zou 2012) built from those same limits. `python -m benchmarks.coverage` measures their coverage.


def proportion_interval(successes: ArrayLike, trials: ArrayLike, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson ("exact") interval of successes / trials, elementwise; NaN where trials is 0.

    Non-integer counts (weighted data, as effective counts) are accepted: the beta quantiles are continuous.
    """
    from scipy.stats import beta

    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    alpha = 1 - level
    with np.errstate(all="ignore"):
        low = np.where(x <= 0, 0.0, beta.ppf(alpha / 2, np.maximum(x, 1e-12), np.maximum(n - x + 1, 1e-12)))
        high = np.where(x >= n, 1.0, beta.ppf(1 - alpha / 2, x + 1, np.maximum(n - x, 1e-12)))
    empty = ~(n > 0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def difference_interval(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-D interval of p1 - p2 from the Clopper-Pearson limits of each rate (Newcombe's construction)."""
    l1, u1 = proportion_interval(x1, n1, level)
    l2, u2 = proportion_interval(x2, n2, level)
    return mover_difference(_rate(x1, n1), l1, u1, _rate(x2, n2), l2, u2)


def ratio_interval(
    x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-R interval of p1 / p2 (Donner & Zou 2012) from the Clopper-Pearson limits of each rate.

    The upper limit is +inf when p2's lower limit is 0 (the data cannot bound the ratio from above).
    """
    l1, u1 = proportion_interval(x1, n1, level)
    l2, u2 = proportion_interval(x2, n2, level)
    return mover_ratio(_rate(x1, n1), l1, u1, _rate(x2, n2), l2, u2)


def mover_difference(
    p1: ArrayLike, l1: ArrayLike, u1: ArrayLike, p2: ArrayLike, l2: ArrayLike, u2: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-D from two estimates and their interval limits (arithmetic only: the limits come precomputed)."""
    a, la, ua, b, lb, ub = (np.asarray(v, float) for v in (p1, l1, u1, p2, l2, u2))
    d = a - b
    return d - np.sqrt((a - la) ** 2 + (ub - b) ** 2), d + np.sqrt((ua - a) ** 2 + (b - lb) ** 2)


def mover_ratio(
    p1: ArrayLike, l1: ArrayLike, u1: ArrayLike, p2: ArrayLike, l2: ArrayLike, u2: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-R from two estimates and their interval limits; NaN where a rate is undefined."""
    a, la, ua, b, lb, ub = (np.asarray(v, float) for v in (p1, l1, u1, p2, l2, u2))
    with np.errstate(all="ignore"):
        low_den = ub * (2 * b - ub)
        high_den = lb * (2 * b - lb)
        low = (a * b - np.sqrt(np.maximum((a * b) ** 2 - la * ub * (2 * a - la) * (2 * b - ub), 0))) / low_den
        high = (a * b + np.sqrt(np.maximum((a * b) ** 2 - ua * lb * (2 * a - ua) * (2 * b - lb), 0))) / high_den
    low = np.where(a <= 0, 0.0, np.where(low_den > 0, np.maximum(low, 0.0), 0.0))
    high = np.where(high_den > 0, high, np.inf)
    undefined = ~(np.isfinite(a) & np.isfinite(b))
    return np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)


def effective_counts(
    weighted_successes: ArrayLike, weight_sum: ArrayLike, weight_square_sum: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Kish effective sample size n_eff = (sum w)^2 / sum w^2, with the weighted rate kept: the counts that
    a proportion interval of weighted data rests on."""
    total = np.asarray(weight_sum, float)
    squares = np.asarray(weight_square_sum, float)
    with np.errstate(all="ignore"):
        n_eff = np.where(squares > 0, total**2 / squares, 0.0)
        rate = np.where(total > 0, np.asarray(weighted_successes, float) / total, 0.0)
    return rate * n_eff, n_eff


def _rate(successes: ArrayLike, trials: ArrayLike) -> np.ndarray:
    x, n = np.asarray(successes, float), np.asarray(trials, float)
    with np.errstate(all="ignore"):
        return np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
