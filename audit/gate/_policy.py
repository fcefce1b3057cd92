"""Policies: rules over an audit result that a release must satisfy, and their evaluation (the gate).

A policy is TOML, in its own file or under ``[tool.audit]`` of a pyproject.toml::

    [[rules]]
    id = "sex-selection"            # optional; defaults to metric-where
    metric = "selection_rate"
    where = "every_group"           # overall | every_group | worst_group | disparity | attribution | record
                                    # | slices (confirmed slices of a slice metric: their effect over the rest)
                                    # | gaps (proxy_share / direct_share: a feature's share of a flagged gap)
                                    # | ranking (exposure / attention / selection_rate_at_k of a ranking table)
                                    # | recourse (mean_cost / no_recourse_share of each group, or to the benchmark)
    stat = "ratio_to_best"          # every_group: value | ratio_to_best | difference_to_best;
                                    # disparity: ratio | difference
    compare = ">="                  # >=, >, <=, <  (record rules: "exists")
    threshold = 0.8
    severity = "error"              # or "warning": reported, never fails the gate
    tables = ["sex", "sex x race"]  # optional: which fairness tables (default: all)
    min_group_size = 30             # optional: groups under it are skipped, and say so
    confident = true                # the CI bound, not the point estimate, must clear the threshold
    min_share = 0.01                # slices rules: only slices of at least this share of the data

A rule whose metric is not in the result is an error, never a pass. A step of the audit that crashed (a
fairness table, an explainer, ...) blocks the gate too, unless the policy names it::

    allow_failures = ["explainer: lime_tabular"]   # step names as the result records them; * wildcards

``metric = "favourable_rate"`` reads each table's favourable rate: the selection rate, or the negative-decision
rate when data.favourable names the negative outcome (a risk score).
"""

from __future__ import annotations

import operator
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from audit._errors import ConfigError
from audit.fairness._metrics import METRICS
from audit.fairness._power import Power, comparison_power
from audit.fairness._types import FairnessTable
from audit.config._settings import MITIGATION_CONSTRAINTS
from audit.fairness._slice_metrics import SLICE_METRICS
from audit.gate._benchmark import check_against_benchmark
from audit.gate._ranking_rules import RANKING_RULE_METRICS, RANKING_RULE_STATS, evaluate_ranking_rule
from audit.gate._monitor_rules import MONITOR_RULE_METRICS, evaluate_monitor_rule
from audit.gate._recourse_rules import RECOURSE_RULE_METRICS, RECOURSE_RULE_STATS, evaluate_recourse_rule
from audit.gate._rows import check_row_distance
from audit.gate._swap_rules import SWAP_RULE_METRICS, evaluate_swap_rule
from audit.result._provenance import sha256_file, sha256_text
from audit.result._sections import Faithfulness, MethodQuality
from audit.result._records import GateResult, RuleOutcome
from audit.result._result import AuditResult

__all__ = ["Rule", "Policy", "RuleOutcome", "GateResult", "load_policy", "load_preset", "PRESETS", "evaluate"]

WHERE = (
    "overall",
    "every_group",
    "worst_group",
    "disparity",
    "attribution",
    "record",
    "slices",
    "mitigation",
    "probes",
    "gaps",
    "ranking",
    "swaps",
    "monitor",
    "recourse",
)
STATS = {
    "every_group": ("value", "ratio_to_best", "difference_to_best"),
    "disparity": ("ratio", "difference"),
    "overall": ("value",),
    "worst_group": ("value",),
    "attribution": ("value",),
    "record": ("value",),
    "slices": ("effect",),
    "mitigation": ("cost",),
    "probes": ("distance",),
    "gaps": ("share",),
    "ranking": RANKING_RULE_STATS,
    "swaps": ("distance",),
    "monitor": ("value",),
    "recourse": RECOURSE_RULE_STATS,
}
# language-model probe measures (bias rows); "stereotype_share" covers each paired suite's primary share
PROBE_METRICS = ("stereotype_share", "negativity_gap", "bias_ambiguous", "bias_disambiguated", "score_gap")
# gap explanations: each proxy's share of a flagged gap, or the protected attribute's own share (a model input)
GAP_RULE_METRICS = ("proxy_share", "direct_share", "joint_proxy_share")
# what a case of a rule can come to: "skipped" is a case left out on purpose (a small group, the benchmark);
# "not applicable" a rule about something the audit was not asked to measure (a suite it did not run)
STATUSES = ("pass", "fail", "error", "skipped", "not applicable")
# the probe suites that measure each probe metric
PROBE_SUITES_BY_METRIC = {
    "stereotype_share": ("crows_pairs", "winobias", "occupations"),
    "bias_ambiguous": ("bbq",),
    "bias_disambiguated": ("bbq",),
    "negativity_gap": ("holisticbias", "lexicons"),
    "score_gap": ("bold",),
}
COMPARATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
ATTRIBUTION_METRICS = ("reliance_on_sensitive", "completeness_error_max", "completeness_error_median")
# metrics other parts of the toolkit record (text counterfactuals); known names, evaluated when present
TEXT_METRICS = ("flip_rate", "mean_abs_score_change", "max_abs_score_change", "subgroup_auc", "bpsn_auc", "bnsp_auc")
_IDENTITY_GROUP_METRICS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")
# explanation quality: faithfulness margin over a random order (deletion AOPC for tabular, comprehensiveness
# for text), the randomisation test's rank correlation, and the share of examples above the completeness tolerance
QUALITY_METRICS = ("faithfulness_margin", "sanity_spearman", "incomplete_share")
TASK_METRICS = ("mean_prediction", "mean_label", "mae")
LL144_IMPACT_RATIO = "ll144_impact_ratio"  # the impact ratios of the LL144 tables (selection or scoring rate)
FAVOURABLE_RATE = "favourable_rate"  # resolved per table: selection_rate, or negative_rate (data.favourable)
from audit.gate._presets import PRESETS  # noqa: E402  (the preset files are the registry)

