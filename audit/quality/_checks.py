"""Explanation quality in an audit: faithfulness (overall and per sensitive group), the randomisation
sanity test, completeness and agreement, for every attribution method that ran. The measures live in
``explainers._quality_measures``; this module picks the samples, the model calls and the findings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.result._sections import Faithfulness, QualityReport
from audit.result._result import Finding
from audit.models._adapters import make_adapter
from explainers import get_explainer
from explainers._text_model import TextClassifier

__all__ = ["explanation_quality", "quality_findings", "COMPLETENESS_TOLERANCE"]

COMPLETENESS_TOLERANCE = 1e-3  # |base + sum of attributions - output| above this counts as incomplete
_SANITY_LIMIT = 0.5  # mean rank correlation after randomisation above this: the method ignores the model


def _baseline_row(features: pd.DataFrame) -> pd.Series:
    """'Feature removed': the median of numeric columns, the most common value of the others."""
    values = {}
    for column in features.columns:
        series = features[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            values[column] = series.median()
        else:
            mode = series.mode(dropna=True)
            values[column] = mode.iloc[0] if len(mode) else series.iloc[0]
    return pd.Series(values, dtype=object)


def _scores(adapter, frame: pd.DataFrame) -> np.ndarray:
    predictions = adapter.predict(frame)
    return np.asarray(predictions.scores if predictions.scores is not None else predictions.y_pred, float)


def _completeness(attribution) -> dict[str, Any] | None:
    error = attribution.completeness_error
    if error is None:
        return None
    error = np.asarray(error, float)
    tolerance = attribution.meta.get("tolerance") or COMPLETENESS_TOLERANCE
    return {
        "median": float(np.median(error)),
        "worst": float(np.max(error)),
        "tolerance": float(tolerance),
        "share_above_tolerance": float((error > tolerance).mean()),
        "examples": int(len(error)),
    }


def explanation_quality(config, dataset, adapter, raw: dict[str, Any], summaries: list) -> dict[str, Any]:
    settings = config.quality
    common = dict(
        random_orders=settings.random_orders,
        n_boot=config.fairness.n_boot,
        ci_level=config.fairness.ci_level,
        seed=config.seed,
    )
    positions = {int(row_id): i for i, row_id in enumerate(dataset.row_ids)}
    methods: dict[str, dict[str, Any]] = {}
    for method, attribution in raw.items():
        rows = np.array([positions[int(r)] for r in attribution.row_ids])[: settings.sample_size]
        groups = {c: dataset.sensitive[c].to_numpy()[rows] for c in dataset.sensitive.columns}
        entry: dict[str, Any] = {"completeness": _completeness(attribution)}
        count = len(rows)
        if attribution.granularity == "token":
            entry["faithfulness"] = _text_faithfulness(adapter, attribution, count, groups, common)
        else:
            features = dataset.features.iloc[rows][attribution.feature_names].reset_index(drop=True)
            entry["faithfulness"] = _tabular_faithfulness(
                adapter,
                features,
                attribution.values[:count],
                _baseline_row(dataset.features[attribution.feature_names]),
                groups,
                common,
            )
        if settings.sanity:
            entry["sanity"] = _sanity(config, dataset, adapter, method, attribution, positions)
        methods[method] = entry
    from explainers._quality_measures import rank_agreement

    agreement = rank_agreement({s.method: s.global_importance for s in summaries}) if len(summaries) > 1 else []
    return {
        "methods": methods,
        "agreement": agreement,
        "settings": {
            "sample_size": settings.sample_size,
            "random_orders": settings.random_orders,
            "sanity": settings.sanity,
            "sanity_sample": settings.sanity_sample,
            "completeness_tolerance": COMPLETENESS_TOLERANCE,
            "sanity_limit": _SANITY_LIMIT,
        },
    }


def _tabular_faithfulness(adapter, features, values, baseline, groups, common) -> dict[str, Any]:
    from explainers._quality_measures import tabular_faithfulness

    return tabular_faithfulness(
        lambda frame: _scores(adapter, frame), features, values, baseline, groups=groups, **common
    )


def _text_faithfulness(adapter, attribution, count, groups, common) -> dict[str, Any]:
    from explainers._quality_measures import text_faithfulness

    classifier = adapter.classifier
    return text_faithfulness(
        lambda texts: classifier.predict_proba(texts, allow_empty=True),
        attribution.words[:count],
        attribution.word_values[:count],
        attribution.targets[:count],
        groups=groups,
        **{**common, "random_orders": max(1, common["random_orders"] - 1)},
    )


def _sanity(config, dataset, adapter, method: str, attribution, positions) -> dict[str, Any]:
    """Randomise what the model learned and explain again: the attributions should change."""

    sample = config.quality.sanity_sample
    if attribution.granularity == "token":
        from explainers._quality_measures import cascading_stages, randomisation_test

        classifier = adapter.classifier
        texts = [w for w in (" ".join(words) for words in attribution.words[: min(sample, 8)]) if w.strip()]
        settings = {"n_steps": 16} if method == "layer_integrated_gradients" else {}
        explainer = get_explainer(method, target=adapter.positive_index, seed=config.seed, **settings)

        def explain(model):
            result = explainer.explain_texts(
                TextClassifier(model, classifier.tokenizer, max_length=classifier.max_length), texts
            )
            return [np.asarray(v, float) for v in result.word_values]

        outcome = randomisation_test(
            explain, classifier.model, stages=cascading_stages(classifier.model), seed=config.seed
        )
        outcome["examples"] = len(texts)
        return outcome
    if adapter.kind == "torch":
        return _torch_sanity(config, dataset, adapter, method, attribution, positions)
    if adapter.kind == "sklearn":
        return _label_sanity(config, dataset, adapter, method, attribution, positions)
    return {
        "kind": "not run",
        "reason": f"no randomisation test for a {adapter.kind} model: its parameters "
        "cannot be randomised and it cannot be retrained here.",
    }


def _explain_rows(config, dataset, adapter, method, rows, background):
    """Explain ``rows`` again with the explanation's own background, so that only the model differs."""

    explainer = get_explainer(method, background_size=len(background), seed=config.seed)
    return explainer.explain(
        adapter,
        dataset.features.iloc[rows].reset_index(drop=True),
        background=dataset.features.iloc[background].reset_index(drop=True),
        row_ids=dataset.row_ids[rows],
    ).values


