"""The cheapest combination of changes that a model accepts, found by trying combinations in order of cost.

Each actionable input's candidate values fall into classes the model cannot tell apart (for a tree ensemble, the
intervals between its thresholds on that input: every value of a class reaches the same leaves; otherwise each value
is its own class). A combination changes at most ``max_changes`` inputs, each to one class, at the cheapest value of
that class for the row. Combinations are tried cheapest first, in chunks, for all rows at once; a row's first
combination the model accepts is its cheapest, as every cheaper one was tried and refused. Over the classes this is
exhaustive, so for trees it is exact over the values offered; for any other model it is exact over the grid only."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

__all__ = ["combinations_layout", "cheapest_accepted", "class_costs"]

# at most this many (row, combination) pairs are evaluated in one call of the model
_MAX_EVALUATIONS = 262_144


def combinations_layout(classes: list[int], max_changes: int) -> np.ndarray:
    """(combinations, inputs): the class each combination moves each input to, -1 where it keeps the input."""
    blocks = []
    for size in range(1, min(max_changes, len(classes)) + 1):
        for subset in itertools.combinations(range(len(classes)), size):
            grids = np.meshgrid(*[np.arange(classes[j]) for j in subset], indexing="ij")
            block = np.full((grids[0].size, len(classes)), -1, dtype=np.int32)
            for position, j in enumerate(subset):
                block[:, j] = grids[position].ravel()
            blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, len(classes)), dtype=np.int32)


def class_costs(costs: np.ndarray, class_of_value: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row and class: the cheapest value's cost (inf: no value of the class is allowed) and its index."""
    rows = costs.shape[0]
    cheapest = np.full((rows, n_classes), np.inf)
    which = np.zeros((rows, n_classes), dtype=np.int64)
    for k in range(n_classes):
        members = np.flatnonzero(class_of_value == k)
        if not len(members):
            continue
        sub = costs[:, members]
        best = np.argmin(sub, axis=1)
        cheapest[:, k] = sub[np.arange(rows), best]
        which[:, k] = members[best]
    return cheapest, which


def cheapest_accepted(
    cheapest: list[np.ndarray],
    which: list[np.ndarray],
    layout: np.ndarray,
    accepts: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, int]:
    """For each row: the value index per input of its cheapest accepted combination (-1: kept), its cost (NaN: no
    combination is accepted), and how many (row, combination) pairs the model was asked about.

    ``cheapest[j]`` / ``which[j]``: (rows, classes of input j) from ``class_costs``; ``accepts(rows, values)`` says
    whether the model gives the favourable decision to each listed row with the listed values (-1: its own)."""
    n_rows, n_inputs = (cheapest[0].shape[0] if cheapest else 0), layout.shape[1]
    chosen = np.full((n_rows, n_inputs), -1, dtype=np.int64)
    found_cost = np.full(n_rows, np.nan)
    asked = 0
    if not n_rows or not len(layout):
        return chosen, found_cost, asked
    block = max(1, min(n_rows, _MAX_EVALUATIONS // max(len(layout), 1) * 8))
    for start in range(0, n_rows, block):
        rows = np.arange(start, min(start + block, n_rows))
        total = np.zeros((len(rows), len(layout)))
        for j in range(n_inputs):
            moved = layout[:, j] >= 0
            total[:, moved] += cheapest[j][rows][:, layout[moved, j]]
        order = np.argsort(total, axis=1, kind="stable")
        finite = np.isfinite(total).sum(axis=1)
        position = np.zeros(len(rows), dtype=np.int64)
        open_rows = np.flatnonzero(finite > 0)
        chunk = 8
        while len(open_rows):
            take = np.minimum(chunk, finite[open_rows] - position[open_rows])
            owner = np.repeat(open_rows, take)
            offsets = np.arange(take.sum()) - np.repeat(np.cumsum(take) - take, take)
            combo = order[owner, position[owner] + offsets]
            values = np.full((len(owner), n_inputs), -1, dtype=np.int64)
            for j in range(n_inputs):
                moved = layout[combo, j] >= 0
                values[moved, j] = which[j][rows[owner[moved]], layout[combo[moved], j]]
            accepted = np.asarray(accepts(rows[owner], values), dtype=bool)
            asked += len(owner)
            done = np.zeros(len(rows), dtype=bool)
            # the first accepted pair of each row in this chunk (pairs are in cost order within a row)
            hits = np.flatnonzero(accepted)
            if len(hits):
                first_rows, first_at = np.unique(owner[hits], return_index=True)
                picks = hits[first_at]
                chosen[rows[first_rows]] = values[picks]
                found_cost[rows[first_rows]] = total[first_rows, combo[picks]]
                done[first_rows] = True
            position[open_rows] += take
            done[open_rows[position[open_rows] >= finite[open_rows]]] = True
            open_rows = open_rows[~done[open_rows]]
            chunk = min(chunk * 2, max(8, _MAX_EVALUATIONS // max(len(open_rows), 1)))
    return chosen, found_cost, asked
