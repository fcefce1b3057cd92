"""Findings: what a reader should look at first, from the fairness tables, attributions and text audits.
Each finding names both groups, the comparison, the test and the interval of exactly that pair."""

from __future__ import annotations

from typing import Any


from audit.config._settings import AuditConfig
from audit.fairness._comparisons import comparison_flagged
from audit.fairness._types import Comparison, FairnessTable
from audit.result._gap_sections import GapReport
from audit.result._sections import MitigationReport, ProbeReport, SliceReport, TextAudit
from audit.result._result import AttributionSummary, Finding
from audit.result._recourse_sections import RecourseAudit
from audit.result._swap_sections import SwapAudit

__all__ = [
    "fairness_findings",
    "text_findings",
    "slice_findings",
    "mitigation_findings",
    "gap_findings",
    "ranking_findings",
    "swap_findings",
]


def fairness_findings(
    tables: list[FairnessTable], attributions: list[AttributionSummary], config: AuditConfig
) -> list[Finding]:
    findings = []
    for table in tables:
        for metric, disparity in table.disparities_reliable.items():
            worst = disparity.worst_to_benchmark
            benchmark_pair = None
            if worst is not None:
                finding = _comparison_finding(
                    table,
                    metric,
                    worst,
                    disparity.to_benchmark[worst],
                    "benchmark",
                    f"the best of the groups with {table.min_group_size}+ rows for it",
                    config,
                )
                if finding is not None:
                    findings.append(finding)
                    benchmark_pair = (worst, disparity.benchmark_group)
            if disparity.to_reference:
                below = [
                    (entry.ratio, name)
                    for name, entry in disparity.to_reference.items()
                    if entry.ratio is not None and not entry.is_anchor
                ]
                if below and (min(below)[1], disparity.reference_group) == benchmark_pair:
                    # the same pair: one finding that says so, not the same sentence twice
                    findings[-1] = _comparison_finding(
                        table,
                        metric,
                        worst,
                        disparity.to_benchmark[worst],
                        "benchmark and reference",
                        f"the best of the groups with {table.min_group_size}+ rows for it, and the reference set in "
                        "fairness.reference",
                        config,
                    )
                elif below:
                    _, name = min(below)
                    finding = _comparison_finding(
                        table,
                        metric,
                        name,
                        disparity.to_reference[name],
                        "reference",
                        "set in fairness.reference",
                        config,
                    )
                    if finding is not None:
                        findings.append(finding)
        small_groups = [g.name for g in table.groups if g.small]
        if small_groups:
            findings.append(
                Finding(
                    kind="small_group",
                    severity="info",
                    message=(
                        f"{len(small_groups)} group(s) of {table.name} have fewer than {table.min_group_size} "
                        + ("effective members (inferred groups)" if table.inferred is not None else "rows")
                        + "; "
                        f"their metrics are uncertain and they are never used as a benchmark: "
                        f"{', '.join(small_groups[:8])}{' ...' if len(small_groups) > 8 else ''}."
                    ),
                    evidence={"table": table.name, "groups": small_groups},
                )
            )
    return findings + _attribution_findings(attributions)


