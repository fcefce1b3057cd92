"""Evidence sources for records in the shapes regulators ask for: a bias profile in the manner of the draft EU
standard prEN 18283 (per scenario: the group, the hazard, the metric and its threshold, the evidence, the mitigation,
the review trigger), and the burden of recourse by group (docs/dossiers.md)."""

from __future__ import annotations

from typing import Any

from audit.dossiers._evidence import Collector, Filled, Missing, number

__all__ = ["bias_profile", "recourse_burden", "hazard_of", "protected_inputs", "proxy_inputs"]

NEEDS = "needs human input"
# what kind of harm a measure speaks to (the hazard of a bias profile entry), by words in a rule's id or metric, or
# a finding's kind; the first that matches
_HAZARDS = (
    (("recourse", "mean_cost", "no_recourse"), "unequal burden of recourse: one group must change more to be approved"),
    (
        ("selection", "favourable", "impact", "fifths", "ll144", "positive_rate", "exposure", "attention", "top_k"),
        "unequal allocation of the favourable outcome",
    ),
    (
        ("tpr", "fpr", "fnr", "tnr", "error", "accuracy", "auc", "equal", "calibration", "ece", "precision", "recall"),
        "unequal quality of service: error rates differ by group",
    ),
    (("reliance", "direct", "proxy"), "use of a protected characteristic, or of an input standing in for one"),
    (("swap", "probe", "stereotype", "negativity", "bias_"), "stereotyping and representational harm"),
    (("alarm", "monitor"), "drift after release: a disparity appearing in use"),
    (("small_group", "completeness", "gap_check"), "too little evidence to judge a group"),
    (("slice",), "a subgroup the groupings do not name is worse served"),
)


def hazard_of(*names: str) -> str:
    text = " ".join(n.lower() for n in names if n)
    for words, hazard in _HAZARDS:
        if any(w in text for w in words):
            return hazard
    return NEEDS


def _mitigation(record: dict, table: str) -> str:
    """What the audit measured a fix of this table's gap would cost (the mitigation frontier), else needs a person."""
    for frontier in (record.get("mitigation") or {}).get("frontiers", []):
        if frontier.get("sensitive") and frontier["sensitive"] in table:
            return (
                f"group-specific thresholds measured for {frontier['sensitive']} (docs/mitigation.md); the choice of "
                "fix, if any, needs a person"
            )
    return NEEDS


def _trigger(record: dict, table: str, line: str) -> str:
    streams = [
        s["stream"]
        for s in (record.get("monitoring") or {}).get("streams", [])
        if s.get("feature") and s["feature"] in table
    ]
    watched = f"; an alarm of the monitored stream {', '.join(streams)}" if streams else ""
    return f"{line} at each release (`audit check`){watched}"


def _rule_entries(record: dict, c: Collector) -> list[list[str]]:
    outcomes = (record.get("gate") or {}).get("outcomes", [])
    by_rule: dict[tuple[str, str], list[int]] = {}
    for k, outcome in enumerate(outcomes):
        by_rule.setdefault((outcome["policy"], outcome["rule"]), []).append(k)
    rows = []
    for (policy, rule), positions in by_rule.items():
        cases = [outcomes[k] for k in positions]
        counts = {s: sum(o["status"] == s for o in cases) for s in ("pass", "fail", "error", "skipped")}
        failing = [k for k in positions if outcomes[k]["status"] in ("fail", "error")]
        shown = failing[:3] or positions[:1]
        evidence = "; ".join(
            f"{c.get('case', 'gate', 'outcomes', k, 'scope')}: {c.get('status', 'gate', 'outcomes', k, 'status')}"
            + (f" ({number(outcomes[k]['value'])})" if outcomes[k].get("value") is not None else "")
            for k in shown
        )
        first = cases[0]
        line = (
            f"{rule} {first.get('compare') or ''} {number(first.get('threshold'))}".strip()
            if first.get("threshold") is not None
            else rule
        )
        groups = ", ".join(outcomes[k]["scope"] for k in failing[:4]) or f"every case checked ({len(cases)})"
        table = first["scope"].split(":")[0]
        rows.append(
            [
                f"gate rule {rule} ({policy})",
                groups,
                hazard_of(rule, first.get("message", "")),
                line,
                f"{counts['pass']} pass, {counts['fail']} fail, {counts['error']} error, {counts['skipped']} skipped; "
                + evidence,
                _mitigation(record, table),
                _trigger(record, table, f"the rule's line ({line})"),
            ]
        )
    return rows


def _finding_entries(record: dict, c: Collector) -> list[list[str]]:
    rows = []
    for k, finding in enumerate(record.get("findings", [])):
        evidence: dict[str, Any] = finding.get("evidence") or {}
        table = str(evidence.get("table") or evidence.get("feature") or evidence.get("sensitive") or "")
        group = evidence.get("group")
        metric = evidence.get("metric") or evidence.get("measure") or finding["kind"]
        threshold = evidence.get("threshold")
        rows.append(
            [
                f"finding {k + 1} ({finding['kind']}, {finding['severity']})",
                str(group) if group is not None else (table or NEEDS),
                hazard_of(finding["kind"], str(metric)),
                f"{metric}" + (f", line {number(threshold)}" if threshold is not None else ""),
                c.get("finding", "findings", k, "message"),
                _mitigation(record, table),
                _trigger(record, table, "the same measure re-estimated"),
            ]
        )
    return rows


