"""How well one feature, on its own, tells the members of a group from the comparison group (a proxy's strength).

Each feature is cut into at most ``bins`` categories (its own categories, missing values as one more; numbers in
quantile bins), and the one-feature classifier is the share of group members in the row's category, estimated on
the other half of the rows (two-fold cross-fitting, so that a feature with many rare categories does not look
informative by fitting noise). Its AUC (0.5: no information, 1: the feature alone tells who is who) and the
normalised mutual information between the binned feature and the protected attribute (all its groups) are
reported; ``2 * AUC - 1`` is the strength that the proxy score multiplies with the feature's share of the gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["binned", "proxy_auc", "attribute_nmi"]


def binned(values: pd.Series, *, bins: int = 20) -> np.ndarray:
    """Integer codes: categories as they are (missing as its own code), numbers in up to ``bins`` quantile bins."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) \
            and values.nunique(dropna=True) > bins:
        ranks = values.rank(method="average", pct=True).to_numpy()
        codes = np.floor(np.nan_to_num(ranks, nan=-1.0) * bins).clip(-1, bins - 1).astype(int)
        return codes + 1  # 0: missing
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes + 1


def proxy_auc(codes: np.ndarray, member: np.ndarray, folds: np.ndarray, *, prior_rows: float = 1.0) -> float:
    """The cross-fitted AUC of "share of members in the row's bin" for telling ``member`` rows from the others:
    each fold (``folds``: 0 or 1 per row) scored with shares estimated on the other, the two folds' AUCs averaged
    by their rows (pooling them would rank one fold's estimates against the other's)."""
    size = int(codes.max()) + 1
    overall = member.mean()
    aucs, rows = [], []
    for half in (0, 1):
        fit, use = folds != half, folds == half
        counts = np.bincount(codes[fit], minlength=size)
        members = np.bincount(codes[fit], weights=member[fit].astype(float), minlength=size)
        # a bin the other half never saw gets the overall share (the prior) instead of a guess
        share = (members + prior_rows * overall) / (counts + prior_rows)
        if member[use].all() or not member[use].any():
            continue
        aucs.append(_binned_auc(share, codes[use], member[use]))
        rows.append(use.sum())
    return float(np.average(aucs, weights=rows)) if aucs else float("nan")


def _binned_auc(share: np.ndarray, codes: np.ndarray, positive: np.ndarray) -> float:
    """The Mann-Whitney AUC (ties count one half) of the scores ``share[codes]``, as scikit-learn's roc_auc_score
    computes it, from the counts per distinct score: the scores take a few values (one per bin), so counting is
    linear in the rows where ranking them is not."""
    levels, level_of_bin = np.unique(share, return_inverse=True)
    level = level_of_bin[codes]
    hits = np.bincount(level[positive], minlength=len(levels)).astype(float)
    misses = np.bincount(level[~positive], minlength=len(levels)).astype(float)
    below = np.cumsum(misses) - misses  # the other rows scored strictly lower
    return float((hits @ below + 0.5 * hits @ misses) / (hits.sum() * misses.sum()))


def attribute_nmi(codes: np.ndarray, attribute: np.ndarray) -> float:
    """Normalised mutual information of bins and attribute, arithmetic-mean normalisation, equal to scikit-learn's
    ``normalized_mutual_info_score(attribute, codes)`` (tested against it) from one table of counts."""
    classes, true = np.unique(attribute, return_inverse=True)
    clusters, pred = np.unique(codes, return_inverse=True)
    if len(classes) == len(clusters) <= 1:  # neither labelling splits the rows: scikit-learn's limit case
        return 1.0
    table = np.bincount(true * len(clusters) + pred, minlength=len(classes) * len(clusters)).astype(float)
    table = table.reshape(len(classes), len(clusters))
    total = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    cells = table > 0
    outer = np.outer(rows, cols)[cells]
    mutual = float(np.sum(table[cells] / total * (np.log(table[cells]) + np.log(total) - np.log(outer))))
    if mutual <= 0:  # no information (rounding can make it a hair below 0)
        return 0.0
    entropy = [float(-np.sum(p * np.log(p))) for p in (rows / total, cols / total)]
    return float(mutual / (0.5 * (entropy[0] + entropy[1])))
