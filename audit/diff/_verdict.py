"""The test behind `audit diff`'s verdict: has a disparity worsened, beyond chance and beyond the tolerance?

The comparison is fixed by the baseline, so that the new audit cannot pick its own worst pair: every group is
compared with the **baseline's benchmark group** (the best group with enough rows) on each metric, on the log scale
of the ratio. The change of that log-ratio between the audits is tested two-sided (the audits as two independent
samples), Holm-adjusted over every comparison of the diff, and a disparity **worsened** when that test rejects at
``alpha`` *and* the pair's ratio moved away from parity by more than the tolerance. With ``confident``, the test
is instead one-sided that the fall itself exceeds the tolerance.

Standard errors of a log-ratio: Katz's for two proportions of an unweighted table (0.5 added to each count, so a
group without events keeps a finite one); otherwise each value's interval read as ``value x exp(+-z se)``.
Everything here is vectorised over a leading axis of runs so that benchmarks.soundness simulates the very same
arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["FallTests", "katz_log_ratio", "log_ratio_from_intervals", "fall_tests", "holm_rows", "DETECTION_POWER"]

DETECTION_POWER = 0.8  # the power at which the detectable fall is reported


def katz_log_ratio(x_group, n_group, x_benchmark, n_benchmark, *, higher_is_better: bool):
    """(log-ratio oriented so that below 0 means the group is worse, its standard error) of two proportions
    x/n; 0.5 added to every count (Katz et al. 1978, with the usual correction for zero cells)."""
    xg, ng, xb, nb = (np.asarray(v, dtype=float) + 0.5 for v in (x_group, n_group, x_benchmark, n_benchmark))
    log_ratio = np.log(xg / ng) - np.log(xb / nb)
    se = np.sqrt(np.maximum(1 / xg - 1 / ng + 1 / xb - 1 / nb, 0.0))
    return (log_ratio if higher_is_better else -log_ratio), se


def log_ratio_from_intervals(
    value_group, ci_group, value_benchmark, ci_benchmark, *, level: float, higher_is_better: bool
):
    """The same from two positive values and their intervals (each half-width on the log scale read as z(level)
    standard errors, the wider side taken); NaN where a value or an interval end is not positive."""
    z = NormalDist().inv_cdf(0.5 + level / 2)

    def log_se(value, ci):
        value, low, high = (np.asarray(v, dtype=float) for v in (value, ci[0], ci[1]))
        with np.errstate(all="ignore"):
            wide = np.maximum(np.log(value) - np.log(low), np.log(high) - np.log(value))
            return np.where((value > 0) & (low > 0) & (high >= value), wide / z, np.nan)

    with np.errstate(all="ignore"):
        log_ratio = np.log(np.asarray(value_group, dtype=float)) - np.log(np.asarray(value_benchmark, dtype=float))
    se = np.hypot(log_se(value_group, ci_group), log_se(value_benchmark, ci_benchmark))
    return (log_ratio if higher_is_better else -log_ratio), se


def holm_rows(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis; NaN entries are not tested and stay NaN (the family is the
    finite entries of each row)."""
    p = np.asarray(p_values, dtype=float)
    tested = np.isfinite(p)
    m = tested.sum(axis=-1, keepdims=True)
    order = np.argsort(np.where(tested, p, np.inf), axis=-1, kind="stable")
    ranked = np.take_along_axis(np.where(tested, p, 1.0), order, axis=-1)
    rank = np.arange(p.shape[-1])
    adjusted = np.minimum(1.0, np.maximum.accumulate(np.maximum(m - rank, 1) * ranked, axis=-1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.where(tested, out, np.nan)


@dataclass(frozen=True)
class FallTests:
    """Per comparison (arrays of one shape): the parity ratios (exp of minus the absolute log-ratio: 1 = parity,
    as fairlearn's min/max ratio of the pair), the fall, the test's p-value and Holm's, the verdict, and the
    smallest fall the two audits could detect with DETECTION_POWER at the family's first Holm threshold."""

    old_parity: np.ndarray
    new_parity: np.ndarray
    fall: np.ndarray
    p_value: np.ndarray
    p_value_holm: np.ndarray
    worsened: np.ndarray
    detectable_fall: np.ndarray


def fall_tests(
    old_log_ratio, old_se, new_log_ratio, new_se, *, tolerance: float, alpha: float = 0.05, confident: bool = False
) -> FallTests:
    """The verdicts of one diff (or of many simulated ones: comparisons on the last axis, one Holm family per
    row). A comparison with a non-finite log-ratio or standard error is not tested (NaN p-value)."""
    old, new = np.asarray(old_log_ratio, dtype=float), np.asarray(new_log_ratio, dtype=float)
    se_old, se_new = np.asarray(old_se, dtype=float), np.asarray(new_se, dtype=float)
    with np.errstate(all="ignore"):
        old_parity, new_parity = np.exp(-np.abs(old)), np.exp(-np.abs(new))
        fall = old_parity - new_parity
        se_change = np.hypot(se_old, se_new)
        testable = np.isfinite(old) & np.isfinite(new) & np.isfinite(se_change) & (se_change > 0)
        normal = NormalDist()
        if confident:  # one-sided: the fall of the parity ratio exceeds the tolerance (delta method)
            se_fall = np.hypot(old_parity * se_old, new_parity * se_new)
            z = (fall - tolerance) / se_fall
            p_value = np.where(testable, 0.5 * _erfc(z / np.sqrt(2)), np.nan)
        else:  # two-sided: the log-ratio of the pair changed
            z = (new - old) / se_change
            p_value = np.where(testable, _erfc(np.abs(z) / np.sqrt(2)), np.nan)
        p_value = np.where(np.isfinite(p_value), np.clip(p_value, 0.0, 1.0), np.nan)
        adjusted = holm_rows(p_value)
        significant = np.isfinite(adjusted) & (adjusted < alpha)
        worsened = significant & (fall > tolerance) if not confident else significant
        family = np.maximum(np.isfinite(p_value).sum(axis=-1, keepdims=True), 1)
        threshold = np.vectorize(lambda m: normal.inv_cdf(1 - alpha / (2 * m)))(family)
        move = (threshold + normal.inv_cdf(DETECTION_POWER)) * se_change
        detectable = np.where(testable, np.maximum(old_parity * (1 - np.exp(-move)), tolerance), np.nan)
    return FallTests(old_parity, new_parity, fall, p_value, adjusted, worsened, detectable)


def _erfc(values: np.ndarray) -> np.ndarray:
    from scipy.special import erfc

    return erfc(values)
