"""``audit.find_recourse``: recourse for a fitted scikit-learn style classifier's unfavourable decisions, from Python
(the audit's [recourse] step and ``audit explain-decision`` call the same engine)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.config._settings import RecourseConfig
from audit.models._adapters import SklearnAdapter
from audit.recourse._engine import DecisionRule, RecourseBatch, search_recourse

__all__ = ["find_recourse"]


def find_recourse(
    model: Any,
    rows: pd.DataFrame,
    *,
    reference: pd.DataFrame,
    config: RecourseConfig,
    positive_label: Any = None,
    favourable: str = "positive",
    threshold: float = 0.5,
    protected: tuple[str, ...] = (),
    row_ids: Any = None,
) -> RecourseBatch:
    """The cheapest allowed change that turns each of ``rows``' unfavourable decisions favourable.

    ``model``: a fitted classifier or pipeline (predict_proba or decision_function); the positive decision is
    ``positive_label`` (default: the model's second class) at or above ``threshold``, and ``favourable`` says
    whether the positive ("positive") or the negative ("negative") decision benefits the person. ``reference``:
    the population whose values are offered and which prices percentile shifts. ``protected``: inputs never
    changed (also refused in ``config.actionable``). Rows the model already decides favourably are left out."""
    if favourable not in ("positive", "negative"):
        raise ConfigError(
            f"The 'favourable' parameter of find_recourse must be 'positive' or 'negative'. Got {favourable!r} instead."
        )
    if not isinstance(config, RecourseConfig) or not config.active:
        raise ConfigError(
            "The 'config' parameter of find_recourse must be a RecourseConfig naming the actionable inputs, e.g. "
            "RecourseConfig(actionable=('hours-per-week',))."
        )
    if not isinstance(rows, pd.DataFrame) or not isinstance(reference, pd.DataFrame):
        raise ConfigError("The 'rows' and 'reference' parameters of find_recourse must be pandas DataFrames.")
    classes = list(getattr(model, "classes_", []))
    if len(classes) != 2:
        raise ConfigError(
            f"find_recourse needs a fitted binary classifier with classes_; got {type(model).__qualname__} with "
            f"classes {classes or 'unknown'}."
        )
    adapter = SklearnAdapter(
        model, positive_label=classes[1] if positive_label is None else positive_label, threshold=threshold
    )
    favourable_positive = favourable == "positive"
    index = adapter.positive_index if favourable_positive else 1 - adapter.positive_index

    def decide(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(adapter.predict(frame).y_pred, dtype=bool) == favourable_positive

    rule = DecisionRule(adapter.method, float(threshold), favourable_positive, index, decide)
    ids = np.asarray(rows.index if row_ids is None else row_ids)
    unfavourable = ~decide(rows) if len(rows) else np.zeros(0, bool)
    return search_recourse(
        model,
        rows[unfavourable],
        row_ids=ids[unfavourable],
        reference=reference,
        rule=rule,
        settings=config,
        protected=tuple(protected),
    )