def _comparison_finding(
    table: FairnessTable, metric: str, name: str, entry: Comparison, comparison: str, why: str, config: AuditConfig
) -> Finding | None:
    """A finding for one group compared with the benchmark or the reference, when its ratio falls below the
    threshold. The p-value and the intervals are those of exactly this pair."""
    threshold = config.fairness.ratio_threshold
    ratio = entry.ratio
    if ratio is None or ratio >= threshold:
        return None
    group, other = table.group(name), table.group(entry.compared_with)
    p_value, interval = entry.p_value_holm, entry.ratio_ci
    certainty = ""
    if interval is not None:
        certainty += f", {config.fairness.ci_level:.0%} CI [{interval[0]:.2f}, {interval[1]:.2f}]"
    if p_value is not None:
        certainty += f", Holm-adjusted p = {p_value:.2g} ({name} vs {other.name}, {entry.test})"
    significant = comparison_flagged(entry, ratio_threshold=threshold, alpha=config.fairness.alpha)
    role = {"benchmark": "the benchmark", "reference": "the reference"}.get(comparison, "the benchmark and reference")
    return Finding(
        kind="disparity",
        severity="warning" if significant else "info",
        message=(
            f"{metric} by {table.name}: {name} has {group.values[metric]:.3f} against "
            f"{other.values[metric]:.3f} for {other.name} ({role}: {why}), a ratio of {ratio:.2f}{certainty}; "
            f"below {threshold:g}"
            + ("." if significant else ", but not statistically significant.")
            + (
                f" The groups are inferred ({table.inferred.method}); these are the {table.inferred.estimator} "
                "estimator's numbers, the other estimators are beside the table."
                if table.inferred is not None
                else ""
            )
        ),
        evidence={
            "table": table.name,
            "metric": metric,
            "comparison": comparison,
            "group": name,
            "compared_with": other.name,
            "ratio": ratio,
            "ratio_ci": interval,
            "difference": entry.difference,
            "difference_ci": entry.difference_ci,
            "p_value": entry.p_value,
            "p_value_holm": p_value,
            "test": entry.test,
            "group_n": group.n,
            "compared_n": other.n,
        },
    )


def _attribution_findings(attributions: list[AttributionSummary]) -> list[Finding]:
    findings = []
    for summary in attributions:
        if summary.reliance_on_sensitive is not None and summary.reliance_on_sensitive >= 0.05:
            findings.append(
                Finding(
                    kind="reliance",
                    severity="warning",
                    message=(
                        f"{summary.method}: {summary.reliance_on_sensitive:.1%} of the attribution falls on "
                        + (
                            f"identity terms in the texts ({', '.join(summary.sensitive_features_in_model[:8])})."
                            if summary.granularity == "token"
                            else f"the sensitive features {', '.join(summary.sensitive_features_in_model)}"
                            ", which the model takes as inputs."
                        )
                    ),
                    evidence={"method": summary.method, "share": summary.reliance_on_sensitive},
                )
            )
        if summary.completeness_error_max is not None and summary.completeness_error_max > 1e-3:
            findings.append(
                Finding(
                    kind="completeness",
                    severity="warning",
                    message=(
                        f"{summary.method}: attributions do not add up to the model output (largest gap "
                        f"{summary.completeness_error_max:.3g} {summary.output_space}); trust them less."
                    ),
                    evidence={"method": summary.method, "max": summary.completeness_error_max},
                )
            )
    return findings


def text_findings(text: TextAudit | None, config: AuditConfig) -> list[Finding]:
    """Counterfactual axes whose decisions flip or scores move, and identity groups the model ranks worse."""
    if text is None:
        return []
    findings = []
    for where, section in (
        ("real texts", text.counterfactuals),
        ("template probes", text.probes.counterfactuals if text.probes else None),
    ):
        for row in section.axes if section else []:
            if row.small or (row.flip_rate < 0.01 and row.mean_abs_score_change < 0.01):
                continue
            interval = row.flip_rate_ci
            findings.append(
                Finding(
                    kind="counterfactual",
                    severity="warning" if row.flip_rate >= 0.05 else "info",
                    message=(
                        f"Swapping {row.axis} terms in {where} flips {row.flip_rate:.1%} of decisions"
                        + (
                            f" ({config.fairness.ci_level:.0%} CI {interval[0]:.1%}-{interval[1]:.1%})"
                            if interval
                            else ""
                        )
                        + f" and moves the score by {row.mean_abs_score_change:.3f} on average (at most "
                        f"{row.max_abs_score_change:.3f}), over {row.variants} variants of "
                        f"{row.texts} texts."
                    ),
                    evidence={
                        "axis": row.axis,
                        "source": where,
                        "flip_rate": row.flip_rate,
                        "mean_abs_score_change": row.mean_abs_score_change,
                    },
                )
            )
    groups = text.identity_groups
    for row in groups.rows if groups else []:
        if row.small or row.bpsn_auc is None or groups.overall_auc is None:
            continue
        if row.bpsn_auc < groups.overall_auc - 0.1:
            findings.append(
                Finding(
                    kind="identity_group",
                    severity="warning",
                    message=(
                        f"Texts mentioning {row.axis}={row.group} ({row.texts} texts): BPSN AUC "
                        f"{row.bpsn_auc:.3f} against {groups.overall_auc:.3f} overall: negative texts that "
                        f"mention the group score as high as positive texts that do not (false alarms)."
                    ),
                    evidence={"axis": row.axis, "group": row.group, "bpsn_auc": row.bpsn_auc},
                )
            )
    return findings


