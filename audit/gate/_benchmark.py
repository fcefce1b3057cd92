"""One group checked against its table's benchmark group (``stat = "ratio_to_best"`` or
``"difference_to_best"``): the fairness tables' and the ranking tables' rules read it the same way."""

from __future__ import annotations

from typing import Any

__all__ = ["check_against_benchmark"]


def check_against_benchmark(check: Any, scope: str, what: str, *, rule: Any, comparisons: Any, group: str) -> None:
    """``comparisons``: the metric's comparison set (``to_benchmark`` by group, ``benchmark_group``), or None.
    The benchmark group itself is skipped (it is the comparison, not a case)."""
    comparison = comparisons.to_benchmark.get(group) if comparisons is not None else None
    if comparison is not None and comparison.is_anchor:
        check.add(
            scope,
            "skipped",
            f"The benchmark group of {rule.metric} (the comparison, not a case): every other group is "
            "compared with it.",
            examined=True,
        )
        return
    key = "ratio" if rule.stat == "ratio_to_best" else "difference"
    if comparisons is not None and comparisons.benchmark_group:
        what += f" (vs {comparisons.benchmark_group})"
    check.compare(scope, getattr(comparison, key, None), getattr(comparison, f"{key}_ci", None), what)
