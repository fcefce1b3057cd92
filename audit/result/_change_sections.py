"""What changed between two audits of a model (``audit diff``, ``audit run --baseline``): typed, serialisable."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.result._sections import _Section
from audit.result._serde import optional

__all__ = ["AuditChanges", "FindingChange", "GateChange", "InputChange", "MetricChange"]

Interval = list[float]


@dataclass(frozen=True)
class InputChange(_Section):
    """One input of the audit (the data, model or config file by sha256, the toolkit version, the rows audited)."""

    name: str
    old: str | None
    new: str | None
    changed: bool


@dataclass(frozen=True)
class MetricChange(_Section):
    """One number in both audits. ``statistic``: "value" (a group's metric), "ratio" (each metric's largest disparity,
    its worst group against the benchmark group, as ``FairnessTable.largest_disparities`` ranks them: shown, not
    tested), "ratio to the baseline's benchmark" (a group against the baseline's benchmark group,
    ``compared_with``: the comparisons the verdict tests), or "share of the gap" (an input's part of a gap;
    ``feature`` names it). ``separated``: the two intervals do not overlap.
    ``worsened`` (tested comparisons only): the test of the change rejected after Holm and the pair's ratio moved
    away from parity by more than the tolerance (``fall``: old minus new parity ratio, min/max of the pair); with
    ``confident``, the one-sided test that the fall exceeds the tolerance rejected. ``detectable_fall``: the
    smallest fall the two audits would have found with the change's ``detection_power``."""

    table: str
    metric: str
    group: str
    statistic: str
    old: float | None
    old_ci: Interval | None
    new: float | None
    new_ci: Interval | None
    change: float | None
    separated: bool
    feature: str = ""
    worsened: bool = False
    compared_with: str | None = optional()
    fall: float | None = optional()
    p_value: float | None = optional()
    p_value_holm: float | None = optional()
    detectable_fall: float | None = optional()


@dataclass(frozen=True)
class FindingChange(_Section):
    """A finding in one audit only: ``change`` "added" (new) or "resolved" (in the baseline only)."""

    change: str
    kind: str
    severity: str
    message: str


@dataclass(frozen=True)
class GateChange(_Section):
    """A policy rule whose outcome differs between two gated audits."""

    policy: str
    rule: str
    scope: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class AuditChanges(_Section):
    """The changes from a baseline audit to this one. ``passed``: some comparison was tested and no disparity
    worsened beyond ``tolerance``."""

    baseline: str
    baseline_sha256: str
    baseline_created: str | None
    tolerance: float
    tolerance_source: str
    confident: bool
    inputs: list[InputChange]
    metrics: list[MetricChange]
    gap_shares: list[MetricChange]
    findings: list[FindingChange]
    gate: list[GateChange]
    notes: list[str] = field(default_factory=list)
    worsened: int = 0
    passed: bool = True
    test: str | None = optional()  # how ``worsened`` was decided
    alpha: float | None = optional()
    tested: int | None = optional()  # comparisons in the Holm family; 0: the verdict rests on no evidence
    detectable_fall: list[float] | None = optional()  # [smallest, largest] detectable fall over the comparisons
    detection_power: float | None = optional()

    def separated(self) -> list[MetricChange]:
        """Every number whose intervals no longer overlap, metrics first, then gap shares."""
        return [m for m in self.metrics + self.gap_shares if m.separated]
