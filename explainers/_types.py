"""The one result type of every explainer: per-example attributions with the shape of the inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from explainers._errors import DataError

__all__ = ["Attribution", "pad_rows"]


def pad_rows(rows: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged per-text values as a (texts, longest) matrix and its mask: the shape token attributions take."""
    width = max((len(row) for row in rows), default=0)
    values = np.zeros((len(rows), width))
    mask = np.zeros((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        values[i, : len(row)], mask[i, : len(row)] = row, True
    return values, mask


@dataclass(frozen=True)
class Attribution:
    """Attributions of one method for a set of rows.

    ``values[i, j]`` is feature ``j``'s contribution to ``outputs[i]`` relative to ``base_values[i]``, in
    ``output_space`` units (``"probability"``, ``"log-odds"`` or ``"decision"``). For additive methods
    ``base_values + values.sum(1)`` should equal ``outputs``; ``completeness_error`` is that gap per row,
    the built-in quality check.
    """

    method: str
    granularity: str  # "feature" (tabular) or "token" (text)
    feature_names: list[str]
    values: np.ndarray  # (n_rows, n_features), float
    base_values: np.ndarray  # (n_rows,)
    outputs: np.ndarray  # (n_rows,) the model output explained
    output_space: str
    row_ids: np.ndarray  # (n_rows,) ids of the explained rows in the dataset
    completeness_error: np.ndarray | None = None  # (n_rows,) |base + sum - output|
    meta: dict[str, Any] = field(default_factory=dict)
    # text only: values are (n_rows, longest kept sequence); special tokens and padding are left out
    tokens: list[list[str]] | None = None
    token_mask: np.ndarray | None = None  # (n_rows, longest) True where a token is
    words: list[list[str]] | None = None  # word pieces merged into words
    word_values: list[list[float]] | None = None
    targets: np.ndarray | None = None  # the class explained, per row

    def __post_init__(self) -> None:
        n, d = len(self.row_ids), len(self.feature_names)
        if self.granularity == "token":
            if self.tokens is None or self.token_mask is None or self.values.shape != self.token_mask.shape:
                raise DataError("Token attributions need tokens and a token_mask of the same shape as values.")
            return
        if self.values.shape != (n, d):
            raise DataError(
                f"Attribution values must have shape (n_rows, n_features) = {(n, d)}. Got {self.values.shape} instead."
            )

    def global_importance(self) -> dict[str, float]:
        """Mean absolute attribution per feature."""
        return dict(zip(self.feature_names, np.abs(self.values).mean(axis=0).tolist()))

    def mean_attribution(self) -> dict[str, float]:
        """Mean signed attribution per feature (which way a feature pushes on average)."""
        return dict(zip(self.feature_names, self.values.mean(axis=0).tolist()))

    def by_group(self, groups: np.ndarray) -> dict[str, dict[str, float]]:
        """Mean absolute attribution per feature within each group (``groups`` aligned with the rows)."""
        groups = np.asarray(groups)
        result = {}
        for group in sorted(set(groups.tolist()), key=str):
            mask = groups == group
            result[str(group)] = dict(zip(self.feature_names, np.abs(self.values[mask]).mean(axis=0).tolist()))
        return result

    def reliance(self, features: list[str]) -> float:
        """Share of the total absolute attribution that falls on ``features``."""
        total = np.abs(self.values).sum()
        if total == 0:
            return 0.0
        columns = [self.feature_names.index(f) for f in features if f in self.feature_names]
        return float(np.abs(self.values[:, columns]).sum() / total)
