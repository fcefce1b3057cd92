"""The mitigation frontier vs one fairlearn ThresholdOptimizer fit, in one run on one machine.

    python -m benchmarks.mitigation [--quick]

Data: 1e6 rows in 20 groups of unequal size and base rate, scores from a noisy logistic model. Ours: the whole
demographic-parity frontier (7 tolerances and the unconstrained optimum, group-specific and group-blind rules)
with 200 bootstrap resamples of the held-out half, ``audit.mitigation`` defaults. Theirs: one
ThresholdOptimizer fit at tolerance 0 (demographic parity, accuracy, prefit scores) on the same fit half, its
documented settings (``grid_size=1000``). ``max_abs_diff_at_zero_tolerance``: our optimum's accuracy at tolerance
0 on the fit half against ThresholdOptimizer's expected accuracy there. Each side runs in a fresh process (no
import in the time); ``peak_rss_mb`` is ours. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
side, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
sizes = rng.dirichlet(np.full(20, 2.0))
groups = np.array([f"g{i:02d}" for i in range(20)])[rng.choice(20, rows, p=sizes)]
shift = dict(zip([f"g{i:02d}" for i in range(20)], rng.normal(0, 0.6, 20)))
signal = rng.normal(size=rows) + np.vectorize(shift.get)(groups)
y = rng.random(rows) < 1 / (1 + np.exp(-1.5 * signal))
scores = 1 / (1 + np.exp(-(1.5 * signal + rng.normal(0, 0.8, rows))))
fit = np.random.default_rng([0, 11]).random(rows) < 0.5  # the split ours makes (seed 0)
if side == "ours":
    from audit.mitigation._frontier import frontier
    from audit.mitigation._roc import group_roc
    from audit.mitigation._solve import solve
    started = time.perf_counter()
    result = frontier(scores=scores, y_true=y, groups=groups, constraint="demographic_parity", threshold=0.5,
                      n_boot=200, seed=0)
    seconds = time.perf_counter() - started
    names = sorted(set(groups))
    rocs = [group_roc(scores[fit & (groups == g)], y[fit & (groups == g)]) for g in names]
    value = solve(rocs, names, constraint="demographic_parity", tolerance=0.0).objective
    extra = {"points": len(result.frontier) + len(result.group_blind) + 1,
             "held_out_accuracy_at_zero": result.at(0.0).accuracy}
else:
    from fairlearn.postprocessing import ThresholdOptimizer
    sys.path.insert(0, ".")
    from tests.test_mitigation import _Scores  # the prefit score "estimator" the tests give it too

    frame = pd.DataFrame({"score": scores[fit]})
    optimizer = ThresholdOptimizer(estimator=_Scores(), constraints="demographic_parity", objective="accuracy_score",
                                   prefit=True, predict_method="predict_proba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        optimizer.fit(frame, y[fit], sensitive_features=groups[fit])
        seconds = time.perf_counter() - started
        chance = optimizer._pmf_predict(frame, sensitive_features=groups[fit])[:, 1]
    value = float(np.mean(chance * y[fit] + (1 - chance) * (1 - y[fit])))
    extra = {}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "accuracy_at_zero": value, "peak_rss_mb": peak, **extra}))
"""


def run(side: str, rows: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, side, str(rows)], capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{side} at {rows:,} rows: {outcome}", flush=True)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 rows")
    rows = 100_000 if parser.parse_args().quick else 1_000_000
    ours, theirs = run("ours", rows), run("threshold_optimizer", rows)
    print(
        json.dumps(
            {
                "rows": rows,
                "groups": 20,
                "n_boot": 200,
                "ours_s": ours["seconds"],
                "threshold_optimizer_s": theirs["seconds"],
                "max_abs_diff_at_zero_tolerance": abs(ours["accuracy_at_zero"] - theirs["accuracy_at_zero"]),
                "peak_rss_mb": ours["peak_rss_mb"],
            }
        )
    )


if __name__ == "__main__":
    main()
