"""A text classifier (explainers' TextClassifier) as a model adapter for audits."""

from __future__ import annotations

from typing import Any

from audit.data._labels import positive_class_index
from audit.models._adapters import ModelAdapter, Predictions

__all__ = ["TextAdapter"]


class TextAdapter(ModelAdapter):
    """Decisions and scores for the positive class of a TextClassifier; the positive class is found by the one
    label rule (audit.data._labels) and recorded."""

    kind = "text"
    capabilities = frozenset({"tokens", "gradients", "embeddings", "scores", "labels"})

    def __init__(self, classifier: Any, *, positive_label: Any, threshold: float = 0.5) -> None:
        super().__init__(classifier.model, threshold=threshold)
        self.classifier = classifier
        self.labels = [str(label) for label in (classifier.labels or range(classifier.n_classes or 2))]
        self.positive_index, self.positive_source = positive_class_index(self.labels, positive_label, what="text model")
        self.device = str(classifier.device)

    @property
    def score_kind(self) -> str | None:
        return "probability"

    def predict(self, features) -> Predictions:
        probabilities = self.classifier.predict_proba(features.iloc[:, 0].tolist())
        scores = probabilities[:, self.positive_index]
        if len(self.labels) == 2:
            decided = scores >= self.threshold
        else:  # several classes: the positive class is decided when it is the most probable
            decided = probabilities.argmax(1) == self.positive_index
        return Predictions(decided, scores, "probability")

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            "labels": self.labels,
            "positive_class_index": self.positive_index,
            "positive_source": self.positive_source,
            "max_length": self.classifier.max_length,
        }
