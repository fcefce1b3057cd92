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
from audit._stats import compare_proportions, holm, percentile_interval

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
    tested_against: str | None = None  # the group each p-value compares with (the reference, else the best)


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
    bootstrap: dict[str, Any] = field(default_factory=dict)  # n_boot, level, seed, method
    weighted: bool = False

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
    out = {}
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

def _extremes(values: np.ndarray, higher_is_better: bool):
    """Per row (resample) of ``values`` (..., groups): difference, ratio and each group's ratio to best."""
    with np.errstate(all="ignore"):
        top, bottom = np.nanmax(values, axis=-1), np.nanmin(values, axis=-1)
        difference = top - bottom
        ratio = np.where((top > 0) & (bottom >= 0), bottom / top, np.nan)  # ratios of signed values mean nothing
        best = top if higher_is_better else bottom
        if higher_is_better:
            to_best_ratio = np.where((best[..., None] > 0) & (values >= 0), values / best[..., None], np.nan)
        else:
            to_best_ratio = np.where(values > 0, best[..., None] / values,
                                     np.where(best[..., None] == 0, 1.0, np.nan))
        to_best_difference = np.abs(values - best[..., None])
    return difference, ratio, to_best_difference, to_best_ratio


def _interval(low: float, high: float) -> Interval | None:
    return None if not (np.isfinite(low) and np.isfinite(high)) else [float(low), float(high)]


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _disparity(metric: GroupMetric, names: list[str], values: np.ndarray, support: np.ndarray, small: np.ndarray,
               boot: np.ndarray | None, level: float, overall: float, *, min_support: int, reference: str | None,
               unweighted: dict[str, np.ndarray] | None) -> Disparity:
    usable = np.isfinite(values) & (support >= min_support)
    undefined = [n for n, v in zip(names, values) if not np.isfinite(v)]
    thin = [n for n, v, s in zip(names, values, support) if np.isfinite(v) and s < min_support]
    note = f"Undefined for {', '.join(undefined)}; those groups are left out of the comparison. " if undefined else ""
    if thin:
        note += f"Left out: {', '.join(thin)} (the metric rests on fewer than {min_support} rows)."
    note = note.strip()
    if usable.sum() < 2:
        return Disparity(metric.name, None, None, None, None, {}, note=(note + " Fewer than two groups have a "
                                                                        "value.").strip())
    masked = np.where(usable, values, np.nan)
    difference, ratio, to_best_difference, to_best_ratio = _extremes(masked, metric.higher_is_better)
    pick = np.nanargmax if metric.higher_is_better else np.nanargmin
    worst_pick = np.nanargmin if metric.higher_is_better else np.nanargmax
    best_index, worst_index = int(pick(masked)), int(worst_pick(masked))
    boot_stats = None
    if boot is not None:
        boot_masked = np.where(usable[None, :], boot, np.nan)
        boot_stats = _extremes(boot_masked, metric.higher_is_better)
    target_index = names.index(reference) if reference in names and usable[names.index(reference)] else best_index

    p_values, tests = [None] * len(names), [None] * len(names)
    if metric.proportion is not None and unweighted is not None:
        numerator, denominator = metric.proportion
        x = sum(unweighted[k] for k in numerator)
        n = sum(unweighted[k] for k in denominator)
        for i in np.flatnonzero(usable):
            if i != target_index:
                p_values[i], tests[i] = compare_proportions(x[i], n[i], x[target_index], n[target_index])
    adjusted = holm(p_values)

    to_best, to_overall, to_reference = {}, {}, {}
    for i in np.flatnonzero(usable):
        entry = {"difference": _number(to_best_difference[i]), "ratio": _number(to_best_ratio[i]),
                 "p_value": p_values[i], "p_value_holm": adjusted[i], "test": tests[i]}
        if boot_stats is not None:
            for key, samples in (("difference_ci", boot_stats[2][:, i]), ("ratio_ci", boot_stats[3][:, i])):
                low, high, _ = percentile_interval(samples[:, None], level)
                entry[key] = _interval(low[0], high[0])
        to_best[names[i]] = entry
        with np.errstate(all="ignore"):
            to_overall[names[i]] = {"difference": _number(values[i] - overall),
                                    "ratio": _number(values[i] / overall) if overall else None}
        if reference in names and np.isfinite(values[names.index(reference)]):
            ref = values[names.index(reference)]
            to_reference[names[i]] = {"difference": _number(values[i] - ref), "ratio": _number(values[i] / ref)
                                      if ref else None}
    difference_ci = ratio_ci = None
    if boot_stats is not None:
        low, high, _ = percentile_interval(np.stack([boot_stats[0], boot_stats[1]], axis=1), level)
        difference_ci, ratio_ci = _interval(low[0], high[0]), _interval(low[1], high[1])
    return Disparity(
        metric=metric.name, best_group=names[best_index], worst_group=names[worst_index],
        difference=_number(difference), ratio=_number(ratio), to_best=to_best,
        worst_group_small=bool(small[worst_index]), note=note, difference_ci=difference_ci, ratio_ci=ratio_ci,
        to_overall=to_overall, to_reference=to_reference, reference_group=reference,
        tested_against=names[target_index] if metric.proportion is not None else None,
    )


