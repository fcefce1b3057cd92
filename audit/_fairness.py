"""Group fairness metrics for binary classification, computed from per-group confusion counts.

Every metric here derives from the counts (n, tp, fp, tn, fn) of each group, so the whole table is a
handful of ``np.bincount`` calls rather than a pandas groupby-apply. A metric that is undefined for a
group (TPR when the group has no positive labels, ...) is ``None`` with the reason, never a silent NaN.
fairlearn's ``MetricFrame`` is the oracle in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from audit._errors import DataError
from audit._registry import Registry

__all__ = ["METRICS", "GroupMetric", "FairnessTable", "GroupRow", "Disparity", "group_metrics"]


@dataclass(frozen=True)
class GroupMetric:
    """A metric defined from confusion counts: value = numerator / denominator."""

    name: str
    title: str
    numerator: Callable[[dict[str, np.ndarray]], np.ndarray]
    denominator: Callable[[dict[str, np.ndarray]], np.ndarray]
    undefined_reason: str
    higher_is_better: bool | None  # None: no "best" group (a count or a property of the data)


def _metric(name, title, num, den, reason, higher):
    return GroupMetric(name, title, num, den, reason, higher)


METRICS: Registry[GroupMetric] = Registry("fairness metric")
for _m in (
    _metric("count", "Count", lambda c: c["n"], lambda c: np.ones_like(c["n"]), "", None),
    _metric("base_rate", "Base rate", lambda c: c["tp"] + c["fn"], lambda c: c["n"],
            "the group is empty", None),
    _metric("selection_rate", "Selection rate", lambda c: c["tp"] + c["fp"], lambda c: c["n"],
            "the group is empty", True),
    _metric("accuracy", "Accuracy", lambda c: c["tp"] + c["tn"], lambda c: c["n"],
            "the group is empty", True),
    _metric("tpr", "True positive rate", lambda c: c["tp"], lambda c: c["tp"] + c["fn"],
            "the group has no positive labels", True),
    _metric("fpr", "False positive rate", lambda c: c["fp"], lambda c: c["fp"] + c["tn"],
            "the group has no negative labels", False),
    _metric("precision", "Precision", lambda c: c["tp"], lambda c: c["tp"] + c["fp"],
            "the model selects nobody in the group", True),
):
    METRICS.register(_m.name, _m)


@dataclass(frozen=True)
class GroupRow:
    key: dict[str, str]
    n: int
    share: float
    values: dict[str, float | None]
    undefined: dict[str, str] = field(default_factory=dict)
    small: bool = False
    support: dict[str, int] = field(default_factory=dict)  # rows each metric rests on (its denominator)

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.key.items())


@dataclass(frozen=True)
class Disparity:
    """How far apart the groups are on one metric (groups where the metric is defined)."""

    metric: str
    best_group: str | None
    worst_group: str | None
    difference: float | None  # max - min, as fairlearn's MetricFrame.difference()
    ratio: float | None  # min / max, as fairlearn's MetricFrame.ratio()
    to_best: dict[str, dict[str, float | None]]  # group -> {"difference": |v - best|, "ratio": ...}
    worst_group_small: bool = False
    note: str = ""


@dataclass(frozen=True)
class FairnessTable:
    """Metrics by group for one sensitive feature or one intersection of them."""

    sensitive_features: tuple[str, ...]
    metrics: tuple[str, ...]
    groups: list[GroupRow]
    overall: dict[str, float | None]
    disparities: dict[str, Disparity]
    min_group_size: int
    # The same comparison over groups whose metric rests on >= min_group_size rows (e.g. TPR needs that
    # many positives): what findings use, since a rate over four people says little.
    disparities_reliable: dict[str, Disparity] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return " x ".join(self.sensitive_features)

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by group, for notebooks."""
        rows = {g.name: {"n": g.n, "share": g.share, **g.values, "small": g.small} for g in self.groups}
        return pd.DataFrame.from_dict(rows, orient="index")


def _confusion_counts(codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray):
    def count(mask):
        return np.bincount(codes[mask], minlength=n_groups).astype(np.int64)

    counts = {"tp": count(y_true & y_pred), "fp": count(~y_true & y_pred),
              "tn": count(~y_true & ~y_pred), "fn": count(y_true & ~y_pred)}
    counts["n"] = counts["tp"] + counts["fp"] + counts["tn"] + counts["fn"]
    return counts


def _metric_values(metric: GroupMetric, counts: dict[str, np.ndarray]) -> tuple[list[float | None], list[int]]:
    numerator = metric.numerator(counts).astype(float)
    denominator = metric.denominator(counts).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = numerator / denominator
    support = counts["n"] if metric.name == "count" else denominator
    return [None if d == 0 else float(v) for v, d in zip(values, denominator)], [int(x) for x in support]


