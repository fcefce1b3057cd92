"""The fairness engine: metrics by group and intersection, disparities, bootstrap intervals, significance.

Everything that derives from per-group confusion counts is computed in numpy: one ``np.bincount`` for the
counts, and the bootstrap resamples the counts themselves. Resampling N rows with replacement gives
(group, outcome) counts that follow a multinomial over those cells, so drawing from that multinomial is the
row bootstrap, exactly in distribution, at a cost that does not grow with N. fairlearn's ``MetricFrame`` is
the oracle in the tests. A metric that is undefined for a group (TPR with no positive labels, ...) is
``None`` with the reason, never a silent NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import DataError
from audit._metrics import DEFAULT_METRICS, METRICS, GroupMetric
from audit._stats import (compare_proportions, effective_counts, holm, interval_or_none, mover_difference, mover_ratio,
                          percentile_interval, proportion_interval)

__all__ = ["METRICS", "FairnessTable", "GroupRow", "Disparity", "group_metrics", "DEFAULT_METRICS"]

Interval = list  # [low, high], or None where no resample defined the value
_CELLS = ("tn", "fp", "fn", "tp")  # cell index = 2 * y_true + y_pred


@dataclass(frozen=True)
class GroupRow:
    key: dict[str, str]
    n: int
    share: float
    values: dict[str, float | None]
    undefined: dict[str, str] = field(default_factory=dict)
    small: bool = False
    support: dict[str, int] = field(default_factory=dict)  # rows each metric rests on (its denominator)
    ci: dict[str, Interval | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.key.items())


@dataclass(frozen=True)
class Disparity:
    """How far apart the groups are on one metric (over the groups where it is defined)."""

    metric: str
    best_group: str | None
    worst_group: str | None
    difference: float | None  # max - min, as fairlearn's MetricFrame.difference()
    ratio: float | None  # min / max, as fairlearn's MetricFrame.ratio()
    to_best: dict[str, dict[str, Any]]  # group -> difference, ratio (+ CIs), p_value, p_value_holm, test
    worst_group_small: bool = False
    note: str = ""
    difference_ci: Interval | None = None
    ratio_ci: Interval | None = None
    to_overall: dict[str, dict[str, float | None]] = field(default_factory=dict)
    to_reference: dict[str, dict[str, float | None]] = field(default_factory=dict)
    reference_group: str | None = None
    tested_against: str | None = None  # kept for old readers: the benchmark of the to_best tests
    # The group every `to_best` entry compares with: the best among groups whose metric rests on at least
    # min_group_size rows (see benchmark_reason); `best_group`/`ratio` stay fairlearn's all-groups extremes.
    benchmark_group: str | None = None
    benchmark_reason: str = ""
    worst_to_benchmark: str | None = None


@dataclass(frozen=True)
class FairnessTable:
    """Metrics by group for one sensitive feature or one intersection of them."""

    sensitive_features: tuple[str, ...]
    metrics: tuple[str, ...]
    groups: list[GroupRow]
    overall: dict[str, float | None]
    disparities: dict[str, Disparity]
    min_group_size: int
    # The same comparison over groups whose metric rests on >= min_group_size rows (TPR needs that many
    # positives): what findings use, since a rate over four people says little.
    disparities_reliable: dict[str, Disparity] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)  # fairlearn's summary metrics
    overall_ci: dict[str, Interval | None] = field(default_factory=dict)
    bootstrap: dict[str, Any] = field(default_factory=dict)  # n_boot, level, seed, method, intervals
    weighted: bool = False
    favourable: str = "positive"  # which decision benefits the person: "positive" or "negative"

    @property
    def name(self) -> str:
        return " x ".join(self.sensitive_features)

    def group(self, name: str) -> GroupRow:
        return next(g for g in self.groups if g.name == name)

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame indexed by group, for notebooks."""
        rows = {g.name: {"n": g.n, "share": g.share, **g.values, "small": g.small} for g in self.groups}
        return pd.DataFrame.from_dict(rows, orient="index")


# --- inputs -------------------------------------------------------------------------------------------

def _binary(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    if array.dtype.kind in "iuf":
        bad = ~np.isin(array, (0, 1))
        if not bad.any():
            return array.astype(bool)
        example = array[bad][0].item()
    else:
        example = array[0] if len(array) else None
    raise DataError(f"The '{name}' parameter of group_metrics must hold binary values (0/1 or True/False). "
                    f"Got {example!r} instead. Map the positive class to 1 (or True) first.")


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=float)
    if weights.shape != (n,):
        raise DataError(f"sample_weight must have one value per row ({n}). Got shape {weights.shape} instead.")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        bad = float(weights[~np.isfinite(weights) | (weights < 0)][0])
        raise DataError(f"sample_weight must be finite and non-negative. Got {bad!r} instead.")
    return weights


