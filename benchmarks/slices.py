"""Worst-slice discovery vs SliceLine (the `sliceline` package, 0.3.0), in one run on one machine.

    python -m benchmarks.slices [--quick]

Data: the known-answer generator of tests/test_slices.py: 20 categorical columns of 3 levels, errors at 10% plus
5 points in three planted slices of 1, 2 and 3 conditions. Both sides search the same lattice: up to 3
conditions, minimum support 1% of the rows. SliceLine runs at its documented settings for this task
(``alpha=0.95``, ``k=10``, ``max_l=3``, ``min_sup=0.01``, the columns given as integer codes); ours runs its
defaults (discovery on one half, confirmation on the other, Benjamini-Yekutieli at q = 0.05), which is more
work than SliceLine does: SliceLine scores slices once, with no held-out test. Each side runs in its own fresh
process (the time includes no import), at 1e5 and 1e6 rows; SliceLine also at 1e4, 2e4 and 5e4 first, because
it grows fast: a side that passes 15 minutes, or is killed for memory, is stopped, and the speedup is taken at the
largest size both finished. ``planted_found``: planted slices among ours confirmed at 1e6 rows;
``null_false_rate``: the share of 100 null data sets (errors permuted) at 1e5 rows where ours confirms any
slice; ``peak_rss_mb``: our process at 1e6 rows. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

LIMIT_S = 15 * 60

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, ".")
import numpy as np
from tests.test_slices import planted, PLANTED
side, rows = sys.argv[1], int(sys.argv[2])
frame, y, decisions = planted(0, n=rows)
if side == "ours":
    from audit import find_slices
    started = time.perf_counter()
    search = find_slices(frame, y_true=y, y_pred=decisions, seed=0)
    seconds = time.perf_counter() - started
    found = len(PLANTED & {s.definition for s in search.slices})
    extra = {"confirmed": len(search.slices), "candidates": search.candidates, "complete": search.complete}
else:
    from sliceline.slicefinder import Slicefinder
    codes = frame.apply(lambda c: c.astype(int)).to_numpy()
    errors = (y != decisions).astype(float)
    started = time.perf_counter()
    finder = Slicefinder(alpha=0.95, k=10, max_l=3, min_sup=0.01, verbose=False).fit(codes, errors)
    seconds = time.perf_counter() - started
    names = []
    for top in finder.top_slices_:
        names.append(" AND ".join(f"f{j} = {int(v)}" for j, v in enumerate(top) if v is not None))
    found = len(PLANTED & set(names))
    extra = {"returned": len(names)}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "found": found, "peak_rss_mb": peak, **extra}))
"""


def run(side: str, rows: int) -> dict | None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, side, str(rows)], capture_output=True, text=True, timeout=LIMIT_S, check=True
        )
    except subprocess.TimeoutExpired:
        print(f"{side} at {rows:,} rows: stopped after {LIMIT_S} s", flush=True)
        return None
    except subprocess.CalledProcessError as err:
        if err.returncode < 0:  # killed by a signal: on this machine, the kernel's out-of-memory killer
            print(f"{side} at {rows:,} rows: killed by signal {-err.returncode} (out of memory)", flush=True)
            return None
        raise SystemExit(f"{side} at {rows:,} rows failed:\n{err.stderr[-3000:]}") from err
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{side} at {rows:,} rows: {outcome}", flush=True)
    return outcome


def null_rate(rows: int, seeds: int) -> float:
    sys.path.insert(0, ".")
    from audit import find_slices
    from tests.test_slices import planted

    hits = 0
    for seed in range(seeds):
        frame, y, decisions = planted(1000 + seed, n=rows, shuffle=True)
        hits += bool(find_slices(frame, y_true=y, y_pred=decisions, seed=seed).slices)
    return hits / seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 rows only, 20 null seeds")
    args = parser.parse_args()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    results = {"ours": {rows: run("ours", rows) for rows in sizes}, "sliceline": {}}
    for rows in [10_000, 20_000, 50_000, *sizes]:  # SliceLine grows fast: smaller sizes first, stop at a failure
        results["sliceline"][rows] = run("sliceline", rows)
        if results["sliceline"][rows] is None:
            break
    for rows in (10_000, 20_000, 50_000):  # ours at the sizes SliceLine finished, for a like-for-like ratio
        if results["sliceline"].get(rows) is not None:
            results["ours"][rows] = run("ours", rows)
    largest = sizes[-1]
    ours, theirs = results["ours"][largest], results["sliceline"].get(largest)
    compared = largest
    if theirs is None:  # time both at the largest size SliceLine finished
        compared = max((r for r, v in results["sliceline"].items() if v is not None), default=None)
        theirs = results["sliceline"].get(compared) if compared else None
        print(f"SliceLine did not finish {largest:,} rows; the speedup is at {compared:,} rows", flush=True)
    started = time.perf_counter()
    false_rate = null_rate(100_000, 20 if args.quick else 100)
    print(f"null data sets: {false_rate:.0%} with a confirmed slice ({time.perf_counter() - started:.0f} s)")
    summary = {
        "rows": largest,
        "features": 20,
        "ours_s": ours["seconds"],
        "sliceline_s": theirs["seconds"] if theirs else None,
        "sliceline_rows": compared,
        "speedup": (theirs["seconds"] / results["ours"][compared]["seconds"]) if theirs else None,
        "planted_found": ours["found"],
        "sliceline_planted_found": theirs["found"] if theirs else None,
        "null_false_rate": false_rate,
        "peak_rss_mb": ours["peak_rss_mb"],
        "by_size": {
            str(r): {side: results[side].get(r) for side in results}
            for r in sorted(set(results["ours"]) | set(results["sliceline"]))
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
