"""The fairness tables' types: a group's row, a metric's disparity, the table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Interval = list[float]  # [low, high]; None in its place where no method defined the interval
CELLS = ("tn", "fp", "fn", "tp")  # cell index = 2 * y_true + y_pred


@dataclass(frozen=True)
class PooledEstimate:
    """A group's rate pooled with the other groups' (empirical Bayes, audit.fairness._pooling): shown beside the
    raw value, never instead of it, and never read by a test, a finding or the gate."""

    value: float  # the posterior mean
    ci: Interval | None  # the equal-tailed credible interval at the table's level
    own_weight: float  # the share of the value that is the group's own rows, n / (n + M)
    prior_mean: float  # what the group is pulled towards, predicted from the other groups


@dataclass(frozen=True)
class Pooling:
    """Which metrics of a table were pooled and how, or why none was."""

    metrics: tuple[str, ...] = ()
    prior: str = ""  # what each group is pulled towards
    method: str = ""
    strength: dict[str, float] = field(default_factory=dict)  # metric -> the posterior median of M (in rows)
    reason: str = ""  # why nothing (or not every proportion) was pooled


@dataclass(frozen=True)
class PowerRow:
    """How many rows a verdict on one inconclusive comparison needs (audit.fairness._power): the power of the
    engine's test to find a gap the size of a line (a ratio of 0.8 to the benchmark, a difference of 0.05) at the
    group's current size, and the size at which it reaches 80%."""

    metric: str
    group: str
    why: str  # why the comparison is inconclusive: too few rows, or below the line but within chance
    benchmark_group: str
    benchmark_rate: float
    benchmark_support: int
    kind: str  # "ratio" | "difference"
    threshold: float
    support: int  # the rows the metric rests on now (its denominator: the group's positives for TPR)
    power: float | None
    support_needed: int | None  # of the metric's denominator, for 80% power
    rows_needed: int | None  # the group's rows, at its current share of the denominator
    level: float  # the test's level: alpha over the comparisons (Holm's first step)
    note: str = ""  # why a number is missing


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
    # 2.1: why a metric with a value has no interval (the bootstrap off, a weighted small group, ...)
    no_interval: dict[str, str] = field(default_factory=dict)
    # 2.2: proportions pooled with the other groups' (beside ``values``, not instead of them)
    pooled: dict[str, PooledEstimate] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.key.items())


@dataclass(frozen=True)
class Comparison:
    """One group's metric compared with another group's (the benchmark, the reference) or with the overall value.

    Oriented so that a positive ``difference`` and a ``ratio`` below 1 mean "worse than ``compared_with``" whichever
    way the metric runs. ``p_value`` tests exactly this pair; ``p_value_holm`` adjusts it over the family of
    comparisons with the same group (every group with a value, one family per metric and table)."""

    group: str
    compared_with: str
    difference: float | None
    ratio: float | None
    difference_ci: Interval | None = None
    ratio_ci: Interval | None = None
    test: str | None = None  # what tested the pair, or why nothing did ("not tested: not a proportion")
    p_value: float | None = None
    p_value_holm: float | None = None
    undefined: str | None = None  # why the ratio (or both numbers) is None
    is_anchor: bool = False  # the group is the one every other is compared with
    above: bool = False  # the group does better than the one it is compared with (a negative difference)


@dataclass(frozen=True)
class Disparity:
    """How far apart the groups are on one metric (over the groups where it is defined)."""

    metric: str
    best_group: str | None  # fairlearn's extremes over every group with a value, whatever its size
    worst_group: str | None
    difference: float | None  # max - min, as fairlearn's MetricFrame.difference()
    ratio: float | None  # min / max, as fairlearn's MetricFrame.ratio()
    # The group every `to_benchmark` comparison is with: the best among groups whose metric rests on at least
    # min_group_size rows (see benchmark_reason); `best_group`/`ratio` stay fairlearn's all-groups extremes.
    benchmark_group: str | None = None
    benchmark_reason: str = ""
    to_benchmark: dict[str, Comparison] = field(default_factory=dict)  # group name -> its comparison
    worst_to_benchmark: str | None = None  # the group furthest below the benchmark (by ratio, else difference)
    reference_group: str | None = None  # fairness.reference, when set
    to_reference: dict[str, Comparison] = field(default_factory=dict)
    to_overall: dict[str, Comparison] = field(default_factory=dict)  # compared_with "overall"; no test
    worst_group_small: bool = False
    note: str = ""
    difference_ci: Interval | None = None
    ratio_ci: Interval | None = None

    def worst_comparison(self) -> Comparison | None:
        """The comparison of the group furthest below the benchmark, or None when no group is below it."""
        return self.to_benchmark.get(self.worst_to_benchmark) if self.worst_to_benchmark else None


@dataclass(frozen=True)
class RankedDisparity:
    """One entry of a ranking of disparities: a table's metric, its worst group's comparison with the benchmark."""

    table: str
    metric: str
    disparity: Disparity
    comparison: Comparison


