"""The audit runner: the one place that wires data, model, fairness and explainers into an AuditResult."""

from __future__ import annotations

import time
import dataclasses
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.config._settings import AuditConfig
from audit.data._tables import Dataset, build_dataset, read_table
from audit._errors import CapabilityError, ConfigError, ModelError
from audit.fairness._slice_metrics import slice_metric
from audit.fairness._power import inconclusive_power
from audit.fairness._tables import group_metrics
from audit.fairness._types import FairnessTable
from audit.fairness._tasks import multiclass_group_metrics, regression_group_metrics
from audit.ranking import RankingTable, ranking_metrics
from audit.models._adapters import (
    ModelAdapter,
    PrecomputedAdapter,
    Predictions,
    is_torch_module,
    load_model_file,
    make_adapter,
)
from audit.result._provenance import (
    environment,
    git_commit,
    now_iso,
    package_versions,
    recorded_paths,
    sha256_file,
    sha256_text,
    sha256_tree,
)
from audit.findings._findings import (
    fairness_findings,
    gap_findings,
    mitigation_findings,
    ranking_findings,
    recourse_findings,
    swap_findings,
    slice_findings,
    text_findings,
)
from audit.result._records import DataRecord, ModelRecord
from audit.result._result import AttributionSummary, AuditResult, Failure, Skipped
from audit.result._swap_sections import SwapAudit
from audit.run._recourse_step import check_recourse, recourse_decisions, recourse_step
from audit.run._steps import Steps, guarded
from audit.result._sections import (
    Decision,
    MitigationReport,
    Provenance,
    QualityReport,
    Regulatory,
    SliceReport,
    TextAudit,
)
from explainers import get_explainer
from explainers._text_model import TextClassifier

__all__ = ["load_inputs", "run_audit"]

_AUTO_PERMUTATION_ROWS = 300  # rows `shap` explains when it falls back to permutation SHAP
_AUTO_PERMUTATION_BACKGROUND = 50

_EXPLAINS = {
    "feature": "tabular features",
    "token": "text models",
    "generation": "generated text (explainers.attribute_generation, and the probes of a causal-lm audit)",
}


def run_audit(
    config: AuditConfig,
    *,
    data: pd.DataFrame | None = None,
    model: Any = None,
    quiet: bool = True,
    extra_provenance: dict[str, Any] | None = None,
    config_path: str | None = None,
    executor: Any = None,
    threads: int | None = None,
    scorer: Any = None,
) -> AuditResult:
    """Run a full audit. ``data``/``model`` override ``config.data.path``/``config.model.path``.
    A generative language model (``model.kind = "causal-lm"``): ``model`` is a ``CausalLM`` or a ``(model,
    tokenizer)`` pair, and ``scorer`` (texts -> numbers) scores BOLD's sampled continuations instead of the bundled
    sentiment classifier.
    ``executor`` (see ``audit.exec._executors``): where attributions run, sharded by rows; in-process by default.
    ``threads``: the native thread pools' size (default: ``AUDIT_THREADS``, else the CPUs this process may use;
    see ``audit.exec._threads``); the choice is recorded in ``provenance.threads``.

    Bad input raises an :class:`AuditError` before any work is done. A fairness table or explainer that
    crashes is recorded in ``result.failures`` and the audit goes on.
    """
    import dataclasses

    from audit.exec._threads import limited_threads, thread_budget

    count, source = thread_budget(threads)
    with limited_threads(count):
        result = _run_audit(
            config,
            data=data,
            model=model,
            quiet=quiet,
            extra_provenance=extra_provenance,
            config_path=config_path,
            executor=executor,
            scorer=scorer,
            threads=count,
        )
    provenance = dataclasses.replace(result.provenance, threads={"count": count, "source": source})
    return dataclasses.replace(result, provenance=provenance)


@dataclass
class _Inputs:
    """What an audit runs on, once loaded and validated: the dataset, the model's adapter, and their record."""

    dataset: Dataset
    adapter: ModelAdapter
    hashes: dict[str, str]
    inputs_source: str
    paths: dict[str, str | None]
    loaded_with: str | None = None  # how the model file was read (skops, pickle, torch ...): None when passed in
    ranking_columns: pd.DataFrame | None = None  # [ranking]'s rank/score and query columns, row for row