def _disparity(metric: GroupMetric, groups: list[GroupRow], *, min_support: int = 0) -> Disparity:
    defined = [(g.name, g.values[metric.name], g.small) for g in groups
               if g.values[metric.name] is not None and g.support.get(metric.name, 0) >= min_support]
    undefined_note = ""
    missing = [g.name for g in groups if g.values[metric.name] is None]
    if missing:
        undefined_note = f"Undefined for {', '.join(missing)}; those groups are left out of the comparison."
    thin = [g.name for g in groups if g.values[metric.name] is not None and g.support.get(metric.name, 0) < min_support]
    if thin:
        undefined_note += (f" Left out: {', '.join(thin)} (the metric rests on fewer than {min_support} rows).")
        undefined_note = undefined_note.strip()
    if len(defined) < 2:
        return Disparity(metric.name, None, None, None, None, {},
                         note=(undefined_note + " Fewer than two groups have a value.").strip())
    values = np.array([v for _, v, _ in defined])
    best_index = int(values.argmax() if metric.higher_is_better else values.argmin())
    worst_index = int(values.argmin() if metric.higher_is_better else values.argmax())
    best = values[best_index]
    top, bottom = values.max(), values.min()
    to_best = {}
    for name, value, _ in defined:
        if metric.higher_is_better:
            ratio = value / best if best > 0 else None
        else:
            ratio = best / value if value > 0 else (1.0 if best == 0 else None)
        to_best[name] = {"difference": float(abs(value - best)), "ratio": None if ratio is None else float(ratio)}
    return Disparity(
        metric=metric.name,
        best_group=defined[best_index][0],
        worst_group=defined[worst_index][0],
        difference=float(top - bottom),
        ratio=float(bottom / top) if top > 0 else None,
        to_best=to_best,
        worst_group_small=bool(defined[worst_index][2]),
        note=undefined_note,
    )


def group_metrics(
    *,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sensitive: pd.DataFrame,
    metrics: tuple[str, ...] = ("selection_rate", "accuracy", "tpr", "fpr", "precision"),
    min_group_size: int = 30,
) -> FairnessTable:
    """Metrics for every group formed by the columns of ``sensitive`` (one column, or an intersection).

    ``y_true`` and ``y_pred`` are boolean arrays (the positive class is True). Groups that occur in the
    data are listed sorted by name; groups under ``min_group_size`` are kept
    and flagged ``small``.
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    if not (len(y_true) == len(y_pred) == len(sensitive)):
        raise DataError(f"y_true, y_pred and sensitive must have the same length. "
                        f"Got {len(y_true)}, {len(y_pred)} and {len(sensitive)} instead.")
    if len(y_true) == 0:
        raise DataError("Cannot compute group metrics on empty data. Got 0 rows.")
    if sensitive.isna().any().any():
        raise DataError("Sensitive features contain missing values. Map them to a group first "
                        "(data.missing_sensitive = \"group\") or drop those rows.")
    columns = list(sensitive.columns)
    keys = sensitive.astype(str)
    grouped = keys.groupby(columns, sort=True)
    codes = grouped.ngroup().to_numpy()
    uniques = [key if isinstance(key, tuple) else (key,) for key in grouped.size().index]
    n_groups = len(uniques)
    counts = _confusion_counts(codes, n_groups, y_true, y_pred)

    metric_specs = [METRICS.get(name) for name in metrics]
    computed = {m.name: _metric_values(m, counts) for m in metric_specs}
    values = {name: pair[0] for name, pair in computed.items()}
    total = len(y_true)
    groups = []
    for index, parts in enumerate(uniques):
        n = int(counts["n"][index])
        row_values = {name: values[name][index] for name in values}
        undefined = {m.name: m.undefined_reason for m in metric_specs if row_values[m.name] is None}
        groups.append(GroupRow(key=dict(zip(columns, parts)), n=n, share=n / total, values=row_values,
                               undefined=undefined, small=n < min_group_size,
                               support={name: pair[1][index] for name, pair in computed.items()}))

    overall_counts = _confusion_counts(np.zeros(total, dtype=np.int64), 1, y_true, y_pred)
    overall = {m.name: _metric_values(m, overall_counts)[0][0] for m in metric_specs}
    comparable = [m for m in metric_specs if m.higher_is_better is not None]
    disparities = {m.name: _disparity(m, groups) for m in comparable}
    reliable = {m.name: _disparity(m, groups, min_support=min_group_size) for m in comparable}
    return FairnessTable(tuple(columns), tuple(metrics), groups, overall, disparities, min_group_size, reliable)
