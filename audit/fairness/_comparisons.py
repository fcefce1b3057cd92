"""Comparisons of groups: the benchmark group, ratios and differences with intervals, the p-value of each
named pair, Holm over every group with a value, and the disparity summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.fairness._metrics import GroupMetric
from audit.fairness._stats import compare_proportions, holm, interval_or_none, mover_difference, mover_ratio
from audit.fairness._types import Comparison, Disparity, Interval


def _extremes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fairlearn's difference (max - min) and ratio (min / max) per row (resample) of ``values`` (..., groups)."""
    with np.errstate(all="ignore"):
        top, bottom = np.nanmax(values, axis=-1), np.nanmin(values, axis=-1)
        ratio = np.where((top > 0) & (bottom >= 0), bottom / top, np.nan)  # ratios of signed values mean nothing
    return top - bottom, ratio


def _oriented(value: Any, anchor: Any, higher_is_better: bool) -> tuple[np.ndarray, np.ndarray]:
    """(gap, ratio) of ``value`` against ``anchor``, oriented so that a positive gap and a ratio below 1
    mean "worse than the anchor" whichever direction the metric runs."""
    with np.errstate(all="ignore"):
        if higher_is_better:
            gap = anchor - value
            ratio = np.where((anchor > 0) & (value >= 0), value / anchor, np.nan)
        else:
            gap = value - anchor
            ratio = np.where(value > 0, anchor / value, np.where((value == 0) & (anchor == 0), 1.0, np.nan))
    return gap, ratio


def comparison_flagged(comparison: Comparison | None, *, ratio_threshold: float, alpha: float) -> bool:
    """Whether one group's comparison (with the benchmark or the reference) is a warning: its ratio is below the
    threshold and the difference is beyond chance (Holm-adjusted p under alpha; with no test, the ratio's interval
    lies below 1)."""
    if comparison is None or comparison.ratio is None or comparison.ratio >= ratio_threshold:
        return False
    if comparison.p_value_holm is not None:
        return comparison.p_value_holm < alpha
    return comparison.ratio_ci is not None and comparison.ratio_ci[1] < 1


def as_interval(low: Any, high: Any) -> Interval | None:
    """[low, high] as floats, or None where either end is not finite (numbers or 0-d arrays)."""
    return None if not (np.isfinite(low) and np.isfinite(high)) else [float(low), float(high)]


def finite_or_none(value: Any) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class MetricData:
    """Per-group arrays of one metric, as ``assemble_table`` receives them."""

    spec: GroupMetric
    values: np.ndarray
    support: np.ndarray
    overall: float
    boot: np.ndarray | None  # (resamples, groups) or None
    counts: tuple[np.ndarray, np.ndarray] | None  # proportions: (successes, trials) per group for intervals
    tests: tuple[np.ndarray, np.ndarray] | None  # proportions: unweighted (successes, trials) for tests
    limits: tuple[np.ndarray, np.ndarray] | None = None  # proportions: Clopper-Pearson limits per group


def _pick_benchmark(data: MetricData, names: list[str], min_group_size: int) -> tuple[int | None, str]:
    """The group every other is compared with: the best among groups whose metric rests on enough rows.

    A best group of 11 people makes every impact ratio a comparison with noise (29 CFR 1607.4(D): differences
    built on small numbers may not constitute adverse impact), so small groups are compared, never compared with.
    """
    defined = np.isfinite(data.values)
    if not defined.any():
        return None, "no group has a value"
    pick = np.nanargmax if data.spec.higher_is_better else np.nanargmin
    best_word = "highest" if data.spec.higher_is_better else "lowest"
    eligible = defined & (data.support >= min_group_size)
    if eligible.any():
        index = int(pick(np.where(eligible, data.values, np.nan)))
        reason = (
            f"the {best_word} {data.spec.name} among groups whose {data.spec.name} rests on at least "
            f"{min_group_size} rows (smaller groups are compared with it, never used as the benchmark)"
        )
        return index, reason
    index = int(pick(np.where(defined, data.values, np.nan)))
    return index, (
        f"no group's {data.spec.name} rests on {min_group_size}+ rows, so the benchmark is the "
        f"{best_word} value of any size: read every comparison as uncertain"
    )


def _ratio_undefined(value: float, anchor: float, higher_is_better: bool, role: str) -> str:
    """Why ``_oriented`` gave no ratio for this pair."""
    if not (np.isfinite(value) and np.isfinite(anchor)):
        return "a value is undefined"
    if higher_is_better:
        return (
            f"the {role}'s value is {anchor:g}: a ratio needs it above 0"
            if anchor <= 0
            else "a negative value has no ratio"
        )
    return "the group's value is 0 and the other's is not: the ratio would be infinite"