def _run_audit(
    config: AuditConfig,
    *,
    data: pd.DataFrame | None,
    model: Any,
    quiet: bool,
    extra_provenance: dict[str, Any] | None,
    config_path: str | None,
    executor: Any,
    scorer: Any = None,
    threads: int = 1,
) -> AuditResult:
    """The audit's steps, in order. Bad input stops it before any work; a step that crashes is recorded."""
    from audit.exec._executors import InProcessExecutor

    executor = executor or InProcessExecutor()
    if config.model.kind == "causal-lm":
        from audit.run._probe_audit import run_probe_audit

        if data is not None:
            raise ConfigError("A causal-lm audit runs the probes of [probes] on their own texts: do not pass data=.")
        return run_probe_audit(
            config, model=model, quiet=quiet, extra_provenance=extra_provenance, config_path=config_path, scorer=scorer
        )
    if scorer is not None:
        raise ConfigError(
            "The 'scorer' parameter of run_audit scores a causal language model's sampled "
            'continuations (model.kind = "causal-lm"); this audit has none. Drop it.'
        )
    if config.data.engine == "partitions":
        from audit.run._from_file import run_partitioned

        if data is not None or model is not None:
            raise ConfigError('data.engine = "partitions" reads data.path in pieces: do not pass data= or model=.')
        return run_partitioned(
            config, executor=executor, quiet=quiet, config_path=config_path, extra_provenance=extra_provenance
        )
    started_at, clock = now_iso(), time.perf_counter()
    inputs = _load_inputs(config, data, model, config_path)
    _check_swaps(config, inputs)
    check_recourse(config, inputs.dataset, inputs.adapter)
    methods, skipped = _explainer_methods(config, inputs)
    text_audit = inputs.adapter.kind == "text" and config.text.counterfactuals
    slice_search = _slice_search_runs(config, inputs, skipped)
    steps = Steps(
        total=2
        + len(config.data.sensitive_groupings)
        + len(methods)
        + text_audit
        + config.quality.enabled
        + slice_search
        + config.mitigation.enabled
        + config.gaps.enabled
        + config.ranking.active
        + config.swaps.enabled
        + config.recourse.active,
        quiet=quiet,
    )
    failures: list[Failure] = []
    try:
        predictions = _predict(inputs, steps)
        # first after the predictions: its settings can only be checked against them (ties in the model's scores)
        ranking = _ranking_step(config, inputs, predictions, steps, failures)
        tables = _fairness_tables(config, inputs, predictions, steps, failures)
        regulatory = _regulatory(
            config, inputs.dataset, predictions, tables, failures, _ll144_positions(config, inputs, predictions)
        )
        slices = _slices_step(config, inputs, predictions, steps, failures) if slice_search else None
        mitigation = _mitigation_step(config, inputs, predictions, steps, failures, skipped)
        attributions, raw = _attributions(config, inputs, methods, executor, steps, failures)
        quality = _explanation_quality(config, inputs, raw, attributions, steps, failures)
        text = _text_step(config, inputs, predictions, steps, failures) if text_audit else None
        swaps = _swaps_step(config, inputs, predictions, steps, failures)
        gaps = _gaps(config, inputs, predictions, tables, text, steps, failures, skipped, threads)
        recourse, recourse_batch = _recourse(config, inputs, predictions, steps, failures)
        findings = _all_findings(config, tables, attributions, text, quality, slices, mitigation, gaps)
        findings += ranking_findings(
            ranking, ratio_threshold=config.fairness.ratio_threshold, alpha=config.fairness.alpha
        )
        findings += swap_findings(swaps)
        findings += recourse_findings(recourse)
    finally:
        steps.close()
    provenance = _provenance(config, inputs, executor, steps, started_at, clock, config_path, extra_provenance)
    return AuditResult(
        title=config.title,
        data=DataRecord.from_dict({"kind": "rows", **inputs.dataset.summary()}),
        model=ModelRecord.from_dict(_model_summary(inputs, predictions)),
        fairness=tables,
        attributions=attributions,
        findings=findings,
        failures=failures,
        skipped=skipped,
        provenance=provenance,
        config=config.to_dict(),
        regulatory=regulatory,
        text=text,
        quality=quality,
        decisions=_decisions(config, inputs.dataset, inputs.adapter, attributions, inputs.inputs_source)
        + _swap_decisions(config)
        + recourse_decisions(recourse_batch),
        slices=slices,
        mitigation=mitigation,
        gap_explanations=gaps,
        ranking=ranking,
        swaps=swaps,
        recourse=recourse,
    )


def _recourse(
    config: AuditConfig, inputs: _Inputs, predictions: Predictions, steps: Steps, failures: list[Failure]
) -> tuple[Any, Any]:
    """[recourse]: (the result's section, the batch behind it), or (None, None) when not asked for or crashed (a
    crash is a recorded failure, which blocks the gate)."""
    if not config.recourse.active:
        return None, None
    steps.start("recourse")
    done = guarded(failures, "recourse", lambda: recourse_step(config, inputs.dataset, inputs.adapter, predictions))
    steps.done()
    return done if done is not None else (None, None)


def _ranking_step(
    config: AuditConfig, inputs: _Inputs, predictions: Predictions, steps: Steps, failures: list[Failure]
) -> list[RankingTable] | None:
    """One ranking table per grouping. Bad settings (a tie, a column of text) stop the audit before it writes
    anything; a crash is a recorded failure."""
    settings = config.ranking
    if not settings.active or inputs.ranking_columns is None:
        return None
    steps.start("ranking")
    frame = pd.concat([inputs.dataset.sensitive.reset_index(drop=True), inputs.ranking_columns], axis=1)
    score = settings.score
    if score == "model":
        if predictions.scores is None or np.ndim(predictions.scores) != 1:
            raise ConfigError(
                'ranking.score = "model" needs one score per row from the model; this model gives '
                f"{'none' if predictions.scores is None else 'several per row'}. Name a score or rank column."
            )
        score = "__model_score__"
        frame[score] = np.asarray(predictions.scores, dtype=float)
    tables: list[RankingTable] = []
    for grouping in settings.groupings or config.data.sensitive_groupings:

        def work(grouping: tuple[str, ...] = grouping) -> RankingTable:
            return ranking_metrics(
                frame,
                sensitive=list(grouping),
                rank=settings.rank,
                score=score,
                query=settings.query,
                k=settings.k,
                attention_p=settings.attention_p,
                min_group_size=config.fairness.min_group_size,
                n_boot=settings.n_boot,
                min_queries=settings.min_queries,
                ties=settings.ties,
                prefix_alpha=settings.prefix_alpha,
                seed=config.seed,
            )

        try:
            tables.append(work())
        except ConfigError:
            raise
        except Exception as err:  # recorded, shown in the report, blocks the gate
            failures.append(
                Failure(
                    step=f"ranking: {' x '.join(grouping)}",
                    error_type=type(err).__name__,
                    message=str(err),
                    traceback=traceback.format_exc(limit=8),
                )
            )
    steps.done()
    return tables


def load_inputs(config: AuditConfig, *, config_path: str | None = None) -> _Inputs:
    """The dataset and model adapter an audit of ``config`` runs on (for commands that score rows without a whole
    audit, such as ``audit explain-decision``), with the files' sha256 and paths."""
    return _load_inputs(config, None, None, config_path)


def _load_inputs(config: AuditConfig, data: pd.DataFrame | None, model: Any, config_path: str | None) -> _Inputs:
    """Read the data and the model, decide the model's inputs, validate the dataset, wrap the model."""
    # the file's own bytes when there is one (so `audit verify --config` can check it), else the settings
    hashes: dict[str, str] = {
        "config": sha256_file(config_path) if config_path else sha256_text(repr(config.to_dict()))
    }
    paths: dict[str, str | None] = {"data": None, "model": None, "config": config_path}
    if data is None:
        if config.data.path is None:
            raise ConfigError("No data: set data.path in the config, or pass data= to run_audit().")
        data = read_table(
            config.data.path,
            text_columns=(config.data.text,) if config.data.text else (),
            encoding=config.data.encoding,
        )
        hashes["data"], paths["data"] = sha256_file(config.data.path), config.data.path
    text_model = _is_text_model(config, model)
    loaded_with: str | None = None
    if model is None and config.model.path is not None:
        paths["model"] = config.model.path
    if model is None and not text_model and config.model.path is not None:
        model, loaded_with = load_model_file(
            config.model.path, trusted=config.model.trusted, weights_only=config.model.weights_only
        )
        hashes["model"] = sha256_file(config.model.path)
        if config.model.device not in ("auto", "cpu") and is_torch_module(model):
            model = model.to(config.model.device)  # a model we loaded ourselves goes where the config asks
    data_config, inputs_source = _model_inputs(config, model, text_model)
    data, ranking_columns = _split_ranking_columns(config, data)
    dataset = build_dataset(data, data_config, seed=config.seed)
    _check_reference(config, dataset)
    adapter = _make_model_adapter(config, dataset, model, hashes, text_model)
    if ranking_columns is not None:  # the rows the dataset kept (empty texts may be left out)
        ranking_columns = ranking_columns.iloc[dataset.row_ids].reset_index(drop=True)
    return _Inputs(dataset, adapter, hashes, inputs_source, paths, loaded_with, ranking_columns)


