"""Evidence sources: each reads one kind of fact from an audit record (the JSON as written, so that every value can
be linked by a JSON pointer and checked again later) and states it, or says why the record cannot."""

from __future__ import annotations

from collections.abc import Callable

from audit.dossiers._profile_sources import bias_profile, protected_inputs, proxy_inputs, recourse_burden
from audit.dossiers._evidence import ABSENT, Collector, Filled, Missing, interval, number, resolve
from audit.fairness._types import largest_disparities as largest_ranking
from audit.result._result import AuditResult

__all__ = ["ABSENT", "Filled", "Missing", "SOURCES", "resolve"]


def audit_date(record: dict) -> Filled | Missing:
    c = Collector(record)
    finished = c.get("finished", "provenance", "finished_at")
    version = c.get("audit-toolkit version", "provenance", "packages", "audit-toolkit")
    return Filled(f"The audit ran on {finished} with audit-toolkit {version}.", c.evidence)


def software_versions(record: dict) -> Filled | Missing:
    c = Collector(record)
    packages = record.get("provenance", {}).get("packages", {})
    if not packages:
        return Missing("the record lists no package versions")
    versions = c.get("package versions", "provenance", "packages")
    shown = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return Filled(f"The model ran under these versions during the audit: {shown}.", c.evidence)


def record_hashes(record: dict) -> Filled | Missing:
    c = Collector(record)
    hashes = record.get("provenance", {}).get("sha256", {})
    if not hashes:
        return Missing("the record holds no file hashes (the data and model were passed in memory)")
    parts = [f"{name} sha256 {c.get(f'{name} sha256', 'provenance', 'sha256', name)}" for name in sorted(hashes)]
    seed = c.get("seed", "provenance", "seed")
    return Filled("Files as audited: " + "; ".join(parts) + f". Seed {seed}.", c.evidence)


def data_source(record: dict) -> Filled | Missing:
    c = Collector(record)
    provenance = record.get("provenance", {})
    if provenance.get("data_source"):
        return Filled(f"Data source: {c.get('data source', 'provenance', 'data_source')}.", c.evidence)
    if provenance.get("paths", {}).get("data") and provenance.get("sha256", {}).get("data"):
        path = c.get("data file", "provenance", "paths", "data")
        digest = c.get("data sha256", "provenance", "sha256", "data")
        return Filled(f"The data file {path} (sha256 {digest}).", c.evidence)
    return Missing("the record names no data file or source (the data was passed in memory)")


def data_description(record: dict) -> Filled | Missing:
    c = Collector(record)
    if record.get("data", {}).get("kind") == "probes":
        return Missing("a language-model probe audit has no tabular data description")
    rows = c.get("rows", "data", "n_rows")
    label = c.get("label column", "data", "label")
    positive = c.get("positive class", "data", "positive_label")
    features = c.get("model inputs", "data", "features")
    sensitive = c.get("sensitive features", "data", "sensitive_features")
    groups = c.get("group counts", "data", "groups")
    table = [[feature, group, str(n)] for feature, counts in groups.items() for group, n in counts.items()]
    return Filled(
        f"{rows:,} rows; label {label!r} (positive class {positive!r}); {len(features)} model inputs "
        f"({', '.join(features)}); sensitive features {', '.join(sensitive)}.",
        c.evidence,
        ["sensitive feature", "group", "rows"],
        table,
    )


def unknown_category(record: dict) -> Filled | Missing:
    c = Collector(record)
    ll144 = record.get("regulatory", {}).get("ll144")
    if ll144:
        count = c.get("individuals in the unknown category", "regulatory", "ll144", "unknown_category_count")
        by = c.get("unknown by feature", "regulatory", "ll144", "unknown_by_feature")
        return Filled(
            f"{count:,} individuals fall in the unknown category"
            + (f" ({', '.join(f'{k}: {v:,}' for k, v in by.items())})" if by else "")
            + ".",
            c.evidence,
        )
    if "missing_sensitive" in record.get("data", {}):
        missing = c.get("rows with a missing sensitive value", "data", "missing_sensitive")
        total = sum(missing.values()) if isinstance(missing, dict) else 0
        return Filled(
            f"Rows with a missing sensitive value: {total:,}"
            + (f" ({', '.join(f'{k}: {v:,}' for k, v in missing.items())})" if missing else "")
            + ".",
            c.evidence,
        )
    inferred = _inferred_tables(record)
    if inferred:
        return _inferred_unknowns(c, inferred)
    return Missing("the record counts no unknown category")


