"""The demo audit on a quiet machine and beside two CPU-bound processes, in one run.

    python -m benchmarks.contention [--repeat 2]

Times the `audit demo` audit (16,281 UCI Adult rows, every default on, gap explanations included, their own time
reported beside; the model's training excluded) in this
process, first alone, then while two busy-loop processes that this benchmark starts (and stops) compete for the
CPUs, as on a shared CI runner or notebook server. Each figure is the best of --repeat runs after a warm-up.
A fair share of a 2-core machine beside two busy processes predicts about a 2x slowdown; the goal is <= 2.5.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

_BUSY = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def demo_audit_seconds(model, test) -> tuple[float, float]:
    """(the whole audit's seconds, its gap explanations' seconds)."""
    from audit import run_audit
    from audit.demo._demo import demo_config

    started = time.perf_counter()
    result = run_audit(demo_config(), data=test, model=model)
    return time.perf_counter() - started, result.provenance.timings_s["gap explanations"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes to run beside the audit")
    args = parser.parse_args(argv)
    from audit.datasets import load_adult, train_adult_model
    from audit.exec._threads import available_cpus

    model = train_adult_model(load_adult("train"))
    test = load_adult("test")
    demo_audit_seconds(model, test)  # warm-up: imports and caches
    quiet, quiet_gaps = min(demo_audit_seconds(model, test) for _ in range(args.repeat))
    print(f"quiet: {quiet:.1f} s (gap explanations {quiet_gaps:.1f} s)", flush=True)
    # the busy processes stop by themselves after a bounded time, even if this process is killed
    limit = int(60 + 40 * quiet * args.repeat)
    busy_processes = [subprocess.Popen([sys.executable, "-c", _BUSY.format(seconds=limit)]) for _ in range(args.busy)]
    try:
        time.sleep(1.0)
        busy, busy_gaps = min(demo_audit_seconds(model, test) for _ in range(args.repeat))
    finally:
        for process in busy_processes:
            process.kill()
            process.wait()
    print(f"beside {args.busy} busy processes: {busy:.1f} s (gap explanations {busy_gaps:.1f} s)", flush=True)
    report = {
        "quiet_s": round(quiet, 2),
        "busy_s": round(busy, 2),
        "slowdown": round(busy / quiet, 2),
        "gaps_quiet_s": round(quiet_gaps, 2),
        "gaps_busy_s": round(busy_gaps, 2),
        "busy_processes": args.busy,
        "cpus_available": available_cpus(),
        "goal_met": busy / quiet <= 2.5,
    }
    return report


if __name__ == "__main__":
    print(json.dumps(main()))
