"""The error tree of audit-toolkit, documented in one place.

Every error the toolkit raises on purpose derives from :class:`AuditError` and also from the builtin
that fits it, so ``except ValueError`` keeps working for callers who do not know our names::

    AuditError
    ├── ConfigError(ValueError)        a configuration value or file is wrong (unknown key, bad type, ...)
    ├── DataError(ValueError)          the data cannot be audited as asked (missing column, NaN group, ...)
    ├── ModelError(TypeError)          the model cannot be used (no predict method, unreadable file, ...)
    ├── CapabilityError(TypeError)     a component needs something the model lacks (gradients, a tree, ...)
    ├── UnknownComponentError(KeyError)a registry has no entry of that name (the message lists what exists)
    ├── OutputError(OSError)           an output cannot be written: the folder is unwritable or a file, the disk
    │                                  is full (nothing is half-written when it is raised)
    └── ResourceError(RuntimeError)    the environment failed: memory, a device, a cluster, no browser for the PDF

Messages say what was wrong, what was expected, what was got and how to fix it. The command line maps a
``ResourceError`` to exit code 4, every other ``AuditError`` to exit code 2 (bad input) and anything else to
exit code 3 (a bug). The tree lives in the bottom layer (explainers) so that every layer can raise it;
``audit`` re-exports it.
"""

from __future__ import annotations

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


class AuditError(Exception):
    """Base class of every error audit-toolkit raises on purpose."""


class ConfigError(AuditError, ValueError):
    """A configuration value or file is wrong."""


class DataError(AuditError, ValueError):
    """The data cannot be audited as asked."""


class ModelError(AuditError, TypeError):
    """The model cannot be loaded or called."""


class CapabilityError(AuditError, TypeError):
    """A component needs a capability (gradients, a tree model, ...) that the model lacks."""


class UnknownComponentError(AuditError, KeyError):
    """A registry has no component of the requested name."""

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class ResourceError(AuditError, RuntimeError):
    """The environment failed: out of memory or a device, an unreachable cluster, a missing browser."""


class OutputError(AuditError, OSError):
    """An output cannot be written: its folder is unwritable or names a file, the disk is full. Nothing is
    half-written when it is raised."""
