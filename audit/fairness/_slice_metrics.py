"""What a slice can be worse at: each metric is a per-row value over a population of rows, and a direction.

``error_rate`` is the share of wrong decisions; ``fpr`` the share of positive decisions among true negatives;
``fnr`` the share of negative decisions among true positives; ``selection_rate_low`` / ``_high`` a slice
selected less / more often than the rest; ``calibration_gap`` the mean of score minus outcome (either sign is
worse); ``mae`` the mean absolute error of a regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit._errors import ConfigError

__all__ = ["SliceMetric", "SLICE_METRICS", "slice_metric"]


@dataclass(frozen=True)
class SliceMetric:
    name: str
    words: str  # for messages and the report
    kind: str  # "proportion" (0/1 values) or "mean"
    worse: str  # "greater", "less" or "either"
    task: str  # "binary" or "regression"
    needs_scores: bool = False

    def values(
        self, y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(population mask, per-row value) for this metric."""
        every = np.ones(len(y_true), bool)
        if self.name == "mae":
            return every, np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))
        if self.name == "error_rate":  # any classifier: labels compared as they are
            return every, (np.asarray(y_true) != np.asarray(y_pred)).astype(float)
        y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
        if self.name == "fpr":
            return ~y_true, y_pred.astype(float)
        if self.name == "fnr":
            return y_true, (~y_pred).astype(float)
        if self.name in ("selection_rate_low", "selection_rate_high"):
            return every, y_pred.astype(float)
        if self.name == "calibration_gap":
            return every, np.asarray(scores, float) - y_true
        raise ConfigError(f"No slice metric {self.name!r}.")


SLICE_METRICS = {
    m.name: m
    for m in (
        SliceMetric("error_rate", "error rate", "proportion", "greater", "binary"),
        SliceMetric("fpr", "false positive rate", "proportion", "greater", "binary"),
        SliceMetric("fnr", "false negative rate", "proportion", "greater", "binary"),
        SliceMetric("selection_rate_low", "selection rate (lower is worse)", "proportion", "less", "binary"),
        SliceMetric("selection_rate_high", "selection rate (higher is worse)", "proportion", "greater", "binary"),
        SliceMetric(
            "calibration_gap",
            "calibration gap (mean score minus outcome)",
            "mean",
            "either",
            "binary",
            needs_scores=True,
        ),
        SliceMetric("mae", "mean absolute error", "mean", "greater", "regression"),
    )
}


def slice_metric(name: str) -> SliceMetric:
    try:
        return SLICE_METRICS[name]
    except KeyError:
        raise ConfigError(
            f"The 'slices.metrics' setting must name slice metrics among {sorted(SLICE_METRICS)}. Got {name!r} instead."
        ) from None
