"""The one serialisable audit result. Reports and the gate read only this; see docs/result-schema.md."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from audit._errors import ConfigError
from audit.fairness._types import FairnessTable, RankedDisparity, largest_disparities
from audit.ranking._types import RankingTable
from audit.result._monitor_sections import MonitoringSummary
from audit.result._recourse_sections import RecourseAudit
from audit.result._swap_sections import SwapAudit
from audit.result._change_sections import AuditChanges
from audit.result._gap_sections import GapReport
from audit.result._sections import (
    Decision,
    MitigationReport,
    ProbeReport,
    Provenance,
    QualityReport,
    Regulatory,
    SliceReport,
    TextAudit,
)
from audit.result._records import DataRecord, GateResult, ModelRecord
from audit.result._serde import from_dict, optional, to_dict
from audit.result._upgrade import upgrade_from_1x

__all__ = ["AuditResult", "AttributionSummary", "Failure", "Finding", "Skipped", "SCHEMA_VERSION"]

SCHEMA_VERSION = "2.8"  # the compatibility promise is in docs/result-schema.md: 2.x only adds optional fields;
# 1.0-1.8 files load through audit.result._upgrade


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
    """Everything an audit found, independent of the model: it renders and gates without it.

    Schema 2.0 (docs/result-schema.md, docs/audit.schema.json): every section typed; absent sections are None in
    Python and left out of the JSON. Files of schema 1.x load through one converter (``upgraded_from`` names
    their version)."""

    title: str
    data: DataRecord
    model: ModelRecord
    fairness: list[FairnessTable]
    attributions: list[AttributionSummary]
    findings: list[Finding]
    failures: list[Failure]
    skipped: list[Skipped]
    provenance: Provenance
    config: dict[str, Any]  # the settings as run: AuditConfig.to_dict(); AuditConfig.from_dict rebuilds them
    regulatory: Regulatory = field(default_factory=Regulatory)  # four-fifths (per table), LL144
    decisions: list[Decision] = field(default_factory=list)  # every automatic choice the audit made
    schema_version: str = SCHEMA_VERSION
    gate: GateResult | None = optional()  # the policy verdict, when `audit check` ran
    text: TextAudit | None = optional()  # text-model bias audit (counterfactuals, probes, ...)
    quality: QualityReport | None = optional()  # explanation quality: faithfulness, sanity, agreement
    slices: SliceReport | None = optional()  # worst-slice discovery
    mitigation: MitigationReport | None = optional()  # what fixing a gap would cost
    probes: ProbeReport | None = optional()  # bias probes of a generative language model
    gap_explanations: GapReport | None = optional()  # which inputs carry each gap
    changes: AuditChanges | None = optional()  # since a baseline audit (`audit run --baseline`)
    ranking: list[RankingTable] | None = optional()  # 2.5: who is seen at the top of ranked lists ([ranking])
    swaps: SwapAudit | None = optional()  # 2.6: paired swaps of a scorer or a pairwise judge ([swaps])
    monitoring: MonitoringSummary | None = optional()  # 2.7: a store's monitored streams (audit check --store)
    recourse: RecourseAudit | None = optional()  # 2.8: what would change each unfavourable decision ([recourse])
    upgraded_from: str | None = optional()  # the schema version of the file this was loaded from, when older

    def largest_disparities(self) -> list[RankedDisparity]:
        """Every table's worst group against its benchmark, per metric, smallest ratio first (groups with enough
        rows for the metric): the ranking the CLI, the report and its charts show."""
        return largest_disparities(self.fairness)

    def to_dict(self) -> dict[str, Any]:
        return cast(dict[str, Any], to_dict(self))

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditResult:
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if version is None:
            raise ConfigError(
                "This JSON is not an audit result: it has no 'schema_version'. "
                "Pass the audit.json that `audit run` or `audit demo` wrote."
            )
        major = str(version).split(".")[0]
        if major == "1":
            raw = upgrade_from_1x(raw)
        elif major != SCHEMA_VERSION.split(".")[0]:
            raise ConfigError(
                f"The audit result has schema_version {version!r}; this audit-toolkit reads "
                f"{SCHEMA_VERSION.split('.')[0]}.x (and converts 1.x). Re-run the audit with this "
                "version, or read it with the version that wrote it."
            )
        elif str(version) != SCHEMA_VERSION and _newer(str(version)):
            raise ConfigError(
                f"The audit result has schema_version {version!r}, newer than this audit-toolkit's "
                f"{SCHEMA_VERSION}: upgrade audit-toolkit to read it."
            )
        if str(raw["schema_version"]) != SCHEMA_VERSION:  # an older 2.x (or a converted 1.x) is a valid 2.current
            raw = {**raw, "upgraded_from": raw.get("upgraded_from") or str(version), "schema_version": SCHEMA_VERSION}
        return cast(AuditResult, from_dict(cls, raw, ""))

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

    def explore(self) -> Any:
        """An ipywidgets explorer (breakdown, metric, group, example; for a language-model result, an attributed
        probe example and a generated token); needs ``pip install ipywidgets``."""
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            raise ConfigError("result.explore() needs ipywidgets: pip install 'audit-toolkit[notebook]'.") from None
        from reports import explorer_for

        return explorer_for(self)


def _newer(version: str) -> bool:
    """Whether a 2.x version is newer than this one (2.10 > 2.9)."""
    try:
        return tuple(int(p) for p in version.split(".")) > tuple(int(p) for p in SCHEMA_VERSION.split("."))
    except ValueError:
        return True
