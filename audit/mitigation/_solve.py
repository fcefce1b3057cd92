"""The best group-specific (randomised) thresholds under a fairness constraint, solved exactly as a linear program
over each group's ROC hull.

Group g picks a point on its hull: a mixture ``lambda`` of the hull's vertices (thresholds), so its FPR and TPR
are ``lambda . fpr`` and ``lambda . tpr``; randomising between two thresholds reaches any point between them
(Hardt et al. 2016). The objective is accuracy (or the expected cost of errors, ``cost_fp`` / ``cost_fn``);
the constraints are linear in the mixtures:

- ``demographic_parity``: every group's selection rate within ``tolerance`` of one another;
- ``impact_ratio``: every group's favourable rate at least ``tolerance`` times every other's (the four-fifths rule
  at 0.8; ``favourable = "negative"`` compares the rates of negative decisions);
- ``equal_opportunity``: TPRs within ``tolerance``; ``equalized_odds``: TPRs and FPRs within ``tolerance``.

HiGHS (scipy's ``linprog``) solves it; the optimum over mixtures of hull vertices is the optimum over all
randomised group-specific threshold rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

from audit._errors import DataError
from audit.config._settings import MITIGATION_CONSTRAINTS
from audit.mitigation._roc import GroupROC

__all__ = ["CONSTRAINTS", "ThresholdRule", "fewest_vertices", "solve"]

CONSTRAINTS = MITIGATION_CONSTRAINTS  # the names the config validates


@dataclass(frozen=True)
class ThresholdRule:
    """Per group: thresholds and the probability of using each (they sum to 1); for a solved rule, the FPR and
    TPR it reaches per group on the data it was solved on."""

    groups: list[str]
    thresholds: list[np.ndarray]
    weights: list[np.ndarray]
    objective: float  # on the data it was solved on
    fpr: np.ndarray | None = None
    tpr: np.ndarray | None = None


def solve(
    rocs: list[GroupROC],
    groups: list[str],
    *,
    constraint: str,
    tolerance: float | None,
    favourable: str = "positive",
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
    constrained: list[bool] | None = None,
) -> ThresholdRule | None:
    """The optimal rule, or None when the constraint cannot be met. ``tolerance`` None: unconstrained.
    ``constrained``: which groups the constraint binds (default all; the others get their best thresholds)."""
    sizes = [len(r.hull) for r in rocs]
    starts = np.r_[0, np.cumsum(sizes)]
    n_mix = int(starts[-1])
    extra = 0 if tolerance is None or constraint == "impact_ratio" else (2 if constraint == "equalized_odds" else 1)
    n_vars = n_mix + extra
    total = sum(r.positives + r.negatives for r in rocs)
    c = np.zeros(n_vars)
    fpr_rows, tpr_rows, rate_rows = [], [], []
    for g, roc in enumerate(rocs):
        fpr, tpr = roc.fpr[roc.hull], roc.tpr[roc.hull]
        block = slice(starts[g], starts[g + 1])
        c[block] = -(cost_fn * roc.positives * tpr - cost_fp * roc.negatives * fpr) / total  # maximise
        for rows, values in ((fpr_rows, fpr), (tpr_rows, tpr)):
            row = np.zeros(n_vars)
            row[block] = values
            rows.append(row)
        size = roc.positives + roc.negatives
        rate = np.zeros(n_vars)
        rate[block] = (roc.positives * tpr + roc.negatives * fpr) / size
        rate_rows.append(rate)
    a_eq = np.zeros((len(rocs), n_vars))
    for g in range(len(rocs)):
        a_eq[g, starts[g] : starts[g + 1]] = 1.0
    bound = constrained if constrained is not None else [True] * len(rocs)
    pick = [i for i, ok in enumerate(bound) if ok]
    a_ub, b_ub = _constraint_rows(
        constraint,
        tolerance,
        favourable,
        [fpr_rows[i] for i in pick],
        [tpr_rows[i] for i in pick],
        [rate_rows[i] for i in pick],
        n_mix,
        n_vars,
    )
    bounds = [(0, None)] * n_mix + [(None, None)] * extra
    done = linprog(
        c,
        A_ub=a_ub if len(a_ub) else None,
        b_ub=b_ub if len(b_ub) else None,
        A_eq=a_eq,
        b_eq=np.ones(len(rocs)),
        bounds=bounds,
        method="highs",
    )
    if done.status == 2:  # infeasible
        return None
    if done.status != 0:
        raise DataError(f"The threshold optimisation did not finish ({done.message}).")
    mix = np.clip(done.x[:n_mix], 0, None)
    thresholds, weights, fprs, tprs = [], [], [], []
    for g, roc in enumerate(rocs):
        part = mix[starts[g] : starts[g + 1]]
        fpr, tpr = roc.fpr[roc.hull], roc.tpr[roc.hull]
        keep = fewest_vertices(fpr, tpr, part / part.sum())
        thresholds.append(roc.thresholds[roc.hull][keep[0]])
        weights.append(keep[1])
        fprs.append(float(keep[1] @ fpr[keep[0]]))
        tprs.append(float(keep[1] @ tpr[keep[0]]))
    constant = sum(cost_fp * r.negatives for r in rocs) / total if cost_fp == cost_fn == 1.0 else 0.0
    return ThresholdRule(
        groups=groups,
        thresholds=thresholds,
        weights=weights,
        objective=float(-done.fun + constant),
        fpr=np.array(fprs),
        tpr=np.array(tprs),
    )


def fewest_vertices(fpr: np.ndarray, tpr: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same (FPR, TPR) point as the mixture ``weights`` of the hull's vertices, from as few thresholds as
    possible: two adjacent vertices when the point lies on the hull (every optimum but some of equalized odds),
    else at most three (Caratheodory in the plane). Returns (vertex indices, their weights)."""
    point = np.array([weights @ fpr, weights @ tpr])
    if np.isclose(weights.max(), 1.0, atol=1e-9):
        return np.array([int(np.argmax(weights))]), np.array([1.0])
    # on the hull: between the adjacent vertices around the point's FPR (vertices are sorted by FPR)
    right = int(np.clip(np.searchsorted(fpr, point[0], side="left"), 1, len(fpr) - 1))
    left = right - 1
    span = fpr[right] - fpr[left]
    share = 0.0 if span <= 0 else (point[0] - fpr[left]) / span
    if 0 <= share <= 1 and abs(tpr[left] + share * (tpr[right] - tpr[left]) - point[1]) < 1e-9:
        pair = np.array([left, right])
        chosen = np.array([1 - share, share])
        keep = chosen > 1e-12
        return pair[keep], chosen[keep] / chosen[keep].sum()
    support = np.flatnonzero(weights > 1e-12)
    w = weights.copy()
    while len(support) > 3:
        # a direction that keeps the point and the total weight: move along it until a weight reaches zero
        direction = null_space(np.vstack([fpr[support], tpr[support], np.ones(len(support))]))[:, 0]
        if not (direction > 1e-12).any():
            direction = -direction
        grows = direction > 1e-12
        step = np.min(w[support][grows] / direction[grows])
        w[support] = np.clip(w[support] - step * direction, 0, None)
        support = support[w[support] > 1e-12]
    return support, w[support] / w[support].sum()


