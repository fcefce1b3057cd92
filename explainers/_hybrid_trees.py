"""A tree ensemble's raw output on hybrid rows, without calling the model: the fast path of gap decompositions.

A gap decomposition pairs a row ``a`` of one group with a row ``b`` of the other and hands ``b``'s values over to
``a`` input by input, in a random order per pair; it needs the model's output on every hybrid along the way (W + 1
hybrids for W inputs). Calling the model costs W full ensemble evaluations per pair. Here each tree is walked
**once per pair for all W + 1 hybrids at once**: the hybrid after ``s`` steps takes ``b``'s value of input ``j``
when ``j``'s position in the order is below ``s``, so at a split on input ``j`` (position ``q``) where ``a`` and
``b`` go different ways, the steps ``s <= q`` follow ``a`` and the steps ``s > q`` follow ``b``. A leaf is reached
for a range of steps, and its value is added to that range (a difference array). Every input is compared with
every threshold exactly as the estimator compares it, so the outputs equal the estimator's to rounding (tested to
1e-9 against scikit-learn's own ``decision_function`` / ``predict_proba`` on the hybrids).

The walks run in numba (a dependency of shap; compiled on first use and cached on disk), one thread per chunk
of pairs, the GIL released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from explainers._errors import CapabilityError
from explainers._interventional import EXACT_INTERVENTIONAL_MODELS, _type_name

__all__ = ["FlatTrees", "flat_trees", "order_outputs", "hybrid_outputs", "single_swap_outputs"]


@dataclass(frozen=True)
class FlatTrees:
    """Every tree of an ensemble in one set of node arrays (children as global node numbers, -1 at leaves).

    ``value`` at a leaf is its part of the raw output for the estimator's second class (``classes_[1]``): the
    probability for forests (already divided by the number of trees), the log-odds for boosting (the learning rate
    applied); the raw output is ``offset`` plus the leaves reached. ``link``: "identity" (forests) or "logistic"
    (boosting: the probability of ``classes_[1]`` is the logistic of the raw output)."""

    feature: np.ndarray  # int64, the transformed column a split tests
    threshold: np.ndarray  # float64; a value goes left when it is at most the threshold
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray  # bool: where a missing value goes
    value: np.ndarray
    roots: np.ndarray
    depth: int
    float32: bool  # scikit-learn's trees compare inputs as float32
    link: str
    offset: float

    def prepare(self, rows: np.ndarray) -> np.ndarray:
        """Transformed rows as the estimator compares them (float64, C order)."""
        rows = np.asarray(rows, dtype=float)
        if self.float32:
            rows = rows.astype(np.float32).astype(np.float64)
        return np.ascontiguousarray(rows)


def flat_trees(estimator: Any) -> FlatTrees:
    """The trees of a fitted binary scikit-learn tree ensemble (the estimators of ``EXACT_INTERVENTIONAL_MODELS``);
    others are refused with the reason."""
    kind = EXACT_INTERVENTIONAL_MODELS.get(_type_name(estimator))
    if kind is None:
        raise CapabilityError(f"{type(estimator).__qualname__} is not a scikit-learn tree ensemble read here.")
    if len(getattr(estimator, "classes_", ())) != 2:
        raise CapabilityError("Hybrid outputs from the trees are computed for binary classifiers.")
    parts: list[tuple] = []  # per tree: feature, threshold, left, right, missing_left, leaf mask, leaf value
    offset = 0.0
    if kind in ("forest", "gradient_boosting"):
        members = (
            estimator.estimators_[:, 0]
            if kind == "gradient_boosting"
            else getattr(estimator, "estimators_", [estimator])
        )
        for member in members:
            tree = member.tree_
            leaf = tree.children_left == tree.children_right
            if kind == "forest":
                counts = tree.value[:, 0, :]
                value = counts[:, 1] / counts.sum(axis=1) / len(members)
            else:
                value = float(estimator.learning_rate) * tree.value[:, 0, 0]
            missing = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=bool))
            parts.append((tree.feature, tree.threshold, tree.children_left, tree.children_right, missing, leaf, value))
    else:  # HistGradientBoosting: leaf values carry the learning rate; the baseline is added as the offset
        if np.any(getattr(estimator, "is_categorical_", None) is not None and estimator.is_categorical_):
            raise CapabilityError("HistGradientBoosting's native categorical splits are not read here.")
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            parts.append(
                (
                    nodes["feature_idx"],
                    nodes["num_threshold"],
                    nodes["left"],
                    nodes["right"],
                    nodes["missing_go_to_left"],
                    leaf,
                    nodes["value"],
                )
            )
        offset = float(np.ravel(estimator._baseline_prediction)[0])
    if kind == "gradient_boosting":
        offset = float("nan")  # the init estimator's raw output: measured on rows by the caller (audit.gaps._fast)
    feature, threshold, left, right, missing, value, roots = [], [], [], [], [], [], []
    start, depth = 0, 0
    for tree_feature, tree_threshold, tree_left, tree_right, tree_missing, leaf, tree_value in parts:
        size = len(leaf)
        roots.append(start)
        feature.append(np.where(leaf, -1, tree_feature).astype(np.int64))
        threshold.append(np.asarray(tree_threshold, dtype=float))
        left.append(np.where(leaf, -1, np.asarray(tree_left, dtype=np.int64) + start))
        right.append(np.where(leaf, -1, np.asarray(tree_right, dtype=np.int64) + start))
        missing.append(np.asarray(tree_missing, dtype=bool))
        value.append(np.where(leaf, np.asarray(tree_value, dtype=float), 0.0))
        depth = max(depth, _depth(np.asarray(tree_left), np.asarray(tree_right), leaf))
        start += size
    return FlatTrees(
        np.concatenate(feature),
        np.concatenate(threshold),
        np.concatenate(left),
        np.concatenate(right),
        np.concatenate(missing),
        np.concatenate(value),
        np.array(roots, dtype=np.int64),
        depth,
        float32=kind != "hist",
        link="identity" if kind == "forest" else "logistic",
        offset=offset,
    )


def _depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    depth, frontier = 0, [0]
    while frontier:
        frontier = [c for n in frontier if not leaf[n] for c in (int(left[n]), int(right[n]))]
        depth += 1
    return depth


@numba.njit(cache=True, nogil=True)
def _goes_left(value, threshold, missing_left):
    if np.isnan(value):
        return missing_left
    return value <= threshold


@numba.njit(cache=True, nogil=True)
def _along_orders(
    group, other, owner, positions, feature, threshold, left, right, missing_left, value, roots, depth, out
):
    # out: (pairs, steps + 2), a difference array per pair: a leaf reached for steps low..high adds its value at
    # low and takes it away at high + 1
    stack_node = np.empty(depth + 2, np.int64)
    stack_low = np.empty(depth + 2, np.int64)
    stack_high = np.empty(depth + 2, np.int64)
    steps = positions.shape[1]
    for p in range(group.shape[0]):
        for t in range(roots.shape[0]):
            top = 0
            stack_node[0], stack_low[0], stack_high[0] = roots[t], 0, steps
            while top >= 0:
                node, low, high = stack_node[top], stack_low[top], stack_high[top]
                top -= 1
                while feature[node] >= 0:
                    column = feature[node]
                    a_left = _goes_left(group[p, column], threshold[node], missing_left[node])
                    b_left = _goes_left(other[p, column], threshold[node], missing_left[node])
                    a_next = left[node] if a_left else right[node]
                    if a_left == b_left:
                        node = a_next
                        continue
                    handed = positions[p, owner[column]]  # the steps after it take b's value
                    b_next = left[node] if b_left else right[node]
                    if low < handed + 1 <= high:  # both ways: b's part waits on the stack
                        top += 1
                        stack_node[top], stack_low[top], stack_high[top] = b_next, handed + 1, high
                        high = handed
                        node = a_next
                    elif handed + 1 <= low:
                        node = b_next
                    else:
                        node = a_next
                out[p, low] += value[node]
                out[p, high + 1] -= value[node]


@numba.njit(cache=True, nogil=True)
def _on_hybrids(group, other, owner, take_other, feature, threshold, left, right, missing_left, value, roots, out):
    for p in range(group.shape[0]):
        total = 0.0
        for t in range(roots.shape[0]):
            node = roots[t]
            while feature[node] >= 0:
                column = feature[node]
                x = other[p, column] if take_other[p, owner[column]] else group[p, column]
                node = left[node] if _goes_left(x, threshold[node], missing_left[node]) else right[node]
            total += value[node]
        out[p] = total


@numba.njit(cache=True, nogil=True)
def _walk_with_one(node, base, donor, one, owner, feature, threshold, left, right, missing_left):
    """The leaf reached by ``base``'s row with input ``one`` taken from ``donor``'s row."""
    while feature[node] >= 0:
        column = feature[node]
        x = donor[column] if owner[column] == one else base[column]
        node = left[node] if _goes_left(x, threshold[node], missing_left[node]) else right[node]
    return node


@numba.njit(cache=True, nogil=True)
def _single_swaps(group, other, owner, slot, feature, threshold, left, right, missing_left, value, roots, first, last):
    # first[p, i]: group's row with checked input i from other's row; last[p, i]: other's row with input i from
    # group's. One walk down each row's own path per tree; a swap leaves that path only at a split on its input
    # where the two rows part, and is followed from there on its own.
    checked = first.shape[1]
    parted = np.zeros(checked, np.bool_)
    for p in range(group.shape[0]):
        for side in range(2):
            base = group[p] if side == 0 else other[p]
            donor = other[p] if side == 0 else group[p]
            out = first if side == 0 else last
            for t in range(roots.shape[0]):
                parted[:] = False
                node = roots[t]
                while feature[node] >= 0:
                    column = feature[node]
                    base_left = _goes_left(base[column], threshold[node], missing_left[node])
                    i = slot[owner[column]]
                    if i >= 0 and not parted[i]:
                        donor_left = _goes_left(donor[column], threshold[node], missing_left[node])
                        if donor_left != base_left:
                            parted[i] = True
                            child = left[node] if donor_left else right[node]
                            leaf = _walk_with_one(
                                child, base, donor, owner[column], owner, feature, threshold, left, right, missing_left
                            )
                            out[p, i] += value[leaf]
                    node = left[node] if base_left else right[node]
                for i in range(checked):
                    if not parted[i]:
                        out[p, i] += value[node]


def single_swap_outputs(
    trees: FlatTrees, group: np.ndarray, other: np.ndarray, owner: np.ndarray, checked: np.ndarray, *, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(first, last), each (pairs, len(checked)): the leaves' sum of ``group``'s row with input ``checked[i]``
    taken from ``other``'s row, and of ``other``'s row with it taken from ``group``'s (a decomposition's two ends
    for one input), in one walk per row and tree."""
    width = len(checked)
    slot = np.full(int(max(owner.max(initial=-1), np.max(checked, initial=-1))) + 1, -1, dtype=np.int64)
    slot[np.asarray(checked, dtype=np.int64)] = np.arange(width)
    owner = np.ascontiguousarray(owner, dtype=np.int64)

    def chunk(rows: np.ndarray) -> np.ndarray:
        first, last = np.zeros((len(rows), width)), np.zeros((len(rows), width))
        _single_swaps(
            group[rows],
            other[rows],
            owner,
            slot,
            trees.feature,
            trees.threshold,
            trees.left,
            trees.right,
            trees.missing_left,
            trees.value,
            trees.roots,
            first,
            last,
        )
        return np.hstack([first, last])

    both = _in_chunks(chunk, len(group), threads, 2 * width)
    return both[:, :width], both[:, width:]


