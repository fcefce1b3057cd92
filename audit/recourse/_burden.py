"""The burden of recourse by group (Sharma et al. 2020): if one group must change more to be approved, or more often
cannot be approved by any allowed change, the model burdens it. Each group is compared with one benchmark group
fixed before the costs are looked at (fairness.reference, else the group with the most searched rows): choosing
the cheapest group after the fact would bias every comparison toward a difference. The mean cost (among those with
a recourse) by Welch's t test and interval; the share with none by the z test (Fisher's exact test for small counts)
and a MOVER interval; Holm over every comparison of the audit (docs/recourse.md: its null rejection rate and power)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from audit.fairness._stats import compare_proportions, difference_interval, holm, proportion_interval
from audit.result._recourse_sections import RecourseGroup, RecourseTable

__all__ = ["recourse_burden", "welch"]

LEVEL = 0.95


def welch(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> tuple[float, list[float], float] | None:
    """mean(a) - mean(b), its Welch interval and two-sided p-value; None where it is undefined (fewer than two
    values in a group, or no variance in either)."""
    from scipy.stats import t as student

    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    difference = float(a.mean() - b.mean())
    if va + vb == 0:
        return None
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(student.ppf(0.5 + level / 2, df)) * se
    p_value = float(2 * student.sf(abs(difference) / se, df))
    return difference, [difference - half, difference + half], p_value


def _mean_interval(costs: np.ndarray, level: float = LEVEL) -> list[float] | None:
    from scipy.stats import t as student

    if len(costs) < 2:
        return None
    half = float(student.ppf(0.5 + level / 2, len(costs) - 1)) * float(costs.std(ddof=1)) / math.sqrt(len(costs))
    return [float(costs.mean()) - half, float(costs.mean()) + half]


def _group_names(frame: pd.DataFrame) -> np.ndarray:
    columns = [str(c) for c in frame.columns]
    values = frame.astype(str).to_numpy()
    return np.array([", ".join(f"{c}={v}" for c, v in zip(columns, row)) for row in values], dtype=object)


def recourse_burden(
    costs: np.ndarray,
    statuses: np.ndarray,
    sensitive: pd.DataFrame,
    groupings: list[tuple[str, ...]],
    *,
    reference: dict[str, str] | None = None,
    min_rows: int = 30,
) -> list[RecourseTable]:
    """One table per grouping over the searched rows: ``costs`` (NaN: no recourse), ``statuses`` ("found", "none",
    "unverified"; unverified rows are left out of both measures), ``sensitive`` row for row."""
    costs, statuses = np.asarray(costs, float), np.asarray(statuses, dtype=object)
    counted = statuses != "unverified"
    drafts = []
    for grouping in groupings:
        names = _group_names(sensitive[list(grouping)])
        present = sorted(set(names[counted]))
        searched = {g: int(np.sum(counted & (names == g))) for g in present}
        wanted = None
        if reference and len(grouping) == 1 and grouping[0] in reference:
            wanted = f"{grouping[0]}={reference[grouping[0]]}"
        if wanted is not None and wanted in present:
            benchmark, reason = wanted, "set by fairness.reference"
        elif present:
            benchmark = max(present, key=lambda g: (searched[g], g))
            reason = (
                "the group with the most unfavourable decisions searched, fixed before the costs were looked at"
                + (f" (fairness.reference names {wanted!r}, which has no unfavourable decision here)" if wanted else "")
            )
        else:
            benchmark, reason = None, "no unfavourable decision was searched"
        base_costs = costs[counted & (names == benchmark) & np.isfinite(costs)] if benchmark else np.zeros(0)
        base_none = int(np.sum(counted & (names == benchmark) & ~np.isfinite(costs))) if benchmark else 0
        rows = []
        for group in present:
            mine = counted & (names == group)
            found_costs = costs[mine & np.isfinite(costs)]
            n, none = searched[group], int(np.sum(mine & ~np.isfinite(costs)))
            low, high = proportion_interval(none, n, LEVEL)
            row = {
                "group": group,
                "searched": n,
                "found": len(found_costs),
                "mean_cost": float(found_costs.mean()) if len(found_costs) else None,
                "mean_cost_ci": _mean_interval(found_costs),
                "no_recourse_share": none / n if n else None,
                "no_recourse_ci": [float(low), float(high)] if n else None,
            }
            if group == benchmark:
                row["note"] = "benchmark"
            elif n < min_rows or searched[benchmark] < min_rows:
                row["note"] = f"fewer than {min_rows} searched rows here or in the benchmark: not tested"
            else:
                compared = welch(found_costs, base_costs)
                if compared is not None:
                    row["cost_difference"], row["cost_difference_ci"], row["cost_p"] = compared
                else:
                    row["note"] = "the mean costs cannot be compared (fewer than two recourses, or no variation)"
                p_share, test = compare_proportions(none, n, base_none, searched[benchmark])
                d_low, d_high = difference_interval(none, n, base_none, searched[benchmark], LEVEL)
                row["share_difference"] = none / n - base_none / searched[benchmark]
                row["share_difference_ci"] = [float(d_low), float(d_high)]
                row["share_p"], row["share_test"] = p_share, test
            rows.append(row)
        drafts.append((" x ".join(grouping), benchmark, reason, rows))
    p_values = [r.get(key) for _, _, _, rows in drafts for r in rows for key in ("cost_p", "share_p")]
    adjusted = iter(holm(p_values))
    tables = []
    for name, benchmark, reason, rows in drafts:
        groups = []
        for row in rows:
            row["cost_p_holm"], row["share_p_holm"] = next(adjusted), next(adjusted)
            groups.append(RecourseGroup(**row))
        tables.append(RecourseTable(name=name, benchmark=benchmark, benchmark_reason=reason, groups=groups))
    return tables