def _constraint_rows(constraint, tolerance, favourable, fpr_rows, tpr_rows, rate_rows, n_mix, n_vars):
    rows, bounds = [], []
    if tolerance is None:
        return np.zeros((0, n_vars)), np.zeros(0)
    if constraint == "impact_ratio":
        for g, mine in enumerate(rate_rows):
            for h, other in enumerate(rate_rows):
                if g == h:
                    continue
                if favourable == "negative":  # (1 - S_g) >= tau (1 - S_h)  <=>  S_g - tau S_h <= 1 - tau
                    rows.append(mine - tolerance * other)
                    bounds.append(1.0 - tolerance)
                else:  # S_g >= tau S_h  <=>  tau S_h - S_g <= 0
                    rows.append(tolerance * other - mine)
                    bounds.append(0.0)
        return np.array(rows), np.array(bounds)
    families = {
        "demographic_parity": [rate_rows],
        "equal_opportunity": [tpr_rows],
        "equalized_odds": [tpr_rows, fpr_rows],
    }[constraint]
    for k, family in enumerate(families):
        low = np.zeros(n_vars)
        low[n_mix + k] = 1.0  # L_k <= value_g <= L_k + tolerance
        for value in family:
            rows.append(low - value)
            bounds.append(0.0)
            rows.append(value - low)
            bounds.append(tolerance)
    return np.array(rows), np.array(bounds)