def _split_ranking_columns(config: AuditConfig, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """[ranking]'s columns and [swaps]' query column, taken out of the model's inputs (a rank is not an input)
    unless data.features names them."""
    named = list(config.ranking.data_columns) if config.ranking.active else []
    swaps_query = _swaps_query(config)
    if swaps_query is not None and swaps_query not in named:
        named.append(swaps_query)
    if not named:
        return data, None
    absent = [c for c in named if c not in data.columns]
    if absent:
        section = "[ranking]" if config.ranking.active and set(absent) & set(config.ranking.data_columns) else "[swaps]"
        raise ConfigError(
            f"{section} names column(s) {absent} that the data does not have. Columns: "
            f"{', '.join(map(str, data.columns[:30]))}."
        )
    columns = data[named].reset_index(drop=True)
    keep = set(config.data.features or ())
    return data.drop(columns=[c for c in named if c not in keep]), columns


def _swaps_query(config: AuditConfig) -> str | None:
    """The column of lists a documents swap audit ranks within: swaps.query, else ranking.query."""
    if not config.swaps.enabled:
        return None
    return config.swaps.query or config.ranking.query


def _swap_decisions(config: AuditConfig) -> list[Decision]:
    if not config.swaps.enabled:
        return []
    query = _swaps_query(config)
    source = "swaps.query" if config.swaps.query else "ranking.query" if query else "none: every document in one list"
    return [
        Decision(
            "swap lists",
            query,
            f"the column of lists ranks and top-{config.swaps.k} places are counted within ({source})",
            "swaps.query, swaps.k",
        ),
        Decision(
            "swap lexicons",
            list(config.swaps.lexicons or config.text.lexicons or ("all built-in",)),
            "the identity signals swapped in the documents",
            "swaps.lexicons (default text.lexicons)",
        ),
    ]


def _check_swaps(config: AuditConfig, inputs: _Inputs) -> None:
    """Before any work: a documents swap audit needs documents and a model that reads them."""
    if config.swaps.enabled and inputs.adapter.kind != "text":
        raise ConfigError(
            "swaps.enabled swaps identity terms in documents and re-scores them, so it needs a text model (data.text "
            f"and a text classifier); this audit's model is {inputs.adapter.kind!r}. Remove [swaps] enabled, or audit "
            "a scorer of texts with audit.swap_audit()."
        )


def _swaps_step(
    config: AuditConfig, inputs: _Inputs, predictions: Predictions, steps: Steps, failures: list[Failure]
) -> SwapAudit | None:
    """Identity swaps in the text model's documents, each re-scored by the model (docs/swaps.md)."""
    from audit.swaps._documents import swap_audit
    from audit.text._audit import classifier_scorer

    if not config.swaps.enabled:
        return None
    settings = config.swaps
    query = _swaps_query(config)
    queries = inputs.ranking_columns[query] if query is not None and inputs.ranking_columns is not None else None
    classifier = inputs.adapter.classifier
    steps.start("swaps: identity in documents")
    audit = guarded(
        failures,
        "swaps: identity in documents",
        lambda: swap_audit(
            documents=inputs.dataset.text.tolist(),
            scorer=classifier_scorer(
                classifier, positive_index=inputs.adapter.positive_index, threshold=config.model.threshold
            ),
            lexicons=settings.lexicons or config.text.lexicons,
            queries=queries,
            k=settings.k,
            threshold=config.model.threshold,
            original_scores=predictions.scores,
            original_decisions=np.asarray(predictions.y_pred).astype(bool),
            readable_chars=classifier.readable_chars,
            alpha=settings.alpha,
            seed=config.seed,
            examples=settings.examples,
        ),
    )
    steps.done()
    return audit


def _explainer_methods(config: AuditConfig, inputs: _Inputs) -> tuple[tuple[str, ...], list[Skipped]]:
    """The attribution methods to run, and the steps left out on purpose (with why)."""
    skipped: list[Skipped] = []
    dataset = inputs.dataset
    if dataset.dropped_texts:
        shown = ", ".join(str(r + 2) for r in dataset.dropped_texts[:10])
        skipped.append(
            Skipped(
                "empty texts",
                f"{len(dataset.dropped_texts)} empty or missing text(s) left out "
                f"(CSV lines {shown}{' ...' if len(dataset.dropped_texts) > 10 else ''}; "
                'data.empty_text = "error" refuses them instead).',
            )
        )
    if config.explainers.methods is None:
        methods = ("layer_integrated_gradients",) if inputs.adapter.kind == "text" else ("shap",)
    else:
        methods = config.explainers.methods
        if not methods:
            skipped.append(
                Skipped(
                    "explainers",
                    "Not run, as requested: explainers.methods = [] (no attributions "
                    "and no explanation-quality checks).",
                )
            )
    if methods and dataset.task != "binary":
        skipped += [
            Skipped(
                f"explainer: {m}",
                f"Attributions cover binary classifiers in this version; this "
                f"{dataset.task} model is audited for fairness only.",
            )
            for m in methods
        ]
        methods = ()
    elif methods and isinstance(inputs.adapter, PrecomputedAdapter):
        skipped += [
            Skipped(
                f"explainer: {m}",
                "No model was given (predictions come from the data), so "
                "there is nothing to attribute. Set model.path to explain a model.",
            )
            for m in methods
        ]
        methods = ()
    return tuple(methods), skipped


def _predict(inputs: _Inputs, steps: Steps) -> Predictions:
    dataset, adapter = inputs.dataset, inputs.adapter
    steps.start("predict")
    if dataset.task == "binary":
        predictions = adapter.predict(dataset.text.to_frame() if adapter.kind == "text" else dataset.features)
    else:
        predictions = Predictions(
            adapter.predict_values(dataset.features, task=dataset.task, classes=dataset.label_values), None, None
        )
    steps.done()
    return predictions


def _fairness_tables(
    config: AuditConfig, inputs: _Inputs, predictions: Predictions, steps: Steps, failures: list[Failure]
) -> list[FairnessTable]:
    tables = []
    metrics = _metrics_for(config, predictions)
    for grouping in config.data.sensitive_groupings:
        steps.start(f"fairness {' x '.join(grouping)}")
        table = guarded(
            failures,
            f"fairness: {' x '.join(grouping)}",
            lambda: _fairness_table(config, inputs.dataset, predictions, grouping, metrics),
        )
        if table is not None:
            tables.append(table)
        steps.done()
    for spec in config.data.infer or ():
        steps.start(f"fairness {spec.attribute} (inferred)")
        table = guarded(
            failures,
            f"fairness: {spec.attribute} (inferred from names and places)",
            lambda: _inferred_table(config, inputs.dataset, predictions, spec, metrics),
        )
        if table is not None:
            tables.append(table)
        steps.done()
    return tables


def _inferred_table(config: AuditConfig, dataset: Dataset, predictions: Predictions, spec, metrics):
    from audit.demographics._api import inferred_group_metrics
    from audit.fairness._metrics import METRICS

    if dataset.inference_inputs is None:  # build_dataset keeps the columns whenever data.infer is set
        raise TypeError("the dataset was built without data.infer's columns")
    return inferred_group_metrics(
        dataset.inference_inputs,
        y_true=dataset.y_true,
        y_pred=np.asarray(predictions.y_pred).astype(bool),
        surname=spec.surname,
        first_name=spec.first_name,
        geography=spec.geography,
        geography_level=spec.geography_level,
        validate=spec.validate,
        attribute=spec.attribute,
        metrics=tuple(m for m in metrics if METRICS.get(m).proportion is not None),
        favourable=dataset.favourable,
        estimator=spec.estimator,
        level=config.fairness.ci_level,
        n_boot=spec.n_boot,
        seed=config.seed,
        min_group_size=config.fairness.min_group_size,
        reference=_reference(config, (spec.attribute,)),
        place_prior_sd=spec.place_prior_sd,
    )


def _attributions(
    config: AuditConfig, inputs: _Inputs, methods: tuple[str, ...], executor, steps: Steps, failures: list[Failure]
) -> tuple[list[AttributionSummary], dict[str, Any]]:
    """Each method's summary, and the raw attributions (method -> Attribution) for the quality checks."""
    summaries, raw = [], {}
    explain = _explain_text if inputs.adapter.kind == "text" else _explain
    for method in methods:
        steps.start(f"explain {method}")
        with _hot_loop(inputs.adapter):
            summary = guarded(
                failures,
                f"explainer: {method}",
                lambda: explain(method, config, inputs.dataset, inputs.adapter, raw, executor),
            )
        if summary is not None:
            summaries.append(summary)
        steps.done()
    return summaries, raw


def _explanation_quality(
    config: AuditConfig,
    inputs: _Inputs,
    raw: dict[str, Any],
    attributions: list[AttributionSummary],
    steps: Steps,
    failures: list[Failure],
) -> QualityReport | None:
    if not (config.quality.enabled and raw):
        return None
    from audit.quality._checks import explanation_quality

    steps.start("explanation quality")
    with _hot_loop(inputs.adapter):
        quality = guarded(
            failures,
            "explanation quality",
            lambda: QualityReport.from_dict(
                explanation_quality(config, inputs.dataset, inputs.adapter, raw, attributions), "quality"
            ),
        )
    steps.done()
    return quality


def _slice_search_runs(config: AuditConfig, inputs: _Inputs, skipped: list[Skipped]) -> bool:
    if not config.slices.enabled:
        return False
    if inputs.adapter.kind == "text":
        skipped.append(
            Skipped(
                "slices",
                "Slices are conjunctions of column values; a text model's rows are texts "
                "(its identity groups and counterfactuals are in the text section).",
            )
        )
        return False
    _slice_columns(config, inputs.dataset)  # a misnamed column is bad input: refused before any work
    names = config.slices.metrics or ()
    scored = "scores" in inputs.adapter.capabilities or inputs.dataset.scores is not None
    for name in names:
        if slice_metric(name).needs_scores and not scored:
            raise ConfigError(
                f"The slice metric {name!r} reads scores, and this model gives decisions only. Drop it "
                "from slices.metrics, or give the scores (data.score, or a model with predict_proba)."
            )
    return True


def _slices_step(
    config: AuditConfig, inputs: _Inputs, predictions: Predictions, steps: Steps, failures: list[Failure]
) -> SliceReport | None:
    from audit.slices._discover import slice_report

    dataset = inputs.dataset
    steps.start("slices")
    report = guarded(
        failures,
        "slices",
        lambda: slice_report(
            _slice_columns(config, dataset),
            y_true=dataset.y_true,
            y_pred=predictions.y_pred,
            scores=predictions.scores if predictions.score_kind == "probability" else None,
            task=dataset.task,
            settings=config.slices,
            ci_level=config.fairness.ci_level,
            seed=config.seed,
        ),
    )
    steps.done()
    return report


def _slice_columns(config: AuditConfig, dataset: Dataset) -> pd.DataFrame:
    """The columns slices are made of: the sensitive features and the model's inputs, or ``slices.columns``."""
    frame = pd.concat(
        [
            dataset.sensitive.reset_index(drop=True),
            dataset.features.drop(columns=list(dataset.sensitive.columns), errors="ignore").reset_index(drop=True),
        ],
        axis=1,
    )
    if config.slices.columns is None:
        return frame
    missing = [c for c in config.slices.columns if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"The 'slices.columns' setting names {missing}, which are neither sensitive features nor "
            f"model inputs. Choose among {list(frame.columns)}."
        )
    return frame[list(config.slices.columns)]


def _mitigation_step(
    config: AuditConfig,
    inputs: _Inputs,
    predictions: Predictions,
    steps: Steps,
    failures: list[Failure],
    skipped: list[Skipped],
) -> MitigationReport | None:
    """The mitigation frontier, for binary classifiers with scores."""
    if not config.mitigation.enabled:
        return None
    dataset = inputs.dataset
    if dataset.task != "binary" or predictions.scores is None or predictions.score_kind is None:
        skipped.append(
            Skipped(
                "mitigation",
                "The mitigation frontier moves thresholds on scores: it needs a binary "
                "classifier that gives scores (this one gives "
                f"{'decisions only' if predictions.scores is None else dataset.task}).",
            )
        )
        steps.skip()
        return None
    if inputs.adapter.kind == "predictions":
        skipped.append(
            Skipped(
                "mitigation",
                "The decisions are read from the data (data.prediction): how they follow "
                "from the scores is unknown, so moving a threshold on the scores would "
                "not describe the current model.",
            )
        )
        steps.skip()
        return None
    from audit.mitigation._frontier import mitigation_report, not_applicable

    if not config.data.sensitive:
        skipped.append(
            Skipped(
                "mitigation",
                "No sensitive column is recorded: group thresholds need each row's group, and inferred groups "
                "(data.infer) are probabilities.",
            )
        )
        steps.skip()
        return None
    name = config.mitigation.sensitive or config.data.sensitive[0]
    reason = not_applicable(dataset.sensitive[name], min_group_size=config.fairness.min_group_size, seed=config.seed)
    if reason:
        skipped.append(Skipped("mitigation", f"No mitigation frontier by {name}: {reason}."))
        steps.skip()
        return None
    steps.start("mitigation")
    report = guarded(
        failures,
        "mitigation",
        lambda: mitigation_report(
            scores=predictions.scores,
            y_true=dataset.y_true,
            sensitive=dataset.sensitive[name].reset_index(drop=True),
            settings=config.mitigation,
            threshold=config.model.threshold,
            favourable=dataset.favourable,
            ci_level=config.fairness.ci_level,
            seed=config.seed,
            min_group_size=config.fairness.min_group_size,
        ),
    )
    steps.done()
    return report


def _gaps(
    config: AuditConfig,
    inputs: _Inputs,
    predictions: Predictions,
    tables: list[FairnessTable],
    text,
    steps: Steps,
    failures: list[Failure],
    skipped: list[Skipped],
    threads: int,
):
    from audit.run._gap_step import gap_step

    if config.gaps.enabled:
        steps.start("gap explanations")
    report = gap_step(
        config,
        inputs.dataset,
        inputs.adapter,
        predictions,
        tables,
        text,
        lambda step, work: guarded(failures, step, work),
        skipped,
        threads=threads,
    )
    if config.gaps.enabled:
        steps.done()
    return report


def _text_step(
    config: AuditConfig, inputs: _Inputs, predictions: Predictions, steps: Steps, failures: list[Failure]
) -> TextAudit | None:
    steps.start("text counterfactuals")
    text = guarded(
        failures,
        "text: counterfactuals and identity groups",
        lambda: _text_bias(config, inputs.dataset, inputs.adapter, predictions),
    )
    steps.done()
    return text


def _all_findings(config: AuditConfig, tables, attributions, text, quality, slices, mitigation, gaps) -> list:
    findings = (
        fairness_findings(tables, attributions, config)
        + text_findings(text, config)
        + slice_findings(slices)
        + mitigation_findings(mitigation)
        + gap_findings(gaps)
    )
    if quality:
        from audit.quality._checks import quality_findings

        findings += quality_findings(quality)
    return findings


def _provenance(
    config: AuditConfig,
    inputs: _Inputs,
    executor,
    steps: Steps,
    started_at: str,
    clock: float,
    config_path: str | None,
    extra_provenance: dict[str, Any] | None,
) -> Provenance:
    return Provenance.build(
        {
            "started_at": started_at,
            "finished_at": now_iso(),
            "duration_s": round(time.perf_counter() - clock, 3),
            "seed": config.seed,
            "sha256": inputs.hashes,
            "packages": package_versions(),
            "environment": environment(),
            "device": inputs.adapter.device,
            "timings_s": steps.timings,
            "executor": {"name": executor.name, "workers": executor.workers},
            "paths": recorded_paths(inputs.paths, config_path),
            "git_commit": git_commit(Path(config_path).parent if config_path else Path.cwd()),
            **(extra_provenance or {}),
        }
    )


def _model_summary(inputs: _Inputs, predictions: Predictions) -> dict[str, Any]:
    dataset, adapter = inputs.dataset, inputs.adapter
    summary = adapter.summary()
    summary["task"] = dataset.task
    if inputs.loaded_with is not None:
        summary["loaded_with"] = inputs.loaded_with
    summary["inputs"] = {
        "features": list(dataset.features.columns) if adapter.kind != "text" else [],
        "source": inputs.inputs_source,
    }
    summary["sensitive_inputs"] = {
        name: (name in dataset.features.columns) if adapter.kind not in ("text", "predictions") else None
        for name in dataset.sensitive.columns
    }
    if dataset.task == "regression":
        summary["mae"] = float(np.abs(np.asarray(predictions.y_pred, float) - dataset.y_true).mean())
    else:
        summary["accuracy"] = float(
            (np.asarray(predictions.y_pred).astype(str) == np.asarray(dataset.y_true).astype(str)).mean()
        )
    if dataset.task == "binary":
        summary["positive_rate_predicted"] = float(predictions.y_pred.mean())
    return summary


def _decisions(
    config: AuditConfig,
    dataset: Dataset,
    adapter: ModelAdapter,
    attributions: list[AttributionSummary],
    inputs_source: str,
) -> list[dict[str, Any]]:
    """Every automatic choice of this audit: what was chosen, on what evidence, and the setting that overrides it."""

    def decision(choice, value, evidence, override):
        return Decision(choice=choice, value=value, evidence=evidence, override=override)

    decisions = []
    if dataset.task == "binary":
        decisions += [
            decision("positive class", dataset.positive_label, dataset.positive_source, "data.positive_label"),
            decision("favourable outcome", dataset.favourable, dataset.favourable_source, "data.favourable"),
        ]
        if adapter.positive_source:
            decisions.append(
                decision(
                    "model's positive class",
                    dataset.positive_label,
                    adapter.positive_source,
                    "data.positive_label, or a model trained on the audit's label",
                )
            )
        if adapter.output_evidence:
            decisions.append(decision("model output", adapter.score_kind, adapter.output_evidence, "model.output"))
        if adapter.kind != "predictions":
            decisions.append(
                decision(
                    "decision threshold",
                    config.model.threshold,
                    "model.threshold" + (" (the default)" if config.model.threshold == 0.5 else ""),
                    "model.threshold",
                )
            )
    decisions.append(
        decision(
            "model inputs",
            list(dataset.features.columns) if adapter.kind != "text" else [config.data.text],
            inputs_source,
            "data.features",
        )
    )
    if config.explainers.methods is None:
        decisions.append(
            decision(
                "explainers",
                [a.method for a in attributions] or None,
                "the default for this model kind (explainers.methods unset)",
                "explainers.methods",
            )
        )
    for summary in attributions:
        if summary.meta.get("chosen"):
            decisions.append(
                decision(
                    f"shap algorithm ({summary.method})",
                    summary.meta["chosen"],
                    summary.meta.get("chosen_because", ""),
                    "explainers.methods",
                )
            )
        if summary.meta.get("sample_note"):
            decisions.append(
                decision(
                    "explained rows",
                    summary.n_examples,
                    summary.meta["sample_note"],
                    "explainers.methods / explainers.sample_size",
                )
            )
    return decisions


def _fairness_table(config: AuditConfig, dataset: Dataset, predictions: Predictions, grouping, metrics):
    common = dict(
        y_true=dataset.y_true,
        y_pred=predictions.y_pred,
        sensitive=dataset.sensitive[list(grouping)],
        min_group_size=config.fairness.min_group_size,
        reference=_reference(config, grouping),
        n_boot=config.fairness.n_boot,
        ci_level=config.fairness.ci_level,
        seed=config.seed,
    )
    if dataset.task == "regression":
        return regression_group_metrics(**common)
    if dataset.task == "multiclass":
        return multiclass_group_metrics(**common, classes=dataset.label_values)
    table = group_metrics(
        **common,
        metrics=metrics,
        scores=predictions.scores if predictions.score_kind else None,
        favourable=dataset.favourable,
    )
    power = inconclusive_power(
        table,
        ratio_threshold=config.fairness.ratio_threshold,
        difference=config.fairness.detectable_difference,
        alpha=config.fairness.alpha,
    )
    return dataclasses.replace(table, power=power)


def _metrics_for(config: AuditConfig, predictions) -> tuple[str, ...]:
    """The configured metrics, plus ROC AUC (and calibration, for probabilities) when the model has scores."""
    metrics = list(config.fairness.metrics)
    if config.fairness.score_metrics and predictions.scores is not None:
        # calibration reads probabilities; on another scale it is listed as undefined, with the reason
        extra = ["roc_auc", "ece"] if predictions.score_kind in ("probability", "score") else ["roc_auc"]
        metrics += [m for m in extra if m not in metrics]
    return tuple(metrics)


def _reference(config: AuditConfig, grouping: tuple[str, ...]) -> str | None:
    chosen = config.fairness.reference or {}
    if not all(name in chosen for name in grouping):
        return None
    return ", ".join(f"{name}={chosen[name]}" for name in grouping)


def _ll144_positions(config: AuditConfig, inputs: _Inputs, predictions: Predictions):
    """Each row's place in its list and the list's size, for an LL144 scoring table fed from ranks."""
    from audit.ranking._table import list_positions

    if (config.fairness.ll144 or {}).get("mode") != "ranking" or inputs.ranking_columns is None:
        return None
    settings = config.ranking
    frame = inputs.ranking_columns.copy()
    score = settings.score
    if score == "model":
        score = "__model_score__"
        frame[score] = np.asarray(predictions.scores, dtype=float)
    return list_positions(
        frame, rank=settings.rank, score=score, query=settings.query, ties=settings.ties, seed=config.seed
    )


def _regulatory(config, dataset, predictions, tables, failures, positions=None) -> Regulatory:
    from audit.regulatory._tables import four_fifths, ll144_audit

    if dataset.task != "binary":
        return Regulatory()
    entries = [four_fifths(t, threshold=config.fairness.ratio_threshold, alpha=config.fairness.alpha) for t in tables]
    ll144, settings = None, config.fairness.ll144
    if settings:
        ll144 = guarded(
            failures,
            "regulatory: NYC LL144",
            lambda: ll144_audit(
                dataset.sensitive,
                sex=settings.get("sex"),
                race=settings.get("race"),
                decisions=predictions.y_pred,
                scores=predictions.scores,
                mode=settings.get("mode", "selection"),
                exclude_under=settings.get("exclude_under"),
                flag_below=settings.get("flag_below"),
                favourable=dataset.favourable,
                min_group_size=config.fairness.min_group_size,
                inferred_race=_ll144_inferred_race(config, dataset, predictions, positions),
                positions=positions,
            ),
        )
    return Regulatory(four_fifths=entries, ll144=ll144)


def _ll144_inferred_race(config: AuditConfig, dataset: Dataset, predictions: Predictions, positions=None):
    """LL144's race categories when race is inferred: the same estimator as its fairness table, fitted on the
    rows of known sex, and within each sex for the intersection."""
    from audit.data._tables import MISSING_GROUP
    from audit.demographics._categories import inferred_categories
    from audit.regulatory._tables import ll144_favoured

    settings = config.fairness.ll144 or {}
    spec = next((s for s in config.data.infer or () if s.attribute == settings.get("race")), None)
    if spec is None or dataset.inference_inputs is None:
        return None
    favoured, _, _ = ll144_favoured(
        mode=settings.get("mode", "selection"),
        decisions=predictions.y_pred,
        scores=predictions.scores,
        favourable=dataset.favourable,
        positions=positions,
    )
    sex = settings.get("sex")
    strata = dataset.sensitive[sex] if sex else None
    return inferred_categories(
        dataset.inference_inputs,
        label=np.asarray(dataset.y_true).astype(bool),
        favoured=favoured,
        surname=spec.surname,
        first_name=spec.first_name,
        geography=spec.geography,
        geography_level=spec.geography_level,
        attribute=spec.attribute,
        estimator=spec.estimator,
        place_prior_sd=spec.place_prior_sd,
        rows=None if strata is None else (strata != MISSING_GROUP).to_numpy(),
        strata=strata,
    )


def _require(package: str, what: str, extra: str) -> None:
    """An optional package a step needs, or a ConfigError naming the extra that installs it."""
    import importlib.util

    if importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"Auditing {what} needs the {package!r} package, which is not installed: pip install "
            f"'audit-toolkit[{extra}]' (install a CPU or CUDA build of torch first)."
        )


