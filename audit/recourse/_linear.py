"""Exact recourse for a linear model on column-wise preprocessing: a small integer program per row.

The model's output is a sum over inputs (each transformed column is computed from one input), so moving input j to
value v adds a known gain g_jv. With one binary z_jv per allowed value: minimise sum c_jv z_jv subject to at most
one value per input, at most ``max_changes`` inputs changed, and sum g_jv z_jv >= the gap to the decision boundary.
HiGHS (scipy.optimize.milp) solves it to a zero optimality gap; rows whose best ``max_changes`` gains cannot close the
gap are answered "none" without a solve."""

from __future__ import annotations

import numpy as np

__all__ = ["cheapest_linear"]


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
        if need[i] <= 0:
            found[i] = 0.0
            continue
        best_per_input = np.zeros(n_inputs)
        np.maximum.at(best_per_input, owner[allowed], all_gains[i, allowed])
        if np.sort(best_per_input)[::-1][:max_changes].sum() < need[i]:
            continue
        index = np.flatnonzero(allowed)
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
