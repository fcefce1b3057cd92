"""The audit's recourse step ([recourse]): the cheapest change that reaches the favourable decision for a seeded
sample of the unfavourable decisions, and its burden by group (docs/recourse.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from audit._errors import ConfigError
from audit.config._settings import AuditConfig
from audit.models._adapters import ModelAdapter, Predictions
from audit.recourse import DecisionRule, RecourseBatch, search_recourse
from audit.recourse._burden import recourse_burden
from audit.recourse._space import configured_space
from audit.result._recourse_sections import RecourseAudit, RecourseExample
from audit.result._sections import Decision

__all__ = ["decision_rule", "check_recourse", "recourse_step", "recourse_decisions"]


def decision_rule(dataset: Any, adapter: ModelAdapter) -> DecisionRule:
    """The audit's decision as recourse needs it: the model's method, the threshold, which decision is favourable,
    and the audit's own decision on any rows (the adapter, as every other step calls it)."""
    adapter = adapter.pinned()  # the output's reading held to the one the audit's data resolved
    favourable_positive = dataset.favourable == "positive"
    positive_index = getattr(adapter, "positive_index", None)
    positive_index = 1 if positive_index is None else positive_index
    favourable_index = positive_index if favourable_positive else 1 - positive_index

    def decide(frame) -> np.ndarray:
        return np.asarray(adapter.predict(frame).y_pred, dtype=bool) == favourable_positive

    method = getattr(adapter, "method", "predict")
    return DecisionRule(method, float(adapter.threshold), favourable_positive, favourable_index, decide)


def _not_applicable(config: AuditConfig, dataset: Any, adapter: ModelAdapter) -> str | None:
    if dataset.task != "binary":
        return f"recourse explains binary decisions; this audit's task is {dataset.task!r}"
    if adapter.kind in ("predictions", "text"):
        what = "the data's own predictions (no model to ask)" if adapter.kind == "predictions" else "a text model"
        return f"recourse changes a tabular model's inputs and asks the model again; this audit has {what}"
    return None


def check_recourse(config: AuditConfig, dataset: Any, adapter: ModelAdapter) -> None:
    """Bad [recourse] settings stop the audit before any work (an input that is not the model's, a direction on a
    category, a missing unit), and a model recourse cannot ask is refused with the reason."""
    settings = config.recourse
    if not settings.active:
        return
    reason = _not_applicable(config, dataset, adapter)
    if reason:
        raise ConfigError(f"[recourse] is set, but {reason}. Remove recourse.actionable, or audit a tabular model.")
    if settings.method in ("linear", "trees") and getattr(adapter, "method", "predict") == "predict":
        raise ConfigError(
            f'recourse.method = "{settings.method}" reads the model\'s scores, and this model gives decisions only '
            '(predict). Use recourse.method = "search".'
        )
    configured_space(dataset.features, settings, protected=tuple(dataset.sensitive.columns))


def recourse_step(
    config: AuditConfig, dataset: Any, adapter: ModelAdapter, predictions: Predictions
) -> tuple[RecourseAudit, RecourseBatch] | None:
    """Recourse for up to recourse.max_rows unfavourable decisions (a seeded sample) and the burden tables."""
    settings = config.recourse
    if not settings.active:
        return None
    rule = decision_rule(dataset, adapter)
    unfavourable = np.flatnonzero(np.asarray(predictions.y_pred, dtype=bool) != rule.favourable_positive)
    picked = unfavourable
    if settings.max_rows and len(unfavourable) > settings.max_rows:
        rng = np.random.default_rng(config.seed)
        picked = np.sort(rng.choice(unfavourable, size=settings.max_rows, replace=False))
    import dataclasses

    batch = search_recourse(
        adapter.model,
        dataset.features.iloc[picked],
        row_ids=np.asarray(dataset.row_ids)[picked],
        reference=dataset.features,
        rule=rule,
        settings=settings,
        protected=tuple(dataset.sensitive.columns),
    )
    sensitive = dataset.sensitive.iloc[picked].reset_index(drop=True)
    tables = recourse_burden(
        batch.costs(),
        batch.statuses(),
        sensitive,
        list(config.data.sensitive_groupings),
        reference=config.fairness.reference,
        min_rows=settings.min_rows,
    )
    statuses = batch.statuses()
    examples = [
        RecourseExample(
            row_id=row.row_id,
            groups={str(c): str(sensitive.iloc[i][c]) for c in sensitive.columns},
            status=row.status,
            cost=row.cost,
            text=row.text,
            changes=[dataclasses.asdict(c) for c in row.changes],
        )
        for i, row in enumerate(batch.rows[: settings.examples])
    ]
    notes = []
    if len(picked) < len(unfavourable):
        notes.append(
            f"{len(picked):,} of the {len(unfavourable):,} unfavourable decisions were searched (a sample drawn with "
            f"seed {config.seed}; recourse.max_rows = {settings.max_rows})."
        )
    audit = RecourseAudit(
        method=batch.method,
        exact=batch.exact,
        cost=settings.cost,
        actionable=list(batch.actionable),
        locked=list(batch.locked),
        max_changes=settings.max_changes,
        unfavourable=len(unfavourable),
        searched=len(picked),
        found=int(np.sum(statuses == "found")),
        none=int(np.sum(statuses == "none")),
        unverified=int(np.sum(statuses == "unverified")),
        verified_share=batch.verified_share,
        seconds=batch.seconds,
        tables=tables,
        alpha=settings.alpha,
        examples=examples,
        settings=batch.settings,
        notes=notes,
    )
    return audit, batch


def recourse_decisions(batch: RecourseBatch | None) -> list[Decision]:
    if batch is None:
        return []
    return [
        Decision(
            choice=d["choice"],
            value=d["value"],
            evidence=d["evidence"],
            override="recourse.method" if d["choice"] == "recourse method" else "recourse.cost",
        )
        for d in batch.decisions
    ]