def check_rows(y_true: np.ndarray, y_pred: np.ndarray, sensitive: Any, sample_weight: Any):
    """The checks every group-metric entry point shares; returns (sensitive as a DataFrame, weights or None)."""
    if not isinstance(sensitive, pd.DataFrame):
        sensitive = pd.DataFrame(sensitive)
    if not (len(y_true) == len(y_pred) == len(sensitive)):
        raise DataError(f"y_true, y_pred and sensitive must have the same length. "
                        f"Got {len(y_true)}, {len(y_pred)} and {len(sensitive)} instead.")
    if len(y_true) == 0:
        raise DataError("Cannot compute group metrics on empty data. Got 0 rows.")
    return sensitive, _weights(sample_weight, len(y_true))


def encode_groups(sensitive: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Integer group codes (sorted by key) and the keys, in O(n) without building strings per row."""
    if sensitive.shape[1] == 0:
        raise DataError("At least one sensitive feature is needed to form groups.")
    column_codes, column_values = [], []
    for name in sensitive.columns:
        codes, uniques = pd.factorize(sensitive[name], sort=True)
        if (codes < 0).any():
            raise DataError(f"The sensitive feature {name!r} has {int((codes < 0).sum())} missing values. Map them "
                            "to a group first (data.missing_sensitive = \"group\") or drop those rows.")
        column_codes.append(codes.astype(np.int64))
        column_values.append([str(v) for v in uniques])
    sizes = [len(v) for v in column_values]
    combined = np.ravel_multi_index(column_codes, sizes) if len(sizes) > 1 else column_codes[0]
    cells = int(np.prod(sizes))
    if cells <= 50_000_000:
        present = np.flatnonzero(np.bincount(combined, minlength=cells))
        remap = np.full(cells, -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        codes = remap[combined]
    else:
        present, codes = np.unique(combined, return_inverse=True)
    keys = [tuple(column_values[j][i] for j, i in enumerate(np.unravel_index(p, sizes))) for p in present]
    return codes, keys


def _groups_with_reference(sensitive: pd.DataFrame, reference: str | None):
    codes, keys = encode_groups(sensitive)
    columns = [str(c) for c in sensitive.columns]
    if reference is not None:
        names = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in keys]
        if reference not in names:
            raise DataError(f"The reference group {reference!r} does not occur. Groups: {', '.join(names)}.")
    return codes, keys, columns


# --- counts, metrics, bootstrap ------------------------------------------------------------------------

def _cell_counts(codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray,
                 weights: np.ndarray | None) -> np.ndarray:
    index = codes * 4 + 2 * y_true + y_pred
    return np.bincount(index, weights=weights, minlength=4 * n_groups).reshape(n_groups, 4).astype(float)


def _as_counts(cells: np.ndarray) -> dict[str, np.ndarray]:
    counts = {name: cells[..., i] for i, name in enumerate(_CELLS)}
    counts["n"] = cells.sum(axis=-1)
    return counts


def _bootstrap_cells(codes, n_groups, y_true, y_pred, weights, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, groups, 4) weighted cell counts of row-bootstrap resamples, drawn as one multinomial."""
    rng = np.random.default_rng(seed)
    cell = codes * 4 + 2 * y_true + y_pred
    if weights is None:
        categories = np.bincount(cell, minlength=4 * n_groups)
        target, values = np.arange(4 * n_groups), np.ones(4 * n_groups)
    else:
        # one category per distinct (cell, weight): resampling rows moves whole rows, weight and all
        order = np.lexsort((weights, cell))
        keys = np.stack([cell[order], weights[order]])
        starts = np.flatnonzero(np.r_[True, np.any(keys[:, 1:] != keys[:, :-1], axis=0)])
        categories = np.diff(np.r_[starts, len(order)])
        target, values = cell[order][starts], weights[order][starts]
    probabilities = categories / categories.sum()
    total = int(categories.sum())
    out = np.empty((n_boot, 4 * n_groups))
    chunk = max(1, min(n_boot, 20_000_000 // max(1, len(categories))))
    for start in range(0, n_boot, chunk):
        draws = rng.multinomial(total, probabilities, size=min(chunk, n_boot - start)).astype(float)
        if weights is None:
            out[start:start + len(draws)] = draws
        else:
            block = np.zeros((len(draws), 4 * n_groups))
            np.add.at(block.T, target, (draws * values).T)
            out[start:start + len(draws)] = block
    return out.reshape(n_boot, n_groups, 4)


def _score_metric(name: str, y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> float:
    if len(y) == 0:
        return np.nan
    if name == "mean_score":
        return float(np.average(s, weights=w))
    if name == "roc_auc":
        if y.all() or not y.any():
            return np.nan
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(y, s, sample_weight=w))
    if name != "ece":
        raise DataError(f"Unknown score metric {name!r}: the score metrics are roc_auc, ece and mean_score.")
    # ece: 10 equal-width bins, |mean score - observed rate| weighted by the bin's share
    w = np.ones(len(y)) if w is None else w
    bins = np.minimum((s * 10).astype(int), 9)
    mass = np.bincount(bins, weights=w, minlength=10)
    gap = np.abs(np.bincount(bins, weights=w * s, minlength=10) - np.bincount(bins, weights=w * y, minlength=10))
    return float(gap.sum() / mass.sum()) if mass.sum() > 0 else np.nan


def _score_metrics(names, codes, n_groups, y_true, scores, weights):
    values = {}
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    for name in names:
        per_group = []
        for g in range(n_groups):
            rows = order[bounds[g]:bounds[g + 1]]
            per_group.append(_score_metric(name, y_true[rows], scores[rows],
                                           None if weights is None else weights[rows]))
        overall = _score_metric(name, y_true, scores, weights)
        values[name] = (np.array(per_group), np.array([overall]))
    return values


_SCORE_BINS = 200


def _bootstrap_score_metrics(names, codes, n_groups, y_true, scores, weights, n_boot: int, seed: int):
    """Bootstrap samples of score metrics from a multinomial over (group, label, score bin) cells.

    Approximate by design: scores are binned into 200 bins (equal-width on [0, 1] for probabilities,
    quantiles otherwise) and each cell keeps its mean score and mean weight, so ties within a bin count
    half in ROC AUC. Point estimates are exact; only the intervals use the bins.
    """
    rng = np.random.default_rng(seed + 1)
    if scores.min() >= 0 and scores.max() <= 1:
        edges = np.linspace(0, 1, _SCORE_BINS + 1)[1:-1]
    else:
        edges = np.unique(np.quantile(scores, np.linspace(0, 1, _SCORE_BINS + 1)[1:-1]))
    n_bins = len(edges) + 1
    bins = np.searchsorted(edges, scores, side="right")
    cell = (codes * 2 + y_true.astype(np.int64)) * n_bins + bins
    size = n_groups * 2 * n_bins
    w = np.ones(len(scores)) if weights is None else weights
    rows = np.bincount(cell, minlength=size).astype(float)
    mass = np.bincount(cell, weights=w, minlength=size)
    with np.errstate(all="ignore"):
        mean_weight = np.where(rows > 0, mass / rows, 0.0)
        mean_score = np.where(mass > 0, np.bincount(cell, weights=w * scores, minlength=size) / mass, 0.0)
    draws = rng.multinomial(int(rows.sum()), rows / rows.sum(), size=n_boot) * mean_weight  # (B, size) weight
    draws = draws.reshape(n_boot, n_groups, 2, n_bins)
    score = mean_score.reshape(n_groups, 2, n_bins)
    # the overall value resamples the same rows: sum the cells over groups; its bin scores are mass-weighted
    overall_draws = draws.sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        total_mass = mass.reshape(n_groups, 2, n_bins).sum(0, keepdims=True)
        overall_score = np.where(total_mass > 0, (mass.reshape(n_groups, 2, n_bins) * score).sum(0, keepdims=True)
                                 / total_mass, 0.0)
    per_group = _score_metrics_from_cells(names, draws, score, n_bins)
    overall = _score_metrics_from_cells(names, overall_draws, overall_score, n_bins)
    return {name: (per_group[name], overall[name]) for name in per_group}


def _score_metrics_from_cells(names, draws: np.ndarray, score: np.ndarray, n_bins: int) -> dict[str, np.ndarray]:
    """ROC AUC, mean score and ECE of resampled (resample, group, label, bin) weights with bin mean scores."""
    out = {}
    n_boot, n_groups = draws.shape[:2]
    with np.errstate(all="ignore"):
        negatives, positives = draws[:, :, 0, :], draws[:, :, 1, :]
        if "roc_auc" in names:
            below = np.cumsum(negatives, axis=-1) - negatives
            wins = (positives * (below + 0.5 * negatives)).sum(-1)
            total = positives.sum(-1) * negatives.sum(-1)
            out["roc_auc"] = np.where(total > 0, wins / total, np.nan)
        group_mass = draws.sum(axis=(2, 3))
        if "mean_score" in names:
            out["mean_score"] = np.where(group_mass > 0, (draws * score).sum(axis=(2, 3)) / group_mass, np.nan)
        if "ece" in names and n_bins == _SCORE_BINS:
            coarse = draws.reshape(n_boot, n_groups, 2, 10, n_bins // 10)
            predicted = (coarse * score.reshape(n_groups, 2, 10, n_bins // 10)).sum(axis=(2, 4))
            observed = coarse[:, :, 1].sum(axis=-1)
            gap = np.abs(predicted - observed).sum(-1)
            out["ece"] = np.where(group_mass > 0, gap / group_mass, np.nan)
    return out


# --- disparities ----------------------------------------------------------------------------------------

def _extremes(values: np.ndarray):
    """fairlearn's difference (max - min) and ratio (min / max) per row (resample) of ``values`` (..., groups)."""
    with np.errstate(all="ignore"):
        top, bottom = np.nanmax(values, axis=-1), np.nanmin(values, axis=-1)
        ratio = np.where((top > 0) & (bottom >= 0), bottom / top, np.nan)  # ratios of signed values mean nothing
    return top - bottom, ratio


def _oriented(value, anchor, higher_is_better: bool):
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


def _interval(low: float, high: float) -> Interval | None:
    return None if not (np.isfinite(low) and np.isfinite(high)) else [float(low), float(high)]


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class _MetricData:
    """Per-group arrays of one metric, as ``assemble_table`` receives them."""

    spec: GroupMetric
    values: np.ndarray
    support: np.ndarray
    overall: float
    boot: np.ndarray | None  # (resamples, groups) or None
    counts: tuple[np.ndarray, np.ndarray] | None  # proportions: (successes, trials) per group for intervals
    tests: tuple[np.ndarray, np.ndarray] | None  # proportions: unweighted (successes, trials) for tests
    limits: tuple[np.ndarray, np.ndarray] | None = None  # proportions: Clopper-Pearson limits per group


def _pick_benchmark(data: _MetricData, names: list[str], min_group_size: int) -> tuple[int | None, str]:
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
        reason = (f"the {best_word} {data.spec.name} among groups whose {data.spec.name} rests on at least "
                  f"{min_group_size} rows (smaller groups are compared with it, never used as the benchmark)")
        return index, reason
    index = int(pick(np.where(defined, data.values, np.nan)))
    return index, (f"no group's {data.spec.name} rests on {min_group_size}+ rows, so the benchmark is the "
                   f"{best_word} value of any size: read every comparison as uncertain")


def _comparisons(data: _MetricData, names: list[str], rows: np.ndarray, anchor: int, level: float,
                 small: np.ndarray, role: str) -> dict[str, dict[str, Any]]:
    """Each group in ``rows`` against the group ``anchor``: oriented gap and ratio, their intervals, and a
    test of exactly that pair (Holm-adjusted over this family of comparisons)."""
    higher = bool(data.spec.higher_is_better)
    gaps, ratios = _oriented(data.values, data.values[anchor], higher)
    entries: dict[str, dict[str, Any]] = {}
    p_values: list[float | None] = []
    order = [int(i) for i in rows]
    for i in order:
        entry: dict[str, Any] = {"difference": _number(gaps[i]), "ratio": _number(ratios[i]),
                                 "difference_ci": None, "ratio_ci": None, "p_value": None, "p_value_holm": None,
                                 "test": None, "compared_with": names[anchor]}
        if i == anchor:
            entry.update(difference=0.0, ratio=1.0, test=f"the {role} itself", **{role: True})
            entries[names[i]] = entry
            p_values.append(None)
            continue
        if data.limits is not None:
            low, high = data.limits
            p = data.values
            # gap = p_anchor - p_i (higher is better) or p_i - p_anchor; ratio = p_i / p_anchor or p_anchor / p_i
            a, b = (anchor, i) if higher else (i, anchor)
            entry["difference_ci"] = _interval(*mover_difference(p[a], low[a], high[a], p[b], low[b], high[b]))
            if np.isfinite(ratios[i]):
                entry["ratio_ci"] = _interval(*mover_ratio(p[b], low[b], high[b], p[a], low[a], high[a]))
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
        p_values.append(p_value)
        entries[names[i]] = entry
    for i, adjusted in zip(order, holm(p_values)):
        entries[names[i]]["p_value_holm"] = adjusted
    return entries


@dataclass(frozen=True)
class _Compared:
    """A metric's comparisons, made once over every group with a value (one Holm family per kind), then shown
    in full in ``disparities`` and restricted to groups with enough rows in ``disparities_reliable``: the same
    pair has the same adjusted p-value everywhere."""

    benchmark: int
    benchmark_reason: str
    to_best: dict[str, dict[str, Any]]
    to_reference: dict[str, dict[str, Any]]


def _compare(data: _MetricData, names: list[str], small: np.ndarray, level: float, *, min_group_size: int,
             reference: str | None) -> _Compared | None:
    defined = np.flatnonzero(np.isfinite(data.values))
    benchmark, reason = _pick_benchmark(data, names, min_group_size)
    if benchmark is None:
        return None
    to_best = _comparisons(data, names, defined, benchmark, level, small, "benchmark")
    for entry in to_best.values():  # a group above the benchmark says so, rather than "ratio 1.4 to the best"
        entry["above_benchmark"] = (entry["difference"] or 0) < 0
    to_reference: dict[str, dict[str, Any]] = {}
    if reference in names and np.isfinite(data.values[names.index(reference)]):
        to_reference = _comparisons(data, names, defined, names.index(reference), level, small, "reference")
    return _Compared(benchmark, reason, to_best, to_reference)


def _disparity(data: _MetricData, names: list[str], small: np.ndarray, level: float, compared: _Compared | None,
               *, min_support: int, reference: str | None) -> Disparity:
    values, support = data.values, data.support
    usable = np.isfinite(values) & (support >= min_support)
    undefined = [n for n, v in zip(names, values) if not np.isfinite(v)]
    thin = [n for n, v, s in zip(names, values, support) if np.isfinite(v) and s < min_support]
    note = f"Undefined for {', '.join(undefined)}; those groups are left out of the comparison. " if undefined else ""
    if thin:
        note += f"Left out: {', '.join(thin)} (the metric rests on fewer than {min_support} rows)."
    note = note.strip()
    if usable.sum() < 2:
        return Disparity(data.spec.name, None, None, None, None, {}, note=(note + " Fewer than two groups have a "
                                                                           "value.").strip())
    masked = np.where(usable, values, np.nan)
    difference, ratio = _extremes(masked)
    higher = bool(data.spec.higher_is_better)
    best_index = int((np.nanargmax if higher else np.nanargmin)(masked))
    worst_index = int((np.nanargmin if higher else np.nanargmax)(masked))
    rows = np.flatnonzero(usable)
    kept = {names[i] for i in rows}
    to_best = {name: entry for name, entry in compared.to_best.items() if name in kept}
    to_reference = {name: entry for name, entry in compared.to_reference.items() if name in kept}
    benchmark = compared.benchmark
    to_overall = {}
    with np.errstate(all="ignore"):
        for i in rows:
            to_overall[names[i]] = {"difference": _number(values[i] - data.overall),
                                    "ratio": _number(values[i] / data.overall) if data.overall else None}
    difference_ci = ratio_ci = None
    if data.boot is not None:
        boot_difference, boot_ratio = _extremes(np.where(usable[None, :], data.boot, np.nan))
        difference_ci, ratio_ci = interval_or_none(boot_difference, level), interval_or_none(boot_ratio, level)
    return Disparity(
        metric=data.spec.name, best_group=names[best_index], worst_group=names[worst_index],
        difference=_number(difference), ratio=_number(ratio), to_best=to_best,
        worst_group_small=bool(small[worst_index]), note=note, difference_ci=difference_ci, ratio_ci=ratio_ci,
        to_overall=to_overall, to_reference=to_reference, reference_group=reference,
        tested_against=names[benchmark] if data.tests is not None else None,
        benchmark_group=names[benchmark], benchmark_reason=compared.benchmark_reason,
        worst_to_benchmark=_worst_against(to_best),
    )


def _worst_against(entries: dict[str, dict[str, Any]]) -> str | None:
    """The group furthest below the benchmark (by ratio, else by gap) among the compared groups."""
    ranked = [(e["ratio"] if e["ratio"] is not None else np.inf, -(e["difference"] or 0), name)
              for name, e in entries.items() if e["difference"] is not None and e["difference"] > 0]
    return min(ranked)[2] if ranked else None


def _summary(disparities: dict[str, Disparity], boots: dict[str, np.ndarray | None], level: float,
             ) -> dict[str, dict[str, Any]]:
    """fairlearn's summary metrics, under fairlearn's names (from the all-groups disparities)."""
    def pair(metric):
        d = disparities.get(metric)
        return (d.difference, d.ratio, d.difference_ci, d.ratio_ci) if d else (None, None, None, None)

    summary = {}
    for name, metric in (("demographic_parity", "selection_rate"), ("equal_opportunity", "tpr")):
        diff, ratio, diff_ci, ratio_ci = pair(metric)
        summary[f"{name}_difference"] = {"value": diff, "ci": diff_ci}
        summary[f"{name}_ratio"] = {"value": ratio, "ci": ratio_ci}
    tpr, fpr = pair("tpr"), pair("fpr")
    if None not in (tpr[0], fpr[0]):
        difference_ci = ratio_ci = None
        if boots.get("tpr") is not None and boots.get("fpr") is not None:
            tpr_diff, tpr_ratio = _extremes(boots["tpr"])
            fpr_diff, fpr_ratio = _extremes(boots["fpr"])
            difference_ci = interval_or_none(np.maximum(tpr_diff, fpr_diff), level)
            ratio_ci = interval_or_none(np.minimum(tpr_ratio, fpr_ratio), level)
        summary["equalized_odds_difference"] = {"value": max(tpr[0], fpr[0]), "ci": difference_ci}
        summary["equalized_odds_ratio"] = {"value": min(tpr[1], fpr[1]) if None not in (tpr[1], fpr[1]) else None,
                                           "ci": ratio_ci}
    return summary


def group_metrics(
    *,
    y_true: Any,
    y_pred: Any,
    sensitive: pd.DataFrame,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    scores: Any = None,
    sample_weight: Any = None,
    min_group_size: int = 30,
    reference: str | None = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    favourable: str = "positive",
) -> FairnessTable:
    """Metrics for every group formed by the columns of ``sensitive`` (one column, or an intersection).

    ``y_true`` and ``y_pred`` are binary (the positive class is 1/True). ``scores`` enable ``roc_auc`` (any
    scale: it is rank-based), ``ece`` and ``mean_score`` (probabilities in [0, 1]; on another scale they are
    undefined, with the reason). Groups are sorted by name; groups under ``min_group_size`` are kept and
    flagged ``small``, and never serve as the benchmark of a comparison. Proportions get Clopper-Pearson
    intervals at ``ci_level``; other metrics ``n_boot`` seeded bootstrap resamples (``n_boot=0``: none).
    ``reference`` names a group (``"sex=Female"``) to compare every group with, besides the benchmark.
    ``favourable="negative"`` says the negative decision benefits the person (a risk score's "low risk"):
    the table then adds ``negative_rate``, and selection rate counts lower as better.
    """
    if favourable not in ("positive", "negative"):
        raise DataError(f"The 'favourable' parameter of group_metrics must be 'positive' or 'negative'. "
                        f"Got {favourable!r} instead.")
    y_true = _binary(y_true, "y_true")
    y_pred = _binary(y_pred, "y_pred")
    sensitive, weights = check_rows(y_true, y_pred, sensitive, sample_weight)
    specs = _specs_for(metrics, favourable)
    score_names = [m.name for m in specs if m.needs_scores]
    undefined_scores: dict[str, str] = {}
    if score_names:
        if scores is None:
            raise DataError(f"The metrics {score_names} need scores; pass scores= (probabilities of the positive "
                            "class) or leave them out.")
        scores = np.asarray(scores, dtype=float)
        if scores.shape != y_true.shape or not np.all(np.isfinite(scores)):
            raise DataError("scores must be finite numbers, one per row.")
        if scores.min() < 0 or scores.max() > 1:
            for name in {"ece", "mean_score"} & set(score_names):
                undefined_scores[name] = (f"calibration needs probabilities in [0, 1]; the scores range over "
                                          f"[{scores.min():.3g}, {scores.max():.3g}]")
    if not 0 < ci_level < 1:
        raise DataError(f"ci_level must be in (0, 1). Got {ci_level!r} instead.")

    codes, keys, columns = _groups_with_reference(sensitive, reference)
    n_groups = len(keys)
    y_true_i, y_pred_i = y_true.astype(np.int64), y_pred.astype(np.int64)
    cells = _cell_counts(codes, n_groups, y_true_i, y_pred_i, weights)
    unweighted = cells if weights is None else _cell_counts(codes, n_groups, y_true_i, y_pred_i, None)
    squares = None if weights is None else _cell_counts(codes, n_groups, y_true_i, y_pred_i, weights ** 2)
    counts, raw_counts = _as_counts(cells), _as_counts(unweighted)
    overall_counts = _as_counts(cells.sum(axis=0, keepdims=True))
    boot_counts = None
    if n_boot > 0:
        boot_cells = _bootstrap_cells(codes, n_groups, y_true_i, y_pred_i, weights, n_boot, seed)
        boot_counts = (_as_counts(boot_cells), _as_counts(boot_cells.sum(axis=1, keepdims=True)))

    computed: dict[str, dict[str, Any]] = {}
    computable = [name for name in score_names if name not in undefined_scores]
    scored = _score_metrics(computable, codes, n_groups, y_true, scores, weights) if computable else {}
    scored_boot = (_bootstrap_score_metrics(computable, codes, n_groups, y_true, scores, weights, n_boot, seed)
                   if computable and n_boot > 0 else {})
    for metric in specs:
        if metric.name in undefined_scores:
            nan = np.full(n_groups, np.nan)
            computed[metric.name] = {"values": nan, "support": raw_counts["n"], "overall": np.array([np.nan]),
                                     "boot": None, "boot_overall": None, "undefined": undefined_scores[metric.name]}
            continue
        if metric.needs_scores:
            group_values, overall_value = scored[metric.name]
            support = raw_counts["n"]
            boot_values, boot_overall = scored_boot.get(metric.name, (None, None))
        else:
            group_values, _ = metric.compute(counts)
            _, support = metric.compute(raw_counts)
            overall_value, _ = metric.compute(overall_counts)
            boot_values = boot_overall = None
            if boot_counts is not None:
                boot_values, _ = metric.compute(boot_counts[0])
                boot_overall, _ = metric.compute(boot_counts[1])
        if metric.name == "count":
            group_values, support = raw_counts["n"].astype(float), raw_counts["n"]
            overall_value, boot_values, boot_overall = np.array([len(y_true)], float), None, None
        computed[metric.name] = {"values": group_values, "support": support, "overall": overall_value,
                                 "boot": boot_values, "boot_overall": boot_overall}
        if squares is not None and metric.proportion is not None:
            computed[metric.name]["counts"] = _effective_counts(metric, cells, squares)

    return assemble_table(
        columns=columns, keys=keys, specs=specs, computed=computed, group_n=raw_counts["n"].astype(int),
        min_group_size=min_group_size, reference=reference, ci_level=ci_level, unweighted=raw_counts,
        bootstrap={"n_boot": n_boot, "level": ci_level, "seed": seed, "method": "percentile",
                   "resampling": "rows with replacement (drawn as a multinomial over group x outcome cells)"}
        if n_boot > 0 else {"n_boot": 0},
        weighted=weights is not None, favourable=favourable)


def _specs_for(metrics: tuple[str, ...], favourable: str) -> list[GroupMetric]:
    """The metric definitions of a table. When the negative decision is the favourable one, a high selection
    rate is the harm: selection rate then counts lower as better, and the negative rate is added."""
    import dataclasses

    specs = [METRICS.get(name) for name in metrics]
    if favourable == "negative":
        specs = [dataclasses.replace(s, higher_is_better=False) if s.name == "selection_rate" else s for s in specs]
        if "negative_rate" not in metrics:
            specs.insert(1 if metrics and metrics[0] == "count" else 0, METRICS.get("negative_rate"))
    return specs


def favourable_metric(favourable: str) -> str:
    """The rate of the decision that benefits the person: what impact ratios compare."""
    return "negative_rate" if favourable == "negative" else "selection_rate"


def _effective_counts(metric: GroupMetric, cells: np.ndarray, squares: np.ndarray):
    """Weighted proportions as (successes, trials) at Kish's effective sample size, per group and overall."""
    numerator, denominator = metric.proportion
    index = {name: i for i, name in enumerate(_CELLS)}

    def pick(array, keys):
        return sum(array[..., index[k]] for k in keys if k in index) if "n" not in keys else array.sum(-1)

    per_group = effective_counts(pick(cells, numerator), pick(cells, denominator), pick(squares, denominator))
    total = cells.sum(0, keepdims=True), squares.sum(0, keepdims=True)
    overall = effective_counts(pick(total[0], numerator), pick(total[0], denominator), pick(total[1], denominator))
    return per_group, overall


def assemble_table(*, columns: list[str], keys: list[tuple[str, ...]], specs: list[GroupMetric],
                   computed: dict[str, dict[str, Any]], group_n: np.ndarray, min_group_size: int,
                   reference: str | None, ci_level: float, unweighted: dict[str, np.ndarray] | None,
                   bootstrap: dict[str, Any], weighted: bool, favourable: str = "positive") -> FairnessTable:
    """Build the table from per-metric arrays: ``computed[name]`` holds ``values`` and ``support`` per group,
    ``overall`` (shape (1,)), bootstrap samples ``boot`` (resamples x groups) / ``boot_overall`` or None, and
    optionally ``undefined`` (a reason that overrides the metric's own) and ``counts`` ((successes, trials)
    per group and overall, for proportions of weighted data).

    Proportions get Clopper-Pearson intervals from their counts, and their comparisons MOVER intervals;
    other metrics get percentile bootstrap intervals, except for small groups, where those under-cover.
    """
    names = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in keys]
    total_n = int(group_n.sum())
    small = group_n < min_group_size
    data: dict[str, _MetricData] = {}
    intervals: dict[str, tuple[list, Interval | None]] = {}
    for spec in specs:
        entry = computed[spec.name]
        counts, overall_counts, tests = _proportion_counts(spec, entry, unweighted, weighted)
        limits = None
        if counts is not None:
            low, high = proportion_interval(*counts, ci_level)
            limits = (low, high)
            o_low, o_high = proportion_interval(*overall_counts, ci_level)
            intervals[spec.name] = ([_interval(a, b) for a, b in zip(low, high)], _interval(o_low[0], o_high[0]))
        elif entry["boot"] is not None:
            low, high, _ = percentile_interval(entry["boot"], ci_level)
            overall_interval = None
            if entry.get("boot_overall") is not None:
                overall_interval = interval_or_none(entry["boot_overall"][:, 0], ci_level)
            intervals[spec.name] = ([None if small[g] else _interval(low[g], high[g]) for g in range(len(keys))],
                                    overall_interval)
        data[spec.name] = _MetricData(spec=spec, values=np.asarray(entry["values"], float),
                                      support=np.asarray(entry["support"]), overall=float(entry["overall"][0]),
                                      boot=entry["boot"], counts=counts, tests=tests, limits=limits)
    groups = []
    for g in range(len(keys)):
        values = {name: _number(d.values[g]) for name, d in data.items()}
        groups.append(GroupRow(
            key=dict(zip(columns, keys[g])), n=int(group_n[g]), share=float(group_n[g] / total_n), values=values,
            undefined={m.name: computed[m.name].get("undefined") or m.undefined_reason for m in specs
                       if values[m.name] is None},
            small=bool(small[g]), support={name: int(d.support[g]) for name, d in data.items()},
            ci={name: intervals[name][0][g] for name in intervals}))
    overall = {name: _number(d.overall) for name, d in data.items()}

    disparities, reliable = {}, {}
    for spec in specs:
        if spec.higher_is_better is None:
            continue
        compared = _compare(data[spec.name], names, small, ci_level, min_group_size=min_group_size,
                            reference=reference)
        for target, min_support in ((disparities, 0), (reliable, min_group_size)):
            target[spec.name] = _disparity(data[spec.name], names, small, ci_level, compared,
                                           min_support=min_support, reference=reference)
    bootstrap = dict(bootstrap)
    bootstrap["intervals"] = ("proportions: Clopper-Pearson (exact); differences and ratios of proportions: MOVER "
                              "from those limits (Newcombe; Donner & Zou); other metrics: percentile bootstrap, "
                              f"omitted for groups under {min_group_size} rows, where it under-covers")
    if weighted:
        bootstrap["intervals"] += "; weighted proportions use Kish's effective sample size"
    return FairnessTable(
        sensitive_features=tuple(columns), metrics=tuple(m.name for m in specs), groups=groups, overall=overall,
        disparities=disparities, min_group_size=min_group_size, disparities_reliable=reliable,
        summary=_summary(disparities, {name: d.boot for name, d in data.items()}, ci_level),
        overall_ci={name: iv[1] for name, iv in intervals.items()},
        bootstrap=bootstrap, weighted=weighted, favourable=favourable,
    )


def _proportion_counts(spec: GroupMetric, entry: dict[str, Any], unweighted: dict[str, np.ndarray] | None,
                       weighted: bool):
    """(successes, trials) per group and overall for intervals, and unweighted ones for tests, or Nones."""
    if spec.proportion is None or unweighted is None:
        return None, None, None
    numerator, denominator = spec.proportion
    if any(k not in unweighted for k in numerator + denominator):
        return None, None, None
    x = sum(np.asarray(unweighted[k], float) for k in numerator)
    n = sum(np.asarray(unweighted[k], float) for k in denominator)
    tests = (x, n)
    if weighted:
        if entry.get("counts") is None:
            return None, None, tests
        counts, overall_counts = entry["counts"]
        return counts, overall_counts, tests
    return (x, n), (np.array([x.sum()]), np.array([n.sum()])), tests