def _inferred_tables(record: dict) -> list[int]:
    return [i for i, table in enumerate(record.get("fairness", [])) if table.get("inferred")]


def _inferred_unknowns(c: Collector, tables: list[int]) -> Filled:
    parts = []
    for i in tables:
        attribute = c.get("inferred attribute", "fairness", i, "inferred", "attribute")
        unknown = c.get("rows with no usable name or place", "fairness", i, "inferred", "unknown_rows")
        rows = c.get("rows", "fairness", i, "inferred", "rows")
        parts.append(f"{attribute} (inferred): {unknown:,} of {rows:,} rows unknown (no usable name or place)")
    return Filled("; ".join(parts) + ".", c.evidence)


def inferred_safeguards(record: dict) -> Filled | Missing:
    """Art. 10(5): what special-category data was inferred, from what, and where it was kept."""
    tables = _inferred_tables(record)
    if not tables:
        return Missing("no special-category attribute was inferred in this audit")
    c = Collector(record)
    statements, rows = [], []
    for i in tables:
        attribute = c.get("inferred attribute", "fairness", i, "inferred", "attribute")
        method = c.get("inference method", "fairness", i, "inferred", "method")
        columns = c.get("columns read", "fairness", i, "inferred", "columns")
        estimator = c.get("estimator reported", "fairness", i, "inferred", "estimator")
        sources = c.get("reference tables", "fairness", i, "inferred", "sources")
        statements.append(
            f"{attribute} was inferred with {method} from the columns "
            f"{', '.join(f'{role} ({column})' for role, column in columns.items())}, for bias detection only; "
            f"the table reports the {estimator} estimator."
        )
        rows += [[attribute, role, str(source)] for role, source in sources.items()]
    statements.append(
        "Each row's probabilities existed only in memory during the run: the record holds group-level estimates "
        "and counts, never a person's inferred group."
    )
    return Filled(" ".join(statements), c.evidence, ["attribute", "table", "source"], rows)


def model_summary(record: dict) -> Filled | Missing:
    c = Collector(record)
    model = record.get("model", {})
    if not model.get("type") and not model.get("class"):
        return Missing("the record does not describe the model")
    kind = c.get("model type", "model", "type" if "type" in model else "class")
    text = f"Model: {kind}"
    if "module" in model:
        text += f" ({c.get('module', 'model', 'module')})"
    if "threshold" in model:
        text += f", decision threshold {c.get('threshold', 'model', 'threshold')}"
    if "accuracy" in model:
        text += f", accuracy {number(c.get('accuracy', 'model', 'accuracy'))} on the audited rows"
    if record.get("provenance", {}).get("sha256", {}).get("model"):
        text += f"; model file sha256 {c.get('model sha256', 'provenance', 'sha256', 'model')}"
    return Filled(text + ".", c.evidence)


def metrics_used(record: dict) -> Filled | Missing:
    c = Collector(record)
    tables = record.get("fairness", [])
    if not tables:
        return Missing("the record has no fairness tables")
    metrics = c.get("metrics", "fairness", 0, "metrics")
    level = record["fairness"][0].get("bootstrap", {}).get("level", 0.95)
    return Filled(
        f"Metrics measured for every group: {', '.join(metrics)}; {level:.0%} intervals (Clopper-Pearson "
        "for proportions, bootstrap otherwise); groups compared with a benchmark group, ratios and "
        "differences with intervals, Holm-adjusted p-values.",
        c.evidence,
    )


_PERFORMANCE = ("accuracy", "balanced_accuracy", "tpr", "fpr", "roc_auc")