@dataclass(frozen=True)
class Bootstrap:
    """How a table's intervals were made: the resamples (``n_boot``: 0 for none), their level and seed, and which
    method each kind of metric got (``intervals``)."""

    n_boot: int = 0
    level: float | None = None
    seed: int | None = None
    method: str | None = None  # "percentile"
    resampling: str | None = None  # how rows were resampled
    intervals: str | None = None  # which interval each kind of metric gets
    roc_auc_binning_bound: float | None = None  # data.engine = "partitions": the binned AUC's largest error


@dataclass(frozen=True)
class InferredEstimate:
    """One estimator's number for one group and metric (2.3). For the bounds, ``value`` is None and ``ci`` holds
    the identified interval; the difference and ratio are with the table's benchmark group, oriented as there."""

    value: float | None
    ci: Interval | None
    difference: float | None = None
    difference_ci: Interval | None = None
    ratio: float | None = None
    ratio_ci: Interval | None = None


@dataclass(frozen=True)
class InferenceValidation:
    """Where some rows carry a self-report (2.3): how well the inferred probabilities match it."""

    column: str
    rows: int  # rows with both a self-report and inferred probabilities
    # group -> mean inferred probability of the group vs the share who report it; by source of the inference
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)
    calibration_by_source: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # 2.5: the same by the type of the row's place (its Census majority group, "no majority", "no place"), and the
    # rows behind each stratum: {"source": {...}, "place_type": {...}}
    calibration_by_place_type: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    calibration_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    brier: float | None = None  # mean squared error of the probability vectors against the one-hot self-report
    # estimator -> metric -> group -> estimate - the self-reported value, on the validation rows
    errors: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    unlisted_labels: dict[str, int] = field(default_factory=dict)  # self-reports outside the tables' groups


@dataclass(frozen=True)
class InferredMembership:
    """How a table's groups were inferred and what each estimator says (2.3). The table's own numbers are the
    ``estimator``'s; the others are here, side by side."""

    attribute: str
    method: str  # "BIFSG", "BISG", "surname only", "geography only"
    columns: dict[str, str]  # surname / first_name / geography -> the data's column
    sources: dict[str, str]  # table -> where it comes from
    rows: int
    rows_by_source: dict[str, int]
    unknown_rows: int  # rows with neither a usable name nor a place: in no group, counted here
    unmatched: dict[str, int]  # column role -> rows whose value is not in the tables
    missing: dict[str, int]  # column role -> rows with no usable value
    unmatched_examples: dict[str, list[str]]
    expected_members: dict[str, float]  # group -> the sum of its probabilities
    # group -> Var(p) / (p_bar (1 - p_bar)): how much of membership the probabilities explain; the table's
    # small-group rule counts expected members x this ("effective members")
    identification: dict[str, float]
    estimator: str  # the one the table's numbers come from
    assumptions: dict[str, str]  # estimator -> what it assumes and when to trust it
    estimates: dict[str, dict[str, dict[str, InferredEstimate]]]  # estimator -> metric -> group -> estimate
    benchmark_group: dict[str, str]  # metric -> the group compared with
    intervals: str  # how the intervals were made
    fit: dict[str, Any] = field(default_factory=dict)  # the corrected estimator's EM: iterations, converged, ...
    validation: InferenceValidation | None = None


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
    bootstrap: Bootstrap = field(default_factory=Bootstrap)
    weighted: bool = False
    favourable: str = "positive"  # which decision benefits the person: "positive" or "negative"
    pooling: Pooling = field(default_factory=Pooling)  # 2.2
    power: list[PowerRow] = field(default_factory=list)  # 2.2: the rows each inconclusive comparison needs
    inferred: InferredMembership | None = None  # 2.3: the groups are inferred, not recorded

    @property
    def name(self) -> str:
        return " x ".join(self.sensitive_features)

    def group(self, name: str) -> GroupRow:
        return next(g for g in self.groups if g.name == name)

    def largest_disparities(self) -> list[RankedDisparity]:
        """Each metric's worst group against the benchmark, over groups with enough rows for the metric, smallest
        ratio first (ties: the larger difference first, then by metric name). The one ranking the CLI, the
        report, its charts and the findings read."""
        ranked = []
        for metric, disparity in self.disparities_reliable.items():
            comparison = disparity.worst_comparison()
            if comparison is not None and comparison.ratio is not None:
                ranked.append(RankedDisparity(self.name, metric, disparity, comparison))
        return sorted(ranked, key=_rank_key)

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by group, for notebooks."""
        rows = {g.name: {"n": g.n, "share": g.share, **g.values, "small": g.small} for g in self.groups}
        return pd.DataFrame.from_dict(rows, orient="index")


def _rank_key(entry: RankedDisparity) -> tuple[float, float, str, str]:
    return (
        entry.comparison.ratio if entry.comparison.ratio is not None else float("inf"),
        -(entry.comparison.difference or 0.0),
        entry.table,
        entry.metric,
    )


def largest_disparities(tables: list[FairnessTable]) -> list[RankedDisparity]:
    """Every table's ranking merged, smallest ratio first."""
    return sorted((entry for table in tables for entry in table.largest_disparities()), key=_rank_key)


# --- inputs -------------------------------------------------------------------------------------------
