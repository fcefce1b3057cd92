"""Rows to per-group confusion counts: checking inputs, encoding groups, one bincount."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit._errors import DataError
from audit.fairness._types import CELLS


def as_binary(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    if array.dtype.kind in "iuf":
        bad = ~np.isin(array, (0, 1))
        if not bad.any():
            return array.astype(bool)
        example = array[bad][0].item()
    else:
        example = array[0] if len(array) else None
    raise DataError(
        f"The '{name}' parameter of group_metrics must hold binary values (0/1 or True/False). "
        f"Got {example!r} instead. Map the positive class to 1 (or True) first."
    )


def as_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=float)
    if weights.shape != (n,):
        raise DataError(f"sample_weight must have one value per row ({n}). Got shape {weights.shape} instead.")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        bad = float(weights[~np.isfinite(weights) | (weights < 0)][0])
        raise DataError(f"sample_weight must be finite and non-negative. Got {bad!r} instead.")
    return weights


def check_rows(
    y_true: np.ndarray, y_pred: np.ndarray, sensitive: Any, sample_weight: Any
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The checks every group-metric entry point shares; returns (sensitive as a DataFrame, weights or None)."""
    if not isinstance(sensitive, pd.DataFrame):
        sensitive = pd.DataFrame(sensitive)
    if not (len(y_true) == len(y_pred) == len(sensitive)):
        raise DataError(
            f"y_true, y_pred and sensitive must have the same length. "
            f"Got {len(y_true)}, {len(y_pred)} and {len(sensitive)} instead."
        )
    if len(y_true) == 0:
        raise DataError("Cannot compute group metrics on empty data. Got 0 rows.")
    return sensitive, as_weights(sample_weight, len(y_true))


def encode_groups(sensitive: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Integer group codes (sorted by key) and the keys, in O(n) without building strings per row."""
    if sensitive.shape[1] == 0:
        raise DataError("At least one sensitive feature is needed to form groups.")
    column_codes, column_values = [], []
    for name in sensitive.columns:
        codes, uniques = pd.factorize(sensitive[name], sort=True)
        if (codes < 0).any():
            raise DataError(
                f"The sensitive feature {name!r} has {int((codes < 0).sum())} missing values. Map them "
                'to a group first (data.missing_sensitive = "group") or drop those rows.'
            )
        column_codes.append(codes.astype(np.int64))
        column_values.append([str(v) for v in uniques])
    sizes = [len(v) for v in column_values]
    combined = np.ravel_multi_index(column_codes, sizes) if len(sizes) > 1 else column_codes[0]
    cells = int(np.prod(sizes))
    if cells <= 50_000_000:
        present = np.flatnonzero(np.bincount(combined, minlength=cells))
        remap = np.full(cells, -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        codes = remap[combined]
    else:
        present, codes = np.unique(combined, return_inverse=True)
    keys = [tuple(column_values[j][i] for j, i in enumerate(np.unravel_index(p, sizes))) for p in present]
    return codes, keys


def groups_with_reference(
    sensitive: pd.DataFrame, reference: str | None
) -> tuple[np.ndarray, list[tuple[Any, ...]], list[str]]:
    codes, keys = encode_groups(sensitive)
    columns = [str(c) for c in sensitive.columns]
    if reference is not None:
        names = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in keys]
        if reference not in names:
            raise DataError(f"The reference group {reference!r} does not occur. Groups: {', '.join(names)}.")
    return codes, keys, columns


# --- counts, metrics, bootstrap ------------------------------------------------------------------------


def cell_counts(
    codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    index = codes * 4 + 2 * y_true + y_pred
    return np.bincount(index, weights=weights, minlength=4 * n_groups).reshape(n_groups, 4).astype(float)


def as_counts(cells: np.ndarray) -> dict[str, np.ndarray]:
    counts = {name: cells[..., i] for i, name in enumerate(CELLS)}
    counts["n"] = cells.sum(axis=-1)
    return counts
