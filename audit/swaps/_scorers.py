"""What a swap audit can score with, made into one contract, ``texts -> (scores, decisions)``, and described for the
result: a Python callable, a scikit-learn model (or pipeline) that takes raw texts, a :class:`TextClassifier`, or a
Hugging Face ``(model, tokenizer)`` pair."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from audit._errors import ConfigError

__all__ = ["as_scorer"]

Scorer = Callable[[list[str]], Any]


def as_scorer(model: Any, *, positive_index: int | None, threshold: float) -> tuple[Scorer, dict[str, Any]]:
    """The scorer and how its output is read (recorded in the result: an automatic choice is never silent)."""
    from explainers._text_model import TextClassifier

    if isinstance(model, tuple) and len(model) == 2:
        model = TextClassifier(model[0], model[1])
    if isinstance(model, TextClassifier):
        return _probability_scorer(model, positive_index, threshold, f"TextClassifier ({type(model.model).__name__})")
    if hasattr(model, "predict_proba"):
        return _probability_scorer(model, positive_index, threshold, f"scikit-learn {type(model).__name__}")
    if hasattr(model, "decision_function"):

        def decide(texts: list[str]) -> np.ndarray:
            return np.asarray(model.decision_function(texts), float)

        return decide, _record("decision_function", type(model).__name__, None, threshold)
    if callable(model):
        name = getattr(model, "__qualname__", type(model).__name__)
        return model, _record("callable", name, None, threshold)
    raise ConfigError(
        f"The 'scorer' parameter of swap_audit must be a callable (texts -> scores, or (scores, decisions)), a "
        f"scikit-learn model with predict_proba or decision_function, a TextClassifier or a (model, tokenizer) "
        f"pair. Got {type(model).__name__} instead."
    )


def _record(kind: str, name: str, positive_index: int | None, threshold: float) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "positive_index": positive_index,
        "threshold": threshold,
        "decision": f"score >= {threshold:g}, unless the scorer returns its own decisions",
    }


def _probability_scorer(model: Any, positive_index: int | None, threshold: float, name: str):
    def score(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.asarray(model.predict_proba(texts), float)
        index = _positive(probabilities.shape[1], positive_index)
        scores = probabilities[:, index]
        if probabilities.shape[1] == 2:
            return scores, scores >= threshold
        return scores, probabilities.argmax(1) == index

    record = _record("predict_proba", name, positive_index, threshold)
    if positive_index is None:
        record["positive_index"] = 1
        record["positive_index_reason"] = "the second column of two (predict_proba's positive class)"
    return score, record


def _positive(columns: int, positive_index: int | None) -> int:
    if positive_index is None:
        if columns != 2:
            raise ConfigError(
                f"The scorer gives {columns} class probabilities; the swap audit cannot guess which is the "
                "favourable one. Set positive_index= (the column of the favourable class)."
            )
        return 1
    if not 0 <= positive_index < columns:
        raise ConfigError(
            f"The 'positive_index' parameter of swap_audit must be a column of the scorer's {columns} class "
            f"probabilities (0 to {columns - 1}). Got {positive_index} instead."
        )
    return positive_index
