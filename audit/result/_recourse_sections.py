"""The result's recourse audit (``AuditResult.recourse``, schema 2.8): what the cheapest change that reaches the
favourable decision costs each group, and how often there is none (docs/recourse.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.result._sections import _Section

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RecourseGroup", "RecourseTable", "RecourseExample", "RecourseAudit", "RECOURSE_MEASURES"]

Interval = list[float]
# the two burden measures, each compared with the benchmark group: the mean cost among those who have a recourse,
# and the share of the group's unfavourable decisions that have none
RECOURSE_MEASURES = ("mean_cost", "no_recourse_share")


@dataclass(frozen=True)
class RecourseGroup(_Section):
    """One group's unfavourable decisions: ``searched`` (the rows searched), ``found`` (a recourse, checked with the
    model), the mean cost of those recourses and the share with none, each with its 95% interval, and each against
    the benchmark group: the difference, its interval, the p-value (Welch's t test for the cost; the z or Fisher
    test for the share) and the Holm-adjusted p-value over the whole recourse audit. ``note`` says why a
    comparison is absent (the benchmark itself, too few rows)."""

    group: str
    searched: int
    found: int
    mean_cost: float | None
    mean_cost_ci: Interval | None
    no_recourse_share: float | None
    no_recourse_ci: Interval | None
    cost_difference: float | None = None
    cost_difference_ci: Interval | None = None
    cost_p: float | None = None
    cost_p_holm: float | None = None
    share_difference: float | None = None
    share_difference_ci: Interval | None = None
    share_p: float | None = None
    share_p_holm: float | None = None
    share_test: str = ""
    note: str = ""


@dataclass(frozen=True)
class RecourseTable(_Section):
    """The burden of recourse by the groups of one sensitive feature (or an intersection)."""

    name: str
    benchmark: str | None
    benchmark_reason: str
    groups: list[RecourseGroup]

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([g.to_dict() for g in self.groups]).assign(table=self.name)


@dataclass(frozen=True)
class RecourseExample(_Section):
    """One unfavourable decision and its recourse, as the notice states it."""

    row_id: Any
    groups: dict[str, str]
    status: str  # "found", "none", "unverified"
    cost: float | None
    text: str
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RecourseAudit(_Section):
    """Counterfactual recourse for the audit's unfavourable decisions ([recourse]).

    ``method``: "linear" (exact integer program), "trees" (exact over the leaves' boxes) or "search" (a grid);
    ``unfavourable``: the audit's unfavourable decisions, of which ``searched`` were searched (a seeded sample up to
    recourse.max_rows); ``found`` have a recourse the model accepted, ``none`` have no allowed change of at most
    ``max_changes`` inputs, ``unverified`` were proposed by the search and refused by the model (never stated;
    ``verified_share`` = found / (found + unverified)). ``alpha``: the Holm-adjusted p-value under which a burden
    difference becomes a finding."""

    method: str
    exact: bool
    cost: str
    actionable: list[str]
    locked: list[str]
    max_changes: int
    unfavourable: int
    searched: int
    found: int
    none: int
    unverified: int
    verified_share: float | None
    seconds: float
    tables: list[RecourseTable]
    alpha: float = 0.05
    examples: list[RecourseExample] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Every group of every table, for notebooks."""
        import pandas as pd

        return pd.concat([t.to_frame() for t in self.tables], ignore_index=True) if self.tables else pd.DataFrame()
