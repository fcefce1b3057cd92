"""Intervals for the metrics that are not a single proportion, built to hold at every group size.

- Balanced accuracy, (TPR + TNR) / 2: MOVER for a sum (Zou & Donner 2008) from the Clopper-Pearson limits of the
  two recalls (independent given the group's class counts); a group with one class present gets that recall's
  exact interval, as scikit-learn's definition then is that recall.
- F1 = 2 TP / (2 TP + FP + FN) = 2 J / (1 + J), with J = TP / (TP + FP + FN) (the Jaccard index of the positive
  class). Given the m rows that are TP, FP or FN, TP is binomial(m, J): J's Clopper-Pearson interval mapped through
  the increasing 2 J / (1 + J) is exact, conditionally on m and so unconditionally.
- ROC AUC: Newcombe's score interval (2006, method 5): the AUCs theta whose Hanley-McNeil variance, with both class
  sizes replaced by their mean, puts the estimate within z standard errors; solved by bisection on each side.
- Mean score (probabilities in [0, 1]): the hedged betting interval of Waudby-Smith & Ramdas (2023, JRSSB), valid
  at every n for any distribution on [0, 1] (Ville's inequality), on a seeded random order of the rows; above
  5,000 rows (the grid's cost grows with the rows) the normal interval, whose coverage is nominal there.
- ECE (10 equal-width bins): conservative. Each occupied bin's observed rate gets a Clopper-Pearson interval at
  level 1 - alpha / bins (Bonferroni over the bins); the interval is the range of the binned error over every
  rate those intervals allow, the bins' shares and mean scores held at their observed values.

``python -m benchmarks.coverage`` measures every one of them by simulation at n in {5, 10, 20, 30, 100}.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

from audit.fairness._stats import proportion_interval

__all__ = [
    "balanced_accuracy_interval",
    "f1_interval",
    "auc_interval",
    "mean_interval",
    "ece_interval",
    "METHODS",
]

METHODS = {
    "balanced_accuracy": "MOVER sum of the two recalls' Clopper-Pearson limits (Zou & Donner 2008)",
    "f1": "exact: Clopper-Pearson interval of TP / (TP + FP + FN) mapped through 2J / (1 + J)",
    "roc_auc": "Newcombe's score interval (2006, method 5)",
    "mean_score": "hedged betting interval for a mean in [0, 1] (Waudby-Smith & Ramdas 2023), seeded row order",
    "ece": "conservative: the binned error's range over Bonferroni Clopper-Pearson intervals of the bins' rates",
}


BETTING_MAX_ROWS = 5000


def _rate(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)


def balanced_accuracy_interval(
    tp: ArrayLike, fn: ArrayLike, tn: ArrayLike, fp: ArrayLike, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise interval of (TPR + TNR) / 2 from (possibly effective) counts; NaN where the group is empty."""
    tp, fn, tn, fp = (np.asarray(v, float) for v in (tp, fn, tn, fp))
    positives, negatives = tp + fn, tn + fp
    tpr, tnr = _rate(tp, positives), _rate(tn, negatives)
    l1, u1 = proportion_interval(tp, positives, level)
    l2, u2 = proportion_interval(tn, negatives, level)
    with np.errstate(all="ignore"):
        low = (tpr + tnr - np.sqrt((tpr - l1) ** 2 + (tnr - l2) ** 2)) / 2
        high = (tpr + tnr + np.sqrt((u1 - tpr) ** 2 + (u2 - tnr) ** 2)) / 2
    only_positives, only_negatives = (positives > 0) & ~(negatives > 0), (negatives > 0) & ~(positives > 0)
    low = np.where(only_positives, l1, np.where(only_negatives, l2, low))
    high = np.where(only_positives, u1, np.where(only_negatives, u2, high))
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def f1_interval(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise exact interval of F1 from (possibly effective) counts; NaN where TP + FP + FN is 0."""
    tp, fp, fn = (np.asarray(v, float) for v in (tp, fp, fn))
    low, high = proportion_interval(tp, tp + fp + fn, level)
    return np.asarray(2 * low / (1 + low)), np.asarray(2 * high / (1 + high))


def _hanley_mcneil_variance(theta: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray) -> np.ndarray:
    """Hanley & McNeil's variance of the AUC at ``theta``, both class sizes replaced by their mean (Newcombe's
    method 4), which keeps it from collapsing when one class is tiny."""
    mean_size = (n_pos + n_neg) / 2
    bracket = 1 + (mean_size - 1) * ((1 - theta) / (2 - theta) + theta / (1 + theta))
    return np.asarray(theta * (1 - theta) * bracket / (n_pos * n_neg))


def auc_interval(
    auc: ArrayLike, n_pos: ArrayLike, n_neg: ArrayLike, level: float, *, iterations: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's score interval of the AUC, elementwise; NaN where a class is absent."""
    auc = np.asarray(auc, float)
    n_pos, n_neg = np.asarray(n_pos, float), np.asarray(n_neg, float)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    defined = np.isfinite(auc) & (n_pos > 0) & (n_neg > 0)
    a = np.where(defined, auc, 0.5)
    p, q = np.where(defined, n_pos, 1.0), np.where(defined, n_neg, 1.0)

    def outside(theta: np.ndarray) -> np.ndarray:  # the estimate lies beyond z standard errors of theta
        return np.asarray((a - theta) ** 2 > z * z * _hanley_mcneil_variance(theta, p, q))

    # low: the smallest theta in [0, a] not rejected; outside() holds at 0 (variance 0) unless a is 0
    lo_out, lo_in = np.zeros_like(a), a.copy()
    hi_in, hi_out = a.copy(), np.ones_like(a)
    for _ in range(iterations):
        mid = (lo_out + lo_in) / 2
        rejected = outside(mid)
        lo_out, lo_in = np.where(rejected, mid, lo_out), np.where(rejected, lo_in, mid)
        mid = (hi_in + hi_out) / 2
        rejected = outside(mid)
        hi_in, hi_out = np.where(rejected, hi_in, mid), np.where(rejected, mid, hi_out)
    low, high = np.where(a <= 0, 0.0, lo_out), np.where(a >= 1, 1.0, hi_out)
    return np.where(defined, low, np.nan), np.where(defined, high, np.nan)


