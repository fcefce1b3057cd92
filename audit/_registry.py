"""The one registry class (defined in the bottom layer, explainers._registry)."""

from __future__ import annotations

from explainers._registry import Registry

__all__ = ["Registry"]