def _hot_loop(adapter):
    """Tabular explainers and quality checks make many small model calls: single-threaded, they never wait at a
    thread barrier for a core a neighbour holds (see audit.exec._threads). Text models keep their threads: each of
    their calls is large."""
    from contextlib import nullcontext

    from audit.exec._threads import limited_threads

    return nullcontext() if adapter.kind in ("text", "torch") else limited_threads(1)


def _check_reference(config: AuditConfig, dataset: Dataset) -> None:
    """A reference group must exist: a misspelt one (sex = "Mle") is refused with the groups there are, before
    any work, instead of taking its tables down."""
    inferred = {spec.attribute for spec in config.data.infer or ()}
    for feature, value in (config.fairness.reference or {}).items():
        if feature in inferred:
            from audit.demographics._tables import RACE_LABELS

            values = list(RACE_LABELS.values())
        else:
            values = sorted(dataset.sensitive[feature].unique().tolist(), key=str)
        if value not in values:
            raise ConfigError(
                f"The 'fairness.reference' group {feature}={value!r} does not occur in the data. "
                f"Groups of {feature!r}: {', '.join(map(repr, values[:20]))}"
                + (" ..." if len(values) > 20 else "")
                + "."
            )


def _is_text_model(config: AuditConfig, model: Any) -> bool:
    if config.model.builtin is not None or config.model.kind == "text":
        return True
    return any(
        f"{c.__module__}.{c.__qualname__}" == "explainers._text_model.TextClassifier" for c in type(model).__mro__
    )


