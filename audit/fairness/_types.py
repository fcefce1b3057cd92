"""The fairness tables' types: a group's row, a metric's disparity, the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Interval = list  # [low, high], or None where no resample defined the value
CELLS = ("tn", "fp", "fn", "tp")  # cell index = 2 * y_true + y_pred


@dataclass(frozen=True)
class GroupRow:
    key: dict[str, str]
    n: int
    share: float
    values: dict[str, float | None]
    undefined: dict[str, str] = field(default_factory=dict)
    small: bool = False
    support: dict[str, int] = field(default_factory=dict)  # rows each metric rests on (its denominator)
    ci: dict[str, Interval | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.key.items())


@dataclass(frozen=True)
class Disparity:
    """How far apart the groups are on one metric (over the groups where it is defined)."""

    metric: str
    best_group: str | None
    worst_group: str | None
    difference: float | None  # max - min, as fairlearn's MetricFrame.difference()
    ratio: float | None  # min / max, as fairlearn's MetricFrame.ratio()
    to_best: dict[str, dict[str, Any]]  # group -> difference, ratio (+ CIs), p_value, p_value_holm, test
    worst_group_small: bool = False
    note: str = ""
    difference_ci: Interval | None = None
    ratio_ci: Interval | None = None
    to_overall: dict[str, dict[str, float | None]] = field(default_factory=dict)
    to_reference: dict[str, dict[str, float | None]] = field(default_factory=dict)
    reference_group: str | None = None
    tested_against: str | None = None  # kept for old readers: the benchmark of the to_best tests
    # The group every `to_best` entry compares with: the best among groups whose metric rests on at least
    # min_group_size rows (see benchmark_reason); `best_group`/`ratio` stay fairlearn's all-groups extremes.
    benchmark_group: str | None = None
    benchmark_reason: str = ""
    worst_to_benchmark: str | None = None


@dataclass(frozen=True)
class FairnessTable:
    """Metrics by group for one sensitive feature or one intersection of them."""

    sensitive_features: tuple[str, ...]
    metrics: tuple[str, ...]
    groups: list[GroupRow]
    overall: dict[str, float | None]
    disparities: dict[str, Disparity]
    min_group_size: int
    # The same comparison over groups whose metric rests on >= min_group_size rows (TPR needs that many
    # positives): what findings use, since a rate over four people says little.
    disparities_reliable: dict[str, Disparity] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)  # fairlearn's summary metrics
    overall_ci: dict[str, Interval | None] = field(default_factory=dict)
    bootstrap: dict[str, Any] = field(default_factory=dict)  # n_boot, level, seed, method, intervals
    weighted: bool = False
    favourable: str = "positive"  # which decision benefits the person: "positive" or "negative"

    @property
    def name(self) -> str:
        return " x ".join(self.sensitive_features)

    def group(self, name: str) -> GroupRow:
        return next(g for g in self.groups if g.name == name)

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by group, for notebooks."""
        rows = {g.name: {"n": g.n, "share": g.share, **g.values, "small": g.small} for g in self.groups}
        return pd.DataFrame.from_dict(rows, orient="index")


# --- inputs -------------------------------------------------------------------------------------------