def slice_findings(slices: SliceReport | None) -> list[Finding]:
    """Each confirmed slice: where the model does worse than on the rest of the data."""
    findings = []
    for search in slices.searches if slices else []:
        for found in search.slices:
            interval = f" [{found.effect_ci[0]:+.3f}, {found.effect_ci[1]:+.3f}]" if found.effect_ci else ""
            findings.append(
                Finding(
                    kind="slice",
                    severity="warning" if abs(found.effect) >= 0.05 else "info",
                    message=(
                        f"{search.words.capitalize()} {found.metric:.3f} where {found.definition} ({found.rows:,} "
                        f"rows, {found.share:.1%} of the data) against {found.rest_metric:.3f} elsewhere: "
                        f"{found.effect:+.3f}{interval} on held-out rows, q = {found.q_value:.3g}."
                    ),
                    evidence={
                        "metric": search.metric,
                        "slice": found.definition,
                        "effect": found.effect,
                        "q_value": found.q_value,
                        "rows": found.rows,
                    },
                )
            )
    return findings


def mitigation_findings(mitigation: MitigationReport | None) -> list[Finding]:
    """For impact ratios: what reaching the four-fifths line would cost on held-out rows, with and without the
    group at decision time."""
    findings = []
    for frontier in mitigation.frontiers if mitigation else []:
        if (
            frontier.constraint != "impact_ratio"
            or frontier.current.constraint_value is None
            or frontier.current.constraint_value >= 0.8
        ):
            continue
        fix, blind = frontier.at(0.8), frontier.at(0.8, group_blind=True)
        parts = []
        for label, point in (("group-specific thresholds", fix), ("one threshold for everybody", blind)):
            if point is None or not point.feasible:
                parts.append(f"{label}: not reachable")
                continue
            interval = f" [{point.cost_ci[0] * 100:.1f}, {point.cost_ci[1] * 100:.1f}]" if point.cost_ci else ""
            reached = "undefined" if point.constraint_value is None else f"{point.constraint_value:.2f}"
            if point.constraint_ci:
                reached += f" [{point.constraint_ci[0]:.2f}, {point.constraint_ci[1]:.2f}]"
            verdict = " and reach" if point.reached is not False else ", but miss 0.8: they reach"
            parts.append(
                f"{label} cost {point.cost * 100:.1f} points of accuracy{interval}{verdict} an impact "
                f"ratio of {reached} on held-out rows" + _coin_flips(point) + _short_reach(point, frontier)
            )
        findings.append(
            Finding(
                kind="mitigation",
                severity="info",
                message=(
                    f"Reaching an impact ratio of 0.8 by {frontier.sensitive} "
                    f"(now {frontier.current.constraint_value:.2f}): "
                    + "; ".join(parts)
                    + ". Group-specific thresholds use the group at decision time."
                ),
                evidence={
                    "constraint": frontier.constraint,
                    "sensitive": frontier.sensitive,
                    "cost": fix.cost if fix and fix.feasible else None,
                    "group_blind_cost": blind.cost if blind and blind.feasible else None,
                    "reached": fix.reached if fix and fix.feasible else None,
                    "group_blind_reached": blind.reached if blind and blind.feasible else None,
                },
            )
        )
    return findings


def _coin_flips(point) -> str:
    if not point.randomised_share:
        return ""
    return f", deciding {point.randomised_share:.1%} of rows by a coin flip"


def _short_reach(point, frontier) -> str:
    """Said only when the fix could not be solved for the chance of reaching 0.8 that fixes aim for."""
    if point.reach is None or frontier.reach_target is None or point.reach >= frontier.reach_target:
        return ""
    return (
        f" (their chance of reaching it on new rows is {point.reach:.2f}, short of the "
        f"{frontier.reach_target:g} aimed for: too few rows for a margin)"
    )


