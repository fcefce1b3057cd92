"""Monitoring: the alarms' false-alarm rate over a year of weekly looks, their detection delay, and the speed of
monitoring a large log into SQLite.

1. Null: ``--streams`` streams of 52 weekly windows, 20 groups, about 9,600 decisions per group and week (10^7 a
   year), selection rate 0.40 for the reference group and an impact ratio of 0.95 for every other group, every
   week: the share of streams with any alarm in the year (goal <= 0.05), with the horizon fixed at 52 and with the
   unbounded spending; a plain weekly test at 0.05 (the window's own one-sided 95% bound) beside them. The same
   with every group exactly at the threshold (0.80), the least favourable case of "no breach".
2. Planted: one group's impact ratio drops from 0.95 to 0.75 at week 27: the share of streams that raise an alarm
   for it, and the weeks from the change to the first alarm (median and 90th percentile).
3. Speed: 10^7 logged decisions over 52 weeks, 20 groups (datetime, group, decision columns) through
   ``monitor_log`` into a SQLite store, timed end to end with the peak resident memory.

The simulations draw each window's counts directly (binomial) and run the same ``window_alarms`` code a monitor run
does. ``python -m benchmarks.monitor`` prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import pandas as pd

from audit.monitor._alarms import window_alarms

WEEKS, GROUPS, PER_WEEK, BASE = 52, 20, 9_600, 0.40


def _streams(
    streams: int, seed: int, *, drop_at: int | None, dropped: float = 0.75, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ratio = np.full((streams, WEEKS, GROUPS), level)
    ratio[..., 0] = 1.0
    if drop_at is not None:
        ratio[:, drop_at:, 1] = dropped
    totals = rng.poisson(PER_WEEK, size=(streams, WEEKS, GROUPS)).astype(float)
    successes = rng.binomial(totals.astype(int), BASE * ratio).astype(float)
    return successes, totals


def _first_alarm(alarm: np.ndarray) -> np.ndarray:
    """Per stream: the first week with any alarm (-1: none)."""
    any_week = alarm.any(axis=-1)
    return np.where(any_week.any(axis=-1), any_week.argmax(axis=-1), -1)


def _rates(streams: int, seed: int, level: float) -> dict:
    successes, totals = _streams(streams, seed, drop_at=None, level=level)
    out = {}
    for name, horizon in (("horizon_52", WEEKS), ("unbounded", None)):
        alarms = window_alarms(successes, totals, 0, 1, alpha=0.05, threshold=0.8, horizon=horizon)["alarm"]
        out[name] = float((_first_alarm(alarms) >= 0).mean())
    # the plain weekly test: the window's own interval at 95% each week, no spending
    plain = window_alarms(successes, totals, 0, 1, alpha=0.05 * WEEKS * (GROUPS - 1) * 5, threshold=0.8, horizon=WEEKS)
    weekly = plain["high"] < 0.8
    weekly[..., 0] = False
    out["plain_weekly_test"] = float(weekly.any(axis=(-1, -2)).mean())
    return out


def _delay(streams: int, seed: int, drop_at: int = 26) -> dict:
    successes, totals = _streams(streams, seed, drop_at=drop_at)
    out = {}
    for name, horizon in (("horizon_52", WEEKS), ("unbounded", None)):
        result = window_alarms(successes, totals, 0, 1, alpha=0.05, threshold=0.8, horizon=horizon)
        on_group = result["alarm"][..., 1]
        before = on_group[:, :drop_at].any(axis=1)
        found = on_group[:, drop_at:].any(axis=1)
        delay = on_group[:, drop_at:].argmax(axis=1)[found] + 1  # weeks of changed data when it fired
        out[name] = {
            "found": float(found.mean()),
            "alarm_before_the_change": float(before.mean()),
            "weeks_median": float(np.median(delay)) if found.any() else None,
            "weeks_p90": float(np.quantile(delay, 0.9)) if found.any() else None,
        }
    return out


def _speed(rows: int, seed: int) -> dict:
    import psutil

    from audit.monitor._log import monitor_log
    from audit.store._store import open_store

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-05", tz="UTC")
    offsets = np.sort(rng.integers(0, WEEKS * 7 * 86_400, rows))
    group = pd.Categorical.from_codes(rng.integers(0, GROUPS, rows), [f"g{i:02d}" for i in range(GROUPS)])
    log = pd.DataFrame(
        {
            "time": start + pd.to_timedelta(offsets, unit="s"),
            "group": group,
            "decision": (rng.random(rows) < BASE).astype(np.int8),
        }
    )
    process = psutil.Process()
    folder = tempfile.mkdtemp()
    clock = time.perf_counter()
    with open_store(os.path.join(folder, "monitor.db")) as store:
        run = monitor_log(log, time="time", decision="decision", sensitive=["group"], store=store, horizon=WEEKS)
    seconds = time.perf_counter() - clock
    peak = process.memory_info().rss
    try:
        import resource

        peak = max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    except ImportError:  # not on this platform: the current size only
        pass
    return {"rows": rows, "seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20), "windows": len(run.rows)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    null = _rates(args.streams, 0, 0.95)
    boundary = _rates(args.streams, 3, 0.80)  # every group exactly at the threshold: the least favourable null
    planted = _delay(args.streams, 1)
    report = {
        "streams": args.streams,
        "weeks": WEEKS,
        "groups": GROUPS,
        "null_false_alarm_rate": null["horizon_52"],
        "null_false_alarm_rate_unbounded": null["unbounded"],
        "plain_weekly_test_false_alarm_rate": null["plain_weekly_test"],
        "boundary_null_false_alarm_rate": boundary["horizon_52"],
        "boundary_null_false_alarm_rate_unbounded": boundary["unbounded"],
        "boundary_plain_weekly_test_false_alarm_rate": boundary["plain_weekly_test"],
        "planted_found": planted["horizon_52"]["found"],
        "detection_weeks": planted["horizon_52"]["weeks_median"],
        "detection_weeks_p90": planted["horizon_52"]["weeks_p90"],
        "planted_unbounded": planted["unbounded"],
        "planted_alarm_before_the_change": planted["horizon_52"]["alarm_before_the_change"],
    }
    if args.rows:
        report |= _speed(args.rows, 2)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
