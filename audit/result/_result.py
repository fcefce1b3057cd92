"""The one serialisable audit result. Reports and the gate read only this; see docs/result-schema.md."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit._errors import ConfigError
from audit.fairness._types import Disparity, FairnessTable, GroupRow
from audit.result._change_sections import AuditChanges
from audit.result._gap_sections import GapReport
from audit.result._sections import (Decision, MitigationReport, ProbeReport, Provenance, QualityReport, Regulatory,
                                    SliceReport, TextAudit)
from audit.result._serde import optional, to_dict

__all__ = ["AuditResult", "AttributionSummary", "Failure", "Finding", "Skipped", "SCHEMA_VERSION"]

SCHEMA_VERSION = "1.8"  # 1.1: `text`; 1.2: `quality`; 1.3: `decisions`, benchmark groups; 1.4: `slices`,
# `mitigation`; 1.5: `probes` (language-model probes; their `data` is {"kind": "probes", "suites": [...]});
# 1.6: `gap_explanations`; 1.7: probe examples' `prompt`, `continuation`, `other_prompt`, `attributions`;
# 1.8: `changes` (since a baseline audit)


@dataclass(frozen=True)
class Finding:
    """Something a reader should look at: a large disparity, heavy reliance on a sensitive feature, ..."""

    kind: str  # "disparity", "reliance", "small_group", "completeness"
    severity: str  # "info", "warning"
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """A step that crashed. Recorded and shown, never dropped: "crashed" must not look like "nothing found"."""

    step: str
    error_type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class Skipped:
    """A step that did not run on purpose, with the reason (e.g. explainers when there is no model)."""

    step: str
    reason: str


@dataclass(frozen=True)
class AttributionSummary:
    """What one attribution method found, summarised for the report (no per-row data beyond a sample)."""

    method: str
    output_space: str
    n_examples: int
    features: list[str]
    global_importance: dict[str, float]
    mean_attribution: dict[str, float]
    importance_by_group: dict[str, dict[str, dict[str, float]]]  # sensitive feature -> group -> feature -> value
    reliance_on_sensitive: float | None
    sensitive_features_in_model: list[str]
    completeness_error_max: float | None
    completeness_error_median: float | None
    meta: dict[str, Any] = field(default_factory=dict)
    granularity: str = "feature"  # "token": features are words, and examples hold token heatmaps
    examples: list[dict[str, Any]] = field(default_factory=list)  # capped sample: words, values, output

    def top_features(self, k: int = 5) -> list[tuple[str, float]]:
        return sorted(self.global_importance.items(), key=lambda kv: -kv[1])[:k]



@dataclass(frozen=True)
class AuditResult:
    """Everything an audit found, independent of the model: it renders and gates without it."""

    title: str
    data: dict[str, Any]
    model: dict[str, Any]
    fairness: list[FairnessTable]
    attributions: list[AttributionSummary]
    findings: list[Finding]
    failures: list[Failure]
    skipped: list[Skipped]
    provenance: Provenance
    config: dict[str, Any]
    regulatory: Regulatory = field(default_factory=Regulatory)  # four-fifths (per table), LL144
    gate: dict[str, Any] = field(default_factory=dict)  # the policy verdict, when `audit check` ran
    text: TextAudit | None = None  # text-model bias audit (counterfactuals, probes, ...)
    quality: QualityReport | None = None  # explanation quality: faithfulness, sanity, agreement
    decisions: list[Decision] = field(default_factory=list)  # every automatic choice the audit made
    slices: SliceReport | None = None  # worst-slice discovery
    mitigation: MitigationReport | None = None  # what fixing a gap would cost
    schema_version: str = SCHEMA_VERSION
    probes: ProbeReport | None = optional()  # bias probes of a generative language model (absent otherwise)
    gap_explanations: GapReport | None = optional()  # which inputs carry each gap (absent when not run)
    changes: AuditChanges | None = optional()  # since a baseline audit (`audit run --baseline`; absent otherwise)

    def to_dict(self) -> dict[str, Any]:
        out = to_dict(self)
        # schema 1.x writes absent sections as empty objects
        out["text"] = out["text"] or {}
        out["quality"] = out["quality"] or {}
        out["slices"] = out["slices"] or {}
        out["mitigation"] = out["mitigation"] or {}
        return out

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditResult:
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if version is None:
            raise ConfigError("This JSON is not an audit result: it has no 'schema_version'. "
                              "Pass the audit.json that `audit run` or `audit demo` wrote.")
        if str(version).split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ConfigError(f"The audit result has schema_version {version!r}; this audit-toolkit reads "
                              f"{SCHEMA_VERSION.split('.')[0]}.x. Re-run the audit with this version.")
        _check_shape(raw)
        try:
            return cls(
                title=raw["title"], data=raw["data"], model=raw["model"],
                fairness=_each(raw, "fairness", _table_from_dict),
                attributions=_each(raw, "attributions", lambda a: AttributionSummary(**a)),
                findings=_each(raw, "findings", lambda f: Finding(**f)),
                failures=_each(raw, "failures", lambda f: Failure(**f)),
                skipped=_each(raw, "skipped", lambda s: Skipped(**s)),
                provenance=Provenance.from_dict(raw["provenance"], "provenance"), config=raw["config"],
                regulatory=Regulatory.from_dict(_migrate_regulatory(raw.get("regulatory", {})), "regulatory"),
                gate=raw.get("gate", {}),
                text=TextAudit.from_dict(raw["text"], "text") if raw.get("text") else None,
                quality=QualityReport.from_dict(raw["quality"], "quality") if raw.get("quality") else None,
                decisions=[Decision.from_dict(d, f"decisions.{i}") for i, d in enumerate(raw.get("decisions", []))],
                slices=SliceReport.from_dict(raw["slices"], "slices") if raw.get("slices") else None,
                mitigation=(MitigationReport.from_dict(raw["mitigation"], "mitigation") if raw.get("mitigation")
                            else None),
                schema_version=version,
                probes=ProbeReport.from_dict(raw["probes"], "probes") if raw.get("probes") else None,
                gap_explanations=(GapReport.from_dict(raw["gap_explanations"], "gap_explanations")
                                  if raw.get("gap_explanations") else None),
                changes=AuditChanges.from_dict(raw["changes"], "changes") if raw.get("changes") else None,
            )
        except ConfigError:
            raise  # already names the field at fault
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ConfigError(f"The audit result is incomplete or malformed ({type(err).__name__}: {err}). "
                              "It may have been edited or truncated; re-run the audit.") from err

    @classmethod
    def from_json(cls, text: str) -> AuditResult:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"The audit result is not valid JSON: {err}.") from err
        return cls.from_dict(raw)

    @classmethod
    def load(cls, path: str | Path) -> AuditResult:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise ConfigError(f"The audit result {str(path)!r} does not exist. Check the path.") from err
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"The audit result {str(path)!r} cannot be read: {err}.") from err
        return cls.from_json(text)

    def _repr_html_(self) -> str:  # Jupyter shows the full report inline
        from reports import render_html

        return render_html(self)

    def figures(self) -> dict[str, Any]:
        """The report's charts as plotly Figures, keyed by what they show (for custom plots)."""
        from reports import figures

        return figures(self)

    def explore(self):
        """An ipywidgets explorer (breakdown, metric, group, example; for a language-model result, an attributed
        probe example and a generated token); needs ``pip install ipywidgets``."""
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            raise ConfigError("result.explore() needs ipywidgets: pip install 'audit-toolkit[notebook]'.") from None
        from reports import explorer_for

        return explorer_for(self)