def bias_profile(record: dict) -> Filled | Missing:
    """One entry per gate rule (its cases summed up, the failing ones named) and per finding: the group, the hazard,
    the metric and its threshold, the evidence, the mitigation, the review trigger ("needs human input" where the
    record cannot say)."""
    if not record.get("gate") and not record.get("findings"):
        return Missing(
            "the record has neither a gate verdict nor findings: gate it with `audit check` (a policy names the "
            "metrics and thresholds of each scenario) and build the dossier from the audit.json it writes"
        )
    c = Collector(record)
    rows = _rule_entries(record, c) + _finding_entries(record, c)
    open_items = sum(NEEDS in row for row in rows)
    return Filled(
        f"{len(rows)} scenario(s): one per gate rule and per finding; {open_items} "
        f"entr{'y' if open_items == 1 else 'ies'} with a part only a person can supply (the hazard's wording, "
        "the mitigation chosen).",
        c.evidence,
        ["scenario", "group", "hazard", "metric and threshold", "evidence", "mitigation", "review trigger"],
        rows,
    )


def recourse_burden(record: dict) -> Filled | Missing:
    """What would change an unfavourable decision, and whether some groups must change more (docs/recourse.md)."""
    if not record.get("recourse"):
        return Missing(
            "the record has no recourse: set [recourse] actionable in the config and re-run the audit "
            "(docs/recourse.md)"
        )
    c = Collector(record)
    method = c.get("recourse method", "recourse", "method")
    searched = c.get("decisions searched", "recourse", "searched")
    found = c.get("decisions with a recourse", "recourse", "found")
    rows = []
    for t, table in enumerate(record["recourse"]["tables"]):
        for g, group in enumerate(table["groups"]):
            cost = c.get("mean cost", "recourse", "tables", t, "groups", g, "mean_cost")
            share = c.get("share with none", "recourse", "tables", t, "groups", g, "no_recourse_share")
            rows.append(
                [
                    table["name"],
                    group["group"],
                    str(group["searched"]),
                    number(cost),
                    number(share),
                    "benchmark" if group["group"] == table["benchmark"] else number(group.get("cost_p_holm")),
                    "benchmark" if group["group"] == table["benchmark"] else number(group.get("share_p_holm")),
                ]
            )
    return Filled(
        f"Recourse ({method}) for {searched} unfavourable decisions: {found} can reach the favourable decision by an "
        "allowed change, checked with the model; by group, the mean cost of that change and the share with none, "
        "each against a benchmark group (Holm-adjusted p-values).",
        c.evidence,
        ["grouping", "group", "searched", "mean cost", "no recourse", "cost p (Holm)", "share p (Holm)"],
        rows,
    )


def protected_inputs(record: dict) -> Filled | Missing:
    """Whether the model takes a protected characteristic as an input (disparate treatment, intent-only regimes)."""
    c = Collector(record)
    inputs = c.get("sensitive inputs", "model", "sensitive_inputs")
    if not inputs or all(v is None for v in inputs.values()):
        return Missing("the record cannot say which columns the model takes (decisions from the data, or a text model)")
    used = sorted(k for k, v in inputs.items() if v)
    rows = [[name, "yes" if taken else "no" if taken is not None else "unknown"] for name, taken in inputs.items()]
    text = (
        f"The model takes the protected characteristic(s) {', '.join(used)} as input(s): the decision reads them "
        "directly."
        if used
        else "The model takes none of the protected characteristics as an input; it may still use inputs that stand "
        "in for them (see the proxy check)."
    )
    return Filled(text, c.evidence, ["protected characteristic", "model input"], rows)


def proxy_inputs(record: dict) -> Filled | Missing:
    """Which inputs carry a gap while telling the groups apart (proxies such as a ZIP code; docs/gaps.md)."""
    gaps = (record.get("gap_explanations") or {}).get("explanations")
    if not gaps:
        return Missing("the record has no gap explanations: run the audit with [gaps] enabled (docs/gaps.md)")
    c = Collector(record)
    rows = []
    for g, gap in enumerate(gaps):
        for f, feature in enumerate(gap["features"]):
            if feature["role"] in ("proxy", "direct"):
                rows.append(
                    [
                        f"{gap['table']}: {gap['group']} vs {gap['compared_with']} ({gap['metric']})",
                        c.get("input", "gap_explanations", "explanations", g, "features", f, "feature"),
                        feature["role"],
                        number(feature.get("share")),
                        number(feature.get("proxy_auc")),
                    ]
                )
    return Filled(
        f"{len(rows)} input(s) carry a gap while telling the groups apart (or are the protected characteristic "
        f"itself), over {len(gaps)} gap(s) explained."
        if rows
        else f"No input stands in for a protected characteristic in the {len(gaps)} gap(s) explained.",
        c.evidence,
        ["gap", "input", "role", "share of the gap", "AUC telling the groups apart"],
        rows,
    )
