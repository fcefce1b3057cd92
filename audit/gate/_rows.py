"""One check shared by the rules over bias rows (probe suites, swap audits): a row's distance from no bias, or a
pass when its Holm-adjusted p-value says the difference is within chance."""

from __future__ import annotations

from typing import Any

__all__ = ["check_row_distance", "distance_interval"]


def distance_interval(row: Any) -> list[float] | None:
    """The interval of |estimate - null| from the estimate's interval: 0 at the low end when it covers the null."""
    if not row.ci:
        return None
    low, high = (abs(end - row.null_value) for end in row.ci)
    covers = row.ci[0] <= row.null_value <= row.ci[1]
    return [0.0 if covers else min(low, high), max(low, high)]


def check_row_distance(check: Any, scope: str, row: Any, what: str, alpha: float | None) -> None:
    """With ``alpha``, a row whose Holm-adjusted p-value is at least alpha passes (within chance); otherwise its
    distance (and the distance's interval) is compared with the rule's threshold."""
    if alpha is not None and row.p_holm is not None and row.p_holm >= alpha:
        check.add(
            scope,
            "pass",
            f"{what} = {row.distance:.4g}, within chance (Holm-adjusted p = {row.p_holm:.2g} >= {alpha:g}).",
            row.distance,
            row.distance,
        )
        return
    check.compare(scope, row.distance, distance_interval(row), what)
