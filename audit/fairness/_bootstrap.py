"""Bootstrap draws of the counts (multinomial over cells: the row bootstrap in distribution) and the score
metrics (AUC, calibration) by group, with their resamples."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from audit._errors import DataError


def bootstrap_cells(
    codes: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    weights: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """(n_boot, groups, 4) weighted cell counts of row-bootstrap resamples, drawn as one multinomial."""
    rng = np.random.default_rng(seed)
    cell = codes * 4 + 2 * y_true + y_pred
    if weights is None:
        categories = np.bincount(cell, minlength=4 * n_groups)
        target, values = np.arange(4 * n_groups), np.ones(4 * n_groups)
    else:
        # one category per distinct (cell, weight): resampling rows moves whole rows, weight and all
        order = np.lexsort((weights, cell))
        keys = np.stack([cell[order], weights[order]])
        starts = np.flatnonzero(np.r_[True, np.any(keys[:, 1:] != keys[:, :-1], axis=0)])
        categories = np.diff(np.r_[starts, len(order)])
        target, values = cell[order][starts], weights[order][starts]
    probabilities = categories / categories.sum()
    total = int(categories.sum())
    out = np.empty((n_boot, 4 * n_groups))
    chunk = max(1, min(n_boot, 20_000_000 // max(1, len(categories))))
    for start in range(0, n_boot, chunk):
        draws = rng.multinomial(total, probabilities, size=min(chunk, n_boot - start)).astype(float)
        if weights is None:
            out[start : start + len(draws)] = draws
        else:
            block = np.zeros((len(draws), 4 * n_groups))
            np.add.at(block.T, target, (draws * values).T)
            out[start : start + len(draws)] = block
    return out.reshape(n_boot, n_groups, 4)


def score_metric(name: str, y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> float:
    if len(y) == 0:
        return np.nan
    if name == "mean_score":
        return float(np.average(s, weights=w))
    if name == "roc_auc":
        if y.all() or not y.any():
            return np.nan
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(y, s, sample_weight=w))
    if name != "ece":
        raise DataError(f"Unknown score metric {name!r}: the score metrics are roc_auc, ece and mean_score.")
    # ece: 10 equal-width bins, |mean score - observed rate| weighted by the bin's share
    w = np.ones(len(y)) if w is None else w
    bins = np.minimum((s * 10).astype(int), 9)
    mass = np.bincount(bins, weights=w, minlength=10)
    gap = np.abs(np.bincount(bins, weights=w * s, minlength=10) - np.bincount(bins, weights=w * y, minlength=10))
    return float(gap.sum() / mass.sum()) if mass.sum() > 0 else np.nan


def score_metrics(
    names: Sequence[str],
    codes: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray | None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    values = {}
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    for name in names:
        per_group = []
        for g in range(n_groups):
            rows = order[bounds[g] : bounds[g + 1]]
            per_group.append(score_metric(name, y_true[rows], scores[rows], None if weights is None else weights[rows]))
        overall = score_metric(name, y_true, scores, weights)
        values[name] = (np.array(per_group), np.array([overall]))
    return values


_SCORE_BINS = 200


def bootstrap_score_metrics(
    names: Sequence[str],
    codes: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Bootstrap samples of score metrics from a multinomial over (group, label, score bin) cells.

    Approximate by design: scores are binned into 200 bins (equal-width on [0, 1] for probabilities,
    quantiles otherwise) and each cell keeps its mean score and mean weight, so ties within a bin count
    half in ROC AUC. Point estimates are exact; only the intervals use the bins.
    """
    rng = np.random.default_rng(seed + 1)
    if scores.min() >= 0 and scores.max() <= 1:
        edges = np.linspace(0, 1, _SCORE_BINS + 1)[1:-1]
    else:
        edges = np.unique(np.quantile(scores, np.linspace(0, 1, _SCORE_BINS + 1)[1:-1]))
    n_bins = len(edges) + 1
    bins = np.searchsorted(edges, scores, side="right")
    cell = (codes * 2 + y_true.astype(np.int64)) * n_bins + bins
    size = n_groups * 2 * n_bins
    w = np.ones(len(scores)) if weights is None else weights
    rows = np.bincount(cell, minlength=size).astype(float)
    mass = np.bincount(cell, weights=w, minlength=size)
    with np.errstate(all="ignore"):
        mean_weight = np.where(rows > 0, mass / rows, 0.0)
        mean_score = np.where(mass > 0, np.bincount(cell, weights=w * scores, minlength=size) / mass, 0.0)
    draws = rng.multinomial(int(rows.sum()), rows / rows.sum(), size=n_boot) * mean_weight  # (B, size) weight
    draws = draws.reshape(n_boot, n_groups, 2, n_bins)
    score = mean_score.reshape(n_groups, 2, n_bins)
    # the overall value resamples the same rows: sum the cells over groups; its bin scores are mass-weighted
    overall_draws = draws.sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        total_mass = mass.reshape(n_groups, 2, n_bins).sum(0, keepdims=True)
        overall_score = np.where(
            total_mass > 0, (mass.reshape(n_groups, 2, n_bins) * score).sum(0, keepdims=True) / total_mass, 0.0
        )
    per_group = _score_metrics_from_cells(names, draws, score, n_bins)
    overall = _score_metrics_from_cells(names, overall_draws, overall_score, n_bins)
    return {name: (per_group[name], overall[name]) for name in per_group}


def _score_metrics_from_cells(
    names: Sequence[str], draws: np.ndarray, score: np.ndarray, n_bins: int
) -> dict[str, np.ndarray]:
    """ROC AUC, mean score and ECE of resampled (resample, group, label, bin) weights with bin mean scores."""
    out = {}
    n_boot, n_groups = draws.shape[:2]
    with np.errstate(all="ignore"):
        negatives, positives = draws[:, :, 0, :], draws[:, :, 1, :]
        if "roc_auc" in names:
            below = np.cumsum(negatives, axis=-1) - negatives
            wins = (positives * (below + 0.5 * negatives)).sum(-1)
            total = positives.sum(-1) * negatives.sum(-1)
            out["roc_auc"] = np.where(total > 0, wins / total, np.nan)
        group_mass = draws.sum(axis=(2, 3))
        if "mean_score" in names:
            out["mean_score"] = np.where(group_mass > 0, (draws * score).sum(axis=(2, 3)) / group_mass, np.nan)
        if "ece" in names and n_bins == _SCORE_BINS:
            coarse = draws.reshape(n_boot, n_groups, 2, 10, n_bins // 10)
            predicted = (coarse * score.reshape(n_groups, 2, 10, n_bins // 10)).sum(axis=(2, 4))
            observed = coarse[:, :, 1].sum(axis=-1)
            gap = np.abs(predicted - observed).sum(-1)
            out["ece"] = np.where(group_mass > 0, gap / group_mass, np.nan)
    return out


# --- disparities ----------------------------------------------------------------------------------------
