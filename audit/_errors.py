"""The error tree (defined in the bottom layer, explainers._errors, so that every layer can raise it)."""

from __future__ import annotations

from explainers._errors import (
    AuditError,
    CapabilityError,
    ConfigError,
    DataError,
    ModelError,
    OutputError,
    ResourceError,
    UnknownComponentError,
)

__all__ = [
    "AuditError",
    "CapabilityError",
    "ConfigError",
    "DataError",
    "ModelError",
    "OutputError",
    "ResourceError",
    "UnknownComponentError",
]
