"""The result's monitoring summary (``AuditResult.monitoring``, schema 2.7): what a store's monitored streams show
when an audit is gated with ``audit check --store URL`` (docs/monitoring.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.result._sections import _Section

__all__ = ["MonitorAlarm", "MonitoredStream", "MonitoringSummary"]


@dataclass(frozen=True)
class MonitorAlarm(_Section):
    """One alarm: at look ``look`` (the window starting ``window_start``), ``group``'s impact ratio over the last
    ``windows_pooled`` windows was below the threshold beyond the stream's error budget."""

    window_start: str
    look: int
    group: str
    windows_pooled: int
    ratio: float | None
    upper: float | None


@dataclass(frozen=True)
class MonitoredStream(_Section):
    """One stream and sensitive feature of a store: its windows, its alarms, and the groups alarming at its last
    look (``open_alarms``: what a release gate reads)."""

    stream: str
    feature: str
    reference_group: str
    threshold: float
    windows: int
    first_window: str
    last_window: str
    alarms: list[MonitorAlarm] = field(default_factory=list)
    open_alarms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MonitoringSummary(_Section):
    store: str  # its URL, password hidden
    read_at: str
    streams: list[MonitoredStream] = field(default_factory=list)
