"""Ranking fairness: speed at a million items against FairRankTune's figures, and the tests' error rates.

1. Speed: 1e6 ranked items in 1e4 queries (100 candidates each, three groups), k = 10, every measure with 1,000
   query resamples, timed end to end; FairRankTune (0.0.7) computes exposure (EXP) and attention (AWRF) on the same
   rankings, timed the same way (one run each, after a warm-up on a small input); max_abs_diff is the largest
   difference between its group values and ours.
2. Null: group-blind rankings (a merit score independent of group), ``--reps`` populations of 100 queries x 20
   candidates: how often each test finds a gap (Holm p < 0.05), and how often the query-resampled 95% interval of
   the exposure gap holds 0.
   FA*IR's prefix test (fair_prefix) is counted the same way: any group's Holm p < 0.05 over queries.
3. Planted: group b's score lowered by ``--push-down`` (default 0.15 standard deviations of the merit score): each
   test's power, and the coverage of the exposure gap's interval of the true gap (from 20,000 queries of the same
   design).

``python -m benchmarks.ranking`` prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from audit.ranking import RANKING_MEASURES, ranking_metrics


def _population(seed: int, *, queries: int, size: int, push_down: float, groups: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = queries * size
    names = np.array(["a", "b", "c"][:groups])
    shares = np.array([0.5, 0.3, 0.2][:groups])
    group = names[rng.choice(groups, size=n, p=shares / shares.sum())]
    score = rng.normal(size=n) - push_down * (group == "b")
    return pd.DataFrame({"query": np.repeat(np.arange(queries), size), "group": group, "score": score})


def _speed(items: int, queries: int, boot: int) -> dict:
    import FairRankTune as frt

    frame = _population(0, queries=queries, size=items // queries, push_down=0.3, groups=3)
    started = time.perf_counter()
    table = ranking_metrics(frame, sensitive="group", score="score", query="query", k=10, n_boot=boot)
    seconds = time.perf_counter() - started
    ordered = frame.assign(item=np.arange(len(frame), dtype=float)).sort_values(
        ["query", "score"], ascending=[True, False]
    )
    size = items // queries
    ranking_df = pd.DataFrame(ordered.item.to_numpy().reshape(queries, size).T)
    groups = dict(zip(np.arange(len(frame), dtype=float), frame.group))
    small = pd.DataFrame(ranking_df.iloc[:, :2])
    frt.EXP(small, {i: groups[i] for i in small.to_numpy().ravel()}, "MinMaxRatio")  # warm-up
    started = time.perf_counter()
    _, exposure = frt.EXP(ranking_df, groups, "MinMaxRatio")
    _, attention = frt.AWRF(ranking_df, groups, 0.5, "MinMaxRatio")
    peer_seconds = time.perf_counter() - started
    differences = []
    for row in table.groups:
        name = row.group.split("=")[1]
        differences += [
            abs(row.values["exposure"] - exposure[name]),
            abs(row.values["attention"] - attention[name] / 100),
        ]
    return {
        "items": len(frame),
        "queries": queries,
        "resamples": boot,
        "seconds": round(seconds, 2),
        "fairranktune_seconds_exposure_and_attention_only": round(peer_seconds, 2),
        "max_abs_diff": float(max(differences)),
    }


def _error_rates(reps: int, push_down: float, boot: int) -> dict:
    found = {name: 0 for name in (*RANKING_MEASURES, "top_k", "fair_prefix")}
    covered = 0
    truth = 0.0
    if push_down:
        big = ranking_metrics(
            _population(10_000, queries=20_000, size=20, push_down=push_down),
            sensitive="group",
            score="score",
            query="query",
            n_boot=0,
        )
        truth = big.measures["exposure"].to_benchmark["group=b"].difference
    for seed in range(reps):
        table = ranking_metrics(
            _population(seed, queries=100, size=20, push_down=push_down),
            sensitive="group",
            score="score",
            query="query",
            n_boot=boot,
            seed=seed,
        )
        for name in RANKING_MEASURES:
            comparisons = [c for c in table.measures[name].to_benchmark.values() if not c.is_anchor]
            found[name] += any(c.p_value_holm is not None and c.p_value_holm < 0.05 for c in comparisons)
        found["top_k"] += any(t.p_value_holm is not None and t.p_value_holm < 0.05 for t in table.top_k)
        found["fair_prefix"] += any(t.p_value_holm is not None and t.p_value_holm < 0.05 for t in table.prefix_tests)
        measure = table.measures["exposure"]
        # the interval of b's gap to a, whichever group the data made the benchmark
        if measure.benchmark_group == "group=a":
            low, high = measure.to_benchmark["group=b"].difference_ci
        else:
            high, low = (-v for v in measure.to_benchmark["group=a"].difference_ci)
        covered += low <= truth <= high
    return {
        "found": {k: v / reps for k, v in found.items()},
        "exposure_gap_coverage": covered / reps,
        "true_exposure_gap": truth,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--boot", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--sim-boot", type=int, default=400)
    parser.add_argument("--push-down", type=float, default=0.15)
    args = parser.parse_args(argv)
    report = _speed(args.items, args.queries, args.boot)
    if args.reps > 0:
        null = _error_rates(args.reps, 0.0, args.sim_boot)
        planted = _error_rates(args.reps, args.push_down, args.sim_boot)
        report |= {
            "reps": args.reps,
            "null_false_positive": null["found"],
            "null_exposure_interval_holds_zero": null["exposure_gap_coverage"],
            "planted_push_down": args.push_down,
            "planted_power": planted["found"],
            "planted_exposure_gap": round(planted["true_exposure_gap"], 5),
            "planted_exposure_interval_coverage": planted["exposure_gap_coverage"],
        }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