_RULE_KEYS = {
    "id",
    "metric",
    "where",
    "stat",
    "compare",
    "threshold",
    "severity",
    "tables",
    "min_group_size",
    "confident",
    "description",
    "min_share",
    "at",
    "group_blind",
    "alpha",
    "allow_no_evidence",
}


# the metrics of each place whose rules read their own section of the result (the others read fairness tables,
# attributions, text and quality metrics: ``_known_metric``)
_SECTION_METRICS: dict[str, tuple[str, ...]] = {
    "slices": tuple(sorted(SLICE_METRICS)),
    "mitigation": tuple(MITIGATION_CONSTRAINTS),
    "probes": PROBE_METRICS,
    "gaps": GAP_RULE_METRICS,
    "ranking": tuple(RANKING_RULE_METRICS),
    "swaps": tuple(SWAP_RULE_METRICS),
    "monitor": MONITOR_RULE_METRICS,
    "recourse": tuple(RECOURSE_RULE_METRICS),
}


def _known_metric(name: str, where: str = "") -> bool:
    if where in _SECTION_METRICS:
        return name in _SECTION_METRICS[where]
    return (
        name in METRICS
        or name in (FAVOURABLE_RATE, LL144_IMPACT_RATIO)
        or name in ATTRIBUTION_METRICS
        or name in TEXT_METRICS
        or name in TASK_METRICS
        or name in QUALITY_METRICS
        or re.fullmatch(r"selection_rate\[.+\]", name) is not None
    )


@dataclass(frozen=True)
class Rule:
    metric: str
    where: str
    compare: str
    threshold: float | None = None
    stat: str = "value"
    severity: str = "error"
    tables: tuple[str, ...] | None = None
    min_group_size: int | None = None
    confident: bool = False
    id: str = ""
    description: str = ""
    min_share: float | None = None  # slices rules: slices under this share of the data are not checked
    at: float | None = None  # mitigation rules: the tolerance the fix must reach (0.8 for an impact ratio)
    group_blind: bool = False  # mitigation rules: the fix must not use the group at decision time
    alpha: float | None = (
        None  # probes and swaps rules: rows whose Holm-adjusted p-value is at least alpha pass (chance)
    )
    allow_no_evidence: bool = False  # a rule whose every case was skipped is an error unless this is set

    def __post_init__(self) -> None:
        location = f"rule {self.id or self.metric!r}"
        if self.where == "slices" and self.stat == "value":  # a slice is checked by its effect over the rest
            object.__setattr__(self, "stat", "effect")
        if self.where == "mitigation" and self.stat == "value":  # a fix is checked by what it costs
            object.__setattr__(self, "stat", "cost")
        if self.where in ("probes", "swaps") and self.stat == "value":  # a row: its distance from no bias
            object.__setattr__(self, "stat", "distance")
        if self.where == "gaps" and self.stat == "value":  # a feature is checked by its share of the gap
            object.__setattr__(self, "stat", "share")
        if self.alpha is not None and (
            self.where not in ("probes", "swaps")
            or isinstance(self.alpha, bool)
            or not isinstance(self.alpha, (int, float))
            or not 0 < self.alpha < 1
        ):
            raise ConfigError(
                f"The 'alpha' of rule {self.id or self.metric!r} must be a number in (0, 1), for where = "
                f'"probes" or "swaps" only. Got {self.alpha!r} (where = {self.where!r}).'
            )
        if self.where == "mitigation" and (isinstance(self.at, bool) or not isinstance(self.at, (int, float))):
            raise ConfigError(
                f"A mitigation rule needs 'at', the tolerance the fix must reach (e.g. at = 0.8 for an "
                f"impact ratio). Got {self.at!r} in rule {self.id or self.metric!r}."
            )
        if (self.at is not None or self.group_blind) and self.where != "mitigation":
            raise ConfigError(
                f"'at' and 'group_blind' of rule {self.id or self.metric!r} apply to where = \"mitigation\" only."
            )
        if not isinstance(self.group_blind, bool):
            raise ConfigError(f"The 'group_blind' of rule {self.id or self.metric!r} must be true or false.")
        for name in ("metric", "where", "compare", "stat", "severity", "id", "description"):
            value = getattr(self, name)
            if not isinstance(value, str) or (name in ("metric", "where", "compare") and not value):
                raise ConfigError(f"The {name!r} of {location} must be a string. Got {value!r} instead.")
        if self.tables is not None and (
            isinstance(self.tables, str)
            or not isinstance(self.tables, (list, tuple))
            or not all(isinstance(t, str) for t in self.tables)
        ):
            raise ConfigError(
                f"The 'tables' of {location} must be a list of table names, e.g. [\"sex\", "
                f'"sex x race"]. Got {self.tables!r} instead.'
            )
        if self.where not in WHERE:
            raise ConfigError(
                f"The 'where' of {location} must be one of {', '.join(WHERE)}. Got {self.where!r} instead."
            )
        if self.where == "record":
            if self.compare != "exists":
                raise ConfigError(
                    f'Record rules check presence: {location} needs compare = "exists". Got {self.compare!r} instead.'
                )
        else:
            if not _known_metric(self.metric, self.where):
                known = ", ".join(
                    _SECTION_METRICS.get(self.where)
                    or sorted(METRICS.names() + list(ATTRIBUTION_METRICS) + list(TASK_METRICS) + list(TEXT_METRICS))
                )
                raise ConfigError(f"Unknown metric {self.metric!r} in {location}. Known metrics: {known}.")
            if self.compare not in COMPARATORS:
                raise ConfigError(
                    f"The 'compare' of {location} must be one of {', '.join(COMPARATORS)}. "
                    f"Got {self.compare!r} instead."
                )
            if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)):
                raise ConfigError(f"The 'threshold' of {location} must be a number. Got {self.threshold!r} instead.")
            if self.stat not in STATS[self.where]:
                raise ConfigError(
                    f"The 'stat' of {location} must be one of {', '.join(STATS[self.where])} for "
                    f"where = {self.where!r}. Got {self.stat!r} instead."
                )
        if self.severity not in ("error", "warning"):
            raise ConfigError(
                f"The 'severity' of {location} must be 'error' or 'warning'. Got {self.severity!r} instead."
            )
        if self.min_group_size is not None and (
            isinstance(self.min_group_size, bool) or not isinstance(self.min_group_size, int) or self.min_group_size < 1
        ):
            raise ConfigError(
                f"The 'min_group_size' of {location} must be a positive integer. Got {self.min_group_size!r} instead."
            )
        if self.min_share is not None and (
            isinstance(self.min_share, bool)
            or not isinstance(self.min_share, (int, float))
            or not 0 <= self.min_share < 1
        ):
            raise ConfigError(
                f"The 'min_share' of {location} must be a share of the data in [0, 1), e.g. 0.01. "
                f"Got {self.min_share!r} instead."
            )
        if self.min_share is not None and self.where != "slices":
            raise ConfigError(f"The 'min_share' of {location} applies to where = \"slices\" only.")
        if not isinstance(self.allow_no_evidence, bool):
            raise ConfigError(
                f"The 'allow_no_evidence' of {location} must be true or false. Got {self.allow_no_evidence!r} instead."
            )
        if not isinstance(self.confident, bool):
            raise ConfigError(f"The 'confident' of {location} must be true or false. Got {self.confident!r} instead.")
        if self.tables is not None:
            object.__setattr__(self, "tables", tuple(self.tables))
        if not self.id:
            object.__setattr__(
                self, "id", f"{self.metric}-{self.where}" + (f"-{self.stat}" if self.stat != "value" else "")
            )


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    sha256: str
    source: str
    allow_failures: tuple[str, ...] = ()  # failed steps that do not block the gate (fnmatch patterns)
    diff_tolerance: float | None = None  # `audit diff`: how far a ratio may fall before a disparity "worsened"


