"""Fairness engine vs fairlearn's MetricFrame, in one run on one machine.

    python -m benchmarks.fairness [--quick]

Data: synthetic rows with sex (2) x race (5) x age band (2) = 20 intersectional groups, given to both
engines as the same pandas categoricals, and the six core metrics (count, selection rate, accuracy, TPR,
FPR, precision). Both engines get the same protocol: a warm-up call, then the best of --repeat runs. Steps: a
plain pass at 1e5 and 1e6 rows; 1000 bootstrap resamples at 1e6 rows (fairlearn runs 2 resamples: its
per-resample cost, the run minus its plain pass, is extrapolated to 1000 and said so); peak memory of our
plain pass over 1e7 rows in a fresh process. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

CORE = ("count", "selection_rate", "accuracy", "tpr", "fpr", "precision")


def make_data(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sex = pd.Categorical.from_codes(rng.integers(0, 2, rows), ["Female", "Male"])
    race = pd.Categorical.from_codes(
        rng.choice(5, rows, p=[0.6, 0.2, 0.1, 0.06, 0.04]), ["White", "Black", "Asian", "Other", "Native"]
    )
    age = pd.Categorical.from_codes(rng.integers(0, 2, rows), ["under 40", "40 and over"])
    sensitive = pd.DataFrame({"sex": sex, "race": race, "age": age})
    y_true = rng.random(rows) < 0.3
    y_pred = rng.random(rows) < (0.2 + 0.1 * (sex.codes == 1) + 0.3 * y_true)
    return y_true, y_pred, sensitive


def fairlearn_frame(y_true, y_pred, sensitive, n_boot=None):
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "count": count,
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "precision": lambda y, p: precision_score(y, p, zero_division=np.nan),
    }
    kwargs = {} if n_boot is None else {"n_boot": n_boot, "ci_quantiles": [0.025, 0.975], "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive, **kwargs)


def ours(y_true, y_pred, sensitive, n_boot=0):
    from audit import group_metrics

    return group_metrics(y_true=y_true, y_pred=y_pred, sensitive=sensitive, metrics=CORE, n_boot=n_boot)


def timed(function, *args, repeat: int = 1, warmup: bool = True, **kwargs):
    """One protocol for both engines: a warm-up call (imports, caches), then the best of ``repeat`` runs."""
    if warmup:
        function(*args, **kwargs)
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def max_abs_diff(table, frame) -> float:
    worst = 0.0
    by_group = frame.by_group
    for group in table.groups:
        key = tuple(group.key.values())
        for metric, value in group.values.items():
            expected = float(by_group.loc[key, metric])
            if value is None or np.isnan(expected):
                if (value is None) != np.isnan(expected):
                    return float("inf")
                continue
            worst = max(worst, abs(value - expected))
    return worst


def peak_rss_child(rows: int) -> float:
    code = (
        "import resource; from benchmarks.fairness import make_data, ours; "
        f"y, p, s = make_data({rows}); t = ours(y, p, s); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many timed runs, for both engines")
    args = parser.parse_args(argv)
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    report: dict = {"rows": sizes[-1], "groups": None, "metrics": list(CORE)}
    for rows in sizes:
        y_true, y_pred, sensitive = make_data(rows)
        ours_s, table = timed(ours, y_true, y_pred, sensitive, repeat=args.repeat)
        fairlearn_s, frame = timed(fairlearn_frame, y_true, y_pred, sensitive, repeat=args.repeat)
        diff = max_abs_diff(table, frame)
        print(
            f"{rows:>9,} rows, {len(table.groups)} groups: ours {ours_s:.4f} s, MetricFrame {fairlearn_s:.3f} s, "
            f"speedup {fairlearn_s / ours_s:.0f}x, max |diff| {diff:.1e}",
            flush=True,
        )
        report.update({"groups": len(table.groups), f"ours_s_{rows}": ours_s, f"fairlearn_s_{rows}": fairlearn_s})
    report.update({"ours_s": ours_s, "fairlearn_s": fairlearn_s, "speedup": fairlearn_s / ours_s, "max_abs_diff": diff})

    n_boot, fairlearn_boot = 1000, 2
    bootstrap_ours_s, _ = timed(ours, y_true, y_pred, sensitive, n_boot=n_boot, repeat=args.repeat)
    # fairlearn's cost of n_boot resamples: its plain pass plus n_boot times the per-resample part, measured as
    # (a run with a few resamples - the plain pass) / those resamples. Only that part is extrapolated.
    measured_s, _ = timed(fairlearn_frame, y_true, y_pred, sensitive, n_boot=fairlearn_boot, repeat=1, warmup=False)
    per_resample_s = max(measured_s - fairlearn_s, 0.0) / fairlearn_boot
    fairlearn_boot_s = fairlearn_s + per_resample_s * n_boot
    print(
        f"bootstrap x{n_boot} at {sizes[-1]:,} rows: ours {bootstrap_ours_s:.3f} s; MetricFrame with "
        f"{fairlearn_boot} resamples {measured_s:.1f} s, plain {fairlearn_s:.1f} s, so {per_resample_s:.2f} s per "
        f"resample, about {fairlearn_boot_s:.0f} s for {n_boot} (extrapolated from the per-resample part)",
        flush=True,
    )
    report.update(
        {
            "bootstrap_resamples": n_boot,
            "bootstrap_ours_s": bootstrap_ours_s,
            "bootstrap_fairlearn_resamples_run": fairlearn_boot,
            "bootstrap_fairlearn_per_resample_s": per_resample_s,
            "bootstrap_fairlearn_s_scaled": fairlearn_boot_s,
            "bootstrap_fairlearn_extrapolated": f"plain pass + {n_boot} x per-resample cost measured on "
            f"{fairlearn_boot} resamples",
            "bootstrap_speedup": fairlearn_boot_s / bootstrap_ours_s,
            "bootstrap_faster_than_one_plain_pass": bootstrap_ours_s < fairlearn_s,
            "protocol": f"warm-up, then best of {args.repeat} for both engines",
        }
    )
    big = 1_000_000 if args.quick else 10_000_000
    peak = peak_rss_child(big)
    print(f"peak RSS of a plain pass over {big:,} rows (data generation included): {peak:.0f} MB", flush=True)
    report[f"peak_rss_mb_{'1e6' if args.quick else '1e7'}"] = peak
    report["peak_rss_mb_1e7"] = peak if not args.quick else None
    return report


if __name__ == "__main__":
    print(json.dumps(main()))