def _comparisons(
    data: MetricData, names: list[str], rows: np.ndarray, anchor: int, level: float, small: np.ndarray, role: str
) -> dict[str, Comparison]:
    """Each group in ``rows`` against the group ``anchor``: oriented gap and ratio, their intervals, and a
    test of exactly that pair (Holm-adjusted over this family of comparisons)."""
    higher = bool(data.spec.higher_is_better)
    gaps, ratios = _oriented(data.values, data.values[anchor], higher)
    entries: dict[str, dict[str, Any]] = {}
    p_values: list[float | None] = []
    order = [int(i) for i in rows]
    for i in order:
        entry: dict[str, Any] = {
            "group": names[i],
            "compared_with": names[anchor],
            "difference": finite_or_none(gaps[i]),
            "ratio": finite_or_none(ratios[i]),
        }
        if i == anchor:
            entry.update(difference=0.0, ratio=1.0, test=f"the {role} itself", is_anchor=True)
            entries[names[i]] = entry
            p_values.append(None)
            continue
        if entry["ratio"] is None:
            entry["undefined"] = _ratio_undefined(data.values[i], data.values[anchor], higher, role)
        if data.limits is not None:
            low, high = data.limits
            p = data.values
            # gap = p_anchor - p_i (higher is better) or p_i - p_anchor; ratio = p_i / p_anchor or p_anchor / p_i
            a, b = (anchor, i) if higher else (i, anchor)
            entry["difference_ci"] = as_interval(*mover_difference(p[a], low[a], high[a], p[b], low[b], high[b]))
            if np.isfinite(ratios[i]):
                entry["ratio_ci"] = as_interval(*mover_ratio(p[b], low[b], high[b], p[a], low[a], high[a]))
        elif data.boot is not None and not small[i] and not small[anchor]:
            boot_gap, boot_ratio = _oriented(data.boot[:, i], data.boot[:, anchor], higher)
            entry["difference_ci"] = interval_or_none(boot_gap, level)
            entry["ratio_ci"] = interval_or_none(boot_ratio, level) if np.isfinite(ratios[i]) else None
        p_value = None
        if data.tests is not None:
            x, n = data.tests
            p_value, entry["test"] = compare_proportions(x[i], n[i], x[anchor], n[anchor])
        else:
            entry["test"] = "not tested: not a proportion"
        entry["p_value"] = p_value
        entry["above"] = (entry["difference"] or 0) < 0
        p_values.append(p_value)
        entries[names[i]] = entry
    for i, adjusted in zip(order, holm(p_values)):
        entries[names[i]]["p_value_holm"] = adjusted
    return {name: Comparison(**entry) for name, entry in entries.items()}


@dataclass(frozen=True)
class _Compared:
    """A metric's comparisons, made once over every group with a value (one Holm family per kind), then shown
    in full in ``disparities`` and restricted to groups with enough rows in ``disparities_reliable``: the same
    pair has the same adjusted p-value everywhere."""

    benchmark: int
    benchmark_reason: str
    to_benchmark: dict[str, Comparison]
    to_reference: dict[str, Comparison]


def compare_groups(
    data: MetricData, names: list[str], small: np.ndarray, level: float, *, min_group_size: int, reference: str | None
) -> _Compared | None:
    defined = np.flatnonzero(np.isfinite(data.values))
    benchmark, reason = _pick_benchmark(data, names, min_group_size)
    if benchmark is None:
        return None
    to_benchmark = _comparisons(data, names, defined, benchmark, level, small, "benchmark")
    to_reference: dict[str, Comparison] = {}
    if reference in names and np.isfinite(data.values[names.index(reference)]):
        to_reference = _comparisons(data, names, defined, names.index(reference), level, small, "reference")
    return _Compared(benchmark, reason, to_benchmark, to_reference)


