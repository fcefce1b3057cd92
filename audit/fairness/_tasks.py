"""Group metrics beyond binary classification: regression and multiclass, in the same table shape.

Their sums are not confusion counts, so the bootstrap here is the Poisson bootstrap: each row gets a
Poisson(1) count per resample, and per-group sums are one sparse product per chunk of resamples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit._errors import DataError
from audit.fairness._counts import check_rows, groups_with_reference
from audit.fairness._tables import assemble_table
from audit.fairness._types import FairnessTable
from audit.fairness._metrics import GroupMetric

__all__ = ["regression_group_metrics", "multiclass_group_metrics"]


def _group_sums(
    codes: np.ndarray, n_groups: int, values: np.ndarray, weights: np.ndarray | None, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-group weighted sums of each column of ``values`` (rows x quantities), and Poisson-bootstrap
    samples of them (resamples x groups x quantities)."""
    from scipy import sparse

    w = np.ones(len(codes)) if weights is None else weights
    weighted = values * w[:, None]
    indicator = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes)))
    sums = np.asarray(indicator @ weighted)
    if n_boot <= 0:
        return sums, None
    rng = np.random.default_rng(seed)
    samples = np.empty((n_boot, n_groups, values.shape[1]))
    chunk = max(1, min(n_boot, 20_000_000 // max(1, len(codes))))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        counts = rng.poisson(1.0, size=(size, len(codes))).astype(float)  # resamples x rows
        for q in range(values.shape[1]):
            samples[start : start + size, :, q] = np.asarray(indicator @ (counts * weighted[:, q]).T).T
    return sums, samples


def _prepare(
    y_true: Any, y_pred: Any, sensitive: Any, sample_weight: Any, reference: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, list[tuple[Any, ...]], list[str]]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    sensitive, weights = check_rows(y_true, y_pred, sensitive, sample_weight)
    codes, keys, columns = groups_with_reference(sensitive, reference)
    return y_true, y_pred, weights, codes, keys, columns


def _ratio_metric(
    sums: np.ndarray, samples: np.ndarray | None, top: int, bottom: int, support: np.ndarray
) -> dict[str, Any]:
    with np.errstate(all="ignore"):
        values = np.where(sums[:, bottom] > 0, sums[:, top] / sums[:, bottom], np.nan)
        overall = (
            np.array([sums[:, top].sum() / sums[:, bottom].sum()]) if sums[:, bottom].sum() > 0 else np.array([np.nan])
        )
        boot = boot_overall = None
        if samples is not None:
            boot = np.where(samples[:, :, bottom] > 0, samples[:, :, top] / samples[:, :, bottom], np.nan)
            totals = samples.sum(axis=1)
            boot_overall = np.where(totals[:, bottom] > 0, totals[:, top] / totals[:, bottom], np.nan)[:, None]
    return {"values": values, "support": support, "overall": overall, "boot": boot, "boot_overall": boot_overall}


def _count_metric(n: np.ndarray) -> dict[str, Any]:
    return {
        "values": n.astype(float),
        "support": n,
        "overall": np.array([float(n.sum())]),
        "boot": None,
        "boot_overall": None,
    }


def _bootstrap_info(n_boot: int, ci_level: float, seed: int) -> dict[str, Any]:
    return (
        {
            "n_boot": n_boot,
            "level": ci_level,
            "seed": seed,
            "method": "percentile",
            "resampling": "Poisson bootstrap of rows",
        }
        if n_boot > 0
        else {"n_boot": 0}
    )


def regression_group_metrics(
    *,
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame,
    sample_weight: Any = None,
    min_group_size: int = 30,
    reference: str | None = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> FairnessTable:
    """Mean prediction, mean label and mean absolute error by group, with bootstrap intervals.

    Disparities treat the highest mean prediction as the reference point (as selection rate does for
    classifiers: a higher prediction is the favourable outcome) and the lowest MAE as the best.
    """
    y_true, y_pred, weights, codes, keys, columns = _prepare(y_true, y_pred, sensitive, sample_weight, reference)
    try:
        y_true, y_pred = y_true.astype(float), y_pred.astype(float)
    except (TypeError, ValueError) as err:
        raise DataError(
            'Regression audits need numeric labels and predictions. Use task = "binary" or '
            '"multiclass" for class labels.'
        ) from err
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise DataError("Regression labels and predictions must be finite numbers (no NaN or infinity).")
    values = np.column_stack([np.ones(len(y_true)), y_pred, y_true, np.abs(y_true - y_pred)])
    sums, samples = _group_sums(codes, len(keys), values, weights, n_boot, seed)
    n = np.bincount(codes, minlength=len(keys))
    specs = [
        GroupMetric("count", "Count", None, "", None),
        GroupMetric("mean_prediction", "Mean prediction", None, "the group is empty", True),
        GroupMetric("mean_label", "Mean label", None, "the group is empty", None),
        GroupMetric("mae", "Mean absolute error", None, "the group is empty", False),
    ]
    computed = {
        "count": _count_metric(n),
        "mean_prediction": _ratio_metric(sums, samples, 1, 0, n),
        "mean_label": _ratio_metric(sums, samples, 2, 0, n),
        "mae": _ratio_metric(sums, samples, 3, 0, n),
    }
    return assemble_table(
        columns=columns,
        keys=keys,
        specs=specs,
        computed=computed,
        group_n=n,
        min_group_size=min_group_size,
        reference=reference,
        ci_level=ci_level,
        unweighted=None,
        bootstrap=_bootstrap_info(n_boot, ci_level, seed),
        weighted=weights is not None,
    )


def multiclass_group_metrics(
    *,
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame,
    classes: list[Any] | None = None,
    sample_weight: Any = None,
    min_group_size: int = 30,
    reference: str | None = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> FairnessTable:
    """Accuracy and the selection rate of each class (``selection_rate[c]``: share predicted ``c``) by group.

    Each class's selection rate gets its own disparity (highest rate as the reference) and significance
    test against that group (z test, or Fisher's exact test for small counts; Holm across groups).
    """
    y_true, y_pred, weights, codes, keys, columns = _prepare(y_true, y_pred, sensitive, sample_weight, reference)
    if classes is None:
        classes = sorted(set(pd.unique(y_true).tolist()) | set(pd.unique(y_pred).tolist()), key=str)
    unknown = sorted(set(map(str, pd.unique(y_pred))) - set(map(str, classes)))
    if unknown:
        raise DataError(f"Predictions hold classes {unknown} that are not among the classes {list(classes)}.")
    predicted = np.stack([y_pred.astype(str) == str(c) for c in classes], axis=1).astype(float)
    correct = (y_true.astype(str) == y_pred.astype(str)).astype(float)[:, None]
    values = np.column_stack([np.ones(len(y_true)), correct, predicted])
    sums, samples = _group_sums(codes, len(keys), values, weights, n_boot, seed)
    raw, _ = _group_sums(codes, len(keys), values, None, 0, seed)
    n = np.bincount(codes, minlength=len(keys))
    specs = [
        GroupMetric("count", "Count", None, "", None),
        GroupMetric("accuracy", "Accuracy", None, "the group is empty", True, (("correct",), ("n",))),
    ]
    computed = {"count": _count_metric(n), "accuracy": _ratio_metric(sums, samples, 1, 0, n)}
    unweighted = {"n": raw[:, 0], "correct": raw[:, 1]}
    for i, cls in enumerate(classes):
        name = f"selection_rate[{cls}]"
        specs.append(
            GroupMetric(
                name, f"Selection rate of {cls}", None, "the group is empty", True, ((f"predicted_{i}",), ("n",))
            )
        )
        computed[name] = _ratio_metric(sums, samples, 2 + i, 0, n)
        unweighted[f"predicted_{i}"] = raw[:, 2 + i]
    return assemble_table(
        columns=columns,
        keys=keys,
        specs=specs,
        computed=computed,
        group_n=n,
        min_group_size=min_group_size,
        reference=reference,
        ci_level=ci_level,
        unweighted=unweighted,
        bootstrap=_bootstrap_info(n_boot, ci_level, seed),
        weighted=weights is not None,
    )
