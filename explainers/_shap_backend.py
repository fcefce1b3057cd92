"""SHAP backends: exact TreeExplainer for tree models, a model-agnostic permutation explainer otherwise."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from explainers._errors import CapabilityError
from explainers._base import Explainer, TextExplainer, row_seed
from explainers._tabular import TabularCodec, dense, input_column_map, split_pipeline
from explainers._tree_shap import check_tree_estimator, tree_model, tree_shap
from explainers._types import Attribution, pad_rows

if TYPE_CHECKING:
    from explainers._protocols import ScoredModel as ModelAdapter

__all__ = [
    "ShapAutoExplainer",
    "ShapLinearExplainer",
    "shap_choice",
    "ShapPermutationExplainer",
    "ShapPartitionText",
    "ShapTreeExplainer",
]


class ShapTreeExplainer(Explainer):
    """shap.TreeExplainer (path-dependent, exact) on the final tree estimator of a model or pipeline.

    Pipelines are explained on their transformed columns and the attributions summed back onto the
    input columns, which keeps additivity. Native categorical splits of HistGradientBoosting are refused:
    shap reads them wrongly (additivity errors of several log-odds were measured).
    """

    name = "shap_tree"
    requires = frozenset({"proba"})

    def parts(self, adapter: ModelAdapter):
        if adapter.kind != "sklearn":
            raise CapabilityError(f"shap_tree explains scikit-learn style tree models; this is a {adapter.kind} model.")
        preprocess, estimator = split_pipeline(adapter.model)
        check_tree_estimator(estimator, "shap_tree")
        return preprocess, estimator

    def explain(self, adapter, rows, *, background, row_ids):
        self.check(adapter)
        self.parts(adapter)  # refused with this method's name before any work
        started = time.perf_counter()
        positive = getattr(adapter, "positive_index", None)
        tree = tree_model(
            adapter.model,
            pd.concat([rows, background], ignore_index=True),
            class_index=1 if positive is None else positive,
        )
        result = tree_shap(tree, tree.transform(rows))
        return Attribution(
            method=self.name,
            granularity="feature",
            feature_names=list(tree.feature_names),
            values=result.values,
            base_values=result.base_values,
            outputs=result.outputs,
            output_space=tree.space,
            row_ids=np.asarray(row_ids),
            completeness_error=result.completeness_errors,
            meta={
                "algorithm": "tree_path_dependent",
                "estimator": type(tree.estimator).__qualname__,
                "transformed_columns": len(tree.owners),
                "runtime_s": time.perf_counter() - started,
            },
        )


class ShapLinearExplainer(Explainer):
    """shap.LinearExplainer (interventional, exact) on the final linear classifier of a model or pipeline,
    in decision-function units (log-odds for logistic regression); pipelines sum back onto input columns."""

    name = "shap_linear"
    requires = frozenset({"scores"})

    def parts(self, adapter: ModelAdapter):
        if adapter.kind != "sklearn":
            raise CapabilityError(f"shap_linear explains scikit-learn linear models; this is a {adapter.kind} model.")
        preprocess, estimator = split_pipeline(adapter.model)
        coef = getattr(estimator, "coef_", None)
        if (
            coef is None
            or np.ndim(coef) != 2
            or np.shape(coef)[0] != 1
            or not callable(getattr(estimator, "decision_function", None))
        ):
            raise CapabilityError(
                f"shap_linear needs a binary linear classifier (coef_ of shape (1, d)); the final "
                f"estimator is a {type(estimator).__qualname__}."
            )
        return preprocess, estimator, coef

    def explain(self, adapter, rows, *, background, row_ids):
        import shap

        self.check(adapter)
        preprocess, estimator, coef = self.parts(adapter)
        started = time.perf_counter()
        if preprocess is not None:
            owners = input_column_map(preprocess, pd.concat([rows, background], ignore_index=True))
            transformed = dense(preprocess.transform(rows))
            reference = dense(preprocess.transform(background))
        else:
            owners, transformed, reference = list(rows.columns), rows.to_numpy(float), background.to_numpy(float)
        explainer = shap.LinearExplainer(
            (np.asarray(coef)[0], float(np.ravel(estimator.intercept_)[0])),
            shap.maskers.Independent(reference, max_samples=len(reference)),
        )
        values = np.asarray(explainer.shap_values(transformed), dtype=float)
        sign = 1.0 if getattr(adapter, "positive_index", 1) in (None, 1) else -1.0
        features = list(rows.columns)
        summed = np.zeros((len(rows), len(features)))
        for k, owner in enumerate(owners):
            summed[:, features.index(owner)] += sign * values[:, k]
        outputs = sign * np.asarray(estimator.decision_function(transformed), dtype=float)
        base = np.full(len(rows), sign * float(np.ravel(explainer.expected_value)[0]))
        return Attribution(
            method=self.name,
            granularity="feature",
            feature_names=features,
            values=summed,
            base_values=base,
            outputs=outputs,
            output_space="decision",
            row_ids=np.asarray(row_ids),
            completeness_error=np.abs(base + summed.sum(1) - outputs),
            meta={
                "algorithm": "linear_interventional",
                "estimator": type(estimator).__qualname__,
                "runtime_s": time.perf_counter() - started,
            },
        )


class ShapPartitionText(TextExplainer):
    """shap's Partition explainer with a Text masker: Owen values over the tokenizer's tokens, following
    the text's hierarchy of token groups. Settings: ``max_evals`` (default 300), ``target``."""

    name = "shap_partition_text"
    granularity = "token"
    requires = frozenset({"tokens"})

    def __init__(self, *, max_evals: int = 300, target: int | None = None, seed: int = 0) -> None:
        self.max_evals, self.target, self.seed = max_evals, target, seed

    def explain_texts(self, classifier, texts) -> Attribution:
        import shap

        texts = classifier.check_texts(texts)
        started = time.perf_counter()
        probabilities = classifier.predict_proba(texts)
        targets = (
            probabilities.argmax(1)
            if self.target is None
            else np.full(len(texts), classifier.check_target(self.target))
        )

        def predict(batch):
            return classifier.predict_proba([str(t) for t in batch], allow_empty=True)

        explainer = shap.Explainer(predict, shap.maskers.Text(classifier.tokenizer), seed=self.seed)
        explanation = explainer(texts, max_evals=self.max_evals, silent=True)
        tokens, rows, bases, errors = [], [], [], []
        for i in range(len(texts)):
            values = np.asarray(explanation[i].values)[:, targets[i]]
            data = [str(t) for t in explanation[i].data]
            keep = [j for j, t in enumerate(data) if t.strip()]  # special tokens come back as empty strings
            tokens.append([data[j].strip() for j in keep])
            rows.append(values[keep])
            base = float(np.asarray(explanation[i].base_values)[targets[i]])
            bases.append(base)
            errors.append(abs(base + values.sum() - probabilities[i, targets[i]]))
        matrix, mask = pad_rows(rows)
        return Attribution(
            method=self.name,
            granularity="token",
            feature_names=[],
            values=matrix,
            base_values=np.array(bases),
            outputs=probabilities[np.arange(len(texts)), targets],
            output_space="probability",
            row_ids=np.arange(len(texts)),
            completeness_error=np.array(errors),
            meta={"max_evals": self.max_evals, "runtime_s": time.perf_counter() - started},
            tokens=tokens,
            token_mask=mask,
            words=tokens,
            word_values=[list(r) for r in rows],
            targets=targets,
        )


