"""How many rows a verdict needs: the power of the engine's own test to see a gap the size of a rule's threshold.

A group is compared with the benchmark by the two-proportion test of ``audit.fairness._stats.compare_proportions``
(the pooled z test, or Fisher's exact test when an expected cell is under 5), Holm-adjusted over the groups of the
table. Suppose the group's true rate sits exactly at a rule's line: a ratio of 0.8 to the benchmark's rate, or a
difference of 0.05 below it (above it for metrics where lower is better). ``power`` is the chance that the test
then finds the gap beyond chance at ``alpha / m`` (the level Holm's first step uses, m the groups compared: the
conservative end of Holm), and ``rows_needed`` the group size at which that chance reaches ``target``.

The power is the normal approximation with the alternative's own variance (Fleiss, Levin & Paik 2003, 4.2), with
the continuity correction where the engine would use Fisher's exact test, which is more conservative than the z
test. ``benchmarks.power`` checks both numbers against the engine's actual test by simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import norm

from audit.fairness._metrics import METRICS
from audit.fairness._types import FairnessTable, PowerRow

__all__ = [
    "power_to_detect",
    "rows_for_power",
    "line_rate",
    "Power",
    "TARGET_POWER",
    "comparison_power",
    "inconclusive_power",
    "oriented_higher_is_better",
]

TARGET_POWER = 0.8
_MAX_ROWS = 10_000_000


@dataclass(frozen=True)
class Power:
    power: float | None
    rows_needed: int | None  # rows of the metric's denominator (the group's positives for TPR)
    note: str = ""  # why a number is missing


def line_rate(benchmark_rate: float, *, kind: str, threshold: float, higher_is_better: bool) -> float | None:
    """The group's rate that sits exactly on the rule's line, or None where no rate in [0, 1] does."""
    if kind == "ratio":
        rate = benchmark_rate * threshold if higher_is_better else benchmark_rate / threshold
    else:
        rate = benchmark_rate - threshold if higher_is_better else benchmark_rate + threshold
    return rate if 0 <= rate <= 1 else None


def _power(p_group: float, n_group: np.ndarray, p_bench: float, n_bench: float, level: float) -> np.ndarray:
    n_group = np.asarray(n_group, float)
    pooled = (n_group * p_group + n_bench * p_bench) / (n_group + n_bench)
    successes = n_group * p_group + n_bench * p_bench
    failures = n_group + n_bench - successes
    # the engine's choice of test: Fisher's exact test when an expected cell is under 5 (continuity-corrected here)
    expected = np.minimum.reduce([n_group, np.full_like(n_group, n_bench)]) * np.minimum(successes, failures)
    fisher = expected / (n_group + n_bench) < 5
    gap = abs(p_group - p_bench) - np.where(fisher, 0.5 * (1 / n_group + 1 / n_bench), 0.0)
    null_sd = np.sqrt(pooled * (1 - pooled) * (1 / n_group + 1 / n_bench))
    alternative_sd = np.sqrt(p_group * (1 - p_group) / n_group + p_bench * (1 - p_bench) / n_bench)
    z = norm.isf(level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = norm.cdf((gap - z * null_sd) / alternative_sd)
    return np.where(alternative_sd > 0, power, np.where(gap > 0, 1.0, 0.0))


def power_to_detect(
    *,
    benchmark_rate: float,
    benchmark_rows: float,
    group_rows: float,
    kind: str,
    threshold: float,
    higher_is_better: bool,
    alpha: float,
    comparisons: int = 1,
    target: float = TARGET_POWER,
) -> Power:
    """The power at the group's current size and the rows it would need (see the module)."""
    p_group = line_rate(benchmark_rate, kind=kind, threshold=threshold, higher_is_better=higher_is_better)
    if p_group is None:
        return Power(None, None, f"no rate in [0, 1] sits at that {kind} to a benchmark rate of {benchmark_rate:.3g}")
    if benchmark_rows <= 0:
        return Power(None, None, "the benchmark has no rows for this metric")
    if p_group == benchmark_rate:
        return Power(None, None, f"at a benchmark rate of {benchmark_rate:.3g} the {kind} line is no gap at all")
    level = alpha / max(comparisons, 1)
    power = float(_power(p_group, np.array([max(group_rows, 1)]), benchmark_rate, benchmark_rows, level)[0])
    if group_rows <= 0:
        power = 0.0
    needed, note = rows_for_power(p_group, benchmark_rate, benchmark_rows, level, target)
    return Power(power, needed, note)