def _model_inputs(config: AuditConfig, model: Any, text_model: bool):
    """The data config with the model's own input columns, and where they came from (recorded)."""
    import dataclasses

    from audit.models._adapters import model_input_columns

    if config.data.features is not None:
        return config.data, "data.features"
    if text_model:
        return config.data, f"the text column {config.data.text!r}"
    if model is None:
        return config.data, "no model: nothing is fed to a model"
    columns, source = model_input_columns(model)
    if columns is None:
        return config.data, source
    roles = {config.data.label, config.data.prediction, config.data.score}
    return dataclasses.replace(config.data, features=tuple(c for c in columns if c not in roles)), source


def _make_model_adapter(
    config: AuditConfig, dataset: Dataset, model: Any, hashes: dict, text_model: bool
) -> ModelAdapter:
    if text_model:
        return _text_adapter(config, dataset, model, hashes)
    if model is None:
        if dataset.predictions is None:
            raise ModelError(
                "No model and no predictions: set model.path, pass model= to run_audit(), or name "
                "the column that holds the model's decisions in data.prediction."
            )
        return PrecomputedAdapter(
            dataset.predictions,
            dataset.scores,
            positive_label=dataset.positive_label,
            threshold=config.model.threshold,
            task=dataset.task,
            label_values=dataset.label_values,
        )
    return make_adapter(
        model,
        positive_label=dataset.positive_label,
        kind=config.model.kind,
        output=config.model.output,
        threshold=config.model.threshold,
        batch_size=config.model.batch_size,
        device=config.model.device,
        task=dataset.task,
    )


