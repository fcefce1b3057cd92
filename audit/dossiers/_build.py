"""Dossier templates (TOML data files: bundled, or a user's own) and filling them from an audit record."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from audit._errors import ConfigError
from audit.dossiers._sources import SOURCES, Filled
from audit.result._dossier_sections import Dossier, DossierField, DossierSection
from audit.result._provenance import now_iso, sha256_file, sha256_text
from audit.result._result import AuditResult

__all__ = ["TEMPLATES", "build_dossier", "load_template"]

TEMPLATES = ("eu-ai-act-annex-iv", "nyc-ll144", "colorado-sb26-189", "iso-42005", "eu-ai-act-art72")
_TEMPLATE_KEYS = {"id", "name", "law", "notice", "sections"}
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


def build_dossier(audit_path: str | Path, template: str) -> Dossier:
    """Fill ``template`` from the audit record at ``audit_path`` (its exact bytes are hashed and read)."""

    raw_template, template_sha256 = load_template(template)
    path = Path(audit_path)
    result = AuditResult.load(path)  # refuses a file that is not an audit result
    record = json.loads(path.read_text(encoding="utf-8"))
    sections = []
    for section in raw_template["sections"]:
        fields = []
        for item in section["fields"]:
            outcome = SOURCES[item["source"]](record) if "source" in item else None
            if isinstance(outcome, Filled):
                fields.append(
                    DossierField(
                        item["id"],
                        item["label"],
                        item.get("reference", ""),
                        "filled",
                        outcome.text,
                        outcome.evidence,
                        outcome.columns,
                        outcome.rows,
                    )
                )
            else:
                why = outcome.why if outcome is not None else ""
                fields.append(
                    DossierField(
                        item["id"],
                        item["label"],
                        item.get("reference", ""),
                        "needs human input",
                        item["needs"],
                        why=why,
                    )
                )
        sections.append(DossierSection(section["title"], fields))
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
    )