def _parse_policy(raw: dict[str, Any], *, name: str, sha256: str, source: str) -> Policy:
    if not isinstance(raw, dict):
        raise ConfigError(f"The policy {name!r} must be a table of settings. Got {type(raw).__name__} instead.")
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"The policy {name!r} has no rules. Add [[rules]] tables (see docs/policy.md).")
    unknown_top = set(raw) - {"rules", "name", "description", "allow_failures", "diff_tolerance"}
    if unknown_top:
        raise ConfigError(
            f"Unknown policy settings {sorted(unknown_top)} in {name!r}. Known: allow_failures, "
            "description, diff_tolerance, name, rules."
        )
    tolerance = raw.get("diff_tolerance")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1
    ):
        raise ConfigError(
            f"The 'diff_tolerance' of {name!r} must be a number from 0 to 1 (how far the ratio of the "
            f"lowest to the highest group may fall). Got {tolerance!r} instead."
        )
    allow = raw.get("allow_failures", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) and a for a in allow):
        raise ConfigError(
            f"The 'allow_failures' of {name!r} must be a list of step names (e.g. [\"explainer: "
            f'lime_tabular"]). Got {allow!r} instead.'
        )
    rules = []
    for index, table in enumerate(rules_raw):
        if not isinstance(table, dict):
            raise ConfigError(f"Rule {index} of {name!r} must be a table. Got {table!r} instead.")
        unknown = set(table) - _RULE_KEYS
        if unknown:
            raise ConfigError(
                f"Unknown settings {sorted(unknown)} in rule {index} of {name!r}. "
                f"Known: {', '.join(sorted(_RULE_KEYS))}."
            )
        missing = {"metric", "where", "compare"} - set(table)
        if missing:
            raise ConfigError(f"Rule {index} of {name!r} lacks {sorted(missing)}.")
        rules.append(Rule(**table))
    ids = [r.id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"Rule ids must be unique within a policy; {name!r} repeats {duplicates}. Set 'id'.")
    return Policy(
        name=str(raw.get("name", name)),
        rules=tuple(rules),
        sha256=sha256,
        source=source,
        allow_failures=tuple(allow),
        diff_tolerance=None if tolerance is None else float(tolerance),
    )