def _text_adapter(config: AuditConfig, dataset: Dataset, model: Any, hashes: dict) -> ModelAdapter:
    _require("transformers", "text models", "text")
    from audit.models._text_adapter import TextAdapter

    if dataset.text is None:
        raise ConfigError("A text model reads a text column: name it in data.text.")
    if dataset.task != "binary":
        raise ConfigError(
            "Text-model audits are binary in this version: set data.positive_label to the class to "
            "audit (the others are the negative class)."
        )
    device = None if config.model.device == "auto" else config.model.device
    if model is None and config.model.builtin == "minilm-tweet-sentiment":
        from explainers.minilm_head import HEAD_FILE, load_minilm_sentiment

        model = load_minilm_sentiment(device=device or "cpu")
        from importlib import resources

        with resources.as_file(resources.files("explainers").joinpath("models", HEAD_FILE)) as head:
            hashes["model"] = sha256_file(head)
    elif model is None:
        if config.model.path is None:
            raise ConfigError(
                "A text model needs model.path (a local Hugging Face model directory) or "
                'model.builtin = "minilm-tweet-sentiment".'
            )
        model = TextClassifier.from_pretrained(config.model.path)
        if device is not None:
            model.model.to(device)
            model = TextClassifier(model.model, model.tokenizer)
        hashes["model"] = sha256_tree(config.model.path)
    return TextAdapter(model, positive_label=dataset.positive_label, threshold=config.model.threshold)


