"""The one place that decides which label value is the positive class, wherever labels come from: the label
column, a decision column, a model's ``classes_``, a text model's labels, or a file read in partitions.

A value matches the positive label when it is equal to it, as numbers when both read as numbers (``1`` in TOML
matches ``1.0`` in a CSV), else as text (``"1"`` matches ``1``). Every match records how it was made.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit._errors import DataError, ModelError

__all__ = ["positive_mask", "positive_class_index", "infer_positive_label", "same_label"]


def _as_number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def same_label(value: Any, positive_label: Any) -> bool:
    """Whether one label value is the positive label (equal, equal as numbers, or equal as text)."""
    if value == positive_label:
        return True
    a, b = _as_number(value), _as_number(positive_label)
    if a is not None and b is not None:
        return a == b
    return str(value) == str(positive_label)


def positive_mask(values: Any, positive_label: Any) -> np.ndarray:
    """True where ``values`` hold the positive label (vectorised over the distinct values)."""
    series = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series) else values)
    distinct = pd.unique(series)
    positive = {v for v in distinct if not (isinstance(v, float) and np.isnan(v)) and same_label(v, positive_label)}
    return series.isin(positive).to_numpy(dtype=bool)


def infer_positive_label(distinct: list[Any], name: str) -> tuple[Any, str]:
    """The positive class of a 0/1 or False/True column, or a DataError naming the setting to add."""
    as_set = set(distinct)
    if as_set <= {False, True} and any(isinstance(v, (bool, np.bool_)) for v in distinct):
        return True, f"the label column {name!r} holds False/True: True is the positive class"
    if as_set <= {0, 1}:
        return 1, f"the label column {name!r} holds 0/1: 1 is the positive class"
    shown = ", ".join(map(repr, distinct[:10])) + (" ..." if len(distinct) > 10 else "")
    raise DataError(
        f"The label column {name!r} has {len(distinct)} distinct values ({shown}) and no "
        "positive class was given. Set data.positive_label to the value that means the "
        "predicted (positive) outcome; the others become the negative class."
    )


def positive_class_index(classes: Any, positive_label: Any, *, what: str = "model") -> tuple[int, str]:
    """The index of the positive class among a model's classes, and how it was found.

    A model trained on a 0/1 label whose positive class the audit names by another value (">50K") is read
    with 1 as the positive class; that choice is returned in the explanation, to be recorded.
    """
    classes = list(np.asarray(classes).tolist())
    for index, cls in enumerate(classes):
        if same_label(cls, positive_label):
            return index, f"the {what}'s class {cls!r} is the positive label {positive_label!r}"
    default_names = [f"LABEL_{i}" for i in range(len(classes))]
    number = _as_number(positive_label)
    if (
        [str(c) for c in classes] == default_names
        and number is not None
        and number.is_integer()
        and 0 <= int(number) < len(classes)
    ):
        index = int(number)
        return index, (
            f"the {what}'s classes carry transformers' default names (LABEL_0, LABEL_1, ...): the positive "
            f"label {positive_label!r} is read as class index {index}, {classes[index]!r}"
        )
    if len(classes) == 2 and all(_as_number(c) in (0.0, 1.0) for c in classes):
        index = [_as_number(c) for c in classes].index(1.0)
        return index, (
            f"the {what} was trained on 0/1 classes and none equals the positive label "
            f"{positive_label!r}: class 1 is read as positive (retrain on the audit's label to avoid "
            "this reading)"
        )
    raise ModelError(
        f"The {what}'s classes are {classes}, and none of them is the positive label "
        f"{positive_label!r}. Train the model on the same label, or on a 0/1 label where 1 is "
        "the positive class, or set data.positive_label to one of its classes."
    )
