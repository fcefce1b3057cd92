"""Exact interventional tree SHAP by our own traversal of scikit-learn's tree ensembles.

The game: ``v(S)`` is the model's output on the hybrid row that takes row x's values on the features in S and a
background row z's elsewhere, averaged over the background. An ensemble's output is a sum over its leaves of
``value * [the hybrid reaches the leaf]``, and a leaf is a box: on each feature its path tests, an interval (and
whether a missing value goes its way). For one leaf and one pair (x, z) let A be the tested features only x
satisfies and B those only z satisfies; the hybrid reaches the leaf iff A is inside S and B outside it (a feature
neither satisfies makes it unreachable). The Shapley values of that game are closed-form: each feature of A gets
``value * (|A|-1)! |B|! / (|A|+|B|)!`` and each of B ``-value * |A|! (|B|-1)! / (|A|+|B|)!``.

A leaf's contribution to row x depends only on which of its features x satisfies (a bit pattern p) and, per
background row, which it fails (u; the pair is reachable iff u is inside p, and then |A| = |u|). So each leaf
costs (distinct patterns of the rows) x (distinct patterns of the background) x (its features), not rows x
background rows x nodes: that is why it is faster than shap's pairwise traversal, and it compares every input
with every threshold exactly as the estimator does (float32 for the scikit-learn trees, float64 for
HistGradientBoosting), where shap 0.51's interventional code is off by up to a log-odd on HistGradientBoosting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explainers._errors import CapabilityError

__all__ = [
    "Leaves",
    "ensemble_leaves",
    "interventional_values",
    "neutralised_outputs",
    "path_dependent_values",
    "EXACT_INTERVENTIONAL_MODELS",
]

# The estimators whose trees this module reads (by type name), and how each compares inputs with thresholds.
EXACT_INTERVENTIONAL_MODELS = {
    "sklearn.tree._classes.DecisionTreeClassifier": "forest",
    "sklearn.ensemble._forest.RandomForestClassifier": "forest",
    "sklearn.ensemble._forest.ExtraTreesClassifier": "forest",
    "sklearn.ensemble._gb.GradientBoostingClassifier": "gradient_boosting",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier": "hist",
}
_MAX_PATH_FEATURES = 62  # a leaf's pattern is an int64 bit set


@dataclass(frozen=True)
class Leaves:
    """Every leaf of an ensemble as the box of inputs that reach it, in the estimator's own comparison precision.

    Per leaf ``i``: ``features[i]`` (the distinct transformed columns its path tests), ``low[i]`` / ``high[i]``
    (a value reaches it when ``low < value <= high``), ``missing[i]`` (whether a missing value does), ``cover[i]``
    (the trees' own weighting of a feature left out, for the path-dependent game) and ``values[i]`` (its part of
    the output in the explained space, already scaled and signed)."""

    features: list[np.ndarray]
    low: list[np.ndarray]
    high: list[np.ndarray]
    missing: list[np.ndarray]
    values: np.ndarray
    float32: bool  # the estimator compares inputs as float32 (scikit-learn's trees) rather than float64
    cover: list[np.ndarray]  # per leaf per feature: the share of training cover its splits on it send the leaf's way

    def prepare(self, rows: np.ndarray) -> np.ndarray:
        """Rows as the estimator compares them."""
        rows = np.asarray(rows, dtype=float)
        return rows.astype(np.float32).astype(np.float64) if self.float32 else rows


def _type_name(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _boxes(children_left, children_right, feature, threshold, missing_left, is_leaf, cover, root: int = 0):
    """(leaf node, {feature: (low, high, missing goes this way, cover ratio)}) for every leaf of one tree; a value
    goes left when it is at most the node's threshold. The cover ratio is the product, over the path's splits on
    that feature, of the share of the training rows (the node's cover) that went the path's way."""
    out = []
    stack = [(root, {})]
    while stack:
        node, box = stack.pop()
        if is_leaf(node):
            out.append((node, box))
            continue
        f, t = int(feature[node]), float(threshold[node])
        low, high, missing, ratio = box.get(f, (-np.inf, np.inf, True, 1.0))
        left_node, right_node = int(children_left[node]), int(children_right[node])
        total = float(cover[node])
        left, right = dict(box), dict(box)
        left[f] = (low, min(high, t), missing and bool(missing_left[node]), ratio * float(cover[left_node]) / total)
        right[f] = (
            max(low, t),
            high,
            missing and not bool(missing_left[node]),
            ratio * float(cover[right_node]) / total,
        )
        stack.append((right_node, right))
        stack.append((left_node, left))
    return out


def _sklearn_tree_boxes(tree):
    missing_left = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=bool))
    left, right = tree.children_left, tree.children_right
    return _boxes(
        left,
        right,
        tree.feature,
        tree.threshold,
        missing_left,
        lambda n: left[n] == right[n],
        tree.weighted_n_node_samples,
    )


def ensemble_leaves(estimator, class_index: int) -> Leaves:
    """The leaves of a fitted binary scikit-learn tree ensemble, valued in the space ``tree_model`` explains:
    forests (and a single tree) in the probability of class ``class_index``, boosting in its log-odds."""
    kind = EXACT_INTERVENTIONAL_MODELS.get(_type_name(estimator))
    if kind is None:
        known = ", ".join(sorted(name.rsplit(".", 1)[1] for name in EXACT_INTERVENTIONAL_MODELS))
        raise CapabilityError(
            f"Exact interventional tree SHAP reads scikit-learn's tree ensembles ({known}); the "
            f"final estimator is a {type(estimator).__qualname__}, whose trees this toolkit does not "
            "read exactly. Retrain it as one of those, or explain it another way."
        )
    if len(getattr(estimator, "classes_", ())) != 2:
        raise CapabilityError(
            "Exact interventional tree SHAP here explains binary classifiers; the model has "
            f"{len(getattr(estimator, 'classes_', ()))} classes."
        )
    sign = 1.0 if class_index == 1 else -1.0
    parts: list[tuple[dict, float]] = []
    if kind == "forest":
        trees = getattr(estimator, "estimators_", [estimator])
        for member in trees:
            tree = member.tree_
            for node, box in _sklearn_tree_boxes(tree):
                counts = tree.value[node, 0, :]
                parts.append((box, float(counts[class_index] / counts.sum()) / len(trees)))
    elif kind == "gradient_boosting":
        rate = float(estimator.learning_rate)
        for member in estimator.estimators_[:, 0]:
            tree = member.tree_
            for node, box in _sklearn_tree_boxes(tree):
                parts.append((box, sign * rate * float(tree.value[node, 0, 0])))
    else:  # HistGradientBoosting: leaf values already carry the learning rate; inputs compared in float64
        if np.any(getattr(estimator, "is_categorical_", None) is not None and estimator.is_categorical_):
            raise CapabilityError(
                "HistGradientBoosting's native categorical splits are not read here; ordinal-"
                "encode the categories without categorical_features."
            )
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            for node, box in _boxes(
                nodes["left"],
                nodes["right"],
                nodes["feature_idx"],
                nodes["num_threshold"],
                nodes["missing_go_to_left"],
                lambda n: bool(nodes["is_leaf"][n]),
                nodes["count"],
            ):
                parts.append((box, sign * float(nodes["value"][node])))
    features, low, high, missing, cover = [], [], [], [], []
    for box, _ in parts:
        keys = np.array(sorted(box), dtype=int)
        if len(keys) > _MAX_PATH_FEATURES:
            raise CapabilityError(
                f"A leaf's path tests {len(keys)} distinct inputs; exact interventional tree SHAP "
                f"here handles up to {_MAX_PATH_FEATURES}. Limit the trees' depth."
            )
        features.append(keys)
        low.append(np.array([box[k][0] for k in keys], dtype=float))
        high.append(np.array([box[k][1] for k in keys], dtype=float))
        missing.append(np.array([box[k][2] for k in keys], dtype=bool))
        cover.append(np.array([box[k][3] for k in keys], dtype=float))
    return Leaves(features, low, high, missing, np.array([v for _, v in parts]), float32=kind != "hist", cover=cover)


def _reaches(
    rows: np.ndarray, features: np.ndarray, low: np.ndarray, high: np.ndarray, missing: np.ndarray
) -> np.ndarray:
    """(rows, features of the leaf): whether each row's value passes each of the leaf's feature tests."""
    values = rows[:, features]
    with np.errstate(invalid="ignore"):
        inside = (values > low) & (values <= high)
    return inside | (np.isnan(values) & missing)


def _codes(passes: np.ndarray) -> np.ndarray:
    return passes.astype(np.int64) @ (np.int64(1) << np.arange(passes.shape[1], dtype=np.int64))


def _popcount(codes: np.ndarray) -> np.ndarray:
    return np.bitwise_count(codes.astype(np.uint64)).astype(np.int64)


def _distinct(codes: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct codes and each code's index among them (a count table where the codes are few bits)."""
    if width <= 16:
        present = np.bincount(codes, minlength=1 << width) > 0
        distinct = np.flatnonzero(present).astype(np.int64)
        index = np.cumsum(present) - 1
        return distinct, index[codes]
    distinct, inverse = np.unique(codes, return_inverse=True)
    return distinct, inverse


def interventional_values(leaves: Leaves, rows: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(rows, transformed columns): the exact interventional Shapley values of each row against the mean over
    ``background`` (rows and background as the estimator takes them, before ``Leaves.prepare``)."""
    rows, background = leaves.prepare(rows), leaves.prepare(background)
    n_features = rows.shape[1]
    values = np.zeros((len(rows), n_features))
    if not len(rows):
        return values
    factorial = np.array([math.factorial(i) for i in range(_MAX_PATH_FEATURES + 2)], dtype=float)
    for k_leaf, features in enumerate(leaves.features):
        k, value = len(features), leaves.values[k_leaf]
        if k == 0 or value == 0:
            continue  # a one-leaf tree, or a leaf worth nothing: the same for every hybrid row
        bounds = (leaves.low[k_leaf], leaves.high[k_leaf], leaves.missing[k_leaf])
        row_codes = _codes(_reaches(rows, features, *bounds))
        fail_codes = _codes(~_reaches(background, features, *bounds))
        patterns, row_index = _distinct(row_codes, k)
        failures, counts = np.unique(fail_codes, return_counts=True)
        weights = counts / len(background)
        reachable = (failures[None, :] & ~patterns[:, None]) == 0  # z fails only where x passes
        a = _popcount(failures)[None, :]  # |A|: the features x passes and z fails
        b = (k - _popcount(patterns))[:, None]  # |B|: the features x fails (z must pass them)
        total = factorial[a + b]
        gain = np.where(reachable & (a > 0), weights * factorial[np.maximum(a - 1, 0)] * factorial[b] / total, 0.0)
        loss = np.where(reachable & (b > 0), weights * factorial[a] * factorial[np.maximum(b - 1, 0)] / total, 0.0)
        failure_bits = ((failures[:, None] >> np.arange(k)) & 1).astype(float)
        pattern_bits = ((patterns[:, None] >> np.arange(k)) & 1).astype(float)
        # a sum over the failure patterns in a fixed order for each row pattern (a matrix product's rounding
        # depends on how many row patterns share it, so the numbers would move with the row chunks)
        gained = (gain[:, :, None] * failure_bits[None, :, :]).sum(axis=1)
        table = value * (gained - loss.sum(axis=1)[:, None] * (1 - pattern_bits))
        values[:, features] += table[row_index]
    return values


def neutralised_outputs(
    leaves: Leaves,
    rows: np.ndarray,
    background: np.ndarray,
    background_mean: float,
    masks: np.ndarray,
    groups: np.ndarray,
) -> np.ndarray:
    """For each row i and each column c of ``groups`` (rows x checks, group numbers): the mean over the background
    rows z of the model's output on row i with the transformed columns ``masks[groups[i, c]]`` (a boolean mask per
    group) taken from z. Exact, from the leaves: a hybrid reaches a leaf when row i passes the leaf's tests outside the
    mask and z passes those inside it, so the mean is ``constant + sum of value * [i passes outside] * (share of z
    passing inside)``; the constant (the base score boosting adds to every row) is ``background_mean`` less the
    leaves' own mean over the background. ``background_mean``: the model's mean output over ``background``, as the
    estimator computes it."""
    rows, background = leaves.prepare(rows), leaves.prepare(background)
    masks, groups = np.asarray(masks, dtype=bool), np.asarray(groups, dtype=int)
    result = np.zeros(groups.shape)
    leaves_mean = 0.0
    for k_leaf, features in enumerate(leaves.features):
        value = leaves.values[k_leaf]
        if value == 0:
            continue
        if not len(features):
            leaves_mean += value
            result += value
            continue
        bounds = (leaves.low[k_leaf], leaves.high[k_leaf], leaves.missing[k_leaf])
        z_fails = ~_reaches(background, features, *bounds)
        leaves_mean += value * float((~z_fails.any(axis=1)).mean())
        inside = masks[:, features]  # (groups, k): which of the leaf's tests each group's mask takes from z
        # per group: the share of background rows failing none of the tests it takes from them (one product)
        share = (z_fails.astype(np.int64) @ inside.T.astype(np.int64) == 0).mean(axis=0)
        row_fails = (~_reaches(rows, features, *bounds)).astype(np.int64)
        # per row and check: the tests the row fails outside what the check takes from z
        fails_outside = row_fails @ (~inside).T.astype(np.int64)  # (rows, groups)
        reached = np.take_along_axis(fails_outside, groups, axis=1) == 0
        result += value * reached * share[groups]
    return result + (background_mean - leaves_mean)


def path_dependent_values(leaves: Leaves, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Path-dependent tree SHAP (the trees' own game, shap's TreeExplainer without data) from the leaves: per leaf
    the game is a product, ``v(S) = value * prod over its features f of (a_f if f in S else r_f)`` with ``a_f``
    whether the row passes the leaf's tests on f and ``r_f`` the cover ratio, so feature i gets
    ``value * (a_i - r_i) * sum_j j! (k-1-j)! / k! * e_j`` where ``e_j`` is the coefficient of t^j in the product
    over the other features of ``(r_f + a_f t)``. Computed once per distinct pattern of the rows.

    Returns (values: rows x transformed columns, the leaves' sum for each row, their cover-weighted mean)."""
    rows = leaves.prepare(rows)
    values = np.zeros(rows.shape)
    reached = np.zeros(len(rows))
    expected = 0.0
    factorial = np.array([math.factorial(i) for i in range(_MAX_PATH_FEATURES + 2)], dtype=float)
    for k_leaf, features in enumerate(leaves.features):
        k, value, ratio = len(features), leaves.values[k_leaf], leaves.cover[k_leaf]
        expected += value * float(np.prod(ratio))
        if k == 0:
            reached += value
            continue
        passes = _reaches(rows, features, leaves.low[k_leaf], leaves.high[k_leaf], leaves.missing[k_leaf])
        patterns, row_index = _distinct(_codes(passes), k)
        a = ((patterns[:, None] >> np.arange(k)) & 1).astype(float)  # (patterns, k)
        reached += value * (a.min(axis=1) if k else 1.0)[row_index]
        if value == 0:
            continue
        table = value * (a - ratio) * _product_game_weights(a, ratio, factorial[: k + 1])
        values[:, features] += table[row_index]
    return values, reached, expected


def _product_game_weights(a: np.ndarray, ratio: np.ndarray, factorial: np.ndarray) -> np.ndarray:
    """(patterns, k): for each feature i, sum_j j! (k-1-j)! / k! * [t^j] prod over f != i of (ratio_f + a_f t)."""
    patterns, k = a.shape
    weights = factorial[:k] * factorial[:k][::-1] / factorial[k]  # j = 0 .. k-1
    if np.any(ratio <= 0):  # a split no training row took: divide nothing, multiply out the k products directly
        out = np.zeros((patterns, k))
        for i in range(k):
            poly = np.zeros((patterns, k))
            poly[:, 0] = 1.0
            for f in (f for f in range(k) if f != i):
                shifted = poly[:, :-1] * a[:, f : f + 1]
                poly *= ratio[f]
                poly[:, 1:] += shifted
            out[:, i] = poly @ weights
        return out
    full = np.zeros((patterns, k + 1))
    full[:, 0] = 1.0
    for f in range(k):
        shifted = full[:, :-1] * a[:, f : f + 1]
        full *= ratio[f]
        full[:, 1:] += shifted
    # divide the product by (ratio_i + a_i t): by ratio_i where a_i = 0, by (t + ratio_i) from the top where a_i = 1
    without = np.empty((patterns, k, k))
    without[:, :, k - 1] = full[:, None, k]
    for degree in range(k - 1, 0, -1):
        without[:, :, degree - 1] = full[:, None, degree] - ratio[None, :] * without[:, :, degree]
    divided = full[:, None, :k] / ratio[None, :, None]
    return np.where(a[:, :, None] > 0, without, divided) @ weights