_SECTIONS = {"title": str, "data": dict, "model": dict, "fairness": list, "attributions": list, "findings": list,
             "failures": list, "skipped": list, "provenance": dict, "config": dict}
_OPTIONAL = {"regulatory": dict, "gate": dict, "text": dict, "quality": dict, "decisions": list, "slices": dict,
             "mitigation": dict, "probes": dict, "gap_explanations": dict, "changes": dict}
_REQUIRED_DATA = {"n_rows": int, "label": str, "sensitive_features": list, "groups": dict}


def _check_shape(raw: dict[str, Any]) -> None:
    """The schema's outline (docs/result-schema.md): sections and the fields every renderer reads, with their
    types, so that an edited or foreign JSON is refused with the field's name instead of crashing later."""
    def refuse(where: str, expected: str, got: Any) -> ConfigError:
        return ConfigError(f"The audit result's {where!r} must be {expected}. Got {type(got).__name__} "
                           f"{str(got)[:60]!r} instead. It may have been edited; re-run the audit.")

    for name, kind in {**_SECTIONS, **_OPTIONAL}.items():
        if name not in raw:
            if name in _SECTIONS:
                raise ConfigError(f"The audit result lacks its {name!r} section. It may have been edited or "
                                  "truncated; re-run the audit.")
            continue
        if not isinstance(raw[name], kind):
            raise refuse(name, f"a {kind.__name__}", raw[name])
    for name, kind in (_REQUIRED_DATA.items() if raw["data"].get("kind") != "probes" else ()):
        value = raw["data"].get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise refuse(f"data.{name}", f"a {kind.__name__}", value)
    for index, table in enumerate(raw["fairness"]):
        if not isinstance(table, dict) or not isinstance(table.get("groups"), list):
            raise refuse(f"fairness.{index}", "a table with a list of groups", table)
        for g, group in enumerate(table["groups"]):
            if not isinstance(group, dict) or not isinstance(group.get("values"), dict) \
                    or not isinstance(group.get("n"), int):
                raise refuse(f"fairness.{index}.groups.{g}", "a group with n and values", group)
        for name in ("disparities", "disparities_reliable"):
            comparisons = table.get(name, {})
            if not isinstance(comparisons, dict):
                raise refuse(f"fairness.{index}.{name}", "an object of metric -> comparison", comparisons)
            for metric, comparison in comparisons.items():
                if not isinstance(comparison, dict):
                    raise refuse(f"fairness.{index}.{name}.{metric}", "an object (a comparison)", comparison)
        _check_bootstrap(table.get("bootstrap", {}), f"fairness.{index}.bootstrap", refuse)
    for name in ("findings", "failures", "skipped", "attributions"):
        for index, item in enumerate(raw[name]):
            if not isinstance(item, dict):
                raise refuse(f"{name}.{index}", "an object", item)


