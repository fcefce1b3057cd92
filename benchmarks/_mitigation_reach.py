"""Does a fix reach what it promises on new rows? (issue: sound verdicts)

Two groups with known score distributions: per group a base rate and normal scores per class (sd 1), so every
rule's true selection rate, TPR and FPR are known exactly (normal tails). Each run draws ``rows`` rows, builds the
frontier at one tolerance (the fit and held-out halves split as in an audit) and scores the chosen fix against the
truth. ``rates`` gives, over runs: the share whose fix truly meets the tolerance, the share whose held-out value
meets it (what the gate reads), the mean accuracy cost (held out), and the mean share of coin-flip decisions;
``reach_target = 0.5`` solves at the tolerance itself, as the frontier did before.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

# group -> (share of rows, base rate, mean score of positives, of negatives)
GROUPS = {"a": (0.7, 0.40, 1.5, 0.3), "b": (0.3, 0.25, 1.2, 0.0)}


def _draw(rng: np.random.Generator, rows: int):
    names = list(GROUPS)
    group = rng.choice(names, rows, p=[GROUPS[g][0] for g in names])
    base = np.array([GROUPS[g][1] for g in group])
    y = rng.random(rows) < base
    means = np.array([GROUPS[g][2] if pos else GROUPS[g][3] for g, pos in zip(group, y)])
    return rng.normal(means, 1.0), y, group


def true_rates(thresholds: dict, name: str) -> tuple[float, float, float]:
    """(selection rate, TPR, FPR) of a group's randomised thresholds under the known distributions."""
    _, base, positive_mean, negative_mean = GROUPS[name]
    tpr = fpr = 0.0
    for threshold, weight in thresholds[name]:
        t = {"none": np.inf, "all": -np.inf}.get(threshold, threshold)
        tpr += weight * norm.sf(t - positive_mean)
        fpr += weight * norm.sf(t - negative_mean)
    return base * tpr + (1 - base) * fpr, tpr, fpr


def true_value(thresholds: dict, constraint: str) -> float:
    rates = np.array([true_rates(thresholds, g) for g in GROUPS])
    if constraint == "impact_ratio":
        return float(rates[:, 0].min() / rates[:, 0].max())
    if constraint == "demographic_parity":
        return float(np.ptp(rates[:, 0]))
    if constraint == "equal_opportunity":
        return float(np.ptp(rates[:, 1]))
    return float(max(np.ptp(rates[:, 1]), np.ptp(rates[:, 2])))


def rates(
    *,
    runs: int,
    rows: int = 4000,
    constraint: str = "impact_ratio",
    tolerance: float = 0.8,
    reach_target: float = 0.9,
    seed: int = 0,
    group_blind: bool = False,
) -> dict:
    from audit.mitigation._frontier import frontier

    truly, held_out, costs, flips, estimated = [], [], [], [], []
    for run in range(runs):
        scores, y, group = _draw(np.random.default_rng([seed, run]), rows)
        fitted = frontier(
            scores=scores,
            y_true=y,
            groups=group,
            constraint=constraint,
            threshold=0.5,
            tolerances=[tolerance],
            n_boot=0,
            seed=run,
            reach_target=reach_target,
        )
        point = fitted.at(tolerance, group_blind=group_blind)
        if point is None or not point.feasible:
            continue
        value = true_value(point.thresholds, constraint)
        truly.append(value >= tolerance if constraint == "impact_ratio" else value <= tolerance)
        held_out.append(bool(point.reached))
        costs.append(point.cost)
        flips.append(point.randomised_share)
        estimated.append(point.reach)
    done = len(truly)
    return {
        "runs": done,
        "truly_met": float(np.mean(truly)),
        "truly_met_ci": _exact(int(np.sum(truly)), done),
        "held_out_met": float(np.mean(held_out)),
        "held_out_met_ci": _exact(int(np.sum(held_out)), done),
        "mean_cost": float(np.mean(costs)),
        "mean_randomised_share": float(np.mean(flips)),
        "mean_estimated_reach": float(np.mean(estimated)),
    }


def _exact(hits: int, runs: int) -> list[float]:
    """Clopper-Pearson 95% interval of a share of runs."""
    from scipy.stats import beta

    low = 0.0 if hits == 0 else float(beta.ppf(0.025, hits, runs - hits + 1))
    high = 1.0 if hits == runs else float(beta.ppf(0.975, hits + 1, runs - hits))
    return [round(low, 4), round(high, 4)]