def load_policy(path: str | Path) -> Policy:
    """A policy file, or the ``[tool.audit]`` table of a pyproject.toml."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError as err:
        raise ConfigError(f"The policy file {str(path)!r} does not exist.") from err
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"The policy file {str(path)!r} cannot be read as TOML: {err}.") from err
    if path.name == "pyproject.toml":
        tool = raw.get("tool", {})
        raw = tool.get("audit") if isinstance(tool, dict) else None
        if raw is None:
            raise ConfigError(f"{str(path)!r} has no [tool.audit] table. Add one with [[tool.audit.rules]].")
        if not isinstance(raw, dict):
            raise ConfigError(
                f"[tool.audit] in {str(path)!r} must be a table of policy settings with "
                f"[[tool.audit.rules]]. Got {type(raw).__name__} {raw!r} instead."
            )
    return _parse_policy(raw, name=path.name, sha256=sha256_file(path), source=str(path))


def load_preset(name: str) -> Policy:
    if name not in PRESETS:
        import difflib

        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown preset {name!r}.{hint} Known presets: {', '.join(PRESETS)}.")
    text = resources.files("audit").joinpath("policies", f"{name}.toml").read_text(encoding="utf-8")
    return _parse_policy(tomllib.loads(text), name=name, sha256=sha256_text(text), source=f"preset:{name}")


def _bound(interval, compare: str):
    if not interval:
        return None
    return interval[0] if compare in (">=", ">") else interval[1]


class _Checker:
    """A rule's outcomes as they are found. ``examined``: skips that are themselves evidence (the benchmark group,
    a gap that is not flagged: looked at, and not a case of the rule), unlike a group too small to check."""

    def __init__(self, policy: Policy, rule: Rule) -> None:
        self.policy, self.rule, self.outcomes = policy, rule, []
        self.examined = 0

    def add(
        self,
        scope: str,
        status: str,
        message: str,
        value=None,
        checked=None,
        *,
        examined: bool = False,
        power: Power | None = None,
    ) -> None:
        rule = self.rule
        self.examined += examined
        self.outcomes.append(
            RuleOutcome(
                self.policy.name,
                rule.id,
                scope,
                status,
                rule.severity,
                message,
                value,
                checked,
                rule.threshold,
                rule.compare,
                power=power.power if power else None,
                rows_needed=power.rows_needed if power else None,
            )
        )

    def compare(self, scope: str, value, interval, what: str) -> None:
        rule = self.rule
        if value is None:
            self.add(scope, "error", f"{what} is undefined here, so the rule cannot be checked.")
            return
        checked = value
        if rule.confident:
            checked = _bound(interval, rule.compare)
            if checked is None:
                self.add(
                    scope,
                    "error",
                    f"The rule asks for confidence, but {what} has no confidence interval. "
                    "Run the audit with fairness.n_boot > 0.",
                    value,
                )
                return
        ok = COMPARATORS[rule.compare](checked, rule.threshold)
        basis = f" (CI bound {checked:.4g}; point estimate {value:.4g})" if rule.confident else ""
        self.add(
            scope,
            "pass" if ok else "fail",
            f"{what} = {checked if not rule.confident else value:.4g}{basis}; required {rule.compare} "
            f"{rule.threshold:g}.",
            value,
            checked,
        )


def _lookup(result: AuditResult, dotted: str):
    node: Any = result.to_dict()
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _evaluate_rule(result: AuditResult, policy: Policy, rule: Rule) -> tuple[list[RuleOutcome], bool]:
    """The rule's outcomes, and whether it found any evidence (a pass, a fail, an error, or an examined skip)."""
    check = _Checker(policy, rule)
    _check_rule(result, check, rule)
    return _with_evidence(check), bool(check.examined) or any(
        o.status in ("pass", "fail", "error") for o in check.outcomes
    )


def _check_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    if rule.where == "record":
        value = _lookup(result, rule.metric)
        if value not in (None, [], {}, ""):
            check.add(rule.metric, "pass", f"The audit record holds {rule.metric}.")
        else:  # nothing was measured, so nothing was violated: the rule cannot be checked, which blocks all the same
            check.add(
                rule.metric,
                "error",
                f"Not computed: the audit record has no {rule.metric}, so the rule cannot "
                f"be checked." + (f" {rule.description}" if rule.description else ""),
            )
        return check.outcomes
    if rule.where in _SECTION_RULES:  # a rule over its own section of the result
        return _SECTION_RULES[rule.where](result, check, rule)
    if rule.metric in QUALITY_METRICS:
        return _evaluate_quality_rule(result, check, rule)
    if rule.where == "attribution":
        summaries = result.attributions
        if not summaries:
            check.add("attributions", "error", f"No attribution ran, so {rule.metric} cannot be checked.")
        for summary in summaries:
            check.compare(
                summary.method, getattr(summary, rule.metric, None), None, f"{rule.metric} of {summary.method}"
            )
        return check.outcomes
    if rule.metric in TEXT_METRICS:
        return _evaluate_text_rule(result, check, rule)
    if rule.metric == LL144_IMPACT_RATIO:
        return _evaluate_ll144_rule(result, check, rule)
    tables = [t for t in result.fairness if rule.tables is None or t.name in rule.tables]
    if rule.tables is not None:
        missing = sorted(set(rule.tables) - {t.name for t in result.fairness})
        for name in missing:
            check.add(
                name,
                "error",
                f"The audit result has no fairness table {name!r}. Tables: "
                f"{', '.join(t.name for t in result.fairness) or '(none)'}.",
            )
    holding = [t for t in tables if _table_metric(t, rule.metric) in t.metrics]
    if not holding:
        check.add(
            rule.metric,
            "error",
            f"The metric {rule.metric!r} is not in the audit result "
            f"(its tables hold: {', '.join(tables[0].metrics) if tables else 'nothing'}).",
        )
        return check.outcomes
    for table in holding:
        metric = _table_metric(table, rule.metric)
        minimum = rule.min_group_size or table.min_group_size
        eligible = [g for g in table.groups if g.n >= minimum]
        small = [g.name for g in table.groups if g.n < minimum]
        if rule.where == "overall":
            check.compare("overall", table.overall.get(metric), table.overall_ci.get(metric), f"overall {metric}")
            break  # the same in every table
        if rule.where == "disparity":
            disparity = table.disparities_reliable.get(metric)
            if disparity is None:
                check.add(table.name, "error", f"{metric} has no disparity (not a comparable metric).")
                continue
            check.compare(
                table.name,
                getattr(disparity, rule.stat),
                getattr(disparity, f"{rule.stat}_ci"),
                f"{metric} {rule.stat} by {table.name}",
            )
        elif rule.where == "worst_group":
            values = [(g, g.values.get(metric)) for g in eligible if g.values.get(metric) is not None]
            if not values:
                check.add(table.name, "error", f"No group of {table.name} with {minimum}+ rows has {metric}.")
                continue
            pick = min if rule.compare in (">=", ">") else max
            group, value = pick(values, key=lambda item: item[1])
            check.compare(
                f"{table.name}: {group.name}", value, group.ci.get(metric), f"{metric} of the worst group {group.name}"
            )
        else:  # every_group
            disparity = table.disparities.get(metric)
            for group in eligible:
                scope, what = f"{table.name}: {group.name}", f"{metric} {rule.stat} of {group.name}"
                if rule.stat == "value":
                    check.compare(scope, group.values.get(metric), group.ci.get(metric), what)
                    continue
                check_against_benchmark(
                    check, scope, what, metric=metric, stat=rule.stat, comparisons=disparity, group=group.name
                )
        for name in small:
            power = _small_group_power(table, metric, name, rule, _alpha(result))
            message = f"Fewer than {minimum} rows: not checked."
            if power is not None:
                message += " " + _power_sentence(power, rule, table.disparities[metric].benchmark_group)
            check.add(f"{table.name}: {name}", "skipped", message, power=power)
    return check.outcomes


