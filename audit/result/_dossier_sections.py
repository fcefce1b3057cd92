"""A compliance dossier built from an audit record (``audit dossier``): typed, serialisable, verifiable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from audit._errors import ConfigError
from audit.result._sections import _Section

__all__ = ["DOSSIER_VERSION", "Dossier", "DossierField", "DossierSection", "Evidence"]

DOSSIER_VERSION = "1"
Interval = list[float]


@dataclass(frozen=True)
class Evidence(_Section):
    """One value of the audit record: ``pointer`` (RFC 6901) into audit.json, what it is, the value there, and the
    interval beside it where the record has one (``interval_pointer``)."""

    pointer: str
    label: str
    value: Any
    interval: Interval | None = None
    interval_pointer: str | None = None


@dataclass(frozen=True)
class DossierField(_Section):
    """``status`` "filled" (``text`` states what the record shows, ``evidence`` links every value) or "needs human
    input" (``text`` says what is needed, ``why`` why the record could not fill it)."""

    id: str
    label: str
    reference: str
    status: str
    text: str
    evidence: list[Evidence] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    why: str = ""


@dataclass(frozen=True)
class DossierSection(_Section):
    title: str
    fields: list[DossierField]


@dataclass(frozen=True)
class Dossier(_Section):
    """Every field of a template, filled from one audit record (named by path and sha256) or marked for a person."""

    template: str
    template_name: str
    law: str
    template_sha256: str
    audit_path: str
    audit_sha256: str
    audit_title: str
    created: str
    notice: str
    sections: list[DossierSection]
    dossier_version: str = DOSSIER_VERSION
    files_sha256: dict[str, str] = field(default_factory=dict)  # the rendered HTML / Markdown, as written
    jurisdiction: str | None = None  # whose required tests the dossier checked (its own section lists them)
    retain_until: str | None = None  # keep the record and the dossier at least until this date (the template's law)

    @property
    def missing_required(self) -> list[DossierField]:
        """The jurisdiction's required tests the audit record does not carry."""
        return [f for f in self.fields() if f.status == "missing required test"]

    def fields(self) -> list[DossierField]:
        return [f for section in self.sections for f in section.fields]

    @property
    def counts(self) -> dict[str, int]:
        fields = self.fields()
        return {
            "filled": sum(f.status == "filled" for f in fields),
            "needs human input": sum(f.status != "filled" for f in fields),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "dossier.json") -> Dossier:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{source!r} is not JSON: {err}.") from err
        if not isinstance(raw, dict) or "dossier_version" not in raw:
            raise ConfigError(
                f"{source!r} is not a dossier: it has no 'dossier_version'. Pass the dossier.json "
                "that `audit dossier` wrote."
            )
        try:
            return cls.from_dict(raw, "dossier")
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(
                f"The dossier {source!r} is incomplete or malformed ({type(err).__name__}: {err})."
            ) from err