def performance_overall(record: dict) -> Filled | Missing:
    c = Collector(record)
    tables = record.get("fairness", [])
    if not tables:
        return Missing("the record has no fairness tables (overall performance is measured there)")
    parts = []
    for metric in _PERFORMANCE:
        if tables[0].get("overall", {}).get(metric) is not None:
            value = c.get(
                f"overall {metric}", "fairness", 0, "overall", metric, interval=("fairness", 0, "overall_ci", metric)
            )
            parts.append(f"{metric} {number(value)}{interval(c.evidence[-1].interval)}")
    if not parts:
        return Missing("no overall performance metric was measured")
    return Filled(f"On {record['data'].get('n_rows', 0):,} audited rows: " + ", ".join(parts) + ".", c.evidence)


def performance_by_group(record: dict) -> Filled | Missing:
    c = Collector(record)
    rows = []
    for t, table in enumerate(record.get("fairness", [])):
        name = " x ".join(table.get("sensitive_features", []))
        for g, group in enumerate(table.get("groups", [])):
            label = ", ".join(f"{k}={v}" for k, v in group.get("key", {}).items())
            cells = [name, label, str(group.get("n"))]
            for metric in ("accuracy", "tpr", "fpr"):
                if metric in group.get("values", {}):
                    value = c.get(
                        f"{metric} of {label}",
                        "fairness",
                        t,
                        "groups",
                        g,
                        "values",
                        metric,
                        interval=("fairness", t, "groups", g, "ci", metric),
                    )
                    cells.append(number(value) + interval(c.evidence[-1].interval))
                else:
                    cells.append("not measured")
            rows.append(cells)
    if not rows:
        return Missing("the record has no per-group performance")
    return Filled(
        "Accuracy, true positive rate and false positive rate for every group, with intervals.",
        c.evidence,
        ["table", "group", "rows", "accuracy", "TPR", "FPR"],
        rows,
    )


def impact_ratios(record: dict) -> Filled | Missing:
    c = Collector(record)
    rows = []
    for e, entry in enumerate(record.get("regulatory", {}).get("four_fifths", [])):
        if not entry.get("applicable"):
            continue
        for r, row in enumerate(entry.get("rows", [])):
            ratio = c.get(
                f"impact ratio of {row['group']}",
                "regulatory",
                "four_fifths",
                e,
                "rows",
                r,
                "impact_ratio",
                interval=("regulatory", "four_fifths", e, "rows", r, "impact_ratio_ci"),
            )
            rows.append(
                [
                    entry["table"],
                    row["group"],
                    str(row["n"]),
                    number(row.get("favourable_rate")),
                    number(ratio) + interval(c.evidence[-1].interval),
                    "yes" if row.get("flagged") else "no",
                ]
            )
    if not rows:
        return Missing("the record has no four-fifths table (a binary classifier's decisions are needed)")
    return Filled(
        "Favourable rates and impact ratios against the benchmark group; flagged: below four fifths and significant.",
        c.evidence,
        ["table", "group", "rows", "favourable rate", "impact ratio", "flagged"],
        rows,
    )


def largest_disparities(record: dict) -> Filled | Missing:
    """The ranking of ``FairnessTable.largest_disparities`` (the one the CLI and the report show), each row linked
    to its comparison in the record."""
    if not record.get("fairness"):
        return Missing("the record has no fairness tables")
    if str(record.get("schema_version", "")).startswith("1."):
        return Missing("the record was written with schema 1.x, which has no ranked comparisons: re-run the audit")
    tables = AuditResult.from_dict(record).fairness
    index = {table.name: t for t, table in enumerate(tables)}
    c = Collector(record)
    rows = []
    for entry in largest_ranking(tables):
        comparison = entry.comparison
        at = ("fairness", index[entry.table], "disparities", entry.metric, "to_benchmark", comparison.group)
        ratio = c.get(f"{entry.metric} ratio of {comparison.group}", *at, "ratio", interval=(*at, "ratio_ci"))
        rows.append(
            [
                entry.table,
                entry.metric,
                comparison.group,
                comparison.compared_with,
                number(ratio) + interval(c.evidence[-1].interval),
                number(comparison.p_value_holm) if comparison.p_value_holm is not None else "not tested",
            ]
        )
    if not rows:
        return Missing("no metric has a ratio between groups with enough rows")
    return Filled(
        "Each metric's worst group against the benchmark group, smallest ratio first, with intervals and "
        "Holm-adjusted p-values.",
        c.evidence,
        ["table", "metric", "group", "benchmark group", "ratio", "Holm p"],
        rows,
    )