def _label_sanity(config, dataset, adapter, method, attribution, positions) -> dict[str, Any]:
    from sklearn.base import clone

    from explainers._quality_measures import label_randomisation_test

    rows = np.array([positions[int(r)] for r in attribution.row_ids])[: config.quality.sanity_sample]
    rng = np.random.default_rng(config.seed)
    # a shuffled-label model needs no more data to learn nothing: up to 4,000 rows keep the retraining cheap
    training = np.sort(rng.choice(len(dataset), size=min(len(dataset), 4000), replace=False))
    shuffled = rng.permutation(np.asarray(dataset.y_true).astype(int)[training])
    retrained = clone(adapter.model).fit(dataset.features.iloc[training], shuffled)
    randomised = make_adapter(retrained, positive_label=1, kind="sklearn", threshold=adapter.threshold)
    outcome = label_randomisation_test(
        attribution.values[: len(rows)],
        _explain_rows(config, dataset, randomised, method, rows, attribution.meta["background_positions"]),
    )
    outcome["examples"] = len(rows)
    return outcome


def _torch_sanity(config, dataset, adapter, method, attribution, positions) -> dict[str, Any]:
    from explainers._quality_measures import cascading_stages, randomisation_test

    rows = np.array([positions[int(r)] for r in attribution.row_ids])[: config.quality.sanity_sample]

    def explain(model):
        return _explain_rows(
            config,
            dataset,
            make_adapter(
                model,
                positive_label=dataset.positive_label,
                kind="torch",
                output=adapter.reading or config.model.output,
            ),
            method,
            rows,
            attribution.meta["background_positions"],
        )

    outcome = randomisation_test(explain, adapter.model, stages=cascading_stages(adapter.model), seed=config.seed)
    outcome["examples"] = len(rows)
    return outcome


def quality_findings(quality: QualityReport) -> list[Finding]:
    """Methods no more faithful than a random order, faithful for one group and not another, or
    insensitive to randomising the model."""
    findings = []
    for method, entry in quality.methods.items():
        faithfulness = entry.faithfulness
        if faithfulness is not None:
            findings += _faithfulness_findings(method, faithfulness)
        final = entry.sanity.final_spearman if entry.sanity else None
        if final is not None and final > _SANITY_LIMIT:
            findings.append(
                Finding(
                    kind="explanation_quality",
                    severity="warning",
                    message=(
                        f"{method}: its attributions barely change when the model is randomised "
                        f"({entry.sanity.kind}: rank correlation {final:.2f} with the original): they may not "
                        "reflect what the model learned."
                    ),
                    evidence={"method": method, "final_spearman": final},
                )
            )
    return findings


def _faithfulness_findings(method: str, faithfulness: Faithfulness) -> list[Finding]:
    findings = []
    name = f"{faithfulness.measures[0]}_margin"
    margin, interval = faithfulness.margin
    if faithfulness.status.startswith("not scored"):
        findings.append(
            Finding(
                kind="explanation_quality",
                severity="warning",
                message=f"{method}: faithfulness could not be measured ({faithfulness.status}).",
            )
        )
    elif margin is not None and (margin <= 0 or (interval and interval[0] <= 0)):
        findings.append(
            Finding(
                kind="explanation_quality",
                severity="warning",
                message=(
                    f"{method}: removing the features it ranks first changes the model's score no more than a "
                    f"random order ({name.replace('_', ' ')} {margin:.3f}"
                    + (f", CI [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
                    + "): trust it less."
                ),
                evidence={"method": method, name: margin},
            )
        )
    for feature, groups in faithfulness.by_group.items():
        good = [g for g, r in groups.items() if not r.small and (r.margin[0] or 0) > 0 and (r.margin[1] or [1])[0] > 0]
        bad = [g for g, r in groups.items() if not r.small and r.margin[0] is not None and r.margin[0] <= 0]
        if good and bad:
            findings.append(
                Finding(
                    kind="explanation_disparity",
                    severity="warning",
                    message=(
                        f"{method} is faithful for {', '.join(good[:3])} but not for {', '.join(bad[:3])} "
                        f"(by {feature}): its explanations of those groups' decisions are not reliable."
                    ),
                    evidence={"method": method, "feature": feature, "faithful": good, "not_faithful": bad},
                )
            )
    return findings
