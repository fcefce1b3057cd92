"""Compare two audit results of a model: inputs, numbers with their intervals, gap shares, findings, gate outcomes.

The verdict (``worsened``) is a test of each group against the baseline's benchmark group on the log-ratio scale,
Holm over the diff (``audit.diff._verdict``); each table's largest disparities are shown, not tested (their pair is
picked by the data, so they fall with smaller samples). Numbers are "separated" when their intervals no longer
overlap. Everything is computed from the saved results alone: no model or data is needed.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np

from audit._errors import ConfigError
from audit.diff._verdict import DETECTION_POWER, fall_tests, katz_log_ratio, log_ratio_from_intervals
from audit.fairness._metrics import METRICS
from audit.result._change_sections import AuditChanges, FindingChange, GateChange, InputChange, MetricChange
from audit.result._provenance import sha256_file
from audit.result._result import AuditResult

__all__ = ["DEFAULT_TOLERANCE", "DIFF_ALPHA", "compare_results", "compare_files"]

DEFAULT_TOLERANCE = 0.05
DIFF_ALPHA = 0.05
PAIR_STATISTIC = "ratio to the baseline's benchmark"
_FINDING_KEYS = (
    "table",
    "metric",
    "comparison",
    "group",
    "compared_with",
    "feature",
    "slice",
    "definition",
    "axis",
    "method",
    "source",
    "subject",
    "suite",
    "category",
    "constraint",
    "sensitive",
    "step",
)


def _overlap(first, second) -> bool:
    if not first or not second or None in (*first, *second):
        return True  # without both intervals nothing is claimed
    return first[0] <= second[1] and second[0] <= first[1]


def _change(old, new):
    return None if old is None or new is None else float(new - old)


def _tables(result: AuditResult) -> dict:
    return {table.name: table for table in result.fairness}


def _group_values(name, old_table, new_table) -> list[MetricChange]:
    rows = []
    old_groups = {g.name: g for g in old_table.groups}
    for group in new_table.groups:
        before = old_groups.get(group.name)
        if before is None:
            continue
        for metric in new_table.metrics:
            old, new = before.values.get(metric), group.values.get(metric)
            if old is None and new is None:
                continue
            old_ci, new_ci = before.ci.get(metric), group.ci.get(metric)
            rows.append(
                MetricChange(
                    name,
                    metric,
                    group.name,
                    "value",
                    old,
                    old_ci,
                    new,
                    new_ci,
                    _change(old, new),
                    not _overlap(old_ci, new_ci),
                )
            )
    return rows


def _extremes(name, old_table, new_table) -> list[MetricChange]:
    """Each table's largest disparity per metric (``FairnessTable.largest_disparities``: the ranking the CLI and
    the report show), in both audits, for the reader: not tested (see the module's doc)."""
    before = {entry.metric: entry.comparison for entry in old_table.largest_disparities()}
    rows = []
    for entry in new_table.largest_disparities():
        old, new = before.get(entry.metric), entry.comparison
        if old is None:
            continue
        rows.append(
            MetricChange(
                name,
                entry.metric,
                f"{new.group} / {new.compared_with}",
                "ratio",
                old.ratio,
                old.ratio_ci,
                new.ratio,
                new.ratio_ci,
                _change(old.ratio, new.ratio),
                not _overlap(old.ratio_ci, new.ratio_ci),
            )
        )
    return rows


def _support(group, metric) -> int:
    return int(group.support.get(metric, group.n))


def _log_ratio(table, group, benchmark, metric, higher: bool) -> tuple[float, float]:
    """(oriented log-ratio of ``group`` to ``benchmark``, its standard error) in one audit; NaN when not
    estimable (no value, a value or interval end of zero for a metric without counts)."""
    value, anchor = group.values.get(metric), benchmark.values.get(metric)
    if value is None or anchor is None:
        return float("nan"), float("nan")
    spec = METRICS.get(metric)
    if spec.proportion is not None and not table.weighted:
        n, m = _support(group, metric), _support(benchmark, metric)
        log_ratio, se = katz_log_ratio(round(value * n), n, round(anchor * m), m, higher_is_better=higher)
        return float(log_ratio), float(se)
    ci, anchor_ci = group.ci.get(metric), benchmark.ci.get(metric)
    if not ci or not anchor_ci or None in (*ci, *anchor_ci):
        return float("nan"), float("nan")
    log_ratio, se = log_ratio_from_intervals(
        value, ci, anchor, anchor_ci, higher_is_better=higher, level=float(table.bootstrap.level or 0.95)
    )
    return float(log_ratio), float(se)


def _pairs(name, old_table, new_table, metrics) -> tuple[list[tuple], list[str]]:
    """The comparisons the verdict tests: (table, metric, group, benchmark, old (L, se), new (L, se)) for every
    group with enough rows in both audits against the baseline's benchmark group, and notes on what was not."""
    pairs, notes = [], []
    for metric, before in old_table.disparities_reliable.items():
        if metric not in new_table.metrics or (metrics is not None and metric not in metrics):
            continue
        higher = METRICS.get(metric).higher_is_better if metric in METRICS.names() else None
        if higher is None or before.benchmark_group is None:
            continue  # a property of the data (the base rate) or no benchmark: described, not tested
        benchmark = before.benchmark_group
        old_groups = {g.name: g for g in old_table.groups}
        new_groups = {g.name: g for g in new_table.groups}
        minimum = max(old_table.min_group_size, new_table.min_group_size)
        if benchmark not in new_groups or _support(new_groups[benchmark], metric) < minimum:
            notes.append(
                f"{metric} by {name}: the baseline's benchmark group {benchmark} has fewer than {minimum} "
                "rows for it in the new audit (or none); not tested"
            )
            continue
        for group, old_row in old_groups.items():
            new_row = new_groups.get(group)
            if (
                group == benchmark
                or new_row is None
                or min(_support(old_row, metric), _support(new_row, metric)) < minimum
            ):
                continue
            pairs.append(
                (
                    name,
                    metric,
                    group,
                    benchmark,
                    _log_ratio(old_table, old_row, old_groups[benchmark], metric, higher),
                    _log_ratio(new_table, new_row, new_groups[benchmark], metric, higher),
                )
            )
    return pairs, notes


def _pair_rows(pairs, tolerance: float, confident: bool, level: float) -> list[MetricChange]:
    if not pairs:
        return []
    old = np.array([p[4] for p in pairs])
    new = np.array([p[5] for p in pairs])
    tests = fall_tests(
        old[:, 0], old[:, 1], new[:, 0], new[:, 1], tolerance=tolerance, alpha=DIFF_ALPHA, confident=confident
    )
    z = NormalDist().inv_cdf(0.5 + level / 2)

    def ratio(entry):
        log_ratio, se = entry
        if not np.isfinite(log_ratio):
            return None, None
        interval = [float(np.exp(log_ratio - z * se)), float(np.exp(log_ratio + z * se))] if np.isfinite(se) else None
        return float(np.exp(log_ratio)), interval

    def number(values, i):
        return float(values[i]) if np.isfinite(values[i]) else None

    rows = []
    for i, (table, metric, group, benchmark, before, after) in enumerate(pairs):
        (old_ratio, old_ci), (new_ratio, new_ci) = ratio(before), ratio(after)
        rows.append(
            MetricChange(
                table,
                metric,
                group,
                PAIR_STATISTIC,
                old_ratio,
                old_ci,
                new_ratio,
                new_ci,
                _change(old_ratio, new_ratio),
                not _overlap(old_ci, new_ci),
                worsened=bool(tests.worsened[i]),
                compared_with=benchmark,
                fall=number(tests.fall, i),
                p_value=number(tests.p_value, i),
                p_value_holm=number(tests.p_value_holm, i),
                detectable_fall=number(tests.detectable_fall, i),
            )
        )
    return rows


def _test_description(confident: bool, tested: int) -> str:
    common = (
        f"each group against the baseline's benchmark group, on the log-ratio scale (Katz's standard error for "
        f"proportions, the intervals otherwise), the two audits as independent samples; Holm over the "
        f"{tested} comparisons at {DIFF_ALPHA:g}"
    )
    if confident:
        return f"one-sided test that the pair's ratio fell by more than the tolerance: {common}"
    return f"two-sided test that the pair's log-ratio changed, and a fall of the ratio beyond the tolerance: {common}"


def _gap_shares(old: AuditResult, new: AuditResult) -> list[MetricChange]:
    if old.gap_explanations is None or new.gap_explanations is None:
        return []
    before = {(g.table, g.metric, g.group, g.compared_with): g for g in old.gap_explanations.explanations}
    rows = []
    for gap in new.gap_explanations.explanations:
        match = before.get((gap.table, gap.metric, gap.group, gap.compared_with))
        if match is None:
            continue
        old_features = {f.feature: f for f in match.features}
        for feature in gap.features:
            prior = old_features.get(feature.feature)
            if prior is None or (prior.share is None and feature.share is None):
                continue
            rows.append(
                MetricChange(
                    gap.table,
                    gap.metric,
                    f"{gap.group} vs {gap.compared_with}",
                    "share of the gap",
                    prior.share,
                    prior.share_ci,
                    feature.share,
                    feature.share_ci,
                    _change(prior.share, feature.share),
                    not _overlap(prior.share_ci, feature.share_ci),
                    feature=feature.feature,
                )
            )
    return rows


def _finding_key(finding) -> tuple:
    named = tuple((k, str(finding.evidence[k])) for k in _FINDING_KEYS if k in finding.evidence)
    return (finding.kind, finding.severity, named or (("message", finding.message),))


def _findings(old: AuditResult, new: AuditResult) -> list[FindingChange]:
    """Findings matched by what they are about (kind, severity and the names in their evidence), not by their
    numbers, so a finding whose estimate moved is neither added nor resolved."""
    before = {_finding_key(f): f for f in old.findings}
    after = {_finding_key(f): f for f in new.findings}
    return [FindingChange("added", f.kind, f.severity, f.message) for k, f in after.items() if k not in before] + [
        FindingChange("resolved", f.kind, f.severity, f.message) for k, f in before.items() if k not in after
    ]


def _gate(old: AuditResult, new: AuditResult) -> list[GateChange]:
    def outcomes(result):
        return {(o.policy, o.rule, o.scope): o.status for o in (result.gate.outcomes if result.gate else [])}

    before, after = outcomes(old), outcomes(new)
    return [
        GateChange(*key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _inputs(old: AuditResult, new: AuditResult) -> list[InputChange]:
    rows = []
    for name in ("data", "model", "config"):
        a, b = old.provenance.sha256.get(name), new.provenance.sha256.get(name)
        rows.append(InputChange(f"{name} sha256", a, b, a != b))
    rows.append(
        InputChange("rows audited", str(old.data.n_rows), str(new.data.n_rows), old.data.n_rows != new.data.n_rows)
    )
    for package in sorted(set(old.provenance.packages) | set(new.provenance.packages)):
        a, b = old.provenance.packages.get(package), new.provenance.packages.get(package)
        if a != b or package == "audit-toolkit":
            rows.append(InputChange(f"version of {package}", a, b, a != b))
    return rows


def compare_results(
    old: AuditResult,
    new: AuditResult,
    *,
    baseline: str,
    baseline_sha256: str,
    tolerance: float = DEFAULT_TOLERANCE,
    tolerance_source: str = "default",
    confident: bool = False,
    metrics: tuple[str, ...] | None = None,
) -> AuditChanges:
    """The changes from ``old`` (the baseline, named ``baseline``) to ``new``. ``metrics``: the metrics whose
    disparities the verdict tests (default: every metric of the tables; `audit diff --policy` passes the policy's)."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        raise ConfigError(
            f"The 'tolerance' of an audit diff must be a number from 0 to 1 (a fall in the ratio of "
            f"a group to the benchmark group). Got {tolerance!r} instead."
        )
    if (old.data.task or "binary") != (new.data.task or "binary"):
        raise ConfigError(
            f"The two audits have different tasks ({old.data.task!r} and "
            f"{new.data.task!r}); compare audits of the same kind of model."
        )
    old_tables, new_tables = _tables(old), _tables(new)
    values, pairs, notes = [], [], []
    if metrics is not None and not {m for t in new_tables.values() for m in t.metrics} & set(metrics):
        notes.append(f"none of the metrics named ({', '.join(metrics)}) is in the tables: every metric is tested")
        metrics = None
    level = 0.95
    for name, table in new_tables.items():
        if name not in old_tables:
            notes.append(f"the table by {name} is new: nothing to compare it with")
            continue
        values += _group_values(name, old_tables[name], table) + _extremes(name, old_tables[name], table)
        found, why = _pairs(name, old_tables[name], table, metrics)
        pairs += found
        notes += why
        level = float(table.bootstrap.level or level)
        gone = sorted({g.name for g in old_tables[name].groups} - {g.name for g in table.groups})
        added = sorted({g.name for g in table.groups} - {g.name for g in old_tables[name].groups})
        if gone or added:
            notes.append(
                f"groups by {name}: "
                + "; ".join(
                    part
                    for part in (
                        f"only in the baseline: {', '.join(gone)}" if gone else "",
                        f"new: {', '.join(added)}" if added else "",
                    )
                    if part
                )
            )
    notes += [f"the table by {name} is gone" for name in old_tables if name not in new_tables]
    if old.provenance.sha256.get("data") and old.provenance.sha256.get("data") == new.provenance.sha256.get("data"):
        notes.append(
            "both audits read the same data: the test takes them as independent samples, which is "
            "conservative for the same rows (their estimates move together)"
        )
    compared = _pair_rows(pairs, float(tolerance), confident, level)
    tested = [m for m in compared if m.p_value is not None]
    if not tested:
        notes.append(
            "no comparison could be tested (no group with enough rows in both audits beside the "
            "baseline's benchmark): the verdict rests on no evidence"
        )
    detectable = [m.detectable_fall for m in tested if m.detectable_fall is not None]
    worsened = sum(m.worsened for m in compared)
    return AuditChanges(
        baseline=baseline,
        baseline_sha256=baseline_sha256,
        baseline_created=old.provenance.started_at,
        tolerance=float(tolerance),
        tolerance_source=tolerance_source,
        confident=confident,
        inputs=_inputs(old, new),
        metrics=values + compared,
        gap_shares=_gap_shares(old, new),
        findings=_findings(old, new),
        gate=_gate(old, new),
        notes=notes,
        worsened=worsened,
        passed=worsened == 0 and bool(tested),
        test=_test_description(confident, len(tested)),
        alpha=DIFF_ALPHA,
        tested=len(tested),
        detectable_fall=[min(detectable), max(detectable)] if detectable else None,
        detection_power=DETECTION_POWER,
    )


def compare_files(old_path: str | Path, new: AuditResult, **settings) -> AuditChanges:
    """``compare_results`` with the baseline read from its file (its sha256 recorded)."""
    old = AuditResult.load(old_path)
    return compare_results(old, new, baseline=str(old_path), baseline_sha256=sha256_file(old_path), **settings)
