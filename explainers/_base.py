"""The ``Explainer`` interface every attribution backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from explainers._errors import CapabilityError
from explainers._types import Attribution

if TYPE_CHECKING:
    from explainers._protocols import ScoredModel as ModelAdapter
    from explainers._text_model import TextClassifier

__all__ = ["Explainer", "TextExplainer", "row_seed"]


def row_seed(seed: int, row_id: int) -> int:
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

            raise ConfigError(
                f"Unknown setting {unknown[0]!r} for the {self.name!r} explainer. Known settings: "
                f"{', '.join(sorted(self.settings_allowed)) or '(none)'}."
            )
        self.background_size = background_size
        self.seed = seed
        self.settings = settings

    def check(self, adapter: ModelAdapter) -> None:
        missing = self.requires - set(adapter.capabilities)
        if missing:
            raise CapabilityError(
                f"The {self.name!r} explainer needs {sorted(missing)} but the {adapter.kind} "
                f"model offers only {sorted(adapter.capabilities)}."
            )

    @abstractmethod
    def explain(
        self, adapter: ModelAdapter, rows: pd.DataFrame, *, background: pd.DataFrame, row_ids: Sequence[Any]
    ) -> Attribution:
        """Attribute the adapter's score for each of ``rows`` to its features."""


class TextExplainer(ABC):
    """Computes token attributions for texts scored by a :class:`TextClassifier` (the one interface of the text
    methods: ``layer_integrated_gradients``, ``shap_partition_text``, ``lime_text``).

    ``explain_texts`` returns one :class:`Attribution` with ``granularity == "token"``: per text its tokens, their
    values and the attributed output, rows padded to the longest text. Settings are keyword arguments of the
    constructor, checked there; ``requires`` names what the classifier must offer (``tokens``, ``gradients``,
    ``embeddings``)."""

    name: str = "text explainer"
    granularity: str = "token"
    requires: frozenset[str] = frozenset({"tokens"})

    @abstractmethod
    def explain_texts(self, classifier: TextClassifier, texts: Any) -> Attribution:
        """Token attributions for ``texts`` (a sequence of strings) on ``classifier``."""