class ShapPermutationExplainer(Explainer):
    """shap.PermutationExplainer on the adapter's score: works for any model with scores.

    Settings: ``max_evals`` (model calls per row; default ``10 * (n_features + 1)``, antithetic permutations
    so additivity holds exactly).
    """

    name = "shap_permutation"
    requires = frozenset({"scores"})
    settings_allowed = frozenset({"max_evals"})

    def explain(self, adapter, rows, *, background, row_ids):
        import shap

        self.check(adapter)
        started = time.perf_counter()
        codec = TabularCodec(pd.concat([rows, background], ignore_index=True))
        rows_coded, background_coded = codec.encode(rows), codec.encode(background)

        def score(codes: np.ndarray) -> np.ndarray:
            return adapter.score(codec.decode(codes))

        n_features = rows.shape[1]
        max_evals = int(self.settings.get("max_evals", 10 * (n_features + 1)))
        max_evals = max(max_evals, 2 * n_features + 1)
        masker = shap.maskers.Independent(background_coded, max_samples=len(background_coded))
        explainer = shap.PermutationExplainer(score, masker)
        # shap draws permutations from numpy's global generator: seed it per (seed, row id), so a row's values do
        # not depend on its shard or worker, and put the caller's global state back afterwards
        saved = np.random.get_state()
        values, base_values = np.zeros((len(rows), n_features)), np.zeros(len(rows))
        try:
            for i in range(len(rows)):
                np.random.seed(row_seed(self.seed, row_ids[i]) % (2**32))
                explanation = explainer(rows_coded[i : i + 1], max_evals=max_evals, silent=True)
                values[i] = np.asarray(explanation.values, dtype=float)[0]
                base_values[i] = float(np.asarray(explanation.base_values, dtype=float).reshape(-1)[0])
        finally:
            np.random.set_state(saved)
        outputs = score(rows_coded)
        error = np.abs(base_values + values.sum(axis=1) - outputs)
        return Attribution(
            method=self.name,
            granularity="feature",
            feature_names=list(rows.columns),
            values=values,
            base_values=base_values,
            outputs=outputs,
            output_space=adapter.score_kind or "score",
            row_ids=np.asarray(row_ids),
            completeness_error=error,
            meta={
                "algorithm": "permutation",
                "max_evals": max_evals,
                "background_rows": len(background),
                "runtime_s": time.perf_counter() - started,
            },
        )