def _summary(disparities: dict[str, Disparity]) -> dict[str, dict[str, Any]]:
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
        summary["equalized_odds_difference"] = {"value": max(tpr[0], fpr[0]), "ci": None}
        summary["equalized_odds_ratio"] = {"value": min(tpr[1], fpr[1]) if None not in (tpr[1], fpr[1]) else None,
                                           "ci": None}
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
) -> FairnessTable:
    """Metrics for every group formed by the columns of ``sensitive`` (one column, or an intersection).

    ``y_true`` and ``y_pred`` are binary (the positive class is 1/True). ``scores`` (probabilities of the
    positive class) enable ``roc_auc``, ``ece`` and ``mean_score``. Groups are sorted by name; groups under
    ``min_group_size`` are kept and flagged ``small``. ``n_boot`` seeded bootstrap resamples give percentile
    intervals at ``ci_level`` for every metric and disparity (``n_boot=0`` turns them off). ``reference``
    names a group (``"sex=Female"``) to compare every group with, besides the best group and overall.
    """
    y_true = _binary(y_true, "y_true")
    y_pred = _binary(y_pred, "y_pred")
    sensitive, weights = check_rows(y_true, y_pred, sensitive, sample_weight)
    specs = [METRICS.get(name) for name in metrics]
    score_names = [m.name for m in specs if m.needs_scores]
    if score_names:
        if scores is None:
            raise DataError(f"The metrics {score_names} need scores; pass scores= (probabilities of the positive "
                            "class) or leave them out.")
        scores = np.asarray(scores, dtype=float)
        if scores.shape != y_true.shape or not np.all(np.isfinite(scores)):
            raise DataError("scores must be finite numbers, one per row.")
        if ({"ece", "mean_score"} & set(score_names)) and (scores.min() < 0 or scores.max() > 1):
            raise DataError(f"Calibration needs probabilities in [0, 1]; the scores range over "
                            f"[{scores.min():.3g}, {scores.max():.3g}]. Pass probabilities, or drop 'ece'.")
    if not 0 < ci_level < 1:
        raise DataError(f"ci_level must be in (0, 1). Got {ci_level!r} instead.")

    codes, keys, columns = _groups_with_reference(sensitive, reference)
    n_groups = len(keys)
    y_true_i, y_pred_i = y_true.astype(np.int64), y_pred.astype(np.int64)
    cells = _cell_counts(codes, n_groups, y_true_i, y_pred_i, weights)
    unweighted = cells if weights is None else _cell_counts(codes, n_groups, y_true_i, y_pred_i, None)
    counts, raw_counts = _as_counts(cells), _as_counts(unweighted)
    overall_counts = _as_counts(cells.sum(axis=0, keepdims=True))
    boot_counts = None
    if n_boot > 0:
        boot_cells = _bootstrap_cells(codes, n_groups, y_true_i, y_pred_i, weights, n_boot, seed)
        boot_counts = (_as_counts(boot_cells), _as_counts(boot_cells.sum(axis=1, keepdims=True)))

    computed: dict[str, dict[str, np.ndarray]] = {}
    scored = _score_metrics(score_names, codes, n_groups, y_true, scores, weights) if score_names else {}
    scored_boot = (_bootstrap_score_metrics(score_names, codes, n_groups, y_true, scores, weights, n_boot, seed)
                   if score_names and n_boot > 0 else {})
    for metric in specs:
        if metric.needs_scores:
            group_values, overall_value = scored[metric.name]
            support = raw_counts["n"]
            boot_values, boot_overall = scored_boot.get(metric.name), None
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

    return assemble_table(
        columns=columns, keys=keys, specs=specs, computed=computed, group_n=raw_counts["n"].astype(int),
        min_group_size=min_group_size, reference=reference, ci_level=ci_level, unweighted=raw_counts,
        bootstrap={"n_boot": n_boot, "level": ci_level, "seed": seed, "method": "percentile",
                   "resampling": "rows with replacement (drawn as a multinomial over group x outcome cells)"}
        if n_boot > 0 else {"n_boot": 0},
        weighted=weights is not None)


