"""Exact recourse for a linear model on column-wise preprocessing: a small integer program per row.

The model's output is a sum over inputs (each transformed column is computed from one input), so moving input j to
value v adds a known gain g_jv. With one binary z_jv per allowed value: minimise sum c_jv z_jv subject to at most
one value per input, at most ``max_changes`` inputs changed, and sum g_jv z_jv >= the gap to the decision boundary.
Values another value of the same input dominates (no cheaper, gaining no more) are dropped first: the optimum keeps.
What is left is solved exactly: by listing every combination when there are at most ``ENUMERATED`` of them (the
common case, and far quicker than a solver call), else by HiGHS (scipy.optimize.milp) to a zero optimality gap.
Rows whose best ``max_changes`` gains cannot close the gap are answered "none" without either."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["cheapest_linear", "ENUMERATED"]

ENUMERATED = 50_000  # combinations of a row's undominated values listed outright; beyond, the solver


def _undominated(costs: np.ndarray, gains: np.ndarray, owner: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Values no other value of the same input beats (no more costly and gaining at least as much, one of them
    strictly): swapping a dominated value for its dominator keeps a solution feasible, as cheap or cheaper, with
    the same number of changes, so the optimum is kept and the program shrinks."""
    keep = np.zeros(len(costs), dtype=bool)
    index = np.flatnonzero(allowed)
    if not len(index):
        return keep
    # per input, in order of cost (then of gain, highest first): a value is kept when it gains more than every
    # cheaper value of its input
    order = index[np.lexsort((-gains[index], costs[index], owner[index]))]
    best_so_far = -np.inf
    previous = -1
    for k in order:
        if owner[k] != previous:
            previous, best_so_far = owner[k], -np.inf
        if gains[k] > best_so_far:
            keep[k] = True
            best_so_far = gains[k]
    return keep


def _listed(
    index: np.ndarray, owner: np.ndarray, costs: np.ndarray, gains: np.ndarray, need: float, max_changes: int
) -> tuple[list[int], float] | None:
    """The cheapest combination of the allowed values (``index``) by listing them all: (values picked, cost), or
    ([], nan) when none closes the gap; None when there are more than ``ENUMERATED`` combinations."""
    inputs = np.unique(owner[index])
    choices = [np.r_[-1, index[owner[index] == j]] for j in inputs]  # -1: the input is kept
    if np.prod([len(c) for c in choices], dtype=float) > ENUMERATED:
        return None
    grid = np.array(list(itertools.product(*choices)), dtype=np.int64).reshape(-1, len(choices))
    moved = grid >= 0
    safe = np.where(moved, grid, 0)
    total_cost = np.where(moved, costs[safe], 0.0).sum(axis=1)
    total_gain = np.where(moved, gains[safe], 0.0).sum(axis=1)
    feasible = (moved.sum(axis=1) <= max_changes) & (total_gain >= need)
    if not feasible.any():
        return [], float("nan")
    best = int(np.flatnonzero(feasible)[np.argmin(total_cost[feasible])])
    return [int(k) for k in grid[best] if k >= 0], float(total_cost[best])


def cheapest_linear(
    gains: list[np.ndarray], costs: list[np.ndarray], need: np.ndarray, max_changes: int
) -> tuple[np.ndarray, np.ndarray]:
    """``gains[j]`` / ``costs[j]``: (rows, values of input j) (cost inf: not allowed); ``need``: per row, the gain
    that reaches the favourable decision. Returns the value index per input (-1: kept) and the cost (NaN: none)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_rows, n_inputs = len(need), len(gains)
    chosen = np.full((n_rows, n_inputs), -1, dtype=np.int64)
    found = np.full(n_rows, np.nan)
    sizes = [g.shape[1] for g in gains]
    owner = np.repeat(np.arange(n_inputs), sizes)
    start = np.r_[0, np.cumsum(sizes)[:-1]]
    all_gains, all_costs = np.concatenate(gains, axis=1), np.concatenate(costs, axis=1)
    for i in range(n_rows):
        allowed = np.isfinite(all_costs[i]) & (all_gains[i] > 0)  # a change that lowers the output never helps
        allowed &= _undominated(all_costs[i], all_gains[i], owner, allowed)
        if need[i] <= 0:
            found[i] = 0.0
            continue
        best_per_input = np.zeros(n_inputs)
        np.maximum.at(best_per_input, owner[allowed], all_gains[i, allowed])
        if np.sort(best_per_input)[::-1][:max_changes].sum() < need[i]:
            continue
        index = np.flatnonzero(allowed)
        listed = _listed(index, owner, all_costs[i], all_gains[i], need[i], max_changes)
        if listed is not None:
            picked, cost = listed
            for k in picked:
                chosen[i, owner[k]] = k - start[owner[k]]
            found[i] = cost
            continue
        groups = owner[index]
        rows_of = np.zeros((n_inputs, len(index)))
        rows_of[groups, np.arange(len(index))] = 1.0
        constraints = [
            LinearConstraint(rows_of, 0, 1),
            LinearConstraint(np.ones((1, len(index))), 0, max_changes),
            LinearConstraint(all_gains[i, index][None, :], need[i], np.inf),
        ]
        solved = milp(
            all_costs[i, index],
            integrality=np.ones(len(index)),
            bounds=Bounds(0, 1),
            constraints=constraints,
            options={"mip_rel_gap": 0.0},
        )
        if solved.x is None:
            continue
        picked = index[solved.x > 0.5]
        for k in picked:
            chosen[i, owner[k]] = k - start[owner[k]]
        found[i] = float(all_costs[i, picked].sum())
    return chosen, found