def shap_choice(adapter) -> tuple[str, str]:
    """Which explainer ``shap`` runs for this model, and why: exact tree, exact linear, else permutation."""
    reasons = []
    for candidate in (ShapTreeExplainer(), ShapLinearExplainer()):
        try:
            candidate.check(adapter)
            candidate.parts(adapter)
        except CapabilityError as reason:
            reasons.append(f"{candidate.name} not applicable: {reason}")
            continue
        return candidate.name, (
            f"the exact {candidate.name.removeprefix('shap_')} explainer fits the model"
            + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    return "shap_permutation", "no exact explainer fits the model: " + "; ".join(reasons)


class ShapAutoExplainer(Explainer):
    """``shap``: an exact explainer where one fits the model (tree ensembles: TreeExplainer; linear
    classifiers and pipelines ending in one: LinearExplainer, summed back onto input columns), else
    permutation. The choice and the reason are recorded in ``meta["chosen"]`` / ``meta["chosen_because"]``."""

    name = "shap"
    requires = frozenset({"scores"})
    settings_allowed = frozenset({"max_evals"})  # passed on when shap falls back to permutation

    def explain(self, adapter, rows, *, background, row_ids):
        chosen, because = shap_choice(adapter)
        settings = self.settings if chosen == "shap_permutation" else {}
        explainer = get_shap(chosen)(background_size=self.background_size, seed=self.seed, **settings)
        result = explainer.explain(adapter, rows, background=background, row_ids=row_ids)
        result.meta["chosen"] = chosen
        result.meta["chosen_because"] = because
        return result


def get_shap(name: str):
    return {
        "shap_tree": ShapTreeExplainer,
        "shap_linear": ShapLinearExplainer,
        "shap_permutation": ShapPermutationExplainer,
    }[name]
