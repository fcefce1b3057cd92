"""Gate rules over the burden of recourse (``where = "recourse"``): each group's mean cost of recourse or share with
no recourse, as a value or as its difference to the table's benchmark group (docs/recourse.md)."""

from __future__ import annotations

from typing import Any

from audit.result._recourse_sections import RECOURSE_MEASURES

__all__ = ["evaluate_recourse_rule", "RECOURSE_RULE_METRICS", "RECOURSE_RULE_STATS"]

RECOURSE_RULE_METRICS = RECOURSE_MEASURES
RECOURSE_RULE_STATS = ("value", "difference_to_best")


def evaluate_recourse_rule(result: Any, check: Any, rule: Any) -> list:
    audit = result.recourse
    if audit is None:
        check.add(
            "recourse",
            "error",
            f"The audit result has no recourse, so {rule.metric} cannot be checked; run the audit with [recourse] "
            "actionable set, or drop this rule.",
        )
        return check.outcomes
    tables = [t for t in audit.tables if rule.tables is None or t.name in rule.tables]
    for name in sorted(set(rule.tables or ()) - {t.name for t in audit.tables}):
        check.add(
            name,
            "error",
            f"The recourse audit has no table {name!r}. Tables: {', '.join(t.name for t in audit.tables)}.",
        )
    if not any(g.searched for t in tables for g in t.groups):
        check.add("recourse", "error", "No unfavourable decision was searched: no evidence either way.")
        return check.outcomes
    minimum = rule.min_group_size if rule.min_group_size is not None else audit.settings.get("min_rows", 30)
    value_key = "mean_cost" if rule.metric == "mean_cost" else "no_recourse_share"
    ci_key = "mean_cost_ci" if rule.metric == "mean_cost" else "no_recourse_ci"
    difference_key = "cost_difference" if rule.metric == "mean_cost" else "share_difference"
    for table in tables:
        for group in table.groups:
            scope = f"recourse {table.name}: {group.group}"
            if group.searched < minimum:
                check.add(
                    scope, "skipped", f"{group.searched} unfavourable decisions searched, under {minimum}: not checked."
                )
                continue
            what = f"{rule.metric.replace('_', ' ')} of {group.group} ({group.searched} searched)"
            if rule.stat == "value":
                check.compare(scope, getattr(group, value_key), getattr(group, ci_key), what)
            elif group.group == table.benchmark:
                check.add(scope, "skipped", "The benchmark group (the comparison, not a case).", examined=True)
            else:
                check.compare(
                    scope,
                    getattr(group, difference_key),
                    getattr(group, f"{difference_key}_ci"),
                    f"{what}, difference to {table.benchmark}",
                )
    return check.outcomes