def _text_bias(config: AuditConfig, dataset: Dataset, adapter, predictions: Predictions) -> TextAudit:
    from audit.text._audit import classifier_scorer, text_bias_audit

    settings = config.text
    classifier = adapter.classifier
    explainer = get_explainer("layer_integrated_gradients", target=adapter.positive_index, seed=config.seed)
    return text_bias_audit(
        texts=dataset.text.tolist(),
        y_true=dataset.y_true,
        original_scores=predictions.scores,
        original_decisions=predictions.y_pred,
        scorer=classifier_scorer(classifier, positive_index=adapter.positive_index, threshold=config.model.threshold),
        lexicons=settings.lexicons,
        templates=settings.templates,
        explain=lambda texts: explainer.explain_texts(classifier, texts),
        attribution_sample=settings.attribution_sample,
        readable_chars=classifier.readable_chars,
        n_boot=config.fairness.n_boot,
        ci_level=config.fairness.ci_level,
        seed=config.seed,
        min_texts=settings.min_texts,
    )


def _explain_text(
    method: str, config: AuditConfig, dataset: Dataset, adapter, raw: dict[str, Any], executor
) -> AttributionSummary:
    from audit.text._lexicons import builtin_lexicons

    explainer = get_explainer(method, target=adapter.positive_index, seed=config.seed)
    if getattr(explainer, "granularity", "feature") != "token":
        raise CapabilityError(
            f"{method!r} explains {_EXPLAINS[getattr(explainer, 'granularity', 'feature')]}; this "
            "audit's model reads text. Use layer_integrated_gradients, lime_text or "
            "shap_partition_text."
        )
    rng = np.random.default_rng(config.seed)
    n = len(dataset)
    explained = np.sort(rng.choice(n, size=min(config.explainers.sample_size, n), replace=False))
    texts = dataset.text.iloc[explained].tolist()
    from explainers._sharded import explain_texts_sharded

    attribution = explain_texts_sharded(
        explainer, adapter.classifier, texts, executor=executor, row_ids=dataset.row_ids[explained]
    )
    raw[attribution.method] = attribution
    # single words of the identity lexicons (multi-word terms are counted word by word)
    identity_terms = {
        word
        for lexicon in builtin_lexicons(config.text.lexicons)
        for terms in lexicon.groups.values()
        for term in terms
        for word in term.lower().split()
    }
    return summarise_tokens(
        attribution, dataset.sensitive.iloc[explained], identity_terms, row_ids=dataset.row_ids[explained]
    )