def _alpha(result: AuditResult) -> float:
    """The audit's significance level (fairness.alpha as run; 0.05 for a record that does not say)."""
    fairness = result.config.get("fairness") if isinstance(result.config, dict) else None
    alpha = fairness.get("alpha") if isinstance(fairness, dict) else None
    return float(alpha) if isinstance(alpha, (int, float)) and 0 < alpha < 1 else 0.05


def _small_group_power(table: FairnessTable, metric: str, name: str, rule: Rule, alpha: float) -> Power | None:
    """The power of the table's test to find a gap at the rule's line for a group too small to check (every-group
    ratio or difference rules on a proportion), at its size and the group's rows for 80% (audit.fairness._power)."""
    if rule.where != "every_group" or rule.stat not in ("ratio_to_best", "difference_to_best"):
        return None
    kind = "ratio" if rule.stat == "ratio_to_best" else "difference"
    row = comparison_power(table, metric, name, kind=kind, threshold=rule.threshold, alpha=alpha)
    return None if row is None else Power(row.power, row.rows_needed, row.note)


def _power_sentence(power: Power, rule: Rule, benchmark: str | None) -> str:
    line = f"a ratio of {rule.threshold:g}" if rule.stat == "ratio_to_best" else f"a gap of {rule.threshold:g}"
    said = (
        f"At this size the test would find {line} to {benchmark} "
        f"{f'{power.power:.0%}' if power.power >= 0.01 else 'under 1%'} of the time"
        if power.power is not None
        else f"Its power to find {line} is unknown ({power.note})"
    )
    if power.rows_needed is not None:
        return f"{said}; about {power.rows_needed:,} rows would give 80%."
    return f"{said}; {power.note}." if power.power is not None and power.note else said + "."


def _text_scopes(result: AuditResult, metric: str) -> list[tuple[str, tuple[Any, Any], list[Any]]]:
    """(scope name, the overall value and interval, rows) for a text metric: counterfactual axes of real texts and
    of probes, or identity-mention groups for the AUCs."""
    text = result.text
    if text is None:
        return []
    if metric in _IDENTITY_GROUP_METRICS:
        groups = text.identity_groups
        if not groups or not groups.rows:
            return []
        return [("identity groups", (groups.generalized_mean.get(metric), None), groups.rows)]
    scopes = []
    for name, section in (
        ("real texts", text.counterfactuals),
        ("template probes", text.probes.counterfactuals if text.probes else None),
    ):
        if section and section.axes:
            overall = section.overall.value(metric) if section.overall else (None, None)
            scopes.append((name, overall, section.axes))
    return scopes


def _evaluate_text_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    scopes = _text_scopes(result, rule.metric)
    if not scopes:
        what = (
            "identity-mention groups (they need labels)"
            if rule.metric in _IDENTITY_GROUP_METRICS
            else "text counterfactual metrics"
        )
        check.add(
            "text",
            "error",
            f"The audit result has no {what}, so {rule.metric} cannot be checked; audit a "
            "text model (with [text] counterfactuals on), or drop this rule.",
        )
        return check.outcomes
    if rule.where not in ("overall", "every_group", "worst_group"):
        check.add(
            "text",
            "error",
            f"Text metric {rule.metric} supports where = overall, every_group or worst_group; got {rule.where!r}.",
        )
        return check.outcomes
    for scope, overall, rows in scopes:
        if rule.where == "overall":
            check.compare(scope, overall[0], overall[1], f"{rule.metric} over all {scope}")
            continue
        minimum = rule.min_group_size
        eligible = [r for r in rows if (not r.small if minimum is None else r.texts >= minimum)]
        for row in rows:
            if row not in eligible:
                check.add(f"{scope}: {row.name}", "skipped", f"Only {row.texts} texts: too few to check.")
        values = [r for r in eligible if r.value(rule.metric)[0] is not None]
        if not values:
            check.add(scope, "error", f"No {scope} row with enough texts has {rule.metric}.")
            continue
        if rule.where == "worst_group":
            pick = min if rule.compare in (">=", ">") else max
            values = [pick(values, key=lambda r: r.value(rule.metric)[0])]
        for row in values:
            value, interval = row.value(rule.metric)
            check.compare(f"{scope}: {row.name}", value, interval, f"{rule.metric} of {row.name} ({scope})")
    return check.outcomes


