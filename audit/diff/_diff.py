"""Compare two audit results of a model: inputs, numbers with their intervals, gap shares, findings, gate outcomes.

A disparity "worsened" when a table's ratio of the lowest to the highest group (groups with enough rows, the
benchmark-free ratio of fairlearn's MetricFrame.ratio) moved further from parity than ``tolerance``; with
``confident``, when a one-sided test from the two intervals says the fall exceeds the tolerance. Numbers are "separated" when their intervals no longer
overlap. Both are computed from the saved results alone: no model or data is needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

from audit._errors import ConfigError
from audit.result._change_sections import AuditChanges, FindingChange, GateChange, InputChange, MetricChange
from audit.result._provenance import sha256_file
from audit.result._result import AuditResult

__all__ = ["DEFAULT_TOLERANCE", "compare_results", "compare_files"]

DEFAULT_TOLERANCE = 0.05
_FINDING_KEYS = ("table", "metric", "comparison", "group", "compared_with", "feature", "slice", "definition", "axis",
                 "method", "source", "subject", "suite", "category", "constraint", "sensitive", "step")


def _overlap(first, second) -> bool:
    if not first or not second or None in (*first, *second):
        return True  # without both intervals nothing is claimed
    return first[0] <= second[1] and second[0] <= first[1]


def _change(old, new):
    return None if old is None or new is None else float(new - old)


def _worsened(old, old_ci, new, new_ci, tolerance: float, confident: bool, level: float) -> bool:
    """A ratio (1 = parity, lower = worse) fell by more than ``tolerance``. Point estimates by default; with
    ``confident``, a one-sided test at 5% that the fall exceeds the tolerance, each interval's half-width taken as
    z(level) standard errors and the audits as independent (conservative for two audits of the same rows, whose
    estimates move together)."""
    if old is None or new is None:
        return False
    if not confident:
        return new < old - tolerance
    if not old_ci or not new_ci or None in (*old_ci, *new_ci):
        return False  # no interval, no confident claim
    if old_ci[1] <= old_ci[0] or new_ci[1] <= new_ci[0]:
        return False  # a zero-width interval (a group with no events): the bootstrap cannot see its uncertainty
    z = NormalDist().inv_cdf(0.5 + level / 2)
    spread = math.hypot((old_ci[1] - old_ci[0]) / (2 * z), (new_ci[1] - new_ci[0]) / (2 * z))
    return (old - new - tolerance) / spread > NormalDist().inv_cdf(0.95)


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
            rows.append(MetricChange(name, metric, group.name, "value", old, old_ci, new, new_ci, _change(old, new),
                                     not _overlap(old_ci, new_ci)))
    return rows


def _ratios(name, old_table, new_table, tolerance, confident) -> tuple[list[MetricChange], list[str]]:
    rows, notes = [], []
    for metric, after in new_table.disparities_reliable.items():
        before = old_table.disparities_reliable.get(metric)
        if before is None:
            continue
        rows.append(MetricChange(name, metric, f"{after.worst_group} / {after.best_group}", "ratio", before.ratio,
                                 before.ratio_ci, after.ratio, after.ratio_ci, _change(before.ratio, after.ratio),
                                 not _overlap(before.ratio_ci, after.ratio_ci),
                                 worsened=_worsened(before.ratio, before.ratio_ci, after.ratio, after.ratio_ci,
                                                    tolerance, confident,
                                                    float(new_table.bootstrap.get("level", 0.95)))))
        if before.benchmark_group != after.benchmark_group:
            notes.append(f"{metric} by {name}: the benchmark group changed from {before.benchmark_group} to "
                         f"{after.benchmark_group}; ratios to the benchmark are not compared")
            continue
        for group, entry in after.to_best.items():
            old = before.to_best.get(group)
            if old is None or entry.get("ratio") is None and old.get("ratio") is None:
                continue
            rows.append(MetricChange(name, metric, group, "ratio to benchmark", old.get("ratio"), old.get("ratio_ci"),
                                     entry.get("ratio"), entry.get("ratio_ci"),
                                     _change(old.get("ratio"), entry.get("ratio")),
                                     not _overlap(old.get("ratio_ci"), entry.get("ratio_ci"))))
    return rows, notes


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
            rows.append(MetricChange(gap.table, gap.metric, f"{gap.group} vs {gap.compared_with}", "share of the gap",
                                     prior.share, prior.share_ci, feature.share, feature.share_ci,
                                     _change(prior.share, feature.share),
                                     not _overlap(prior.share_ci, feature.share_ci), feature=feature.feature))
    return rows


def _finding_key(finding) -> tuple:
    named = tuple((k, str(finding.evidence[k])) for k in _FINDING_KEYS if k in finding.evidence)
    return (finding.kind, finding.severity, named or (("message", finding.message),))


def _findings(old: AuditResult, new: AuditResult) -> list[FindingChange]:
    """Findings matched by what they are about (kind, severity and the names in their evidence), not by their
    numbers, so a finding whose estimate moved is neither added nor resolved."""
    before = {_finding_key(f): f for f in old.findings}
    after = {_finding_key(f): f for f in new.findings}
    return ([FindingChange("added", f.kind, f.severity, f.message) for k, f in after.items() if k not in before]
            + [FindingChange("resolved", f.kind, f.severity, f.message) for k, f in before.items() if k not in after])


def _gate(old: AuditResult, new: AuditResult) -> list[GateChange]:
    def outcomes(result):
        return {(o["policy"], o["rule"], o["scope"]): o["status"] for o in (result.gate or {}).get("outcomes", [])
                if isinstance(o, dict) and {"policy", "rule", "scope", "status"} <= set(o)}

    before, after = outcomes(old), outcomes(new)
    return [GateChange(*key, before.get(key), after.get(key)) for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)]


def _inputs(old: AuditResult, new: AuditResult) -> list[InputChange]:
    rows = []
    for name in ("data", "model", "config"):
        a, b = old.provenance.sha256.get(name), new.provenance.sha256.get(name)
        rows.append(InputChange(f"{name} sha256", a, b, a != b))
    rows.append(InputChange("rows audited", str(old.data.get("n_rows")), str(new.data.get("n_rows")),
                            old.data.get("n_rows") != new.data.get("n_rows")))
    for package in sorted(set(old.provenance.packages) | set(new.provenance.packages)):
        a, b = old.provenance.packages.get(package), new.provenance.packages.get(package)
        if a != b or package == "audit-toolkit":
            rows.append(InputChange(f"version of {package}", a, b, a != b))
    return rows


def compare_results(old: AuditResult, new: AuditResult, *, baseline: str, baseline_sha256: str,
                    tolerance: float = DEFAULT_TOLERANCE, tolerance_source: str = "default",
                    confident: bool = False) -> AuditChanges:
    """The changes from ``old`` (the baseline, named ``baseline``) to ``new``."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        raise ConfigError(f"The 'tolerance' of an audit diff must be a number from 0 to 1 (a fall in the ratio of "
                          f"the lowest to the highest group). Got {tolerance!r} instead.")
    if old.data.get("task", "binary") != new.data.get("task", "binary"):
        raise ConfigError(f"The two audits have different tasks ({old.data.get('task')!r} and "
                          f"{new.data.get('task')!r}); compare audits of the same kind of model.")
    old_tables, new_tables = _tables(old), _tables(new)
    metrics, notes = [], []
    for name, table in new_tables.items():
        if name not in old_tables:
            notes.append(f"the table by {name} is new: nothing to compare it with")
            continue
        metrics += _group_values(name, old_tables[name], table)
        ratios, why = _ratios(name, old_tables[name], table, tolerance, confident)
        metrics += ratios
        notes += why
        gone = sorted({g.name for g in old_tables[name].groups} - {g.name for g in table.groups})
        added = sorted({g.name for g in table.groups} - {g.name for g in old_tables[name].groups})
        if gone or added:
            notes.append(f"groups by {name}: " + "; ".join(
                part for part in (f"only in the baseline: {', '.join(gone)}" if gone else "",
                                  f"new: {', '.join(added)}" if added else "") if part))
    notes += [f"the table by {name} is gone" for name in old_tables if name not in new_tables]
    worsened = sum(m.worsened for m in metrics)
    return AuditChanges(
        baseline=baseline, baseline_sha256=baseline_sha256, baseline_created=old.provenance.started_at,
        tolerance=float(tolerance), tolerance_source=tolerance_source, confident=confident,
        inputs=_inputs(old, new), metrics=metrics, gap_shares=_gap_shares(old, new), findings=_findings(old, new),
        gate=_gate(old, new), notes=notes, worsened=worsened, passed=worsened == 0)


def compare_files(old_path: str | Path, new: AuditResult, **settings) -> AuditChanges:
    """``compare_results`` with the baseline read from its file (its sha256 recorded)."""
    old = AuditResult.load(old_path)
    return compare_results(old, new, baseline=str(old_path), baseline_sha256=sha256_file(old_path), **settings)
