"""Dossier templates (TOML data files: bundled, or a user's own) and filling them from an audit record."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from audit._errors import ConfigError
from audit.dossiers._jurisdictions import jurisdiction
from audit.dossiers._sources import SOURCES, Filled
from audit.result._dossier_sections import Dossier, DossierField, DossierSection, Evidence
from audit.result._provenance import now_iso, sha256_file, sha256_text
from audit.result._result import AuditResult

__all__ = ["TEMPLATES", "build_dossier", "load_template"]

TEMPLATES = (
    "eu-ai-act-annex-iv",
    "nyc-ll144",
    "colorado-sb26-189",
    "iso-42005",
    "eu-ai-act-art72",
    "pren-18283-bias-profile",
    "california-ads-employment",
)
_TEMPLATE_KEYS = {"id", "name", "law", "notice", "sections", "retention_years", "retention_basis", "jurisdiction"}
_SECTION_KEYS = {"title", "fields"}
_FIELD_KEYS = {"id", "label", "reference", "source", "needs"}


def load_template(name: str) -> tuple[dict[str, Any], str]:
    """A bundled template by name, or a TOML file by path; returns (the template, its sha256). Every field is
    checked here: a field names a known evidence source or says what a person must supply, or both."""
    if name in TEMPLATES:
        text = resources.files("audit").joinpath("dossiers", "templates", f"{name}.toml").read_text(encoding="utf-8")
        where = f"template {name!r}"
    else:
        path = Path(name)
        if path.suffix != ".toml" or not path.is_file():
            raise ConfigError(
                f"The '--template' option must be a bundled template ({', '.join(TEMPLATES)}) or a "
                f"TOML file. Got {name!r} instead."
            )
        text, where = path.read_text(encoding="utf-8"), f"template file {name!r}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"The {where} is not valid TOML: {err}.") from err
    _check(raw, where)
    return raw, sha256_text(text)


def _check(raw: dict, where: str) -> None:
    def unknown(table: dict, known: set, place: str) -> None:
        extra = sorted(set(table) - known)
        if extra:
            raise ConfigError(f"Unknown keys {extra} in {place} of the {where}. Known: {', '.join(sorted(known))}.")

    unknown(raw, _TEMPLATE_KEYS, "the top level")
    for key in ("id", "name", "law"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"The {where} must set {key!r} (a string).")
    years = raw.get("retention_years")
    if years is not None and (isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 100):
        raise ConfigError(f"The 'retention_years' of the {where} must be a whole number of years. Got {years!r}.")
    if years is not None and not isinstance(raw.get("retention_basis"), str):
        raise ConfigError(f"The {where} sets retention_years, so it must say why in 'retention_basis' (a string).")
    if raw.get("jurisdiction") is not None:
        jurisdiction(str(raw["jurisdiction"]))
    sections = raw.get("sections")
    if not isinstance(sections, list) or not sections:
        raise ConfigError(f"The {where} has no [[sections]].")
    seen = set()
    for s, section in enumerate(sections):
        unknown(section, _SECTION_KEYS, f"sections.{s}")
        if not isinstance(section.get("title"), str) or not isinstance(section.get("fields"), list):
            raise ConfigError(f"sections.{s} of the {where} needs a 'title' and [[sections.fields]].")
        for f, item in enumerate(section["fields"]):
            place = f"sections.{s}.fields.{f}"
            unknown(item, _FIELD_KEYS, place)
            for key in ("id", "label", "needs"):
                if not isinstance(item.get(key), str) or not item[key]:
                    raise ConfigError(
                        f"{place} of the {where} must set {key!r}: every field says what a person must "
                        "supply when the audit record cannot fill it."
                    )
            if item["id"] in seen:
                raise ConfigError(f"{place} of the {where} repeats the field id {item['id']!r}.")
            seen.add(item["id"])
            if "source" in item and item["source"] not in SOURCES:
                import difflib

                close = difflib.get_close_matches(str(item["source"]), SOURCES, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{place} of the {where} names the unknown source {item['source']!r}.{hint} Known "
                    f"sources: {', '.join(SOURCES)}."
                )


def _field(item: dict[str, Any], record: dict, *, missing_status: str = "needs human input") -> DossierField:
    outcome = SOURCES[item["source"]](record) if "source" in item else None
    if isinstance(outcome, Filled):
        return DossierField(
            item["id"],
            item["label"],
            item.get("reference", ""),
            "filled",
            outcome.text,
            outcome.evidence,
            outcome.columns,
            outcome.rows,
        )
    why = outcome.why if outcome is not None else ""
    return DossierField(item["id"], item["label"], item.get("reference", ""), missing_status, item["needs"], why=why)


def _retention(raw_template: dict[str, Any], record: dict) -> tuple[DossierSection, str | None]:
    """How long to keep the record, by the template's law: a date counted from the audit (the law may count from a
    later event, which the text says), or a field for a person when the law sets none."""
    years = raw_template.get("retention_years")
    if years is None:
        field = DossierField(
            "retention",
            "Keep the audit record and this dossier until",
            "",
            "needs human input",
            "This template's law sets no retention period here: set one by your records policy.",
        )
        return DossierSection("Retention", [field]), None
    finished = str(record["provenance"]["finished_at"])[:10]
    start = date.fromisoformat(finished)
    try:
        until = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        until = start.replace(year=start.year + years, day=28)
    field = DossierField(
        "retention",
        "Keep the audit record and this dossier until",
        raw_template["retention_basis"],
        "filled",
        f"At least until {until.isoformat()}: {years} years counted from the audit ({finished}). "
        f"{raw_template['retention_basis']}",
        [Evidence("/provenance/finished_at", "audit finished", record["provenance"]["finished_at"])],
    )
    return DossierSection("Retention", [field]), until.isoformat()


def _jurisdiction_section(name: str, record: dict) -> DossierSection:
    """One field per test the jurisdiction asks of a record: filled from the record, or marked missing (a required
    test: it makes `audit dossier` exit 1) or absent (an informative one)."""
    rules = jurisdiction(name)
    fields = []
    for k, requirement in enumerate(rules.requirements):
        kind = "required" if requirement.required else "informative"
        item = {
            "id": f"jurisdiction-{k + 1}",
            "label": f"{requirement.test} ({kind})",
            "reference": requirement.why,
            "source": requirement.source,
            "needs": f"{kind.capitalize()} under {rules.law}: {requirement.why}. The audit record does not carry it.",
        }
        fields.append(
            _field(
                item, record, missing_status="missing required test" if requirement.required else "needs human input"
            )
        )
    return DossierSection(f"Tests {rules.name} asks a record to carry ({rules.theory}; {rules.law})", fields)


def build_dossier(audit_path: str | Path, template: str, *, jurisdiction_name: str | None = None) -> Dossier:
    """Fill ``template`` from the audit record at ``audit_path`` (its exact bytes are hashed and read); with a
    jurisdiction (``jurisdiction_name``, else the template's own), add the tests it asks a record to carry."""

    raw_template, template_sha256 = load_template(template)
    path = Path(audit_path)
    result = AuditResult.load(path)  # refuses a file that is not an audit result
    record = json.loads(path.read_text(encoding="utf-8"))
    sections = [
        DossierSection(section["title"], [_field(item, record) for item in section["fields"]])
        for section in raw_template["sections"]
    ]
    chosen = jurisdiction_name or raw_template.get("jurisdiction")
    if chosen is not None:
        sections.append(_jurisdiction_section(str(chosen), record))
    retention, until = _retention(raw_template, record)
    sections.append(retention)
    return Dossier(
        template=raw_template["id"],
        template_name=raw_template["name"],
        law=raw_template["law"],
        template_sha256=template_sha256,
        audit_path=str(path),
        audit_sha256=sha256_file(path),
        audit_title=result.title,
        created=now_iso(),
        notice=raw_template.get("notice", ""),
        sections=sections,
        jurisdiction=None if chosen is None else str(chosen),
        retain_until=until,
    )