def rows_for_power(
    p_group: float, p_bench: float, n_bench: float, level: float, target: float = TARGET_POWER
) -> tuple[int | None, str]:
    """The smallest group size with power >= target (bisection: power grows with the group's rows), or None with
    the reason when even unlimited rows in the group fall short (the benchmark's own rows limit it)."""
    if float(_power(p_group, np.array([_MAX_ROWS]), p_bench, n_bench, level)[0]) < target:
        reason = (
            f"not reachable with the benchmark's {n_bench:,.0f} rows: even an unlimited group stays under "
            f"{target:.0%} power"
        )
        both = _smallest(lambda n: float(_power(p_group, np.array([n]), p_bench, n, level)[0]) >= target)
        return None, reason + (f"; {both:,} rows in each of the two groups would reach it" if both else "")
    return _smallest(lambda n: float(_power(p_group, np.array([n]), p_bench, n_bench, level)[0]) >= target), ""


def _smallest(enough: Callable[[int], bool]) -> int | None:
    """The smallest n in [1, _MAX_ROWS] where ``enough`` holds (it stays true above n), or None where it never does."""
    if not enough(_MAX_ROWS):
        return None
    low, high = 0, _MAX_ROWS
    while high - low > 1:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle
    return high


def oriented_higher_is_better(metric: str, favourable: str) -> bool:
    """Whether a higher rate is better for this metric, with a risk score's negative decision as the favourable one
    (selection rate then counts lower as better, as the fairness tables orient it)."""
    return bool(METRICS.get(metric).higher_is_better) and not (metric == "selection_rate" and favourable == "negative")


def comparison_power(
    table: FairnessTable, metric: str, name: str, *, kind: str, threshold: float, alpha: float, why: str = ""
) -> PowerRow | None:
    """One group's comparison with the table's benchmark on a proportion: its power at a line and the rows for
    80% (the metric's own rows, and the group's at its current share of them); None where there is no such
    comparison (not a proportion, no benchmark, no benchmark rate)."""
    disparity = table.disparities.get(metric)
    if disparity is None or not disparity.benchmark_group or METRICS.get(metric).proportion is None:
        return None
    benchmark, group = table.group(disparity.benchmark_group), table.group(name)
    bench_rate = benchmark.values.get(metric)
    if bench_rate is None:
        return None
    bench_support, support = benchmark.support.get(metric, 0), group.support.get(metric, 0)
    tested = sum(c.p_value is not None for c in disparity.to_benchmark.values())
    found = power_to_detect(
        benchmark_rate=bench_rate,
        benchmark_rows=bench_support,
        group_rows=support,
        kind=kind,
        threshold=threshold,
        higher_is_better=oriented_higher_is_better(metric, table.favourable),
        alpha=alpha,
        comparisons=tested,
    )
    share = support / group.n if group.n else 0.0
    return PowerRow(
        metric=metric,
        group=name,
        why=why,
        benchmark_group=benchmark.name,
        benchmark_rate=bench_rate,
        benchmark_support=int(bench_support),
        kind=kind,
        threshold=threshold,
        support=int(support),
        power=found.power,
        support_needed=found.rows_needed,
        rows_needed=(
            int(math.ceil(found.rows_needed / share)) if found.rows_needed is not None and share > 0 else None
        ),
        level=alpha / max(tested, 1),
        note=found.note,
    )


def inconclusive_power(
    table: FairnessTable, *, ratio_threshold: float, difference: float, alpha: float
) -> list[PowerRow]:
    """For every proportion's comparison with the benchmark that is inconclusive (the group has fewer than
    ``min_group_size`` rows for the metric, or its ratio is below ``ratio_threshold`` but within chance), the
    power to find a gap at the ratio line and at the difference line, and the rows that would take."""
    rows: list[PowerRow] = []
    for metric, disparity in table.disparities.items():
        if metric not in table.metrics:
            continue
        for name, comparison in disparity.to_benchmark.items():
            if comparison.is_anchor:
                continue
            support = table.group(name).support.get(metric, 0)
            if support < table.min_group_size:
                why = f"fewer than {table.min_group_size} rows for {metric} ({support})"
            elif (
                comparison.ratio is not None
                and comparison.ratio < ratio_threshold
                and (comparison.p_value_holm is None or comparison.p_value_holm >= alpha)
            ):
                why = f"ratio {comparison.ratio:.3g} is below {ratio_threshold:g} but within chance"
            else:
                continue
            for kind, threshold in (("ratio", ratio_threshold), ("difference", difference)):
                row = comparison_power(table, metric, name, kind=kind, threshold=threshold, alpha=alpha, why=why)
                if row is not None:
                    rows.append(row)
    return rows
