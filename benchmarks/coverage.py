"""Coverage of the fairness engine's intervals, by simulation.

    python -m benchmarks.coverage [--draws 2000]

For every n in {5, 10, 30, 100, 1000} and p in {0.02, 0.1, 0.5, 0.9}, draws binomial counts and checks how
often the intervals the engine reports contain the true value:
- a group's rate: the Clopper-Pearson interval (``audit.fairness._stats.proportion_interval``);
- an impact ratio (group rate / benchmark rate): the MOVER-R interval (``audit.fairness._stats.ratio_interval``), for
  a benchmark of the same size and rate (true ratio 1), a benchmark of 1,000 rows and the same rate, and a
  benchmark of the same size whose rate puts the true ratio at 0.8, the four-fifths line.
A draw where the benchmark selects nobody has an unbounded interval, which covers; the share of such draws is
printed. For comparison it also measures the percentile bootstrap the engine used before (1,000 resamples).
The engine's own tables are checked to carry the same intervals. The last line is one JSON object; the goal
is min_coverage_rate and min_coverage_ratio >= 0.93 at nominal 0.95.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from audit.fairness._stats import proportion_interval, ratio_interval

NS = (5, 10, 30, 100, 1000)
PS = (0.02, 0.1, 0.5, 0.9)
LEVEL = 0.95


def _benchmarks(n: int, p: int):
    """(benchmark rows, benchmark rate) pairs for a group of n rows at rate p."""
    return [(n, p), (1000, p), (n, min(0.99, p / 0.8))]


def coverage(*, draws: int = 2000, ns=NS, ps=PS, seed: int = 0, bootstrap: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    worst_rate, worst_ratio, worst_boot = (1.0, None), (1.0, None), (1.0, None)
    unbounded = 0
    total_ratio_draws = 0
    for n in ns:
        for p in ps:
            x = rng.binomial(n, p, draws)
            low, high = proportion_interval(x, np.full(draws, n), LEVEL)
            covered = float(np.mean((low <= p) & (p <= high)))
            worst_rate = min(worst_rate, (covered, {"n": n, "p": p}), key=lambda item: item[0])
            if bootstrap:
                resampled = rng.binomial(n, np.repeat(x / n, 1000).reshape(draws, 1000)) / n
                b_low, b_high = np.quantile(resampled, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2], axis=1)
                b_covered = float(np.mean((b_low <= p) & (p <= b_high)))
                worst_boot = min(worst_boot, (b_covered, {"n": n, "p": p}), key=lambda item: item[0])
            for n_b, p_b in _benchmarks(n, p):
                x_b = rng.binomial(n_b, p_b, draws)
                r_low, r_high = ratio_interval(x, np.full(draws, n), x_b, np.full(draws, n_b), LEVEL)
                truth = p / p_b
                covered = float(np.mean((r_low <= truth + 1e-12) & (truth - 1e-12 <= r_high)))
                unbounded += int(np.sum(~np.isfinite(r_high)))
                total_ratio_draws += draws
                where = {"n": n, "p": p, "benchmark_n": n_b, "benchmark_p": round(p_b, 4)}
                worst_ratio = min(worst_ratio, (covered, where), key=lambda item: item[0])
    summary = {
        "draws": draws,
        "level": LEVEL,
        "min_coverage_rate": round(worst_rate[0], 4),
        "min_coverage_rate_at": worst_rate[1],
        "min_coverage_ratio": round(worst_ratio[0], 4),
        "min_coverage_ratio_at": worst_ratio[1],
        "share_ratio_draws_unbounded": round(unbounded / max(total_ratio_draws, 1), 4),
        "rate_method": "Clopper-Pearson",
        "ratio_method": "MOVER-R from Clopper-Pearson limits",
    }
    if bootstrap:
        summary["percentile_bootstrap_min_coverage_rate"] = round(worst_boot[0], 4)
        summary["percentile_bootstrap_min_coverage_rate_at"] = worst_boot[1]
    return summary


def engine_matches_functions(seed: int = 0) -> bool:
    """The engine's tables carry exactly these intervals (not a re-implementation)."""
    import pandas as pd

    from audit import group_metrics

    rng = np.random.default_rng(seed)
    groups = np.array(["a"] * 40 + ["b"] * 60)
    y_pred = rng.random(100) < np.where(groups == "a", 0.3, 0.5)
    table = group_metrics(
        y_true=y_pred, y_pred=y_pred, sensitive=pd.DataFrame({"g": groups}), metrics=("selection_rate",), n_boot=0
    )
    x_a, x_b = int(y_pred[:40].sum()), int(y_pred[40:].sum())
    low, high = proportion_interval(np.array([x_a]), np.array([40]), LEVEL)
    entry = table.disparities["selection_rate"].to_benchmark["g=a"]
    r_low, r_high = ratio_interval(x_a, 40, x_b, 60, LEVEL)
    return np.allclose(table.group("g=a").ci["selection_rate"], [low[0], high[0]]) and np.allclose(
        entry.ratio_ci, [r_low, r_high]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    summary = coverage(draws=args.draws, bootstrap=True)
    summary["engine_uses_these_intervals"] = engine_matches_functions()
    summary["goal_met"] = summary["min_coverage_rate"] >= 0.93 and summary["min_coverage_ratio"] >= 0.93
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"rates: Clopper-Pearson, worst coverage {summary['min_coverage_rate']} at {summary['min_coverage_rate_at']}"
        f" (percentile bootstrap: {summary['percentile_bootstrap_min_coverage_rate']} at "
        f"{summary['percentile_bootstrap_min_coverage_rate_at']})"
    )
    print(
        f"impact ratios: MOVER-R, worst coverage {summary['min_coverage_ratio']} at {summary['min_coverage_ratio_at']}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