def mean_interval(
    values: ArrayLike, level: float, *, seed: int = 0, grid: int = 1000, cap: float = 0.5
) -> tuple[float, float]:
    """The hedged betting interval (predictable plug-in, Waudby-Smith & Ramdas 2023, eqs. 26-27) of the mean of
    values in [0, 1]. Ends snap outwards to a grid of ``grid`` steps, which only widens it."""
    x = np.asarray(values, float)
    if len(x) == 0:
        return float("nan"), float("nan")
    if x.min() < 0 or x.max() > 1:
        raise TypeError("mean_interval needs values in [0, 1]")  # a programming error: callers check the range
    if len(x) > BETTING_MAX_ROWS:  # the grid costs rows x grid; at this size the normal interval's
        # coverage is nominal for any distribution on [0, 1] (the CLT with bounded variance)
        half = NormalDist().inv_cdf(0.5 + level / 2) * float(x.std(ddof=1)) / np.sqrt(len(x))
        return max(0.0, float(x.mean()) - half), min(1.0, float(x.mean()) + half)
    x = x[np.random.default_rng(seed).permutation(len(x))]
    alpha = 1 - level
    t = np.arange(1, len(x) + 1, dtype=float)
    running_mean = (0.5 + np.cumsum(x)) / (t + 1)
    running_var = (0.25 + np.cumsum((x - running_mean) ** 2)) / (t + 1)
    previous_var = np.r_[0.25, running_var[:-1]]  # predictable: the bet on x_t uses x_1 .. x_{t-1}
    bets = np.sqrt(2 * np.log(2 / alpha) / (previous_var * t * np.log(t + 1)))
    m = np.linspace(0, 1, grid + 1)[1:-1, None]
    with np.errstate(divide="ignore"):
        up = np.log1p(np.minimum(bets, cap / m) * (x - m)).sum(1)
        down = np.log1p(-np.minimum(bets, cap / (1 - m)) * (x - m)).sum(1)
    capital = 0.5 * np.exp(up) + 0.5 * np.exp(down)
    kept = np.flatnonzero(capital < 1 / alpha)
    if len(kept) == 0:  # cannot happen for a valid interval; widen to everything rather than claim a point
        return 0.0, 1.0
    step = 1 / grid
    return max(0.0, float(m[kept[0], 0]) - step), min(1.0, float(m[kept[-1], 0]) + step)


ECE_BINS = 10


def ece_interval(y: ArrayLike, scores: ArrayLike, level: float) -> tuple[float, float]:
    """The conservative interval of the 10-bin ECE of one group (module doc); NaN for an empty group."""
    y, s = np.asarray(y, float), np.asarray(scores, float)
    if len(y) == 0:
        return float("nan"), float("nan")
    bins = np.minimum((s * ECE_BINS).astype(int), ECE_BINS - 1)
    rows = np.bincount(bins, minlength=ECE_BINS).astype(float)
    occupied = rows > 0
    share = rows[occupied] / len(y)
    mean_score = np.bincount(bins, weights=s, minlength=ECE_BINS)[occupied] / rows[occupied]
    positives = np.bincount(bins, weights=y, minlength=ECE_BINS)[occupied]
    per_bin_level = 1 - (1 - level) / int(occupied.sum())
    low, high = proportion_interval(positives, rows[occupied], per_bin_level)
    nearest = np.where(mean_score < low, low - mean_score, np.where(mean_score > high, mean_score - high, 0.0))
    farthest = np.maximum(np.abs(mean_score - low), np.abs(high - mean_score))
    return float((share * nearest).sum()), float((share * farthest).sum())
