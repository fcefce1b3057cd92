"""What a dossier field is made of: a statement with the evidence it read (each value linked by a JSON pointer into
the audit record, so that it can be checked again later), or why the record cannot say."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit._errors import ConfigError
from audit.result._dossier_sections import Evidence

__all__ = ["ABSENT", "Collector", "Filled", "Missing", "pointer", "resolve", "number", "interval"]


@dataclass(frozen=True)
class Filled:
    text: str
    evidence: list[Evidence]
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Missing:
    why: str


def _escape(part: str) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(*parts: Any) -> str:
    return "".join(f"/{_escape(p)}" for p in parts)


ABSENT = object()  # what resolve() gives where the record has nothing


def resolve(record: Any, where: str) -> Any:
    """The value at RFC 6901 pointer ``where``, or ``ABSENT`` when the record has nothing there."""
    value = record
    for raw in where.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            if not part.isdigit() or int(part) >= len(value):
                return ABSENT
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return ABSENT
    return value


class Collector:
    """Evidence gathered while a statement is written: each value read through it is linked."""

    def __init__(self, record: dict) -> None:
        self.record, self.evidence = record, []

    def get(self, label: str, *parts: Any, interval: tuple | None = None) -> Any:
        where = pointer(*parts)
        value = resolve(self.record, where)
        if value is ABSENT:
            raise ConfigError(
                f"The audit record has no {label} (at {where}). It may have been edited or written by "
                "another version; re-run the audit."
            )
        ci, ci_where = None, None
        if interval is not None:
            ci_where = pointer(*interval)
            ci = resolve(self.record, ci_where)
        self.evidence.append(
            Evidence(
                where, label, value, ci if isinstance(ci, list) else None, ci_where if isinstance(ci, list) else None
            )
        )
        return value


def number(value: Any, digits: int = 3) -> str:
    return "undefined" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def interval(value: Any) -> str:
    return f" [{value[0]:.3f}, {value[1]:.3f}]" if isinstance(value, list) and None not in value else ""