def ll144_tables(record: dict) -> Filled | Missing:
    c = Collector(record)
    ll144 = record.get("regulatory", {}).get("ll144")
    if not ll144:
        return Missing(
            "the audit has no LL144 table: name the sex and race/ethnicity columns in fairness.ll144 and "
            "run the audit again"
        )
    rate = c.get("rate", "regulatory", "ll144", "rate")
    rows = []
    for t, table in enumerate(ll144.get("tables", [])):
        for r, row in enumerate(table.get("rows", [])):
            value = row.get("selection_rate", row.get("scoring_rate"))
            key = "selection_rate" if "selection_rate" in row else "scoring_rate"
            if value is not None:
                c.get(f"{key} of {row['category']}", "regulatory", "ll144", "tables", t, "rows", r, key)
            ratio = c.get(
                f"impact ratio of {row['category']}", "regulatory", "ll144", "tables", t, "rows", r, "impact_ratio"
            )
            excluded = row.get("excluded") or {}
            rows.append(
                [
                    table["breakdown"] + (" (inferred)" if table.get("inferred") else ""),
                    row["category"],
                    str(row["n"]) if row.get("expected_n") is None else f"{row['expected_n']:.1f} expected",
                    number(value),
                    number(ratio),
                    "; ".join(f"{k}: {v}" for k, v in excluded.items()) or "",
                ]
            )
    rate = str(rate).removesuffix("_rate").replace("_", " ")
    inferred = next((t["inferred"] for t in ll144.get("tables", []) if t.get("inferred")), None)
    return Filled(
        f"{rate.capitalize()} rates and impact ratios for every category (sex, race/ethnicity and their "
        "intersections)." + (f" {inferred['note']}" if inferred else ""),
        c.evidence,
        ["breakdown", "category", "rows", f"{rate} rate", "impact ratio", "excluded"],
        rows,
    )


def bias_examination(record: dict) -> Filled | Missing:
    c = Collector(record)
    lines = []
    for k, finding in enumerate(record.get("findings", [])):
        if finding.get("severity") == "warning":
            lines.append([finding.get("kind", ""), c.get(f"finding {k}", "findings", k, "message")])
    if not record.get("fairness"):
        return Missing("the record has no fairness tables")
    total = len(record.get("findings", []))
    return Filled(
        f"{len(lines)} warning finding(s) of {total} (disparities below four fifths, reliance on sensitive "
        "features, proxies, worst slices); each is listed with its evidence in the audit record."
        if lines
        else f"No warning finding among {total} findings.",
        c.evidence,
        ["kind", "finding"],
        lines,
    )


def bias_mitigation(record: dict) -> Filled | Missing:
    c = Collector(record)
    frontiers = (record.get("mitigation") or {}).get("frontiers", [])
    if not frontiers:
        return Missing("the audit measured no mitigation frontier (mitigation needs a classifier with scores)")
    rows = []
    for f, frontier in enumerate(frontiers):
        value = c.get(f"{frontier['constraint']} now", "mitigation", "frontiers", f, "current", "constraint_value")
        points = str(len(frontier.get("frontier", [])))
        rows.append([frontier["constraint"], frontier["sensitive"], number(value), points])
    note = c.get("legal note", "mitigation", "legal_note")
    return Filled(
        "Measured options: the best group-specific and single thresholds under each fairness constraint, "
        f"with their cost in accuracy on held-out rows. {note} Which measure was taken is for the provider "
        "to state.",
        c.evidence,
        ["constraint", "by", "value now", "rules measured"],
        rows,
    )


