"""One explicit registry class, used for every extension point (explainers, adapters, ...).

Entries are registered by name, as an object or as a ``"module:attribute"`` string that is imported on
first use, so that registering the torch-based backends does not import torch.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Generic, TypeVar

from explainers._errors import ConfigError, UnknownComponentError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of components. Duplicates raise; unknown names list what exists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str, component: T | str, *, overwrite: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"A {self.kind} name must be a non-empty string. Got {name!r} instead.")
        if name in self._entries and not overwrite:
            raise ConfigError(
                f"A {self.kind} named {name!r} is already registered. "
                "Pass overwrite=True to replace it, or choose another name."
            )
        self._entries[name] = component

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UnknownComponentError(self._unknown_message(name))
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = _import_dotted(entry)
            self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def _unknown_message(self, name: str) -> str:
        known = ", ".join(self.names()) or "(none)"
        close = difflib.get_close_matches(str(name), self.names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}."


def _import_dotted(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)