def _percent_interval(interval) -> str:
    return f" [{interval[0]:.0%}, {interval[1]:.0%}]" if interval else ""


def _joint_proxy_finding(gap, joint, where: str, base: dict) -> Finding:
    alone = (
        ""
        if joint.strongest_single_auc is None
        else f"; the strongest of them alone reaches {joint.strongest_single_auc:.2f}"
    )
    return Finding(
        kind="joint_proxy",
        severity="warning",
        message=(
            f"{where}: {', '.join(joint.features)} together stand in for {gap.table} (together they "
            f"tell {gap.group} from {gap.compared_with} with an AUC of {joint.proxy_auc:.2f}{alone}) "
            f"and carry {joint.share:.0%}{_percent_interval(joint.share_ci)} of the gap."
        ),
        evidence={
            **base,
            "features": joint.features,
            "share": joint.share,
            "share_ci": joint.share_ci,
            "proxy_auc": joint.proxy_auc,
            "strongest_single_auc": joint.strongest_single_auc,
        },
    )


def gap_findings(report: GapReport | None) -> list[Finding]:
    """For each flagged gap (its fairness finding is a warning): every proxy, the protected attribute's own part
    when it is a model input, and a decomposition whose check failed."""
    findings = []
    for gap in report.explanations if report else []:
        if not gap.flagged:
            continue
        where = (
            f"{gap.metric} by {gap.table}: {gap.group} {gap.value:.3f} against {gap.compared_value:.3f} for "
            f"{gap.compared_with} (gap {gap.gap:+.3f})"
        )
        base = {
            "table": gap.table,
            "metric": gap.metric,
            "group": gap.group,
            "compared_with": gap.compared_with,
            "gap": gap.gap,
        }
        share_limit = report.settings.get("proxy_share", 0.1)
        for feature in gap.features:
            interval = _percent_interval(feature.share_ci)
            if feature.role == "proxy":
                findings.append(
                    Finding(
                        kind="proxy",
                        severity="warning",
                        message=(
                            f"{where}: {feature.feature} stands in for {gap.table} (alone it tells {gap.group} from "
                            f"{gap.compared_with} with an AUC of {feature.proxy_auc:.2f}) and carries "
                            f"{feature.share:.0%}{interval} of the gap."
                        ),
                        evidence={
                            **base,
                            "feature": feature.feature,
                            "share": feature.share,
                            "share_ci": feature.share_ci,
                            "proxy_auc": feature.proxy_auc,
                            "proxy_score": feature.proxy_score,
                        },
                    )
                )
            elif feature.role == "direct" and feature.share is not None and feature.share >= share_limit:
                findings.append(
                    Finding(
                        kind="direct",
                        severity="warning",
                        message=f"{where}: {feature.feature} itself, a model input, carries "
                        f"{feature.share:.0%}{interval} of the gap.",
                        evidence={
                            **base,
                            "feature": feature.feature,
                            "share": feature.share,
                            "share_ci": feature.share_ci,
                        },
                    )
                )
        joint = gap.joint_proxy
        if joint is not None and joint.role == "proxy":
            findings.append(_joint_proxy_finding(gap, joint, where, base))
        check = gap.check
        if check is not None and check.passed is False:
            findings.append(
                Finding(
                    kind="gap_check",
                    severity="warning",
                    message=(
                        f"{where}: the decomposition fails its check: handing over its top contributor "
                        f"{check.feature} closes {check.closed:.0%} of the gap, random features "
                        f"{check.closed_random:.0%}. Read its contributions with care."
                    ),
                    evidence={**base, "feature": check.feature, "margin": check.margin},
                )
            )
    return findings


# how far from no bias a probe row must be to matter (the llm-bias preset's thresholds): beyond chance and beyond
# these is a warning; beyond chance only is information (a deterministic model's tiny but consistent preferences)
PROBE_MATERIAL = {
    "stereotype_share": 0.1,
    "bias_ambiguous": 0.1,
    "bias_disambiguated": 0.1,
    "negativity_gap": 0.693,
    "score_gap": 0.1,
}


