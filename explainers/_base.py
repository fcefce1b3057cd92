"""The ``Explainer`` interface every attribution backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import pandas as pd

from explainers._errors import CapabilityError
from explainers._types import Attribution

if TYPE_CHECKING:
    from explainers._protocols import ScoredModel as ModelAdapter

__all__ = ["Explainer", "row_seed"]


def row_seed(seed: int, row_id) -> int:
    """A random seed for one row, derived from (seed, row id): sampling explainers draw each row's samples from
    its own stream, so their values do not depend on how rows are split over workers or shards."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(row_id)]).generate_state(1)[0])


class Explainer(ABC):
    """Computes attributions for rows of a tabular model.

    ``requires`` names the adapter capabilities the method needs; :meth:`check` refuses a model that
    lacks one with a :class:`CapabilityError` that says which.
    """

    name: str = "explainer"
    granularity: str = "feature"  # "feature": tabular rows; "token": texts (explain_texts)
    requires: frozenset[str] = frozenset()
    settings_allowed: frozenset[str] = frozenset()  # method-specific settings (get_explainer refuses others)

    def __init__(self, *, background_size: int = 100, seed: int = 0, **settings: Any) -> None:
        unknown = sorted(set(settings) - set(self.settings_allowed))
        if unknown:
            from explainers._errors import ConfigError

            raise ConfigError(f"Unknown setting {unknown[0]!r} for the {self.name!r} explainer. Known settings: "
                              f"{', '.join(sorted(self.settings_allowed)) or '(none)'}.")
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
