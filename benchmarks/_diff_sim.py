"""`audit diff`'s verdict simulated: re-audits of a model that did not change, and of one whose disparity fell.

One table of three groups (shares 0.5, 0.3, 0.2; base rate 0.3 in each) with three metrics tested, as the diff
tests them: the selection rate, the true positive rate (higher is better) and the false positive rate (lower is
better). Group A has TPR 0.7 and FPR 0.1; B and C have both scaled by 0.925 and 0.96 (every ratio of B to A about
0.925). Each audit draws its own rows (independent re-audits). The benchmark group is picked in each baseline as
the diff's baseline picks it; the very arithmetic of ``audit.diff._verdict`` then decides, over the 6 comparisons.
The point-estimate rule of the diff before (a table's lowest/highest ratio fell by more than the tolerance) is
measured beside it.
"""

from __future__ import annotations

import numpy as np

from audit.diff._verdict import fall_tests, katz_log_ratio

SHARES = np.array([0.5, 0.3, 0.2])
BASE_RATE, TPR, FPR, MIN_GROUP_SIZE = 0.3, 0.7, 0.1, 30
METRICS = (("selection_rate", True), ("tpr", True), ("fpr", False))


def _audit(rng: np.random.Generator, runs: int, rows: int, scale: np.ndarray) -> dict[str, tuple]:
    """(successes, trials) per metric, arrays (runs, groups)."""
    sizes = np.broadcast_to(np.round(SHARES * rows).astype(int), (runs, len(SHARES)))
    positives = rng.binomial(sizes, BASE_RATE)
    negatives = sizes - positives
    tp = rng.binomial(positives, TPR * scale)
    fp = rng.binomial(negatives, FPR * scale)
    return {"selection_rate": (tp + fp, sizes), "tpr": (tp, positives), "fpr": (fp, negatives)}


def _log_ratios(counts: dict[str, tuple], benchmarks: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every non-benchmark group against the baseline's benchmark, per metric: (runs, 2 x metrics) arrays."""
    ratios, errors = [], []
    runs = np.arange(len(benchmarks["tpr"]))
    for metric, higher in METRICS:
        x, n = counts[metric]
        anchor = benchmarks[metric]
        others = np.array([[g for g in range(len(SHARES)) if g != b] for b in anchor])
        log_ratio, se = katz_log_ratio(
            np.take_along_axis(x, others, 1),
            np.take_along_axis(n, others, 1),
            x[runs, anchor][:, None],
            n[runs, anchor][:, None],
            higher_is_better=higher,
        )
        ratios.append(log_ratio)
        errors.append(se)
    return np.concatenate(ratios, axis=1), np.concatenate(errors, axis=1)


def _lowest_highest(counts: dict[str, tuple]) -> dict[str, np.ndarray]:
    out = {}
    for metric, _ in METRICS:
        x, n = counts[metric]
        rate = np.where(n >= MIN_GROUP_SIZE, x / np.maximum(n, 1), np.nan)
        out[metric] = np.nanmin(rate, axis=1) / np.nanmax(rate, axis=1)
    return out


def simulate(
    *,
    runs: int,
    seed: int,
    old_rows: int,
    new_rows: int,
    new_b: float,
    tolerance: float = 0.05,
    b: float = 0.925,
    c: float = 0.96,
) -> dict[str, float]:
    """Shares of runs in which the diff calls a disparity worsened (default and ``confident``), and in which
    the point-estimate rule of the lowest/highest ratio did; B's factor is ``new_b`` in the new audits."""
    rng = np.random.default_rng(seed)
    old = _audit(rng, runs, old_rows, np.array([1.0, b, c]))
    new = _audit(rng, runs, new_rows, np.array([1.0, new_b, c]))
    benchmarks = {}
    for metric, higher in METRICS:
        x, n = old[metric]
        rate = np.where(n >= MIN_GROUP_SIZE, x / np.maximum(n, 1), np.nan)
        benchmarks[metric] = (np.nanargmax if higher else np.nanargmin)(rate, axis=1)
    old_l, old_se = _log_ratios(old, benchmarks)
    new_l, new_se = _log_ratios(new, benchmarks)
    default = fall_tests(old_l, old_se, new_l, new_se, tolerance=tolerance)
    confident = fall_tests(old_l, old_se, new_l, new_se, tolerance=tolerance, confident=True)
    before, after = _lowest_highest(old), _lowest_highest(new)
    point_rule = np.any([after[m] < before[m] - tolerance for m, _ in METRICS], axis=0)
    return {
        "default": float(default.worsened.any(axis=1).mean()),
        "confident": float(confident.worsened.any(axis=1).mean()),
        "point_rule_before": float(point_rule.mean()),
        "detectable_fall_median": float(np.nanmedian(default.detectable_fall)),
    }