def _each(raw: dict[str, Any], section: str, build) -> list:
    """Each item of a list section built, an item that cannot be named in the error (``section.index``)."""
    items = []
    for index, item in enumerate(raw[section]):
        try:
            items.append(build(item))
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ConfigError(f"The audit result's '{section}.{index}' is malformed ({type(err).__name__}: {err}). "
                              "It may have been edited or truncated; re-run the audit.") from err
    return items


_BOOTSTRAP_FIELDS = {"n_boot": (int, "a whole number of resamples"), "level": (float, "a number in (0, 1)"),
                     "seed": (int, "a whole number"), "method": (str, "a string")}


def _check_bootstrap(bootstrap: Any, where: str, refuse) -> None:
    """The fields of a table's bootstrap record that the report and the diff format as numbers."""
    if not isinstance(bootstrap, dict):
        raise refuse(where, "an object", bootstrap)
    for name, (kind, expected) in _BOOTSTRAP_FIELDS.items():
        if name not in bootstrap or bootstrap[name] is None:
            continue
        value = bootstrap[name]
        numeric = kind is float and isinstance(value, (int, float)) and 0 < value < 1
        if isinstance(value, bool) or not (numeric or (kind is not float and isinstance(value, kind))):
            raise refuse(f"{where}.{name}", expected, value)


def _migrate_regulatory(raw: dict[str, Any]) -> dict[str, Any]:
    """Schema 1.0-1.2 four-fifths rows name the benchmark ``reference`` only; 1.3 adds ``benchmark``."""
    if not isinstance(raw, dict) or not isinstance(raw.get("four_fifths"), list):
        return raw
    entries = []
    for entry in raw["four_fifths"]:
        if isinstance(entry, dict) and isinstance(entry.get("rows"), list):
            rows = [{**row, "benchmark": row.get("benchmark", row.get("reference", False))}
                    if isinstance(row, dict) else row for row in entry["rows"]]
            entry = {**entry, "rows": rows}
        entries.append(entry)
    return {**raw, "four_fifths": entries}


def _table_from_dict(raw: dict[str, Any]) -> FairnessTable:
    return FairnessTable(
        sensitive_features=tuple(raw["sensitive_features"]),
        metrics=tuple(raw["metrics"]),
        groups=[GroupRow(**g) for g in raw["groups"]],
        overall=raw["overall"],
        disparities={k: Disparity(**d) for k, d in raw["disparities"].items()},
        min_group_size=raw["min_group_size"],
        disparities_reliable={k: Disparity(**d) for k, d in raw.get("disparities_reliable", {}).items()},
        summary=raw.get("summary", {}), overall_ci=raw.get("overall_ci", {}), bootstrap=raw.get("bootstrap", {}),
        weighted=raw.get("weighted", False),
    )
