"""Group metrics for binary classification, each a function of per-group confusion counts.

``compute(counts)`` returns ``(values, support)`` arrays of the same shape as the counts (groups, or
bootstrap resamples x groups): a value is undefined where its support (the rows it rests on, e.g. the
group's positives for TPR) is zero. Because every metric here derives from counts, a whole table (and a
thousand bootstrap resamples of it) is a handful of array operations.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np

from audit._registry import Registry

__all__ = ["METRICS", "GroupMetric", "DEFAULT_METRICS", "SCORE_METRICS", "PROPORTION_METRICS"]

Counts = dict[str, np.ndarray]  # "tp", "fp", "tn", "fn" (weighted sums) and "n" (their total)
Computed = tuple[np.ndarray, np.ndarray]  # (values, support)


@dataclass(frozen=True)
class GroupMetric:
    name: str
    title: str
    compute: Callable[[Counts], Computed] | None  # None: a score metric, computed from the scores themselves
    undefined_reason: str
    higher_is_better: bool | None  # None: no "best" group (a count, or a property of the data)
    # for proportions: which counts make the numerator and the denominator (significance tests use them)
    proportion: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    needs_scores: bool = False


def _ratio(numerator: tuple[str, ...], denominator: tuple[str, ...]) -> Callable[[Counts], Computed]:
    def compute(c: Counts) -> Computed:
        top = functools.reduce(operator.add, (c[k] for k in numerator))
        bottom = functools.reduce(operator.add, (c[k] for k in denominator))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan), bottom

    return compute


def _balanced_accuracy(c: Counts) -> Computed:
    # scikit-learn's definition: the mean of the recalls of the classes present in the group
    tpr, positives = _ratio(("tp",), ("tp", "fn"))(c)
    tnr, negatives = _ratio(("tn",), ("tn", "fp"))(c)
    present = (positives > 0).astype(float) + (negatives > 0).astype(float)
    total = np.where(positives > 0, tpr, 0.0) + np.where(negatives > 0, tnr, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(present > 0, total / np.where(present > 0, present, 1), np.nan), positives + negatives


def _f1(c: Counts) -> Computed:
    bottom = 2 * c["tp"] + c["fp"] + c["fn"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, 2 * c["tp"] / np.where(bottom > 0, bottom, 1), np.nan), bottom


def _count(c: Counts) -> Computed:
    return c["n"].astype(float), np.ones_like(c["n"])


def _proportion(
    name: str, title: str, numerator: tuple[str, ...], denominator: tuple[str, ...], reason: str, higher: bool | None
) -> GroupMetric:
    return GroupMetric(name, title, _ratio(numerator, denominator), reason, higher, (numerator, denominator))


_ALL = ("tp", "fp", "tn", "fn")
METRICS: Registry[GroupMetric] = Registry("fairness metric")
for _metric in (
    GroupMetric("count", "Count", _count, "", None),
    _proportion("base_rate", "Base rate", ("tp", "fn"), _ALL, "the group is empty", None),
    _proportion("selection_rate", "Selection rate", ("tp", "fp"), _ALL, "the group is empty", True),
    # the rate of negative decisions: the favourable rate when data.favourable names the negative outcome
    _proportion("negative_rate", "Negative-decision rate", ("tn", "fn"), _ALL, "the group is empty", True),
    _proportion("accuracy", "Accuracy", ("tp", "tn"), _ALL, "the group is empty", True),
    GroupMetric("balanced_accuracy", "Balanced accuracy", _balanced_accuracy, "the group is empty", True),
    _proportion("tpr", "True positive rate", ("tp",), ("tp", "fn"), "the group has no positive labels", True),
    _proportion("fpr", "False positive rate", ("fp",), ("fp", "tn"), "the group has no negative labels", False),
    _proportion("fnr", "False negative rate", ("fn",), ("tp", "fn"), "the group has no positive labels", False),
    _proportion("tnr", "True negative rate", ("tn",), ("fp", "tn"), "the group has no negative labels", True),
    _proportion("precision", "Precision (PPV)", ("tp",), ("tp", "fp"), "the model selects nobody in the group", True),
    _proportion(
        "npv", "Negative predictive value", ("tn",), ("tn", "fn"), "the model rejects nobody in the group", True
    ),
    GroupMetric("f1", "F1 score", _f1, "the group has no positive labels and no selections", True),
    GroupMetric("roc_auc", "ROC AUC", None, "the group has only one class", True, needs_scores=True),
    GroupMetric("ece", "Expected calibration error", None, "the group is empty", False, needs_scores=True),
    GroupMetric("mean_score", "Mean score", None, "the group is empty", None, needs_scores=True),
):
    METRICS.register(_metric.name, _metric)

DEFAULT_METRICS = ("selection_rate", "accuracy", "balanced_accuracy", "tpr", "fpr", "fnr", "precision", "npv", "f1")
SCORE_METRICS = ("roc_auc", "ece", "mean_score")
PROPORTION_METRICS = tuple(name for name in METRICS.names() if METRICS.get(name).proportion is not None)
