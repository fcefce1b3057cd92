"""Significance tests for group disparities: two-proportion z test, Fisher's exact test for small counts,
and Holm's step-down correction across the comparisons of one table."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["compare_proportions", "holm", "percentile_interval"]


def compare_proportions(x1: float, n1: float, x2: float, n2: float, *, min_expected: float = 5.0):
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


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap interval over axis 0, ignoring resamples where the value is undefined (NaN).

    Returns (low, high, share of resamples where the value was defined).
    """
    alpha = (1 - level) / 2
    defined = np.isfinite(samples)
    share = defined.mean(axis=0)
    low = np.full(samples.shape[1:], np.nan)
    high = np.full(samples.shape[1:], np.nan)
    columns = share > 0
    if np.any(columns):
        with np.errstate(all="ignore"):
            low[columns] = np.nanquantile(samples[:, columns], alpha, axis=0)
            high[columns] = np.nanquantile(samples[:, columns], 1 - alpha, axis=0)
    return low, high, share


def resampled_ratio_of_sums(totals: np.ndarray, counts: np.ndarray, *, n_boot: int,
                            rng: np.random.Generator) -> np.ndarray:
    """Bootstrap samples of sum(totals) / sum(counts), resampling units (texts, examples) with replacement:
    one multinomial draw of unit weights per resample. Units whose rows move together stay together."""
    units = len(totals)
    weights = rng.multinomial(units, np.full(units, 1 / units), size=n_boot)
    return (weights @ totals) / (weights @ counts)


def interval_or_none(samples: np.ndarray, level: float) -> list[float] | None:
    """The percentile interval of one statistic's bootstrap samples as [low, high], or None if undefined."""
    low, high, share = percentile_interval(np.asarray(samples, float)[:, None], level)
    return None if share[0] == 0 else [float(low[0]), float(high[0])]
