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

__all__ = ["binned", "proxy_auc", "attribute_nmi", "JointModel", "JOINT_ROWS", "rank_auc"]


def binned(values: pd.Series, *, bins: int = 20) -> np.ndarray:
    """Integer codes: categories as they are (missing as its own code), numbers in up to ``bins`` quantile bins."""
    if (
        pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and values.nunique(dropna=True) > bins
    ):
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


JOINT_ROWS = 6_000  # rows of the two groups a joint AUC is fitted on (a seeded sample beyond that)


class JointModel:
    """How well the model's inputs *together* tell the rows of one group from another's: a gradient-boosted
    classifier on their binned codes (``codes``: rows x inputs; shallow trees with categorical splits, so many weak
    inputs add up and an XOR of two counts), cross-fitted on two folds (each fold scored by the model fitted on the
    other; AUCs averaged by the folds' rows). ``drops``: per input, how much that AUC falls when its held-out
    values are shuffled (permutation importance, Breiman 2001): near 0 for an input that adds nothing to the
    others (computed when ``importance``)."""

    def __init__(
        self, codes: np.ndarray, member: np.ndarray, folds: np.ndarray, *, seed: int, importance: bool = True
    ) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self._rng = np.random.default_rng(seed)
        if len(member) > JOINT_ROWS:
            keep = np.sort(self._rng.choice(len(member), JOINT_ROWS, replace=False))
            codes, member, folds = codes[keep], member[keep], folds[keep]
        self._codes, self._member, self.width = codes, member, codes.shape[1]
        categorical = codes.max(axis=0) < 250  # HistGradientBoosting's categorical limit; beyond it, ordinal codes
        self._fitted: list[tuple[object, np.ndarray]] = []
        for half in (0, 1):
            fit, use = folds != half, folds == half
            if member[fit].all() or not member[fit].any() or member[use].all() or not member[use].any():
                continue
            # shallow trees: additive evidence (many weak inputs) and interactions of up to three inputs
            model = HistGradientBoostingClassifier(
                max_iter=30,
                learning_rate=0.3,
                max_depth=3,
                min_samples_leaf=40,
                categorical_features=categorical,
                early_stopping=False,
                random_state=seed,
            )
            self._fitted.append((model.fit(codes[fit], member[fit]), use))
        self.auc, self.drops = self._permuted(self.width if importance else 0)

    def _permuted(self, shuffled: int) -> tuple[float, np.ndarray]:
        if not self._fitted:
            return float("nan"), np.full(self.width, np.nan)
        aucs, drops, rows = [], [], []
        for model, use in self._fitted:
            held = self._codes[use]
            copies = np.tile(held, (shuffled + 1, 1))  # the held-out rows, then one copy per shuffled input
            for column in range(shuffled):
                copies[(column + 1) * len(held) : (column + 2) * len(held), column] = self._rng.permutation(
                    held[:, column]
                )
            scores = model.predict_proba(copies)[:, 1].reshape(shuffled + 1, len(held))
            fold = list(rank_auc(self._member[use], scores))
            aucs.append(fold[0])
            drops.append([fold[0] - value for value in fold[1:]])
            rows.append(int(use.sum()))
        drops_mean = np.average(np.array(drops), axis=0, weights=rows) if shuffled else np.full(self.width, np.nan)
        return float(np.average(aucs, weights=rows)), drops_mean


def rank_auc(member: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The Mann-Whitney AUC (ties count one half, as scikit-learn's roc_auc_score) of each row of ``scores``
    (copies x rows) for telling ``member`` rows from the others, from average ranks in one pass."""
    from scipy.stats import rankdata

    positive = np.asarray(member, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    ranks = rankdata(np.atleast_2d(scores), axis=1)
    return (ranks[:, positive].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
