"""LIME: local linear surrogates, for tabular rows and for texts.

LIME's weights come from a fitted local model, not from a decomposition of the output, so they carry no
completeness guarantee; each example records the surrogate's fit (R^2) instead, as its quality check.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from explainers._errors import DataError
from explainers._base import Explainer, TextExplainer, row_seed
from explainers._types import Attribution, pad_rows

__all__ = ["LimeTabular", "LimeText"]


class LimeTabular(Explainer):
    """``lime.lime_tabular`` on the adapter's score. Settings: ``num_samples`` (default 1000)."""

    name = "lime_tabular"
    requires = frozenset({"scores"})
    settings_allowed = frozenset({"num_samples"})

    def explain(self, adapter, rows, *, background, row_ids):
        from lime.lime_tabular import LimeTabularExplainer

        self.check(adapter)
        started = time.perf_counter()
        columns = list(rows.columns)
        # background first: the codes LIME samples from then do not depend on which rows a shard holds
        both = pd.concat([background, rows], ignore_index=True)
        categorical = [j for j, c in enumerate(columns) if not pd.api.types.is_numeric_dtype(both[c])]
        categories = {j: pd.unique(both[columns[j]].to_numpy()) for j in categorical}
        numeric = [c for j, c in enumerate(columns) if j not in categorical]
        if both[numeric].isna().any().any():
            raise DataError(
                "lime_tabular needs numeric features without missing values; impute them first or "
                "use shap_permutation, which carries NaN through."
            )

        def encode(frame):
            matrix = np.empty((len(frame), len(columns)))
            for j, column in enumerate(columns):
                matrix[:, j] = (
                    pd.Index(categories[j]).get_indexer(frame[column].to_numpy())
                    if j in categorical
                    else frame[column].to_numpy(dtype=float)
                )
            return matrix

        def decode(matrix):
            data = {
                c: (
                    categories[j][np.asarray(matrix[:, j]).round().astype(int).clip(0, len(categories[j]) - 1)]
                    if j in categorical
                    else matrix[:, j]
                )
                for j, c in enumerate(columns)
            }
            return pd.DataFrame(data).astype(rows.dtypes.to_dict())

        def predict(matrix):
            score = adapter.score(decode(matrix))
            return (
                np.column_stack([1 - score, score])
                if adapter.score_kind == "probability"
                else np.column_stack([-score, score])
            )

        explainer = LimeTabularExplainer(
            encode(background),
            feature_names=columns,
            categorical_features=categorical,
            categorical_names={j: [str(v) for v in categories[j]] for j in categorical},
            mode="classification",
            random_state=self.seed,
            discretize_continuous=True,
        )
        encoded = encode(rows)
        values = np.zeros((len(rows), len(columns)))
        intercepts, fits = np.zeros(len(rows)), []
        for i, row in enumerate(encoded):
            # one random stream per (seed, row id): the same values on any number of workers or shards
            stream = np.random.RandomState(row_seed(self.seed, row_ids[i]))
            explainer.random_state = stream
            if getattr(explainer, "discretizer", None) is not None:
                explainer.discretizer.random_state = stream
            explanation = explainer.explain_instance(
                row,
                predict,
                labels=(1,),
                num_features=len(columns),
                num_samples=int(self.settings.get("num_samples", 1000)),
            )
            for j, weight in explanation.as_map()[1]:
                values[i, j] = weight
            intercepts[i] = explanation.intercept[1]
            fits.append(float(explanation.score))
        return Attribution(
            method=self.name,
            granularity="feature",
            feature_names=columns,
            values=values,
            base_values=intercepts,
            outputs=adapter.score(rows),
            output_space=adapter.score_kind or "score",
            row_ids=np.asarray(row_ids),
            completeness_error=None,
            meta={
                "surrogate_r2_median": float(np.median(fits)),
                "surrogate_r2_min": float(np.min(fits)),
                "num_samples": int(self.settings.get("num_samples", 1000)),
                "discretized": True,
                "runtime_s": time.perf_counter() - started,
            },
        )


class LimeText(TextExplainer):
    """``lime.lime_text`` on a text classifier's probabilities; words are LIME's own (split on non-word
    characters), each occurrence shown with its word's weight. Settings: ``num_samples`` (default 500),
    ``target`` (default: the predicted class)."""

    name = "lime_text"
    granularity = "token"
    requires = frozenset({"tokens"})

    def __init__(self, *, num_samples: int = 500, target: int | None = None, seed: int = 0) -> None:
        self.num_samples, self.target, self.seed = num_samples, target, seed

    def explain_texts(self, classifier, texts) -> Attribution:
        from lime.lime_text import LimeTextExplainer

        texts = classifier.check_texts(texts)
        started = time.perf_counter()
        explainer = LimeTextExplainer(random_state=self.seed)
        probabilities = classifier.predict_proba(texts)
        rows_tokens, rows_values, fits, targets, intercepts = [], [], [], [], []

        def predict(batch):
            return classifier.predict_proba(list(batch), allow_empty=True)

        for i, text in enumerate(texts):
            target = int(probabilities[i].argmax()) if self.target is None else classifier.check_target(self.target)
            explanation = explainer.explain_instance(
                text, predict, labels=(target,), num_features=10_000, num_samples=self.num_samples
            )
            weights = dict(explanation.as_map()[target])
            indexed = explanation.domain_mapper.indexed_string
            words = [indexed.word(j) for j in range(indexed.num_words())]
            by_position = sorted((p, j) for j in range(indexed.num_words()) for p in indexed.string_position(j))
            rows_tokens.append([words[j] for _, j in by_position])
            rows_values.append([weights.get(j, 0.0) for _, j in by_position])
            fits.append(float(explanation.score))
            targets.append(target)
            intercepts.append(float(explanation.intercept[target]))
        values, mask = pad_rows(rows_values)
        return Attribution(
            method=self.name,
            granularity="token",
            feature_names=[],
            values=values,
            base_values=np.array(intercepts),
            outputs=probabilities[np.arange(len(texts)), targets],
            output_space="probability",
            row_ids=np.arange(len(texts)),
            completeness_error=None,
            meta={
                "surrogate_r2_median": float(np.median(fits)),
                "num_samples": self.num_samples,
                "runtime_s": time.perf_counter() - started,
            },
            tokens=rows_tokens,
            token_mask=mask,
            words=rows_tokens,
            word_values=rows_values,
            targets=np.array(targets),
        )
