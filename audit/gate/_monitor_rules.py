"""Gate rules over monitored decision streams (``where = "monitor"``): how many groups alarm at a stream's last look
(``open_alarms``), or over its life (``alarms``), read from a store by ``audit check --store URL``."""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate_monitor_rule", "MONITOR_RULE_METRICS"]

MONITOR_RULE_METRICS = ("open_alarms", "alarms")


def evaluate_monitor_rule(result: Any, check: Any, rule: Any) -> list:
    summary = result.monitoring
    if summary is None:
        check.add(
            "monitor",
            "error",
            f"The audit result carries no monitoring, so {rule.metric} cannot be checked; gate it with "
            "`audit check ... --store URL` (the store `audit monitor` writes), or drop this rule.",
        )
        return check.outcomes
    streams = [s for s in summary.streams if rule.tables is None or s.stream in rule.tables]
    if not streams:
        named = f" named {', '.join(rule.tables)}" if rule.tables else ""
        check.add(
            "monitor",
            "error",
            f"The store {summary.store} has no monitored stream{named}: no evidence either way. Run `audit monitor` "
            "first, or drop this rule.",
        )
        return check.outcomes
    for stream in streams:
        scope = f"monitor {stream.stream}: {stream.feature}"
        if rule.metric == "open_alarms":
            value = len(stream.open_alarms)
            what = (
                f"{value} group(s) alarming at the last look ({stream.last_window[:10]}"
                + (f": {', '.join(stream.open_alarms)}" if stream.open_alarms else "")
                + f"; impact ratio to {stream.reference_group} below {stream.threshold:g})"
            )
        else:
            value = len(stream.alarms)
            what = f"{value} alarm(s) over {stream.windows} window(s) since {stream.first_window[:10]}"
        check.compare(scope, float(value), None, what)
    return check.outcomes