def order_outputs(
    trees: FlatTrees,
    group: np.ndarray,
    other: np.ndarray,
    owner: np.ndarray,
    positions: np.ndarray,
    *,
    threads: int = 1,
) -> np.ndarray:
    """(pairs, inputs + 1): the leaves' sum (the raw output less ``offset``) of each pair's hybrid after 0..W steps.
    ``group`` / ``other``: the pairs' transformed rows (``trees.prepare``d); ``owner[c]``: the input owning
    transformed column c; ``positions[p, j]``: when pair p hands input j over (a permutation of 0..W-1 per pair)."""
    width = positions.shape[1]
    positions = np.ascontiguousarray(positions, dtype=np.int64)
    owner = np.ascontiguousarray(owner, dtype=np.int64)

    def chunk(rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), width + 2))
        _along_orders(
            group[rows],
            other[rows],
            owner,
            positions[rows],
            trees.feature,
            trees.threshold,
            trees.left,
            trees.right,
            trees.missing_left,
            trees.value,
            trees.roots,
            trees.depth,
            out,
        )
        return np.cumsum(out[:, : width + 1], axis=1)

    return _in_chunks(chunk, len(group), threads, width + 1)


def hybrid_outputs(
    trees: FlatTrees,
    group: np.ndarray,
    other: np.ndarray,
    owner: np.ndarray,
    take_other: np.ndarray,
    *,
    threads: int = 1,
) -> np.ndarray:
    """(pairs,): the leaves' sum of each pair's hybrid that takes ``other``'s values of the inputs where
    ``take_other[p, j]`` and ``group``'s elsewhere."""
    take_other = np.ascontiguousarray(take_other, dtype=np.bool_)
    owner = np.ascontiguousarray(owner, dtype=np.int64)

    def chunk(rows: np.ndarray) -> np.ndarray:
        out = np.zeros(len(rows))
        _on_hybrids(
            group[rows],
            other[rows],
            owner,
            take_other[rows],
            trees.feature,
            trees.threshold,
            trees.left,
            trees.right,
            trees.missing_left,
            trees.value,
            trees.roots,
            out,
        )
        return out[:, None]

    return _in_chunks(chunk, len(group), threads, 1)[:, 0]


def _in_chunks(compute, n_rows: int, threads: int, width: int) -> np.ndarray:
    if n_rows == 0:
        return np.zeros((0, width))
    if threads <= 1 or n_rows < 2048:
        return compute(np.arange(n_rows))
    from explainers._tree_shap import in_row_chunks

    return in_row_chunks(compute, n_rows, threads)
