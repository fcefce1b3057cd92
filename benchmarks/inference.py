"""Inferred group membership (audit.demographics): the estimators' coverage, bias and false positives on
synthetic populations drawn from the Census tables, and the speed at a million rows.

    python -m benchmarks.inference [--seeds 200] [--rows 20000] [--places 300] [--speed-rows 1000000]

Each seed draws a population (audit.demographics._simulate: surname, race, first name, ZCTA within a region of
``places`` ZCTAs, a decision whose log-odds are the race's plus 3 x the place's centred White share, Black
applicants' planted 0.5 lower) and runs ``inferred_group_metrics`` (BIFSG, 100 bootstrap draws). Against the
exact population gap (the benchmark group's selection rate minus the Black one; the benchmark is the highest
rate among groups of 500+ effective members, White in these regions) it measures:

- ``corrected_coverage``: the share of seeds whose corrected 95% interval of the gap holds the truth (goal >= 0.90);
- ``weighted_bias``: the mean of (weighted gap - true gap), and ``weighted_coverage`` of its interval;
- ``corrected_bias``;
- ``bounds_contain_truth``: the share of seeds whose bounds on the gap hold it (goal 1.0);
- ``null_false_positive_rate``: the same populations with no planted gap and no place effect: the share of seeds
  where any comparison with the benchmark has a Holm-adjusted p < 0.05 (goal <= 0.05), and per group;
- ``rows``/``seconds``: inference and the three estimates on ``speed_rows`` people nationwide, with 20 bootstrap
  draws (goal <= 30 s on 2 cores), and ``unmatched_share`` of a name list with 2% misspellings.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import audit
from audit.demographics._bisg import infer_membership
from audit.demographics._simulate import synthetic_population
from audit.demographics._tables import RACE_LABELS, load_census_tables

GAP = {"black": -0.5}
MIN_GROUP_SIZE = 500  # the benchmark group is then one of the large groups (White, in these regions)


def _bifsg_table(frame, tables, *, n_boot: int, seed: int):
    return audit.inferred_group_metrics(
        frame,
        y_true=frame.label,
        y_pred=frame.decision,
        surname="last_name",
        first_name="first_name",
        geography="zip",
        n_boot=n_boot,
        tables=tables,
        metrics=("selection_rate",),
        seed=seed,
        min_group_size=MIN_GROUP_SIZE,
    )


def _one(tables, *, seed: int, rows: int, places: int, planted: bool, n_boot: int) -> dict:
    population = synthetic_population(
        tables,
        rows=rows,
        seed=seed,
        gap=GAP if planted else None,
        place_effect=3.0 if planted else 0.0,
        places=places,
    )
    frame = population.frame
    table = _bifsg_table(frame, tables, n_boot=n_boot, seed=seed)
    truth = population.true_selection_rate
    out: dict = {"p_holm": {}}
    disparity = table.disparities["selection_rate"]
    for name, comparison in disparity.to_benchmark.items():
        if comparison.p_value_holm is not None:
            out["p_holm"][name] = comparison.p_value_holm
    black = "race=Black"
    benchmark = {f"race={label}": race for race, label in RACE_LABELS.items()}[disparity.benchmark_group]
    true_gap = truth[benchmark] - truth["black"]
    out["true_gap"] = true_gap
    for estimator in ("weighted", "corrected"):
        estimate = table.inferred.estimates[estimator]["selection_rate"][black]
        out[estimator], out[f"{estimator}_ci"] = estimate.difference, estimate.difference_ci
    out["bounds"] = table.inferred.estimates["bounds"]["selection_rate"][black].difference_ci
    return out


def _speed(tables, rows: int) -> dict:
    """A million people nationwide, 2% of surnames misspelt: BIFSG alone, then the whole table (20 draws)."""
    population = synthetic_population(tables, rows=rows, seed=1, gap=GAP, place_effect=3.0)
    frame = population.frame.copy()
    rng = np.random.default_rng(0)
    typo = rng.random(len(frame)) < 0.02
    frame.loc[typo, "last_name"] = frame.loc[typo, "last_name"] + "QX"
    started = time.perf_counter()
    infer_membership(tables, surname=frame.last_name, first_name=frame.first_name, geography=frame.zip)
    inference_seconds = time.perf_counter() - started
    started = time.perf_counter()
    table = _bifsg_table(frame, tables, n_boot=20, seed=0)
    seconds = time.perf_counter() - started
    record = table.inferred
    benchmark = {f"race={label}": race for race, label in RACE_LABELS.items()}[record.benchmark_group["selection_rate"]]
    truth = population.true_selection_rate[benchmark] - population.true_selection_rate["black"]
    corrected = record.estimates["corrected"]["selection_rate"]["race=Black"]
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "inference_seconds": round(inference_seconds, 1),
        "unmatched_share": record.unmatched.get("surname", 0) / record.rows,
        "unknown_share": record.unknown_rows / record.rows,
        "em_iterations": record.fit.get("iterations"),
        "million_gap_error": corrected.difference - truth,
        "million_gap_ci_holds_truth": bool(corrected.difference_ci[0] <= truth <= corrected.difference_ci[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--places", type=int, default=300)
    parser.add_argument("--boot", type=int, default=100)
    parser.add_argument("--speed-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    tables = load_census_tables()
    result: dict = {"seeds": args.seeds, "rows_per_seed": args.rows, "places": args.places}
    if args.seeds > 0:
        result.update(_simulation(tables, args))
    result.update(_speed(tables, args.speed_rows))
    print(json.dumps(result))


def _simulation(tables, args) -> dict:
    started = time.perf_counter()
    planted = [
        _one(tables, seed=s, rows=args.rows, places=args.places, planted=True, n_boot=args.boot)
        for s in range(args.seeds)
    ]
    null = [
        _one(tables, seed=10_000 + s, rows=args.rows, places=args.places, planted=False, n_boot=args.boot)
        for s in range(args.seeds)
    ]
    covered = [
        r["corrected_ci"] is not None and r["corrected_ci"][0] <= r["true_gap"] <= r["corrected_ci"][1] for r in planted
    ]
    w_covered = [
        r["weighted_ci"] is not None and r["weighted_ci"][0] <= r["true_gap"] <= r["weighted_ci"][1] for r in planted
    ]
    in_bounds = [r["bounds"][0] <= r["true_gap"] <= r["bounds"][1] for r in planted]
    groups = sorted({g for r in null for g in r["p_holm"]})
    return {
        "corrected_coverage": float(np.mean(covered)),
        "corrected_bias": float(np.mean([r["corrected"] - r["true_gap"] for r in planted])),
        "weighted_bias": float(np.mean([r["weighted"] - r["true_gap"] for r in planted])),
        "weighted_coverage": float(np.mean(w_covered)),
        "bounds_contain_truth": float(np.mean(in_bounds)),
        "bounds_mean_width": float(np.mean([r["bounds"][1] - r["bounds"][0] for r in planted])),
        "power_black_gap": float(np.mean([r["p_holm"].get("race=Black", 1.0) < 0.05 for r in planted])),
        "null_false_positive_rate": float(np.mean([min(r["p_holm"].values(), default=1.0) < 0.05 for r in null])),
        "null_false_positive_by_group": {
            g: float(np.mean([r["p_holm"].get(g, 1.0) < 0.05 for r in null])) for g in groups
        },
        "simulation_seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    main()
