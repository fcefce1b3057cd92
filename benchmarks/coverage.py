"""Coverage of the fairness engine's intervals, by simulation.

    python -m benchmarks.coverage [--draws 2000] [--engine-draws 1000]

For every n in {5, 10, 30, 100, 1000} and p in {0.02, 0.1, 0.5, 0.9}, draws binomial counts and checks how
often the intervals the engine reports contain the true value:
- a group's rate: the Clopper-Pearson interval (``audit.fairness._stats.proportion_interval``);
- an impact ratio (group rate / benchmark rate): the MOVER-R interval (``audit.fairness._stats.ratio_interval``), for
  a benchmark of the same size and rate (true ratio 1), a benchmark of 1,000 rows and the same rate, and a
  benchmark of the same size whose rate puts the true ratio at 0.8, the four-fifths line.
A draw where the benchmark selects nobody has an unbounded interval, which covers; the share of such draws is
printed. For comparison it also measures the percentile bootstrap the engine used before (1,000 resamples).
The engine's own tables are checked to carry the same intervals.

Every metric, through the engine itself (``engine_coverage``): groups of n in {5, 10, 20, 30, 100} rows drawn from
five populations (balanced and rare positives, weak and strong models, over- and under-confident scores: the
scores are a logistic link of a binormal latent score, the decision is score > 0.5), as many groups as draws in
a few ``group_metrics`` tables at the defaults (1,000 resamples, min_group_size 30); each population's true
values come from 4 million rows (ROC AUC exactly: Phi(separation / sqrt 2)). A group counts where the metric has
a value (balanced accuracy: where both classes are present, since a one-class group's value is its one recall).
``bare_values`` counts values the engine returned with neither an interval nor a ``no_interval`` reason.

The last line is one JSON object; the goals: min_coverage_rate, min_coverage_ratio and min_coverage_all >= 0.93
at nominal 0.95, bare_values 0.
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


ENGINE_NS = (5, 10, 20, 30, 100)
# (prevalence, separation of the classes' latent scores, slope and intercept of the scores' logistic link)
SCENARIOS = (
    (0.5, 1.0, 1.0, 0.0),
    (0.2, 2.0, 1.0, -1.0),
    (0.1, 3.0, 0.7, -1.5),
    (0.5, 0.3, 1.5, 0.5),
    (0.3, 1.5, 0.6, 0.0),
)
ENGINE_METRICS = (
    "selection_rate",
    "accuracy",
    "balanced_accuracy",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "precision",
    "npv",
    "f1",
    "roc_auc",
    "ece",
    "mean_score",
)


def _draw(scenario, rng, size: int):
    prevalence, separation, slope, intercept = scenario
    y = rng.random(size) < prevalence
    scores = 1 / (1 + np.exp(-(slope * rng.normal(separation * y, 1.0) + intercept)))
    return y, scores


def truths(scenario, *, rows: int = 4_000_000) -> dict[str, float]:
    """Each metric's population value (Monte Carlo over ``rows``; ROC AUC exact)."""
    from scipy.stats import norm

    y, s = _draw(scenario, np.random.default_rng(12345), rows)
    p = s > 0.5
    tp, fp, fn, tn = (float(np.mean(a & b)) for a, b in ((y, p), (~y, p), (y, ~p), (~y, ~p)))
    bins = np.minimum((s * 10).astype(int), 9)
    gaps = np.bincount(bins, weights=s, minlength=10) - np.bincount(bins, weights=y, minlength=10)
    tpr, tnr = tp / (tp + fn), tn / (tn + fp)
    return {
        "selection_rate": tp + fp,
        "accuracy": tp + tn,
        "balanced_accuracy": (tpr + tnr) / 2,
        "tpr": tpr,
        "fpr": 1 - tnr,
        "fnr": 1 - tpr,
        "tnr": tnr,
        "precision": tp / (tp + fp),
        "npv": tn / (tn + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "roc_auc": float(norm.cdf(scenario[1] / np.sqrt(2))),
        "ece": float(np.abs(gaps).sum() / rows),
        "mean_score": float(s.mean()),
    }


def engine_coverage(
    *,
    draws: int = 1000,
    ns=ENGINE_NS,
    scenarios=SCENARIOS,
    seed: int = 0,
    groups_per_table: int = 250,
    n_boot: int = 1000,
    truth_rows: int = 4_000_000,
) -> dict:
    """Coverage of every metric's interval as the engine reports it (module doc). ``n_boot``: the engine's
    resamples (its default; no interval of unweighted data measured here depends on them)."""
    import pandas as pd

    from audit import group_metrics

    hits: dict[tuple[str, int], list[int]] = {}
    bare = 0
    for index, scenario in enumerate(scenarios):
        truth = truths(scenario, rows=truth_rows)
        for n in ns:
            rng = np.random.default_rng([seed, index, n])
            for start in range(0, draws, groups_per_table):
                k = min(groups_per_table, draws - start)
                y, scores = _draw(scenario, rng, k * n)
                names = np.repeat(np.array([f"g{i:04d}" for i in range(k)]), n)
                table = group_metrics(
                    y_true=y,
                    y_pred=scores > 0.5,
                    scores=scores,
                    sensitive=pd.DataFrame({"g": names}),
                    metrics=ENGINE_METRICS,
                    n_boot=n_boot,
                    seed=start,
                )
                for group in table.groups:
                    for metric in ENGINE_METRICS:
                        if group.values[metric] is None:
                            continue
                        interval = group.ci.get(metric)
                        if interval is None:
                            bare += metric not in group.no_interval
                            continue
                        if metric == "balanced_accuracy" and not (group.support["tpr"] and group.support["fpr"]):
                            continue
                        low, high = interval
                        entry = hits.setdefault((metric, n), [0, 0])
                        entry[0] += int(low - 1e-12 <= truth[metric] <= high + 1e-12)
                        entry[1] += 1
    by_cell = {key: covered / total for key, (covered, total) in hits.items() if total}
    by_metric = {
        metric: round(min(v for (m, _), v in by_cell.items() if m == metric), 4)
        for metric in ENGINE_METRICS
        if any(m == metric for m, _ in by_cell)
    }
    worst = min(by_cell, key=by_cell.get)
    return {
        "engine_draws": draws,
        "engine_ns": list(ns),
        "min_coverage_all": round(by_cell[worst], 4),
        "min_coverage_all_at": {"metric": worst[0], "n": worst[1]},
        "by_metric": by_metric,
        "by_metric_and_n": {f"{m}@{n}": round(v, 4) for (m, n), v in sorted(by_cell.items())},
        "bare_values": int(bare),
    }


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
    parser.add_argument("--engine-draws", type=int, default=1000, help="groups per metric and size (default 1000)")
    args = parser.parse_args()
    started = time.perf_counter()
    summary = coverage(draws=args.draws, bootstrap=True)
    summary["engine_uses_these_intervals"] = engine_matches_functions()
    summary.update(engine_coverage(draws=args.engine_draws))
    summary["goal_met"] = (
        summary["min_coverage_rate"] >= 0.93
        and summary["min_coverage_ratio"] >= 0.93
        and summary["min_coverage_all"] >= 0.93
        and summary["bare_values"] == 0
    )
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"rates: Clopper-Pearson, worst coverage {summary['min_coverage_rate']} at {summary['min_coverage_rate_at']}"
        f" (percentile bootstrap: {summary['percentile_bootstrap_min_coverage_rate']} at "
        f"{summary['percentile_bootstrap_min_coverage_rate_at']})"
    )
    print(
        f"impact ratios: MOVER-R, worst coverage {summary['min_coverage_ratio']} at {summary['min_coverage_ratio_at']}"
    )
    print(f"every metric through the engine: worst {summary['min_coverage_all']} at {summary['min_coverage_all_at']}")
    for metric, worst in summary["by_metric"].items():
        print(f"  {metric}: {worst}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
