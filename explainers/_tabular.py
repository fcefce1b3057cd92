"""Tabular plumbing shared by the shap backends: a lossless integer codec for mixed-type frames, and the
map from a scikit-learn pipeline's transformed columns back to the columns the user knows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from explainers._errors import CapabilityError, DataError

__all__ = ["TabularCodec", "input_column_map", "split_pipeline", "dense"]


def dense(matrix: Any) -> np.ndarray:
    """A transformer's output as a dense float array (a sparse OneHotEncoder's output included)."""
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype=float)


class TabularCodec:
    """Encodes each column as integer codes over its distinct values (NaN included) and back.

    shap's maskers mix rows arithmetically (``x * mask + background * ~mask``), which strings and NaN do
    not survive; codes do, and decoding restores the original values and dtypes exactly.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = frame.dtypes.to_dict()
        self._uniques = {c: pd.unique(frame[c].to_numpy()) for c in self.columns}

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        codes = np.empty((len(frame), len(self.columns)), dtype=np.int64)
        for j, column in enumerate(self.columns):
            index = pd.Index(self._uniques[column])
            found = index.get_indexer(frame[column].to_numpy())
            if (found < 0).any():
                raise DataError(
                    f"Column {column!r} holds a value the codec has not seen; build the codec on "
                    "all rows that will be encoded."
                )
            codes[:, j] = found
        return codes

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        codes = np.asarray(codes).astype(np.int64)
        data = {c: self._uniques[c][codes[:, j]] for j, c in enumerate(self.columns)}
        frame = pd.DataFrame(data)
        return frame.astype(self.dtypes)


def split_pipeline(model: Any) -> tuple[Any | None, Any]:
    """(preprocessing, final estimator) of a scikit-learn Pipeline, or (None, model)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) >= 1 and hasattr(model, "__getitem__"):
        return (model[:-1] if len(steps) > 1 else None), model[-1]
    return None, model


def _shift_to_next_value(values: pd.Series) -> pd.Series:
    """Replace each value by the next distinct value (cyclically), so that every row changes."""
    distinct = pd.unique(values.dropna().to_numpy())
    if len(distinct) < 2:
        return values
    order = {v: distinct[(i + 1) % len(distinct)] for i, v in enumerate(distinct)}
    shifted = values.map(lambda v: order.get(v, distinct[0]) if pd.notna(v) else distinct[0])
    return shifted.astype(values.dtype)


def input_column_map(preprocess: Any, frame: pd.DataFrame) -> list[str]:
    """For each column the preprocessing outputs, the input column it is computed from.

    Found by probing: shift one input column to other values it takes and see which outputs move. An
    output that moves with two inputs (an interaction) cannot be attributed to one, and is refused.
    Outputs that never move on these rows (a one-hot column of an absent category) fall back to the
    input whose name prefixes the output's name.
    """
    base = dense(preprocess.transform(frame))
    n_out = base.shape[1]
    owner: list[str | None] = [None] * n_out
    columns = list(frame.columns)
    # the probes of several columns stacked into one transform call (a pipeline's per-call overhead dominates for
    # a few thousand rows), at most about 100,000 rows a call
    per_call = max(1, 100_000 // max(len(frame), 1))
    for first in range(0, len(columns), per_call):
        probed = columns[first : first + per_call]
        probes = []
        for column in probed:
            probe = frame.copy()
            probe[column] = _shift_to_next_value(frame[column])
            probes.append(probe)
        moved_all = dense(preprocess.transform(pd.concat(probes, ignore_index=True)))
        for index, column in enumerate(probed):
            moved = moved_all[index * len(frame) : (index + 1) * len(frame)]
            changed = ~np.all(np.isclose(moved, base, equal_nan=True), axis=0)
            _claim(owner, changed, column)
    if any(o is None for o in owner):
        names = _output_names(preprocess, n_out)
        for k, name in enumerate(names):
            if owner[k] is None:
                bare = name.split("__", 1)[-1]
                candidates = [c for c in frame.columns if bare == c or bare.startswith(f"{c}_")]
                if len(candidates) != 1:
                    raise CapabilityError(f"Transformed column {name!r} could not be traced to one input column.")
                owner[k] = candidates[0]
    return [str(o) for o in owner]


def _claim(owner: list, changed: np.ndarray, column: str) -> None:
    for k in np.flatnonzero(changed):
        if owner[k] is not None and owner[k] != column:
            raise CapabilityError(
                f"Transformed column {k} depends on both {owner[k]!r} and {column!r}, so its "
                "attribution cannot be given to one input column."
            )
        owner[k] = column


def _output_names(preprocess: Any, n_out: int) -> list[str]:
    try:
        return [str(n) for n in preprocess.get_feature_names_out()]
    except Exception:  # many transformers cannot name their outputs
        return [f"x{k}" for k in range(n_out)]
