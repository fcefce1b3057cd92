"""Pooled estimates against raw group rates on planted intersectional data.

    python -m benchmarks.pooling [--draws 300]

Each draw builds an intersectional table the way real audits meet one: sex (2) x race (5) x age band (3) = 30
groups whose sizes follow skewed population shares (a few large groups, a long tail of 2-30 rows; 2,000 rows in
all), and true rates from an additive logit model of the three features plus a group-specific interaction
(normal, sd ``tau``). Scenarios:

- ``interactions``: tau = 0.3, the usual case pooling is for;
- ``additive``: tau = 0, every group on its parents' prediction (pooling's best case);
- ``strong interactions``: tau = 0.8, groups far from their parents (pooling's worst case);
- ``one feature``: a single feature with 15 groups of 3-400 rows, tau = 0.4 around the overall rate;
- ``outlier``: tau = 0.3 and one small group (about 12 rows) planted 1.5 logits above its parents' prediction.

For every group with rows it compares the raw rate x / n and the pooled value (``audit.fairness._pooling``) with
the true rate (mean squared error, each group weighted equally, which is how a report's table reads), and checks
whether the pooled 95% credible interval and the raw Clopper-Pearson interval contain it. The outlier's own
coverage and error are reported apart: pooling pulls an outlying small group towards its parents.

The last line is one JSON object; the goals: pooled_mse_ratio (pooled over raw, pooled over every scenario's
groups) < 1 and pooled_coverage (over every group of every scenario) >= 0.90.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.special import expit

from audit.fairness._pooling import pool_rates
from audit.fairness._stats import proportion_interval

LEVEL = 0.95


def _intersectional(rng: np.random.Generator, tau: float, outlier: bool) -> tuple[np.ndarray, ...]:
    keys = [(s, r, a) for s in ("F", "M") for r in "ABCDE" for a in ("young", "mid", "old")]
    shares = np.array([[0.5, 0.5]]).T[:, :, None] * np.array([0.6, 0.2, 0.1, 0.06, 0.04])[None, :, None]
    shares = (shares * np.array([0.3, 0.5, 0.2])[None, None, :]).ravel()
    n = rng.multinomial(2000, shares).astype(float)
    effects = {"F": 0.0, "M": 0.3, "A": 0.0, "B": -0.5, "C": 0.4, "D": -0.8, "E": 0.2}
    effects.update({"young": -0.4, "mid": 0.0, "old": 0.3})
    logit = np.array([-0.6 + sum(effects[level] for level in key) for key in keys])
    logit += rng.normal(0.0, tau, len(keys))
    planted = -1
    if outlier:
        planted = int(np.argmin(np.abs(n - 12)))
        logit[planted] += 1.5
    p = expit(logit)
    return keys, ["sex", "race", "age"], n, rng.binomial(n.astype(int), p).astype(float), p, planted


def _one_feature(rng: np.random.Generator, tau: float) -> tuple[np.ndarray, ...]:
    keys = [(f"g{i:02d}",) for i in range(15)]
    n = np.array([400, 250, 150, 90, 60, 40, 30, 25, 20, 15, 10, 8, 6, 4, 3], float)
    p = expit(-0.8 + rng.normal(0.0, tau, len(keys)))
    return keys, ["group"], n, rng.binomial(n.astype(int), p).astype(float), p, -1


SCENARIOS = {
    "interactions": lambda rng: _intersectional(rng, 0.3, False),
    "additive": lambda rng: _intersectional(rng, 0.0, False),
    "strong interactions": lambda rng: _intersectional(rng, 0.8, False),
    "one feature": lambda rng: _one_feature(rng, 0.4),
    "outlier": lambda rng: _intersectional(rng, 0.3, True),
}


def measure(draws: int, seed: int = 0) -> dict[str, object]:
    """Squared errors and coverage per scenario, and the totals the goals read."""
    rng = np.random.default_rng(seed)
    by_scenario: dict[str, dict[str, float]] = {}
    totals = {"raw_se": 0.0, "pooled_se": 0.0, "covered": 0, "raw_covered": 0, "groups": 0}
    outlier = {"covered": 0, "raw_covered": 0, "pooled_se": 0.0, "raw_se": 0.0, "draws": 0}
    for name, make in SCENARIOS.items():
        raw_se = pooled_se = 0.0
        covered = raw_covered = groups = 0
        small_covered = small_groups = 0
        for _ in range(draws):
            keys, columns, n, x, p, planted = make(rng)
            pooled = pool_rates(x, n, keys, columns, LEVEL)
            low, high = proportion_interval(x, n, LEVEL)
            has = n > 0
            raw = np.where(has, x / np.where(has, n, 1), np.nan)
            hit = (pooled.low <= p) & (p <= pooled.high)
            raw_hit = (low <= p) & (p <= high)
            if planted >= 0:
                outlier["draws"] += 1
                outlier["covered"] += int(hit[planted])
                outlier["raw_covered"] += int(raw_hit[planted])
                outlier["pooled_se"] += float((pooled.values[planted] - p[planted]) ** 2)
                outlier["raw_se"] += float((raw[planted] - p[planted]) ** 2)
            raw_se += float(np.sum((raw[has] - p[has]) ** 2))
            pooled_se += float(np.sum((pooled.values[has] - p[has]) ** 2))
            covered += int(hit[has].sum())
            raw_covered += int(raw_hit[has].sum())
            groups += int(has.sum())
            small = has & (n < 30)
            small_covered += int(hit[small].sum())
            small_groups += int(small.sum())
        by_scenario[name] = {
            "mse_ratio": round(pooled_se / raw_se, 4),
            "pooled_coverage": round(covered / groups, 4),
            "pooled_coverage_under_30_rows": round(small_covered / max(small_groups, 1), 4),
            "raw_coverage": round(raw_covered / groups, 4),
            "groups": groups,
        }
        totals["raw_se"] += raw_se
        totals["pooled_se"] += pooled_se
        totals["covered"] += covered
        totals["raw_covered"] += raw_covered
        totals["groups"] += groups
    worst = min(s["pooled_coverage"] for s in by_scenario.values())
    return {
        "pooled_mse_ratio": round(totals["pooled_se"] / totals["raw_se"], 4),
        "pooled_coverage": round(totals["covered"] / totals["groups"], 4),
        "raw_coverage": round(totals["raw_covered"] / totals["groups"], 4),
        "min_scenario_coverage": worst,
        "planted_outlier": {
            "pooled_coverage": round(outlier["covered"] / max(outlier["draws"], 1), 4),
            "raw_coverage": round(outlier["raw_covered"] / max(outlier["draws"], 1), 4),
            "mse_ratio": round(outlier["pooled_se"] / max(outlier["raw_se"], 1e-12), 4),
        },
        "by_scenario": by_scenario,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=300, help="simulated tables per scenario")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    summary = measure(args.draws, args.seed)
    for name, row in summary["by_scenario"].items():  # type: ignore[union-attr]
        print(f"{name:>20}: {row}")
    summary.update(
        {
            "draws": args.draws,
            "level": LEVEL,
            "goal_met": summary["pooled_mse_ratio"] < 1 and summary["pooled_coverage"] >= 0.90,  # type: ignore[operator]
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
