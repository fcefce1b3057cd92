"""Gate rules over paired-swap audits (``where = "swaps"``): each bias row of the rule's measure (one per identity
axis and direction, or the judge's position and length rows), by its distance from "the swap changes nothing"."""

from __future__ import annotations

from typing import Any

from audit.gate._rows import check_row_distance

__all__ = ["evaluate_swap_rule", "SWAP_RULE_METRICS", "SWAP_SUITES_BY_METRIC"]

# the bias rows' measures, and the suites that write each
SWAP_SUITES_BY_METRIC = {
    "score_change": ("identity",),
    "decision_rate_change": ("identity",),
    "rank_displacement": ("identity",),
    "top_k_rate_change": ("identity",),
    "first_position_advantage": ("judge_position",),
    "padded_win_share_change": ("judge_length",),
    "swapped_win_share_change": ("judge_identity",),
}
SWAP_RULE_METRICS = tuple(SWAP_SUITES_BY_METRIC)


def evaluate_swap_rule(result: Any, check: Any, rule: Any) -> list:
    """With ``alpha``, a row whose Holm-adjusted p-value is at least alpha passes (within chance); a row with no
    pairs is skipped, so a rule whose every row is empty is an error (no evidence) unless allow_no_evidence."""
    swaps = result.swaps
    if swaps is None:
        check.add(
            "swaps",
            "error",
            f"The audit result has no swap audit, so {rule.metric} cannot be checked; run the audit with [swaps] "
            "(or audit.swap_audit / audit.judge_audit), or drop this rule.",
        )
        return check.outcomes
    suites = [s for s in swaps.suites if rule.tables is None or s.name in rule.tables]
    writers = SWAP_SUITES_BY_METRIC[rule.metric]
    if not any(s.name in writers for s in suites):
        ran = ", ".join(s.name for s in swaps.suites) or "none"
        check.add(
            "swaps",
            "error",
            f"{rule.metric} is measured by the suite(s) {', '.join(writers)}, which this swap audit did not run "
            f"(suites: {ran}); run it or drop this rule.",
        )
        return check.outcomes
    for suite in suites:
        rows = [r for r in suite.rows if r.role == "bias" and r.measure == rule.metric]
        if suite.name in writers and not rows:
            check.add(
                f"swaps: {suite.name}",
                "skipped",
                f"no pair of {suite.name} could be tested ({'; '.join(suite.notes[-1:]) or 'nothing swapped'}).",
            )
        for row in rows:
            scope = f"swaps: {suite.name} / {row.category}" + (f" / {row.subject}" if row.subject else "")
            left_out = sum(suite.excluded.values())
            tail = f" ({left_out} pairs excluded: see the suite)" if left_out else ""
            if row.estimate is None:
                check.add(scope, "skipped", f"{row.measure}: no pairs ({row.note or 'none scored'}){tail}.")
                continue
            what = f"{row.measure} {row.estimate:.4g} over {row.n} pairs{tail}; distance from {row.null_value:g}"
            check_row_distance(check, scope, row, what, rule.alpha)
    return check.outcomes
