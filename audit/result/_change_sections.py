"""What changed between two audits of a model (``audit diff``, ``audit run --baseline``): typed, serialisable."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.result._sections import _Section

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
    """One number in both audits. ``statistic``: "value" (a group's metric), "ratio" (lowest group / highest group,
    groups with enough rows), "ratio to benchmark" (a group against the benchmark group), or "share of the gap"
    (an input's part of a gap; ``feature`` names it). ``separated``: the two intervals do not overlap.
    ``worsened`` (ratios only): the ratio moved away from parity by more than the tolerance (with ``confident``,
    the new interval's upper end did)."""

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
    """The changes from a baseline audit to this one. ``passed``: no disparity worsened beyond ``tolerance``."""

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

    def separated(self) -> list[MetricChange]:
        """Every number whose intervals no longer overlap, metrics first, then gap shares."""
        return [m for m in self.metrics + self.gap_shares if m.separated]