def _evaluate_ll144_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    """The impact ratios the LL144 tables hold: of the selection rate, or of the scoring rate in scoring mode
    (not the fairness tables' selection rate)."""
    ll144 = result.regulatory.ll144
    if ll144 is None:
        check.add(
            "ll144",
            "error",
            "The audit result has no LL144 tables; set fairness.ll144 in the config, or drop this rule.",
        )
        return check.outcomes
    if rule.where != "every_group":
        check.add("ll144", "error", f"{rule.metric} supports where = every_group; got {rule.where!r}.")
        return check.outcomes
    for table in ll144.tables:
        if rule.tables is not None and table.breakdown not in rule.tables:
            continue
        for row in table.rows:
            scope = f"LL144 {table.breakdown}: {row.category}"
            if row.benchmark:
                check.add(scope, "skipped", "The benchmark category (the comparison, not a case).", examined=True)
            elif row.excluded:
                check.add(scope, "skipped", f"Excluded from impact ratios: {row.excluded['reason']}.")
            elif (row.small and rule.min_group_size is None) or (
                rule.min_group_size is not None and row.n < rule.min_group_size
            ):
                check.add(scope, "skipped", f"Only {row.n} people: too few to check.")
            else:
                check.compare(
                    scope, row.impact_ratio, None, f"{ll144.rate.replace('_', ' ')} impact ratio of {row.category}"
                )
    return check.outcomes


def _quality_value(entry: MethodQuality, metric: str):
    if metric == "sanity_spearman":
        return (entry.sanity.final_spearman if entry.sanity else None), None
    if metric == "incomplete_share":
        return (entry.completeness.share_above_tolerance if entry.completeness else None), None
    return entry.faithfulness.margin if entry.faithfulness else (None, None)


def _evaluate_quality_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    methods = result.quality.methods if result.quality else {}
    if not methods:
        check.add(
            "quality",
            "error",
            f"The audit result has no explanation-quality checks, so {rule.metric} cannot "
            "be checked; run explainers with [quality] enabled, or drop this rule.",
        )
        return check.outcomes
    if rule.where not in ("attribution", "every_group", "worst_group") or (
        rule.where != "attribution" and rule.metric != "faithfulness_margin"
    ):
        check.add(
            "quality",
            "error",
            f"{rule.metric} supports where = attribution"
            + (", every_group or worst_group" if rule.metric == "faithfulness_margin" else "")
            + f"; got {rule.where!r}.",
        )
        return check.outcomes
    for method, entry in methods.items():
        if rule.where == "attribution":
            value, interval = _quality_value(entry, rule.metric)
            check.compare(method, value, interval, f"{rule.metric} of {method}")
            continue
        _evaluate_quality_groups(check, rule, method, entry.faithfulness)
    return check.outcomes


def _evaluate_quality_groups(check: _Checker, rule: Rule, method: str, faithfulness: Faithfulness | None) -> None:
    rows = [
        (f"{method}: {feature}={group}", row)
        for feature, groups in (faithfulness.by_group if faithfulness else {}).items()
        for group, row in groups.items()
    ]
    minimum = rule.min_group_size
    eligible = [(scope, row) for scope, row in rows if (not row.small if minimum is None else row.examples >= minimum)]
    for scope, row in rows:
        if (scope, row) not in eligible:
            check.add(scope, "skipped", f"Only {row.examples} explained examples: too few to check.")
    eligible = [(scope, row) for scope, row in eligible if row.margin[0] is not None]
    if not eligible:
        check.add(method, "error", f"{method} has no faithfulness by group to check.")
        return
    if rule.where == "worst_group":
        pick = min if rule.compare in (">=", ">") else max
        eligible = [pick(eligible, key=lambda item: item[1].margin[0])]
    for scope, row in eligible:
        check.compare(scope, row.margin[0], row.margin[1], f"faithfulness margin of {scope}")


def _evaluate_slice_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    """Every confirmed slice of the rule's metric (of at least ``min_share`` of the data): its effect, the slice's
    metric minus the rest's, measured on the held-out half."""
    searches = [s for s in (result.slices.searches if result.slices else []) if s.metric == rule.metric]
    if not searches:
        check.add(
            "slices",
            "error",
            f"The audit result has no slice search for {rule.metric}, so the rule cannot be "
            f"checked; add {rule.metric!r} to slices.metrics, or drop this rule.",
        )
        return check.outcomes
    for search in searches:
        shown = [s for s in search.slices if rule.min_share is None or s.share >= rule.min_share]
        scope = f"slices ({rule.metric})"
        depth = "" if search.complete else f"; the time budget stopped the search at {search.depth} conditions"
        if not shown:
            share = "" if rule.min_share is None else f" of {rule.min_share:.0%}+ of the data"
            check.add(
                scope, "pass", f"No confirmed slice{share} among {search.candidates} tested (q = {search.q:g}){depth}."
            )
        for found in shown:
            check.compare(
                f"{scope}: {found.definition}",
                found.effect,
                found.effect_ci,
                f"{search.words} {found.metric:.3f} vs {found.rest_metric:.3f} elsewhere; effect",
            )
    return check.outcomes


