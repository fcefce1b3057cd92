"""Gate rules over ranking tables (``where = "ranking"``): each group's exposure, attention or selection rate at k,
as a value or against the table's benchmark group."""

from __future__ import annotations

from typing import Any

from audit.gate._benchmark import check_against_benchmark
from audit.ranking import RANKING_MEASURES

__all__ = ["evaluate_ranking_rule", "RANKING_RULE_METRICS", "RANKING_RULE_STATS"]

RANKING_RULE_METRICS = RANKING_MEASURES
RANKING_RULE_STATS = ("value", "ratio_to_best", "difference_to_best")


def evaluate_ranking_rule(result: Any, check: Any, rule: Any) -> list:
    tables = [t for t in result.ranking or () if rule.tables is None or t.name in rule.tables]
    if not result.ranking:
        check.add(
            "ranking",
            "error",
            f"The audit result has no ranking tables, so {rule.metric} cannot be checked; run the audit with "
            "[ranking] rank or score set, or drop this rule.",
        )
        return check.outcomes
    for name in sorted(set(rule.tables or ()) - {t.name for t in result.ranking}):
        check.add(
            name,
            "error",
            f"The audit result has no ranking table {name!r}. Tables: {', '.join(t.name for t in result.ranking)}.",
        )
    for table in tables:
        measure = table.measures.get(rule.metric)
        minimum = rule.min_group_size
        for group in table.groups:
            scope = f"ranking {table.name}: {group.group}"
            too_small = group.items < minimum if minimum is not None else group.small
            if too_small:
                check.add(scope, "skipped", f"{group.items} ranked items, under the minimum: not checked.")
                continue
            what = f"{rule.metric} {rule.stat} of {group.group} (top {table.k}, {table.queries} queries)"
            if rule.stat == "value":
                check.compare(scope, group.values.get(rule.metric), group.ci.get(rule.metric), what)
                continue
            check_against_benchmark(
                check, scope, what, metric=rule.metric, stat=rule.stat, comparisons=measure, group=group.group
            )
    return check.outcomes