def explanations(record: dict) -> Filled | Missing:
    c = Collector(record)
    rows = []
    for a, summary in enumerate(record.get("attributions", [])):
        importance = c.get(f"{summary['method']} global importance", "attributions", a, "global_importance")
        top = sorted(importance.items(), key=lambda kv: -abs(kv[1] or 0))[:5] if isinstance(importance, dict) else []
        rows.append([summary["method"], ", ".join(f"{k} ({v:.3f})" for k, v in top)])
    if not rows:
        return Missing("the audit computed no attributions")
    return Filled(
        "The inputs the model relies on most (mean |attribution|).", c.evidence, ["method", "top inputs"], rows
    )


def worst_slices(record: dict) -> Filled | Missing:
    c = Collector(record)
    searches = (record.get("slices") or {}).get("searches", [])
    if not searches:
        return Missing("the audit ran no worst-slice search")
    rows, confirmed = [], 0
    for s, search in enumerate(searches):
        confirmed += len(search.get("slices", []))
        for k, found in enumerate(search.get("slices", [])[:5]):
            effect = c.get(f"effect of {found['definition']}", "slices", "searches", s, "slices", k, "effect")
            rows.append([search.get("metric", ""), found["definition"], str(found.get("rows")), number(effect)])
    shown = f"; the {len(rows)} largest of each search are listed" if len(rows) < confirmed else ""
    return Filled(
        f"{confirmed} confirmed slice(s) where the model does worse than on the rest (held-out "
        f"confirmation, false discovery rate control){shown}."
        if rows
        else "No slice was confirmed worse than the rest.",
        c.evidence,
        ["metric", "slice", "rows", "effect"],
        rows,
    )


def gate_verdict(record: dict) -> Filled | Missing:
    c = Collector(record)
    if not record.get("gate"):
        return Missing(
            "the record was not gated: run `audit check` with the policy and build the dossier from the "
            "audit.json it writes"
        )
    passed = c.get("gate passed", "gate", "passed")
    counts = c.get("outcome counts", "gate", "counts")
    outcomes = c.get("gate outcomes", "gate", "outcomes") or []
    violated = any(o.get("severity") == "error" and o.get("status") == "fail" for o in outcomes)
    verdict = "passed" if passed else "VIOLATED" if violated else "NOT MET (rules that could not be checked)"
    return Filled(f"Policy {verdict} ({', '.join(f'{v} {k}' for k, v in counts.items())}).", c.evidence)


def failed_steps(record: dict) -> Filled | Missing:
    c = Collector(record)
    failures = c.get("failed steps", "failures")
    skipped = c.get("skipped steps", "skipped")
    rows = [["failed", f["step"], f"{f['error_type']}: {f['message']}"] for f in failures] + [
        ["skipped", s["step"], s["reason"]] for s in skipped
    ]
    return Filled(
        f"{len(failures)} step(s) failed and {len(skipped)} were skipped."
        if rows
        else "Every step of the audit ran; none failed or was skipped.",
        c.evidence,
        ["status", "step", "why"],
        rows,
    )


def automatic_choices(record: dict) -> Filled | Missing:
    c = Collector(record)
    decisions = record.get("decisions", [])
    if not decisions:
        return Missing("the record lists no automatic choices")
    rows = [
        [d["choice"], str(c.get(d["choice"], "decisions", k, "value")), d["override"]] for k, d in enumerate(decisions)
    ]
    return Filled(
        "Every choice the audit made by itself, and the setting that changes it.",
        c.evidence,
        ["choice", "value", "setting"],
        rows,
    )


def changes_since_baseline(record: dict) -> Filled | Missing:
    c = Collector(record)
    if not record.get("changes"):
        return Missing("the record has no baseline comparison: run `audit run --baseline OLD.json`")
    baseline = c.get("baseline", "changes", "baseline")
    worsened = c.get("disparities worsened", "changes", "worsened")
    return Filled(
        f"Compared with the audit {baseline}: {worsened} disparit{'y' if worsened == 1 else 'ies'} "
        "worsened beyond the tolerance.",
        c.evidence,
    )


def _monitoring(record: dict) -> Missing | None:
    if not record.get("monitoring"):
        return Missing(
            "the record carries no monitoring: gate or run the audit with `--store URL`, the store that "
            "`audit monitor` writes (docs/monitoring.md)"
        )
    if not record["monitoring"].get("streams"):
        return Missing("the store named in the record has no monitored stream yet: run `audit monitor`")
    return None