def assemble_table(*, columns: list[str], keys: list[tuple[str, ...]], specs: list[GroupMetric],
                   computed: dict[str, dict[str, Any]], group_n: np.ndarray, min_group_size: int,
                   reference: str | None, ci_level: float, unweighted: dict[str, np.ndarray] | None,
                   bootstrap: dict[str, Any], weighted: bool) -> FairnessTable:
    """Build the table from per-metric arrays: ``computed[name]`` holds ``values`` and ``support`` per group,
    ``overall`` (shape (1,)), and bootstrap samples ``boot`` (resamples x groups) / ``boot_overall`` or None."""
    names = [", ".join(f"{c}={v}" for c, v in zip(columns, key)) for key in keys]
    total_n = int(group_n.sum())
    small = group_n < min_group_size
    intervals = {}
    for name, data in computed.items():
        if data["boot"] is not None:
            low, high, _ = percentile_interval(data["boot"], ci_level)
            overall_interval = None
            if data["boot_overall"] is not None:
                o_low, o_high, _ = percentile_interval(data["boot_overall"], ci_level)
                overall_interval = _interval(o_low[0], o_high[0])
            intervals[name] = ([_interval(a, b) for a, b in zip(low, high)], overall_interval)
    groups = []
    for g in range(len(keys)):
        values = {name: _number(d["values"][g]) for name, d in computed.items()}
        groups.append(GroupRow(
            key=dict(zip(columns, keys[g])), n=int(group_n[g]), share=float(group_n[g] / total_n), values=values,
            undefined={m.name: m.undefined_reason for m in specs if values[m.name] is None},
            small=bool(small[g]), support={name: int(d["support"][g]) for name, d in computed.items()},
            ci={name: intervals[name][0][g] for name in intervals}))
    overall = {name: _number(d["overall"][0]) for name, d in computed.items()}

    disparities, reliable = {}, {}
    for metric in specs:
        if metric.higher_is_better is None:
            continue
        data = computed[metric.name]
        arguments = (metric, names, data["values"], data["support"], small, data["boot"], ci_level,
                     data["overall"][0])
        disparities[metric.name] = _disparity(*arguments, min_support=0, reference=reference, unweighted=unweighted)
        reliable[metric.name] = _disparity(*arguments, min_support=min_group_size, reference=reference,
                                           unweighted=unweighted)
    return FairnessTable(
        sensitive_features=tuple(columns), metrics=tuple(m.name for m in specs), groups=groups, overall=overall,
        disparities=disparities, min_group_size=min_group_size, disparities_reliable=reliable,
        summary=_summary(disparities), overall_ci={name: iv[1] for name, iv in intervals.items()},
        bootstrap=bootstrap, weighted=weighted,
    )