def _evaluate_probe_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    """Every bias row of the rule's measure, in every suite that has it: its distance from no bias. With ``alpha``,
    a row whose Holm-adjusted p-value is at least alpha passes: the preference is within chance."""
    matches = [
        (suite, row)
        for suite in (result.probes.suites if result.probes else [])
        for row in suite.rows
        if row.role == "bias" and (row.measure == rule.metric or row.measure.startswith(rule.metric + "_"))
    ]
    if not matches:
        measuring = PROBE_SUITES_BY_METRIC.get(rule.metric, ())
        probes_config = result.config.get("probes") if isinstance(result.config, dict) else None
        asked = set((probes_config or {}).get("suites") or ()) & set(measuring)
        if probes_config is not None and not asked:
            check.add(
                "probes",
                "not applicable",
                f"No suite that measures {rule.metric} ({', '.join(measuring)}) was "
                "asked for in [probes] suites, so the rule does not apply.",
            )
            return check.outcomes
        ran = ", ".join(s.name for s in result.probes.suites) if result.probes else "no probes"
        if asked:
            check.add(
                "probes",
                "error",
                f"The suite(s) {', '.join(sorted(asked))} that measure {rule.metric} were "
                f"asked for but produced no rows (suites with results: {ran}); see the failed "
                "steps.",
            )
            return check.outcomes
        check.add(
            "probes",
            "error",
            f"The audit result has no probe rows of {rule.metric} (suites: {ran}), so the "
            "rule cannot be checked; run the suite that measures it ([probes] suites), or "
            "drop this rule.",
        )
        return check.outcomes
    for suite, row in matches:
        scope = f"probes: {suite.name} / {row.category}" + (f" / {row.subject}" if row.subject else "")
        if row.estimate is None:
            check.add(scope, "skipped", f"{row.measure} is undefined here ({row.note or 'no items'}): not checked.")
            continue
        what = f"{row.measure} {row.estimate:.4g}; distance from {row.null_value:g}"
        check_row_distance(check, scope, row, what, rule.alpha)
    return check.outcomes


def _evaluate_gap_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    """Each proxy of each flagged gap (``proxy_share``), the inputs that stand in for the attribute together
    (``joint_proxy_share``), or the protected attribute's own part where it is a model input (``direct_share``):
    its share of the gap. Gaps whose fairness finding is not a warning are not checked."""
    report = result.gap_explanations
    if report is None:
        check.add(
            "gaps",
            "error",
            f"The audit result has no gap explanations, so {rule.metric} cannot be checked; "
            "run the audit with [gaps] enabled (a model, not decisions read from the data), "
            "or drop this rule.",
        )
        return check.outcomes
    role = "proxy" if rule.metric == "proxy_share" else "direct"
    gaps = [g for g in report.explanations if rule.tables is None or g.table in rule.tables]
    for gap in gaps:
        scope = f"gaps: {gap.metric} by {gap.table} ({gap.group} vs {gap.compared_with})"
        if not gap.flagged:
            check.add(
                scope,
                "skipped",
                f"The gap ({gap.gap:+.3f}) is not flagged: its ratio is above the threshold or within chance.",
                examined=True,
            )
            continue
        if rule.metric == "joint_proxy_share":
            joint = gap.joint_proxy
            if joint is None or joint.role != "proxy":
                check.add(
                    scope,
                    "pass",
                    "No inputs that tell the groups apart together carry this gap"
                    + ("." if joint is None else f" (together: AUC {_auc(joint.proxy_auc)}, share {joint.share:.0%})."),
                )
            else:
                check.compare(
                    f"{scope}: {' + '.join(joint.features)}",
                    joint.share,
                    joint.share_ci,
                    f"share of the gap carried together by {', '.join(joint.features)} (AUC together "
                    f"{_auc(joint.proxy_auc)}, alone at most {_auc(joint.strongest_single_auc)})",
                )
            continue
        features = [f for f in gap.features if f.role == role]
        if not features:
            check.add(
                scope,
                "pass",
                f"No {'proxy' if role == 'proxy' else 'protected attribute among the inputs'} in this gap.",
            )
        for feature in features:
            check.compare(
                f"{scope}: {feature.feature}",
                feature.share,
                feature.share_ci,
                f"share of the gap carried by {feature.feature}",
            )
    explained = {g.table for g in report.explanations}
    for name in sorted(set(rule.tables or ()) - explained):
        check.add(
            name,
            "error",
            f"The audit result explains no gap of table {name!r}; explained: {', '.join(sorted(explained)) or 'none'}.",
        )
    if not report.explanations:  # nothing tested never passes
        why = "; ".join(f"{n['metric']} by {n['table']}: {n['reason']}" for n in report.not_explained[:3])
        check.add(
            "gaps",
            "error",
            "The audit result explains no gap"
            + (f" ({why})" if why else "")
            + f", so {rule.metric} cannot be checked.",
        )
    return check.outcomes


