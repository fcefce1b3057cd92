"""One group checked against its table's benchmark group (``stat = "ratio_to_best"`` or
``"difference_to_best"``): the fairness tables' and the ranking tables' rules read it the same way."""

from __future__ import annotations

from typing import Any

__all__ = ["check_against_benchmark"]


def check_against_benchmark(
    check: Any, scope: str, what: str, *, metric: str, stat: str, comparisons: Any, group: str
) -> None:
    """``metric``: the table's own metric name (a rule's ``favourable_rate`` resolved per table).
    ``comparisons``: the metric's comparison set (``to_benchmark`` by group, ``benchmark_group``), or None.
    The benchmark group itself is skipped (it is the comparison, not a case)."""
    comparison = comparisons.to_benchmark.get(group) if comparisons is not None else None
    if comparison is not None and comparison.is_anchor:
        check.add(
            scope,
            "skipped",
            f"The benchmark group of {metric} (the comparison, not a case): every other group is compared with it.",
            examined=True,
        )
        return
    key = "ratio" if stat == "ratio_to_best" else "difference"
    if comparisons is not None and comparisons.benchmark_group:
        what += f" (vs {comparisons.benchmark_group})"
    check.compare(scope, getattr(comparison, key, None), getattr(comparison, f"{key}_ci", None), what)
