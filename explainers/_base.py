"""The ``Explainer`` interface every attribution backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import pandas as pd

from audit._errors import CapabilityError
from explainers._types import Attribution

if TYPE_CHECKING:
    from audit._models import ModelAdapter

__all__ = ["Explainer"]


class Explainer(ABC):
    """Computes attributions for rows of a tabular model.

    ``requires`` names the adapter capabilities the method needs; :meth:`check` refuses a model that
    lacks one with a :class:`CapabilityError` that says which.
    """

    name: str = "explainer"
    granularity: str = "feature"  # "feature": tabular rows; "token": texts (explain_texts)
    requires: frozenset[str] = frozenset()

    def __init__(self, *, background_size: int = 100, seed: int = 0, **settings: Any) -> None:
        self.background_size = background_size
        self.seed = seed
        self.settings = settings

    def check(self, adapter: ModelAdapter) -> None:
        missing = self.requires - set(adapter.capabilities)
        if missing:
            raise CapabilityError(f"The {self.name!r} explainer needs {sorted(missing)} but the {adapter.kind} "
                                  f"model offers only {sorted(adapter.capabilities)}.")

    @abstractmethod
    def explain(self, adapter: ModelAdapter, rows: pd.DataFrame, *, background: pd.DataFrame,
                row_ids) -> Attribution:
        """Attribute the adapter's score for each of ``rows`` to its features."""