def summarise_tokens(
    attribution, sensitive: pd.DataFrame, identity_terms, *, row_ids, top: int = 40, examples: int = 12
) -> AttributionSummary:
    """Word-level statistics of token attributions: mean |attribution| per word (words seen 3+ times when
    there are enough), by sensitive group, the share on identity terms, and a capped sample of examples."""
    from collections import defaultdict

    rows = [
        (i, w.lower().strip(), float(v))
        for i, (words, values) in enumerate(zip(attribution.words, attribution.word_values))
        for w, v in zip(words, values)
        if w.strip()
    ]
    counts: dict[str, int] = defaultdict(int)
    for _, word, _ in rows:
        counts[word] += 1
    min_count = 3 if len(attribution.words) >= 50 else 1
    absolute, signed = defaultdict(float), defaultdict(float)
    for _, word, value in rows:
        absolute[word] += abs(value)
        signed[word] += value
    eligible = [w for w in counts if counts[w] >= min_count]
    ranked = sorted(eligible, key=lambda w: -absolute[w] / counts[w])[:top]
    total = sum(abs(v) for _, _, v in rows)
    identity = sum(abs(v) for _, w, v in rows if w in identity_terms)
    by_group: dict[str, dict[str, dict[str, float]]] = {}
    for column in sensitive.columns:
        groups = sensitive[column].to_numpy()
        by_group[column] = {}
        for group in sorted(set(groups.tolist()), key=str):
            members = {i for i, g in enumerate(groups) if g == group}
            sums, seen = defaultdict(float), defaultdict(int)
            for i, word, value in rows:
                if i in members:
                    sums[word] += abs(value)
                    seen[word] += 1
            by_group[column][str(group)] = {w: sums[w] / seen[w] for w in ranked if seen[w]}
    error = attribution.completeness_error
    sample = [
        {
            "row_id": int(row_ids[i]),
            "words": attribution.words[i],
            "values": [float(v) for v in attribution.word_values[i]],
            "output": float(attribution.outputs[i]),
            "target": int(attribution.targets[i]) if attribution.targets is not None else None,
        }
        for i in range(min(examples, len(attribution.words)))
    ]
    meta = {k: v for k, v in attribution.meta.items() if isinstance(v, (str, int, float, bool)) and k != "runtime_s"}
    truncated = attribution.meta.get("truncated")
    if truncated is not None:
        meta["truncated_texts"] = int(sum(truncated))
    steps = attribution.meta.get("steps_per_example")
    if steps:
        meta["mean_steps"] = float(np.mean(steps))
    return AttributionSummary(
        method=attribution.method,
        output_space=attribution.output_space,
        n_examples=len(attribution.words),
        features=ranked,
        global_importance={w: absolute[w] / counts[w] for w in ranked},
        mean_attribution={w: signed[w] / counts[w] for w in ranked},
        importance_by_group=by_group,
        reliance_on_sensitive=(identity / total) if total else None,
        sensitive_features_in_model=sorted({w for _, w, _ in rows if w in identity_terms}),
        completeness_error_max=None if error is None else float(np.max(error)),
        completeness_error_median=None if error is None else float(np.median(error)),
        meta=meta,
        granularity="token",
        examples=sample,
    )


def _explain(
    method: str, config: AuditConfig, dataset: Dataset, adapter: ModelAdapter, raw: dict[str, Any], executor
) -> AttributionSummary:
    settings = config.explainers
    sample_size, background_size, sample_note = settings.sample_size, settings.background_size, None
    if method == "shap" and adapter.kind != "text":
        from explainers._shap_backend import shap_choice

        if shap_choice(adapter)[0] == "shap_permutation" and (
            sample_size > _AUTO_PERMUTATION_ROWS or background_size > _AUTO_PERMUTATION_BACKGROUND
        ):
            # permutation SHAP costs rows x evaluations x background model rows: keep the default audit fast
            sample_size = min(sample_size, _AUTO_PERMUTATION_ROWS)
            background_size = min(background_size, _AUTO_PERMUTATION_BACKGROUND)
            sample_note = (
                f"shap fell back to permutation: explained {sample_size} rows against {background_size} "
                'background rows to keep the audit fast; set explainers.methods = ["shap_permutation"] '
                "to explain explainers.sample_size rows"
            )
    rng = np.random.default_rng(config.seed)
    n = len(dataset)
    explained = np.sort(rng.choice(n, size=min(sample_size, n), replace=False))
    background = np.sort(rng.choice(n, size=min(background_size, n), replace=False))
    explainer = get_explainer(method, background_size=background_size, seed=config.seed)
    if getattr(explainer, "granularity", "feature") != "feature":
        raise CapabilityError(
            f"{method!r} explains {_EXPLAINS[getattr(explainer, 'granularity', 'feature')]}; this "
            "audit's model takes tabular features. Use shap, shap_tree or shap_permutation."
        )
    from explainers._sharded import explain_sharded

    attribution = explain_sharded(
        explainer,
        adapter,
        dataset.features.iloc[explained].reset_index(drop=True),
        background=dataset.features.iloc[background].reset_index(drop=True),
        row_ids=dataset.row_ids[explained],
        executor=executor,
    )
    # the randomisation test explains again against this same background (a new one would confound the two)
    attribution.meta["background_positions"] = background
    raw[attribution.method if attribution.method not in raw else f"{attribution.method} ({method})"] = attribution
    groups = dataset.sensitive.iloc[explained]
    in_model = [name for name in dataset.sensitive.columns if name in attribution.feature_names]
    error = attribution.completeness_error
    return AttributionSummary(
        method=attribution.method,
        output_space=attribution.output_space,
        n_examples=len(explained),
        features=attribution.feature_names,
        global_importance=attribution.global_importance(),
        mean_attribution=attribution.mean_attribution(),
        importance_by_group={c: attribution.by_group(groups[c].to_numpy()) for c in groups.columns},
        reliance_on_sensitive=attribution.reliance(in_model) if in_model else None,
        sensitive_features_in_model=in_model,
        completeness_error_max=None if error is None else float(np.max(error)),
        completeness_error_median=None if error is None else float(np.median(error)),
        # timings vary run to run: they belong to provenance, so that the rest of the result is reproducible
        meta={
            **{
                k: v for k, v in attribution.meta.items() if isinstance(v, (str, int, float, bool)) and k != "runtime_s"
            },
            **({"sample_note": sample_note} if sample_note else {}),
        },
    )