def _row_evidence(suite: Any, row: Any) -> dict[str, Any]:
    """What a finding about one bias row of a probe or swap suite carries."""
    return {
        "suite": suite.name,
        "category": row.category,
        "subject": row.subject,
        "measure": row.measure,
        "estimate": row.estimate,
        "p_holm": row.p_holm,
    }


def probe_findings(report: ProbeReport | None) -> list[Finding]:
    """Each bias row of a language-model probe whose Holm-adjusted p-value is under the report's alpha: the model
    prefers one side beyond chance, with the estimate and its interval in the message; a warning when the distance
    from no bias is material (``PROBE_MATERIAL``), else information."""
    findings = []
    for suite in report.suites if report else []:
        for row in suite.rows:
            if row.role != "bias" or row.p_holm is None or row.p_holm >= report.alpha or row.estimate is None:
                continue
            interval = f" [{row.ci[0]:.3g}, {row.ci[1]:.3g}]" if row.ci else ""
            about = f"{row.category}" + (f", {row.subject}" if row.subject else "")
            material = next((v for k, v in PROBE_MATERIAL.items() if row.measure.startswith(k)), 0.0)
            findings.append(
                Finding(
                    kind="probe",
                    severity="warning" if (row.distance or 0.0) >= material else "info",
                    message=(
                        f"{suite.name} ({about}): {row.measure.replace('_', ' ')} {row.estimate:.3g}{interval} "
                        f"against {row.null_value:g} without bias, over {row.n:,} items; Holm-adjusted p = "
                        f"{row.p_holm:.2g}."
                    ),
                    evidence=_row_evidence(suite, row),
                )
            )
    return findings


def swap_findings(audit: SwapAudit | None) -> list[Finding]:
    """A warning for each bias row of a swap audit whose Holm-adjusted p-value is under its alpha (the swap moved
    the score, the decision, the rank or the verdict beyond chance), and for each suite that had to leave pairs out
    (a judge that answered neither label, documents beyond what the model reads)."""
    findings: list[Finding] = []
    for suite in audit.suites if audit else []:
        left_out = sum(suite.excluded.values())
        if left_out:
            reasons = "; ".join(f"{reason}: {count}" for reason, count in suite.excluded.items())
            findings.append(
                Finding(
                    kind="swap",
                    severity="warning",
                    message=f"swaps {suite.name}: {left_out:,} pair(s) left out ({reasons}); {suite.pairs:,} tested.",
                    evidence={"suite": suite.name, "excluded": dict(suite.excluded), "pairs": suite.pairs},
                )
            )
        for row in suite.rows:
            if row.role != "bias" or row.p_holm is None or row.p_holm >= audit.alpha or row.estimate is None:
                continue
            interval = f" [{row.ci[0]:.3g}, {row.ci[1]:.3g}]" if row.ci else ""
            about = row.category + (f", {row.subject}" if row.subject else "")
            findings.append(
                Finding(
                    kind="swap",
                    severity="warning",
                    message=(
                        f"swaps {suite.name} ({about}): {row.measure.replace('_', ' ')} {row.estimate:.3g}{interval} "
                        f"over {row.n:,} pairs, against {row.null_value:g} if the swap changed nothing; "
                        f"Holm-adjusted p = {row.p_holm:.2g} ({row.test})."
                    ),
                    evidence=_row_evidence(suite, row),
                )
            )
    return findings


