"""The exact finite-pool test of how many of a group's items reach the top k, pooled over queries.

Within one query of N items, K of them the group's, the top n are a draw without replacement if the ranking ignores
the group: the group's count X is hypergeometric. Over queries the counts are independent, and conditioning on
each query's margins gives the exact stratified test (the exact Cochran-Mantel-Haenszel test): the distribution of
S = sum X_q is the convolution of the queries' hypergeometric laws. It is computed exactly while the convolution
is small; past that, the CMH normal approximation with a continuity correction (whose error there is far below
any level anyone tests at: S is a sum of thousands of bounded independent terms).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import hypergeom

__all__ = ["stratified_hypergeometric_test", "EXACT_WORK_LIMIT"]

EXACT_WORK_LIMIT = 20_000_000  # multiply-adds of the convolution before the normal approximation is used


def stratified_hypergeometric_test(
    observed: np.ndarray, pool: np.ndarray, members: np.ndarray, drawn: np.ndarray
) -> tuple[float | None, float, str]:
    """Two-sided p-value of "the group's count in the top is what a group-blind ranking gives", the expected count
    and the test used. Arrays per query: the group's count in the top, the query's items, the group's items, the
    items in the top. Queries where the count cannot vary (no member, or every item in the top) carry no
    evidence and are left out of the distribution."""
    observed, pool, members, drawn = (np.asarray(a, dtype=np.int64) for a in (observed, pool, members, drawn))
    low = np.maximum(0, drawn - (pool - members))
    high = np.minimum(members, drawn)
    expected_each = drawn * members / np.maximum(pool, 1)
    expected = float(expected_each.sum())
    varying = high > low
    if not varying.any():
        return None, expected, "not tested: no query's count could vary (no members, or every item in the top)"
    constant = float(observed[~varying].sum())
    observed_total = int(observed[varying].sum())
    pool, members, drawn, low, high = (a[varying] for a in (pool, members, drawn, low, high))
    widths = high - low + 1
    work = float((np.cumsum(widths) * widths).sum())
    if work <= EXACT_WORK_LIMIT:
        distribution = np.ones(1)
        for n_pool, n_members, n_drawn, lo, hi in zip(pool, members, drawn, low, high):
            pmf = hypergeom.pmf(np.arange(lo, hi + 1), n_pool, n_members, n_drawn)
            distribution = np.convolve(distribution, pmf)
        offset = int(low.sum())
        index = observed_total - offset
        lower_tail = float(distribution[: index + 1].sum()) if index >= 0 else 0.0
        upper_tail = float(distribution[max(index, 0) :].sum()) if index < len(distribution) else 0.0
        return min(1.0, 2 * min(lower_tail, upper_tail)), expected, "exact (stratified hypergeometric)"
    variance = float((drawn * members * (pool - members) * (pool - drawn) / (pool**2 * (pool - 1.0))).sum())
    deviation = abs(observed_total + constant - expected) - 0.5
    z = max(deviation, 0.0) / math.sqrt(variance)
    return float(math.erfc(z / math.sqrt(2))), expected, "Cochran-Mantel-Haenszel (normal, continuity-corrected)"