def _auc(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


def _evaluate_mitigation_rule(result: AuditResult, check: _Checker, rule: Rule) -> list[RuleOutcome]:
    """A fix reaching ``at`` must exist, at an accuracy cost (held out) that meets the threshold."""
    frontiers = [f for f in (result.mitigation.frontiers if result.mitigation else []) if f.constraint == rule.metric]
    if not frontiers:
        check.add(
            "mitigation",
            "error",
            f"The audit result has no mitigation frontier for {rule.metric}; add it to "
            "mitigation.constraints (a binary classifier with scores), or drop this rule.",
        )
        return check.outcomes
    kind = "one threshold for everybody" if rule.group_blind else "group-specific thresholds"
    for frontier in frontiers:
        scope = f"mitigation ({frontier.sensitive}, {rule.metric} {rule.at:g}, {kind})"
        point = frontier.at(rule.at, group_blind=rule.group_blind)
        if point is None:
            check.add(scope, "error", f"The frontier has no point at {rule.at:g}; add it to mitigation.tolerances.")
        elif not point.feasible:
            check.add(scope, "fail", f"No {kind} reach {rule.metric} {rule.at:g} on the fit half.")
        elif point.reached is False:
            # a fix chosen on the fit half that misses on the held-out rows is not a fix, whatever it costs
            check.add(
                scope,
                "fail",
                f"The {kind} chosen to reach {rule.metric} {rule.at:g} miss it on the held-out "
                f"rows: {frontier.words} there {_held_out_value(point)}"
                f"{_reach_words(point, frontier)}.",
            )
        else:
            check.compare(
                scope,
                point.cost,
                point.cost_ci,
                f"accuracy cost of reaching {rule.metric} {rule.at:g} (held out; "
                f"{frontier.words} there {_held_out_value(point)}{_reach_words(point, frontier)})",
            )
    return check.outcomes


def _held_out_value(point) -> str:
    value = "undefined" if point.constraint_value is None else f"{point.constraint_value:.3f}"
    if point.constraint_ci:
        value += f" [{point.constraint_ci[0]:.3f}, {point.constraint_ci[1]:.3f}]"
    return value


def _reach_words(point, frontier) -> str:
    if point.reach is None:
        return ""
    words = f"; chance of reaching it on new rows, estimated on the fit half: {point.reach:.2f}"
    if frontier.reach_target is not None and point.reach < frontier.reach_target:
        words += f", short of the {frontier.reach_target:g} aimed for"
    return words


def _table_metric(table, metric: str) -> str:
    if metric == FAVOURABLE_RATE:
        return "negative_rate" if getattr(table, "favourable", "positive") == "negative" else "selection_rate"
    return metric


def _failure_outcomes(result: AuditResult, policies: list[Policy]) -> list[RuleOutcome]:
    """Each failed step of the audit, as a blocking error unless a policy allows it: a crashed check must not
    pass as "nothing found"."""
    from fnmatch import fnmatchcase

    outcomes = []
    for failure in result.failures:
        allowed_by = [p.name for p in policies if any(fnmatchcase(failure.step, a) for a in p.allow_failures)]
        message = f"The audit step crashed ({failure.error_type}: {failure.message})"
        if allowed_by:
            outcomes.append(
                RuleOutcome(
                    ", ".join(allowed_by),
                    "step-failed",
                    failure.step,
                    "error",
                    "warning",
                    message + f"; allowed by allow_failures of {', '.join(allowed_by)}.",
                )
            )
        else:
            outcomes.append(
                RuleOutcome(
                    "audit",
                    "step-failed",
                    failure.step,
                    "error",
                    "error",
                    message + ", so the audit is incomplete and the gate is blocked. Fix the "
                    "cause, or list the step under allow_failures in the policy.",
                )
            )
    return outcomes


def _with_evidence(check: _Checker) -> list[RuleOutcome]:
    """A rule whose every case was skipped, none of them examined, found no evidence: that is not a pass. It is an
    error of the rule's severity, unless the rule sets ``allow_no_evidence``."""
    outcomes, policy, rule = check.outcomes, check.policy, check.rule
    if not outcomes or check.examined or any(o.status != "skipped" for o in outcomes):
        return outcomes
    if rule.allow_no_evidence:
        return [
            *outcomes,
            RuleOutcome(
                policy.name,
                rule.id,
                "no evidence",
                "skipped",
                rule.severity,
                f"Every case ({len(outcomes)}) was skipped; allowed by allow_no_evidence.",
            ),
        ]
    return [
        *outcomes,
        RuleOutcome(
            policy.name,
            rule.id,
            "no evidence",
            "error",
            rule.severity,
            f"Every case of the rule ({len(outcomes)}) was skipped, so it found no evidence "
            "either way and cannot pass. Give the audit the data the rule needs (e.g. more "
            "rows, pairs the tokenizer tells apart), or set allow_no_evidence = true in the "
            "rule to accept this.",
            None,
            None,
            rule.threshold,
            rule.compare,
        ),
    ]


def evaluate(result: AuditResult, policies: list[Policy]) -> GateResult:
    """Check every rule of every policy. The gate passes when no error-severity rule fails or errors, and no
    step of the audit failed (unless a policy lists it under ``allow_failures``)."""
    outcomes = _failure_outcomes(result, policies)
    for policy in policies:
        evaluated = [_evaluate_rule(result, policy, rule) for rule in policy.rules]
        outcomes += [o for rule_outcomes, _ in evaluated for o in rule_outcomes]
        if not any(evidence or rule.allow_no_evidence for (_, evidence), rule in zip(evaluated, policy.rules)):
            outcomes.append(
                RuleOutcome(
                    policy.name,
                    "no-evidence",
                    "policy",
                    "error",
                    "error",
                    "No rule of the policy could be checked on this audit (every rule was skipped "
                    "or does not apply), so it cannot pass. Audit what the policy is about, or "
                    "choose the policy that fits this audit.",
                )
            )
    blocking = [o for o in outcomes if o.severity == "error" and o.status in ("fail", "error")]
    counts = {status: sum(o.status == status for o in outcomes) for status in STATUSES}
    return GateResult(
        outcomes=outcomes,
        passed=not blocking,
        counts=counts,
        policies=[{"name": p.name, "source": p.source, "sha256": p.sha256} for p in policies],
    )


# how a rule over each section that has its own metrics (``_SECTION_METRICS``) is evaluated
_SECTION_RULES = {
    "slices": _evaluate_slice_rule,
    "mitigation": _evaluate_mitigation_rule,
    "probes": _evaluate_probe_rule,
    "gaps": _evaluate_gap_rule,
    "ranking": evaluate_ranking_rule,
    "swaps": evaluate_swap_rule,
    "monitor": evaluate_monitor_rule,
    "recourse": evaluate_recourse_rule,
}
