"""Typed sections to and from JSON-ready dicts: one converter for every dataclass of the result.

Field types are read from the annotations, so a section's schema lives in one place (its dataclass), and the JSON
Schema (docs/audit.schema.json) is generated from the same annotations. A field made with ``optional()`` is left out
of the JSON when it is None (absent sections; keys only some rows carry, such as a direction row's ``source``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from typing import Any, Union

from audit._errors import ConfigError

__all__ = ["optional", "to_dict", "fields_to_dict", "from_dict", "plain_value"]

_OMIT_NONE = "omit_when_none"


def plain_value(value: Any) -> Any:
    """A data value as a person reads it and JSON holds it: NaN as None, numpy scalars as Python ones, whole floats as
    integers, anything else as its text."""
    import numpy as np

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def optional(*, default: Any = None) -> Any:
    """A field that is absent from the JSON when None (and None when absent)."""
    return dataclasses.field(default=default, metadata={_OMIT_NONE: True})


def _clean(value: Any) -> Any:
    """JSON-safe: tuples to lists, numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_dict(value: Any) -> Any:
    """A dataclass (or a list or dict of them) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "__json__"):  # a section whose JSON layout is not one key per field
            return value.__json__()
        return fields_to_dict(value)
    if isinstance(value, dict):
        return {str(k): to_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dict(v) for v in value]
    return _clean(value)


def fields_to_dict(value: Any) -> dict[str, Any]:
    """One key per field (``optional()`` fields left out when None)."""
    out = {}
    for item in dataclasses.fields(value):
        field_value = getattr(value, item.name)
        if field_value is None and item.metadata.get(_OMIT_NONE):
            continue
        out[item.name] = to_dict(field_value)
    return out


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(cls: type, raw: Any, where: str) -> Any:
    """Build ``cls`` from ``raw``, checking every field's type; ``where`` names the place in errors ("" for the
    result itself)."""
    if not isinstance(raw, dict):
        raise _refuse(where, "an object", raw)
    known = {item.name: item for item in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(known))
    place = f"The audit result's {where!r}" if where else "The audit result"
    if unknown:
        raise ConfigError(
            f"{place} has fields this version does not know: {unknown}. "
            f"Expected only {sorted(known)}. It may have been edited or written by a newer version."
        )
    hints = _hints(cls)
    values = {}
    for name, item in known.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], _join(where, name))
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            what = f"its {name!r} section" if not where else repr(name)
            raise ConfigError(f"{place} lacks {what}. It may have been edited or truncated; re-run the audit.")
    return cls(**values)


def _join(where: str, name: Any) -> str:
    return f"{where}.{name}" if where else str(name)


def _convert(kind: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _refuse(where, " or ".join(a.__name__ for a in args), value)
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, where)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return from_dict(kind, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise _refuse(where, "a list", value)
        return [_convert(args[0], v, _join(where, i)) for i, v in enumerate(value)]
    if origin is tuple:  # tuple[X, ...] in Python, a list in JSON
        if not isinstance(value, list):
            raise _refuse(where, "a list", value)
        return tuple(_convert(args[0], v, _join(where, i)) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _refuse(where, "an object", value)
        return {k: _convert(args[1], v, _join(where, k)) for k, v in value.items()}
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _refuse(where, "a number", value)
    if kind in (int, str, bool):
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            return value
        raise _refuse(where, {int: "a whole number", str: "a string", bool: "true or false"}[kind], value)
    raise TypeError(f"no conversion for {kind!r} at {where}")  # a programming error in a section's annotations


def _refuse(where: str, expected: str, got: Any) -> ConfigError:
    return ConfigError(
        f"The audit result's {where!r} must be {expected}. Got {type(got).__name__} "
        f"{str(got)[:60]!r} instead. It may have been edited; re-run the audit."
    )
