"""Each group's ROC curve at every distinct score, and its upper convex hull: what group-specific thresholds,
randomised between two of them where needed (Hardt, Price and Srebro 2016), can reach."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GroupROC", "group_roc"]


@dataclass(frozen=True)
class GroupROC:
    """Thresholds in decreasing order (a row is positive when its score >= the threshold; the first, +inf,
    selects nobody, the last selects everybody) with the FPR and TPR each reaches, and the hull's vertices."""

    thresholds: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    positives: float
    negatives: float
    hull: np.ndarray  # indices of the upper convex hull's vertices, by increasing FPR


def group_roc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> GroupROC:
    order = np.argsort(-scores, kind="stable")
    sorted_scores, labels = scores[order], y[order].astype(bool)
    w = np.ones(len(scores)) if weights is None else weights[order]
    last = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(sorted_scores) - 1]  # end of each score run
    tp = np.r_[0.0, np.cumsum(w * labels)[last]]
    fp = np.r_[0.0, np.cumsum(w * ~labels)[last]]
    positives, negatives = tp[-1], fp[-1]
    fpr = fp / negatives if negatives > 0 else np.zeros_like(fp)
    tpr = tp / positives if positives > 0 else np.zeros_like(tp)
    thresholds = np.r_[np.inf, sorted_scores[last]]
    thresholds[-1] = -np.inf if len(thresholds) > 1 else thresholds[-1]  # the lowest selects every row
    return GroupROC(
        thresholds=thresholds,
        fpr=fpr,
        tpr=tpr,
        positives=float(positives),
        negatives=float(negatives),
        hull=_upper_hull(fpr, tpr),
    )


def _upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain over points already sorted by x (then y), upper side only."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross >= 0:  # b lies on or below the segment a-i
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull, dtype=np.int64)
