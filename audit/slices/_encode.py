"""Columns to small integer codes for the slice search: categoricals as they are, numerics binned by quantiles.

Each code of a column is one *condition* (``sex = Female``, ``age in [17, 26)``); a slice is a conjunction of
conditions on different columns. Missing values are a level of their own (``(missing)``), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._errors import DataError

__all__ = ["EncodedColumns", "encode_columns", "MISSING"]

MISSING = "(missing)"
MAX_LEVELS = 64  # a categorical with more levels than this is refused: bin it or leave it out of the search


@dataclass(frozen=True)
class EncodedColumns:
    """``codes[:, j]`` holds the level of column ``names[j]``; ``conditions[j][v]`` describes level ``v``:
    (kind, value, words) with kind ``equals`` (value: the category) or ``between`` (value: [low, high))."""

    names: list[str]
    codes: np.ndarray  # int32, rows x columns
    conditions: list[list[tuple[str, object, str]]]

    @property
    def levels(self) -> list[int]:
        return [len(c) for c in self.conditions]


def encode_columns(frame: pd.DataFrame, *, bins: int) -> EncodedColumns:
    """Encode every column of ``frame``; numeric columns with more than ``bins`` distinct values are cut at
    their quantiles (ties merged, so a column may get fewer bins)."""
    names, codes, conditions = [], [], []
    for name in frame.columns:
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if numeric and column.nunique(dropna=True) > bins:
            code, condition = _binned(column, str(name), bins)
        else:
            code, condition = _categorical(column, str(name))
        names.append(str(name))
        codes.append(code)
        conditions.append(condition)
    matrix = np.column_stack(codes).astype(np.int32) if codes else np.zeros((len(frame), 0), np.int32)
    return EncodedColumns(names=names, codes=matrix, conditions=conditions)


def _categorical(column: pd.Series, name: str):
    code, levels = pd.factorize(column, sort=True)  # missing values get -1
    levels = [str(level) for level in levels]
    if (code < 0).any():
        code = np.where(code < 0, len(levels), code)
        levels.append(MISSING)
    if len(levels) > MAX_LEVELS:
        raise DataError(
            f"The slice search cannot take column {name!r}: it has {len(levels)} distinct values "
            f"(at most {MAX_LEVELS}). Leave it out with slices.columns, or bin it first."
        )
    return code, [("equals", str(level), f"{name} = {level}") for level in levels]


def _binned(column: pd.Series, name: str, bins: int):
    values = column.to_numpy(float)
    finite = values[np.isfinite(values)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
    inner = edges[1:-1]
    code = np.searchsorted(inner, values, side="right")  # bin i holds [edges[i], edges[i+1])
    conditions = []
    for i in range(len(inner) + 1):
        low, high = edges[i], edges[i + 1]
        last = i == len(inner)
        words = f"{name} in [{_fmt(low)}, {_fmt(high)}{']' if last else ')'}"
        conditions.append(("between", [float(low), float(high)], words))
    missing = ~np.isfinite(values)
    if missing.any():
        code = np.where(missing, len(conditions), code)
        conditions.append(("equals", MISSING, f"{name} = {MISSING}"))
    return code, conditions


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"
