"""The JSON Schema of ``audit.json`` (draft 2020-12), generated from the result's dataclasses.

The annotations that ``audit.result._serde`` loads with are the only description of the schema: this module reads
the same ones, so docs/audit.schema.json cannot drift from the loader (tests/test_schema.py regenerates and
compares it, and validates every result the suite writes against it).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any, Union

__all__ = ["result_schema"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_PRIMITIVES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def result_schema() -> dict[str, Any]:
    """The JSON Schema every ``audit.json`` of this schema version satisfies."""
    from audit.result._result import SCHEMA_VERSION, AuditResult

    definitions: dict[str, Any] = {}
    root = _object_schema(AuditResult, definitions)
    major = SCHEMA_VERSION.split(".")[0]
    root["properties"]["schema_version"] = {
        "type": "string",
        "pattern": rf"^{major}\.[0-9]+$",
        "description": f"{major}.x; this version writes {SCHEMA_VERSION}",
    }
    named = dict(sorted((k, v) for k, v in definitions.items() if k != "__owners__"))
    return {
        "$schema": _DIALECT,
        "$id": f"https://audit-toolkit.invalid/schema/audit-{major}.json",
        "title": "audit-toolkit audit result",
        **root,
        "$defs": named,
    }


def _object_schema(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for item in dataclasses.fields(cls):
        properties[item.name] = _schema(hints[item.name], definitions)
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            required.append(item.name)
    out: dict[str, Any] = {"type": "object"}
    doc = inspect.getdoc(cls)
    if doc and not doc.startswith(f"{cls.__name__}("):  # dataclasses invent a signature for undocumented classes
        out["description"] = doc.split("\n\n")[0].replace("\n", " ")
    out.update(properties=properties, required=required, additionalProperties=False)
    return out


def _schema(kind: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return {}
    if kind is type(None):
        return {"type": "null"}
    if kind in _PRIMITIVES:
        return {"type": _PRIMITIVES[kind]}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(a, definitions) for a in args]}
    if origin in (list, tuple):
        return {"type": "array", "items": _schema(args[0], definitions)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(args[1], definitions)}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        name = kind.__name__
        owner = definitions.setdefault("__owners__", {}).setdefault(name, kind)
        if owner is not kind:
            raise TypeError(f"two result types are named {name}")  # a programming error: names must be unique
        if name not in definitions:
            definitions[name] = {}  # a placeholder first: a type that contains itself still terminates
            definitions[name] = _object_schema(kind, definitions)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {kind!r}")  # a programming error in a section's annotations