def ranking_findings(tables: list | None, *, ratio_threshold: float, alpha: float) -> list[Finding]:
    """A warning for each group of a ranking table whose measure is under ``ratio_threshold`` of the benchmark
    group's with a Holm-adjusted p-value under ``alpha``, and for each group whose prefix test (FA*IR) fails more
    queries than chance allows; an info line when the ties were broken at random."""
    findings = []
    for table in tables or []:
        for metric, measure in table.measures.items():
            for group, comparison in measure.to_benchmark.items():
                small = next((g.small for g in table.groups if g.group == group), False)
                if comparison.is_anchor or small or comparison.ratio is None:
                    continue
                p_value = comparison.p_value_holm
                if comparison.ratio < ratio_threshold and p_value is not None and p_value < alpha:
                    findings.append(
                        Finding(
                            kind="ranking",
                            severity="warning",
                            message=(
                                f"Ranking by {table.name}: {group} gets {comparison.ratio:.2f} of "
                                f"{comparison.compared_with}'s {metric.replace('_', ' ')}"
                                f"{f' (top {table.k})' if metric == 'selection_rate_at_k' else ''} over "
                                f"{table.queries:,} quer{'y' if table.queries == 1 else 'ies'} "
                                f"(Holm p {'< 0.001' if p_value < 0.001 else f'= {p_value:.3f}'})."
                            ),
                            evidence={
                                "table": table.name,
                                "metric": metric,
                                "group": group,
                                "compared_with": comparison.compared_with,
                                "ratio": comparison.ratio,
                                "ratio_ci": comparison.ratio_ci,
                                "p_value_holm": p_value,
                            },
                        )
                    )
        for test in table.prefix_tests:
            if test.p_value_holm is not None and test.p_value_holm < alpha:
                findings.append(
                    Finding(
                        kind="ranking",
                        severity="warning",
                        message=(
                            f"Ranking by {table.name}: {test.group} falls short of FA*IR's prefix table in "
                            f"{test.failed:,} of {test.queries_tested:,} queries, against "
                            f"{test.expected_failures:.1f} expected of a group-blind ranking (Holm p "
                            f"{'< 0.001' if test.p_value_holm < 0.001 else f'= {test.p_value_holm:.3f}'})."
                        ),
                        evidence={
                            "table": table.name,
                            "group": test.group,
                            "failed": test.failed,
                            "queries_tested": test.queries_tested,
                            "p_value_holm": test.p_value_holm,
                        },
                    )
                )
        if table.tied_items:
            findings.append(
                Finding(
                    kind="ranking",
                    severity="info",
                    message=(
                        f"Ranking by {table.name}: {table.tied_items:,} items tied on their rank or score; the ties "
                        'were broken at random (seeded), as ranking.ties = "random" asks.'
                    ),
                    evidence={"table": table.name, "tied_items": table.tied_items},
                )
            )
    return findings


def recourse_findings(audit: RecourseAudit | None) -> list[Finding]:
    """A warning for each group whose recourse burden differs from its benchmark group's with a Holm-adjusted
    p-value under recourse.alpha (it must change more, or more often cannot reach the favourable decision at all),
    and one for recourses the model refused (never stated)."""
    findings: list[Finding] = []
    if audit is None:
        return findings
    if audit.unverified:
        findings.append(
            Finding(
                kind="recourse",
                severity="warning",
                message=f"recourse: {audit.unverified:,} proposed change(s) were refused by the model when checked; "
                "they are not stated, and left out of the burden.",
                evidence={"unverified": audit.unverified, "searched": audit.searched},
            )
        )
    for table in audit.tables:
        for group in table.groups:
            for measure, difference, interval, p_holm, units in (
                ("mean cost", group.cost_difference, group.cost_difference_ci, group.cost_p_holm, audit.cost),
                ("share with no recourse", group.share_difference, group.share_difference_ci, group.share_p_holm, ""),
            ):
                if p_holm is None or p_holm >= audit.alpha or difference is None:
                    continue
                shown = f" [{interval[0]:+.3g}, {interval[1]:+.3g}]" if interval else ""
                findings.append(
                    Finding(
                        kind="recourse",
                        severity="warning",
                        message=(
                            f"recourse {table.name}: {group.group}'s {measure} differs from {table.benchmark}'s by "
                            f"{difference:+.3g}{shown}{f' ({units})' if units else ''}, over {group.searched:,} "
                            f"unfavourable decisions; Holm-adjusted p = {p_holm:.2g}."
                        ),
                        evidence={
                            "table": table.name,
                            "group": group.group,
                            "benchmark": table.benchmark,
                            "measure": "mean_cost" if measure == "mean cost" else "no_recourse_share",
                            "difference": difference,
                            "ci": interval,
                            "p_holm": p_holm,
                        },
                    )
                )
    return findings
