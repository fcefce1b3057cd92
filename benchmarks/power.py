"""The power and rows-needed numbers (audit.fairness._power) against the engine's own test, by simulation.

    python -m benchmarks.power [--draws 4000]

For benchmark rates {0.1, 0.3, 0.6}, benchmark sizes {200, 2000}, group sizes {10, 30, 100, 300} and the two
rule lines (a ratio of 0.8, a difference of 0.05), a group whose true rate sits exactly on the line is drawn
``draws`` times beside its benchmark, and the engine's test (``compare_proportions``: pooled z, or Fisher's exact
test when an expected cell is under 5) is run at alpha / m for m in {1, 5} (Holm's first step over m groups).
Measured:

- ``max_abs_power_error``: the largest gap between the computed power and the simulated one;
- ``power_at_rows_needed``: the simulated power of a group of exactly ``rows_needed`` rows (where that is at most
  5,000 rows), min and max; the goal is the target, 0.8, within simulation error (min >= 0.75);
- ``null_rejection_ratio``: the same test with the group's rate equal to the benchmark's (no gap): its rejection
  rate as a multiple of the level, over every cell (goal <= 1.1; the largest single cell beside it, noisy at
  small levels).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from audit.fairness._power import line_rate, power_to_detect
from audit.fairness._stats import compare_proportions

ALPHA = 0.05


def _rejections(
    rng: np.random.Generator, p_group: float, n_group: int, p_bench: float, n_bench: int, level: float, draws: int
) -> float:
    xs = rng.binomial(n_group, p_group, draws)
    xb = rng.binomial(n_bench, p_bench, draws)
    cache: dict[tuple[int, int], bool] = {}
    hits = 0
    for x_g, x_b in zip(xs.tolist(), xb.tolist()):
        key = (x_g, x_b)
        if key not in cache:
            p_value, _ = compare_proportions(x_g, n_group, x_b, n_bench)
            cache[key] = p_value is not None and p_value < level
        hits += cache[key]
    return hits / draws


def measure(draws: int, seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    errors, at_needed, nulls, rows = [], [], [], []
    for p_bench, n_bench, n_group, (kind, threshold), m in itertools.product(
        (0.1, 0.3, 0.6), (200, 2000), (10, 30, 100, 300), (("ratio", 0.8), ("difference", 0.05)), (1, 5)
    ):
        level = ALPHA / m
        p_group = line_rate(p_bench, kind=kind, threshold=threshold, higher_is_better=True)
        assert p_group is not None  # every line of this grid lies in [0, 1]
        computed = power_to_detect(
            benchmark_rate=p_bench,
            benchmark_rows=n_bench,
            group_rows=n_group,
            kind=kind,
            threshold=threshold,
            higher_is_better=True,
            alpha=ALPHA,
            comparisons=m,
        )
        simulated = _rejections(rng, p_group, n_group, p_bench, n_bench, level, draws)
        errors.append(abs(float(computed.power or 0.0) - simulated))
        nulls.append((_rejections(rng, p_bench, n_group, p_bench, n_bench, level, draws), level))
        needed = computed.rows_needed
        if n_group == 10 and needed is not None and needed <= 5000:  # once per (rate, benchmark, line, m)
            at_needed.append(_rejections(rng, p_group, needed, p_bench, n_bench, level, draws))
        rows.append(
            {
                "p_bench": p_bench,
                "n_bench": n_bench,
                "n_group": n_group,
                "line": f"{kind} {threshold:g}",
                "m": m,
                "power": round(float(computed.power or 0.0), 4),
                "simulated": round(simulated, 4),
                "rows_needed": needed,
            }
        )
    return {
        "max_abs_power_error": round(max(errors), 4),
        "mean_abs_power_error": round(float(np.mean(errors)), 4),
        "power_at_rows_needed": {
            "min": round(min(at_needed), 4),
            "max": round(max(at_needed), 4),
            "cases": len(at_needed),
        },
        # rejections with no gap, as a multiple of the level (<= 1 holds it): over every cell, and the largest cell
        "null_rejection_ratio": round(sum(r for r, _ in nulls) / sum(level for _, level in nulls), 4),
        "null_rejection_ratio_max_cell": round(max(r / level for r, level in nulls), 4),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    summary = measure(args.draws, args.seed)
    for row in summary.pop("rows"):  # type: ignore[attr-defined]
        print(row)
    at_needed = summary["power_at_rows_needed"]
    summary.update(
        {
            "draws": args.draws,
            "goal_met": at_needed["min"] >= 0.75 and summary["null_rejection_ratio"] <= 1.1,  # type: ignore[index,operator]
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
