"""The model protocols explainers need: what an adapter (``audit``'s, or your own) must offer. Explainers reach
models only through these public members, never through an adapter's private ones."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = ["ScoredModel", "TensorModel"]


class ScoredModel(Protocol):
    """A tabular model with a real-valued score per row (a probability or a decision value)."""

    kind: str  # "sklearn", "torch", "callable", ...
    capabilities: frozenset[str]  # "scores", "proba", "gradients", ...
    model: Any  # the wrapped estimator or module
    device: str
    positive_index: int | None  # the positive class's column in predict_proba (scikit-learn), when known

    @property
    def score_kind(self) -> str | None: ...

    def score(self, features: pd.DataFrame) -> np.ndarray: ...


class TensorModel(ScoredModel, Protocol):
    """A torch model on its own device, fed the float tensor of a frame of numeric features."""

    def tensor(self, features: pd.DataFrame) -> Any: ...