def monitoring_streams(record: dict) -> Filled | Missing:
    """Art. 72(2): what is collected and how it is analysed: each stream, feature, period, reference and threshold."""
    absent = _monitoring(record)
    if absent is not None:
        return absent
    c = Collector(record)
    store = c.get("store", "monitoring", "store")
    rows = []
    for k, stream in enumerate(record["monitoring"]["streams"]):
        rows.append(
            [
                c.get("stream", "monitoring", "streams", k, "stream"),
                c.get("feature", "monitoring", "streams", k, "feature"),
                f"{c.get('first window', 'monitoring', 'streams', k, 'first_window')[:10]} to "
                f"{c.get('last window', 'monitoring', 'streams', k, 'last_window')[:10]}",
                str(c.get("windows", "monitoring", "streams", k, "windows")),
                c.get("reference group", "monitoring", "streams", k, "reference_group"),
                number(c.get("threshold", "monitoring", "streams", k, "threshold")),
            ]
        )
    return Filled(
        f"Decisions are logged and analysed window by window from the store {store}: each group's selection rate "
        "and its impact ratio to a fixed reference group, with an alarm when the ratio over recent windows is "
        "below the threshold beyond an error budget spent over every look (the chance of any false alarm over a "
        "stream stays under its alpha; docs/monitoring.md).",
        c.evidence,
        ["stream", "feature", "period", "windows", "reference group", "alarm threshold"],
        rows,
    )


def monitoring_alarms(record: dict) -> Filled | Missing:
    """Art. 72: what the monitoring found: every alarm, and which are open at each stream's last look."""
    absent = _monitoring(record)
    if absent is not None:
        return absent
    c = Collector(record)
    rows, open_total = [], 0
    for k, stream in enumerate(record["monitoring"]["streams"]):
        open_now = c.get("open alarms", "monitoring", "streams", k, "open_alarms")
        open_total += len(open_now)
        for a, alarm in enumerate(stream.get("alarms", [])):
            rows.append(
                [
                    stream["stream"],
                    stream["feature"],
                    c.get("alarm window", "monitoring", "streams", k, "alarms", a, "window_start")[:10],
                    c.get("alarm group", "monitoring", "streams", k, "alarms", a, "group"),
                    number(c.get("alarm ratio", "monitoring", "streams", k, "alarms", a, "ratio")),
                    "open" if alarm["group"] in open_now and alarm["window_start"] == stream["last_window"] else "",
                ]
            )
    text = (
        f"{len(rows)} alarm(s) over the monitored streams; {open_total} group(s) alarming at the last look."
        if rows
        else "No alarm over the monitored streams."
    )
    return Filled(text, c.evidence, ["stream", "feature", "window", "group", "impact ratio", "status"], rows)


SOURCES: dict[str, Callable[[dict], Filled | Missing]] = {
    "audit.date": audit_date,
    "audit.hashes": record_hashes,
    "software.versions": software_versions,
    "data.source": data_source,
    "data.description": data_description,
    "data.unknown_category": unknown_category,
    "inferred.safeguards": inferred_safeguards,
    "model.summary": model_summary,
    "metrics.used": metrics_used,
    "performance.overall": performance_overall,
    "performance.by_group": performance_by_group,
    "fairness.impact_ratios": impact_ratios,
    "fairness.largest_disparities": largest_disparities,
    "ll144.tables": ll144_tables,
    "bias.examination": bias_examination,
    "bias.mitigation": bias_mitigation,
    "explanations": explanations,
    "slices.worst": worst_slices,
    "gate.verdict": gate_verdict,
    "steps.failed": failed_steps,
    "decisions.automatic": automatic_choices,
    "changes": changes_since_baseline,
    "monitoring.streams": monitoring_streams,
    "monitoring.alarms": monitoring_alarms,
    "bias.profile": bias_profile,
    "recourse.burden": recourse_burden,
    "inputs.protected": protected_inputs,
    "inputs.proxies": proxy_inputs,
}