def build_disparity(
    data: MetricData,
    names: list[str],
    small: np.ndarray,
    level: float,
    compared: _Compared | None,
    *,
    min_support: int,
    reference: str | None,
) -> Disparity:
    values, support = data.values, data.support
    usable = np.isfinite(values) & (support >= min_support)
    undefined = [n for n, v in zip(names, values) if not np.isfinite(v)]
    thin = [n for n, v, s in zip(names, values, support) if np.isfinite(v) and s < min_support]
    note = f"Undefined for {', '.join(undefined)}; those groups are left out of the comparison. " if undefined else ""
    if thin:
        note += f"Left out: {', '.join(thin)} (the metric rests on fewer than {min_support} rows)."
    note = note.strip()
    if usable.sum() < 2 or compared is None:
        return Disparity(
            data.spec.name, None, None, None, None, note=(note + " Fewer than two groups have a value.").strip()
        )
    masked = np.where(usable, values, np.nan)
    difference, ratio = _extremes(masked)
    higher = bool(data.spec.higher_is_better)
    best_index = int((np.nanargmax if higher else np.nanargmin)(masked))
    worst_index = int((np.nanargmin if higher else np.nanargmax)(masked))
    rows = np.flatnonzero(usable)
    kept = {names[i] for i in rows}
    to_benchmark = {name: entry for name, entry in compared.to_benchmark.items() if name in kept}
    to_reference = {name: entry for name, entry in compared.to_reference.items() if name in kept}
    benchmark = compared.benchmark
    to_overall = {}
    with np.errstate(all="ignore"):
        for i in rows:
            to_whole = finite_or_none(values[i] / data.overall) if data.overall else None
            to_overall[names[i]] = Comparison(
                group=names[i],
                compared_with="overall",
                difference=finite_or_none(values[i] - data.overall),
                ratio=to_whole,
                undefined=None if to_whole is not None else "the overall value is 0 or undefined",
            )
    difference_ci = ratio_ci = None
    if data.boot is not None:
        boot_difference, boot_ratio = _extremes(np.where(usable[None, :], data.boot, np.nan))
        difference_ci, ratio_ci = interval_or_none(boot_difference, level), interval_or_none(boot_ratio, level)
    return Disparity(
        metric=data.spec.name,
        best_group=names[best_index],
        worst_group=names[worst_index],
        difference=finite_or_none(difference),
        ratio=finite_or_none(ratio),
        to_benchmark=to_benchmark,
        worst_group_small=bool(small[worst_index]),
        note=note,
        difference_ci=difference_ci,
        ratio_ci=ratio_ci,
        to_overall=to_overall,
        to_reference=to_reference,
        reference_group=reference,
        benchmark_group=names[benchmark],
        benchmark_reason=compared.benchmark_reason,
        worst_to_benchmark=_worst_against(to_benchmark),
    )


def _worst_against(entries: dict[str, Comparison]) -> str | None:
    """The group furthest below the benchmark (by ratio, else by gap) among the compared groups."""
    ranked = [
        (e.ratio if e.ratio is not None else np.inf, -(e.difference or 0), name)
        for name, e in entries.items()
        if e.difference is not None and e.difference > 0
    ]
    return min(ranked)[2] if ranked else None


def disparity_summary(
    disparities: dict[str, Disparity],
    boots: dict[str, np.ndarray | None],
    level: float,
) -> dict[str, dict[str, Any]]:
    """fairlearn's summary metrics, under fairlearn's names (from the all-groups disparities)."""

    def pair(metric: str) -> tuple[float | None, float | None, Interval | None, Interval | None]:
        d = disparities.get(metric)
        return (d.difference, d.ratio, d.difference_ci, d.ratio_ci) if d else (None, None, None, None)

    summary: dict[str, dict[str, Any]] = {}
    for name, metric in (("demographic_parity", "selection_rate"), ("equal_opportunity", "tpr")):
        diff, ratio, diff_ci, ratio_ci = pair(metric)
        summary[f"{name}_difference"] = {"value": diff, "ci": diff_ci}
        summary[f"{name}_ratio"] = {"value": ratio, "ci": ratio_ci}
    tpr, fpr = pair("tpr"), pair("fpr")
    if tpr[0] is not None and fpr[0] is not None:
        difference_ci = ratio_ci = None
        tpr_boot, fpr_boot = boots.get("tpr"), boots.get("fpr")
        if tpr_boot is not None and fpr_boot is not None:
            tpr_diff, tpr_ratio = _extremes(tpr_boot)
            fpr_diff, fpr_ratio = _extremes(fpr_boot)
            difference_ci = interval_or_none(np.maximum(tpr_diff, fpr_diff), level)
            ratio_ci = interval_or_none(np.minimum(tpr_ratio, fpr_ratio), level)
        summary["equalized_odds_difference"] = {"value": max(tpr[0], fpr[0]), "ci": difference_ci}
        summary["equalized_odds_ratio"] = {
            "value": min(tpr[1], fpr[1]) if tpr[1] is not None and fpr[1] is not None else None,
            "ci": ratio_ci,
        }
    return summary
