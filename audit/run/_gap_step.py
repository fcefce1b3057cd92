"""The audit's gap-explanation step: which inputs carry each table's largest gap (docs/gaps.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.config._settings import AuditConfig
from audit.fairness._types import FairnessTable
from audit.models._adapters import ModelAdapter, Predictions
from audit.result._gap_sections import GapReport
from audit.result._result import Skipped
from audit.result._sections import TextAudit
from explainers import get_explainer

__all__ = ["gap_step"]


def gap_step(
    config: AuditConfig,
    dataset: Any,
    adapter: ModelAdapter,
    predictions: Predictions,
    tables: list[FairnessTable],
    text: TextAudit | None,
    guarded,
    skipped: list[Skipped],
    *,
    threads: int = 1,
) -> GapReport | None:
    """The gap explanations (for a text model: its flipping identity swaps, word by word), or None with the reason
    recorded under ``skipped`` when they do not apply. ``guarded(step, work)`` runs the work and records a crash
    as a failure."""
    if config.gaps.enabled and adapter.kind == "text":
        return _text_swaps(config, adapter, text, guarded, skipped)
    reason = _not_applicable(config, dataset, adapter, tables)
    if reason:
        if config.gaps.enabled:
            skipped.append(Skipped("gap explanations", reason))
        return None
    from audit.gaps._explain import ModelOutputs, explain_gaps

    if dataset.task == "regression":
        measured = {"value": np.asarray(predictions.y_pred, dtype=float)}
    else:
        measured = {"decision": np.asarray(predictions.y_pred, dtype=bool)}
        if predictions.scores is not None:
            measured["score"] = np.asarray(predictions.scores, dtype=float)

    def rescore(kind: str, features: pd.DataFrame) -> np.ndarray:
        if kind == "value":
            return adapter.predict_values(features, task="regression", classes=dataset.label_values)
        asked = adapter.predict(features)
        return asked.y_pred if kind == "decision" else asked.scores

    return guarded(
        "gap explanations",
        lambda: explain_gaps(
            tables,
            features=dataset.features,
            y_true=np.asarray(dataset.y_true),
            sensitive=dataset.sensitive,
            task=dataset.task,
            favourable=dataset.favourable,
            outputs=ModelOutputs(measured, rescore, _form(adapter)),
            settings=config.gaps,
            ratio_threshold=config.fairness.ratio_threshold,
            alpha=config.fairness.alpha,
            ci_level=config.fairness.ci_level,
            seed=config.seed,
            threads=threads,
        ),
    )


def _form(adapter: ModelAdapter):
    """What the exact fast paths of the decomposition read (a scikit-learn model), or None."""
    from audit.gaps._fast import ModelForm

    method = getattr(adapter, "method", None)
    if adapter.kind != "sklearn" or not isinstance(method, str):
        return None
    return ModelForm(adapter.model, method, adapter.positive_index, adapter.threshold)


def _not_applicable(config: AuditConfig, dataset: Any, adapter: ModelAdapter, tables: list[FairnessTable]) -> str:
    if not config.gaps.enabled:
        return "Not run, as requested: gaps.enabled = false."
    if adapter.kind == "predictions":
        return (
            "The decisions are read from the data (data.prediction): there is no model to ask about the hybrid "
            "rows a gap explanation needs. Pass the model (model.path) to explain the gaps."
        )
    if dataset.task == "multiclass":
        return "Gap explanations cover binary classifiers and regression in this version."
    if dataset.features.shape[1] == 0:
        return "The model has no input features to split a gap over."
    if not tables:
        return "No fairness table was produced, so there is no gap to explain."
    return ""


_TEXT_METHOD = "layer_integrated_gradients"


def _text_swaps(
    config: AuditConfig, adapter: ModelAdapter, text: TextAudit | None, guarded, skipped: list[Skipped]
) -> GapReport | None:
    """The identity swaps that flipped a decision (real texts first, then template probes), word by word."""
    if text is None:
        skipped.append(
            Skipped(
                "gap explanations", "The text audit did not run or crashed, so there are no identity swaps to explain."
            )
        )
        return None
    examples = [e for e in text.examples if e.flipped]
    examples += [e for e in (text.probes.examples if text.probes else []) if e.flipped]
    examples = examples[: config.gaps.swaps]
    from audit.gaps._swaps import swap_explanations

    if not examples:
        return GapReport(
            explanations=[],
            method=_SWAP_WORDS,
            settings={"method": _TEXT_METHOD},
            not_explained=[
                {
                    "table": "text",
                    "metric": "flip_rate",
                    "reason": "no identity swap among the reported examples flipped a decision",
                }
            ],
        )

    def attribute(texts: list[str]):
        explainer = get_explainer(_TEXT_METHOD, target=adapter.positive_index, seed=config.seed, output="log-odds")
        return explainer.explain_texts(adapter.classifier, texts)

    def work() -> GapReport:
        swaps, summary = swap_explanations(
            examples, attribute, method=_TEXT_METHOD, ci_level=config.fairness.ci_level, seed=config.seed
        )
        return GapReport(
            explanations=[],
            method=_SWAP_WORDS,
            settings={"method": _TEXT_METHOD, "ci_level": config.fairness.ci_level},
            swaps=swaps,
            swap_summary=summary,
        )

    return guarded("gap explanations", work)


_SWAP_WORDS = (
    "For each identity swap that flipped a decision: both texts attributed with layer integrated gradients "
    "(the positive class's log-odds, where a model that adds up evidence is additive), words aligned "
    "outside the swapped term; each word's change of attribution is what the swap did through it, and the "
    "term's share is its part of all the change."
)
