"""The fairness engine: metrics by group and intersection, disparities, bootstrap intervals, significance.

Everything that derives from per-group confusion counts is computed in numpy: one ``np.bincount`` for the
counts, and the bootstrap resamples the counts themselves. Resampling N rows with replacement gives
(group, outcome) counts that follow a multinomial over those cells, so drawing from that multinomial is the
row bootstrap, exactly in distribution, at a cost that does not grow with N. fairlearn's ``MetricFrame`` is
the oracle in the tests. A metric that is undefined for a group (TPR with no positive labels, ...) is
``None`` with the reason, never a silent NaN.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import numpy as np
import pandas as pd

from audit._errors import DataError
from audit.fairness._bootstrap import bootstrap_cells, bootstrap_score_metrics, score_metrics
from audit.fairness._comparisons import (
    MetricData,
    as_interval,
    build_disparity,
    compare_groups,
    disparity_summary,
    finite_or_none,
)
from audit.fairness._counts import as_binary, as_counts, cell_counts, check_rows, groups_with_reference
from audit.fairness._metrics import DEFAULT_METRICS, METRICS, GroupMetric
from audit.fairness._small_sample import (
    auc_interval,
    balanced_accuracy_interval,
    ece_interval,
    f1_interval,
    mean_interval,
)
from audit.fairness._stats import effective_counts, interval_or_none, percentile_interval, proportion_interval
from audit.fairness._pooling import MIN_POOLED_GROUPS, PooledRates, pool_rates
from audit.fairness._types import (
    CELLS,
    Bootstrap,
    Disparity,
    FairnessTable,
    GroupRow,
    Interval,
    PooledEstimate,
    Pooling,
)

__all__ = ["group_metrics", "assemble_table", "favourable_metric"]


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
        raise DataError(
            f"The 'favourable' parameter of group_metrics must be 'positive' or 'negative'. Got {favourable!r} instead."
        )
    y_true = as_binary(y_true, "y_true")
    y_pred = as_binary(y_pred, "y_pred")
    sensitive, weights = check_rows(y_true, y_pred, sensitive, sample_weight)
    specs = _specs_for(metrics, favourable)
    score_names = [m.name for m in specs if m.needs_scores]
    undefined_scores: dict[str, str] = {}
    if score_names:
        if scores is None:
            raise DataError(
                f"The metrics {score_names} need scores; pass scores= (probabilities of the positive "
                "class) or leave them out."
            )
        scores = np.asarray(scores, dtype=float)
        if scores.shape != y_true.shape or not np.all(np.isfinite(scores)):
            raise DataError("scores must be finite numbers, one per row.")
        if scores.min() < 0 or scores.max() > 1:
            for name in {"ece", "mean_score"} & set(score_names):
                undefined_scores[name] = (
                    f"calibration needs probabilities in [0, 1]; the scores range over "
                    f"[{scores.min():.3g}, {scores.max():.3g}]"
                )
    if not 0 < ci_level < 1:
        raise DataError(f"ci_level must be in (0, 1). Got {ci_level!r} instead.")

    codes, keys, columns = groups_with_reference(sensitive, reference)
    n_groups = len(keys)
    y_true_i, y_pred_i = y_true.astype(np.int64), y_pred.astype(np.int64)
    cells = cell_counts(codes, n_groups, y_true_i, y_pred_i, weights)
    unweighted = cells if weights is None else cell_counts(codes, n_groups, y_true_i, y_pred_i, None)
    squares = None if weights is None else cell_counts(codes, n_groups, y_true_i, y_pred_i, weights**2)
    counts, raw_counts = as_counts(cells), as_counts(unweighted)
    overall_counts = as_counts(cells.sum(axis=0, keepdims=True))
    boot_counts = None
    if n_boot > 0:
        boot_cells = bootstrap_cells(codes, n_groups, y_true_i, y_pred_i, weights, n_boot, seed)
        boot_counts = (as_counts(boot_cells), as_counts(boot_cells.sum(axis=1, keepdims=True)))

    computed: dict[str, dict[str, Any]] = {}
    computable = [name for name in score_names if name not in undefined_scores]
    scored = score_metrics(computable, codes, n_groups, y_true, scores, weights) if computable else {}
    scored_boot = (
        bootstrap_score_metrics(computable, codes, n_groups, y_true, scores, weights, n_boot, seed)
        if computable and n_boot > 0
        else {}
    )
    for metric in specs:
        if metric.name in undefined_scores:
            nan = np.full(n_groups, np.nan)
            computed[metric.name] = {
                "values": nan,
                "support": raw_counts["n"],
                "overall": np.array([np.nan]),
                "boot": None,
                "boot_overall": None,
                "undefined": undefined_scores[metric.name],
            }
            continue
        if metric.needs_scores:
            group_values, overall_value = scored[metric.name]
            support = raw_counts["n"]
            boot_values, boot_overall = scored_boot.get(metric.name, (None, None))
        else:
            compute = _counted(metric)
            group_values, _ = compute(counts)
            _, support = compute(raw_counts)
            overall_value, _ = compute(overall_counts)
            boot_values = boot_overall = None
            if boot_counts is not None:
                boot_values, _ = compute(boot_counts[0])
                boot_overall, _ = compute(boot_counts[1])
        if metric.name == "count":
            group_values, support = raw_counts["n"].astype(float), raw_counts["n"]
            overall_value, boot_values, boot_overall = np.array([len(y_true)], float), None, None
        computed[metric.name] = {
            "values": group_values,
            "support": support,
            "overall": overall_value,
            "boot": boot_values,
            "boot_overall": boot_overall,
        }
        if squares is not None and metric.proportion is not None:
            computed[metric.name]["counts"] = _effective_counts(metric, cells, squares)
        if metric.name in COUNT_INTERVALS:
            computed[metric.name]["interval"] = _count_metric_interval(metric.name, cells, squares, ci_level)
        elif metric.name in computable and weights is None:
            computed[metric.name]["interval"] = _score_interval(
                metric.name, codes, n_groups, y_true, scores, scored[metric.name], ci_level, seed
            )

    return assemble_table(
        columns=columns,
        keys=keys,
        specs=specs,
        computed=computed,
        group_n=raw_counts["n"].astype(int),
        min_group_size=min_group_size,
        reference=reference,
        ci_level=ci_level,
        unweighted=raw_counts,
        bootstrap={
            "n_boot": n_boot,
            "level": ci_level,
            "seed": seed,
            "method": "percentile",
            "resampling": "rows with replacement (drawn as a multinomial over group x outcome cells)",
        }
        if n_boot > 0
        else {"n_boot": 0},
        weighted=weights is not None,
        favourable=favourable,
    )


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


def _counted(metric: GroupMetric) -> Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
    """A metric's function of the confusion counts (score metrics have none: they read the scores)."""
    if metric.compute is None:
        raise TypeError(f"{metric.name} is a score metric, not a function of counts")  # a programming error
    return metric.compute


def favourable_metric(favourable: str) -> str:
    """The rate of the decision that benefits the person: what impact ratios compare."""
    return "negative_rate" if favourable == "negative" else "selection_rate"


def _effective_counts(
    metric: GroupMetric, cells: np.ndarray, squares: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Weighted proportions as (successes, trials) at Kish's effective sample size, per group and overall."""
    if metric.proportion is None:
        raise TypeError(f"{metric.name} is not a proportion")  # a programming error
    numerator, denominator = metric.proportion
    index = {name: i for i, name in enumerate(CELLS)}

    def pick(array: np.ndarray, keys: tuple[str, ...]) -> np.ndarray:
        if "n" in keys:
            return np.asarray(array.sum(-1))
        return np.asarray(functools.reduce(operator.add, (array[..., index[k]] for k in keys if k in index)))

    per_group = effective_counts(pick(cells, numerator), pick(cells, denominator), pick(squares, denominator))
    total = cells.sum(0, keepdims=True), squares.sum(0, keepdims=True)
    overall = effective_counts(pick(total[0], numerator), pick(total[0], denominator), pick(total[1], denominator))
    return per_group, overall


COUNT_INTERVALS = ("balanced_accuracy", "f1")  # functions of the counts with an interval at every size


def _count_metric_interval(
    name: str, cells: np.ndarray, squares: np.ndarray | None, level: float
) -> tuple[np.ndarray, np.ndarray, Interval | None]:
    """(low, high) per group and the overall interval of balanced accuracy or F1 (audit.fairness._small_sample),
    from the counts, or from Kish's effective counts of each part for weighted data."""
    index = {cell: i for i, cell in enumerate(CELLS)}

    def parts(
        table: np.ndarray, table_squares: np.ndarray | None, top: tuple[str, ...], bottom: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        successes = np.asarray(sum(table[..., index[c]] for c in top), float)
        trials = np.asarray(sum(table[..., index[c]] for c in bottom), float)
        if table_squares is None:
            return successes, trials
        return effective_counts(successes, trials, sum(table_squares[..., index[c]] for c in bottom))

    def interval(table: np.ndarray, table_squares: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if name == "f1":
            x, n = parts(table, table_squares, ("tp",), ("tp", "fp", "fn"))
            return f1_interval(x, 0 * x, n - x, level)
        tp, positives = parts(table, table_squares, ("tp",), ("tp", "fn"))
        tn, negatives = parts(table, table_squares, ("tn",), ("tn", "fp"))
        return balanced_accuracy_interval(tp, positives - tp, tn, negatives - tn, level)

    low, high = interval(cells, squares)
    total_squares = None if squares is None else squares.sum(0, keepdims=True)
    overall_low, overall_high = interval(cells.sum(0, keepdims=True), total_squares)
    return low, high, as_interval(overall_low[0], overall_high[0])


def _score_interval(
    name: str,
    codes: np.ndarray,
    n_groups: int,
    y_true: np.ndarray,
    scores: np.ndarray,
    values: tuple[np.ndarray, np.ndarray],
    level: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, Interval | None]:
    """(low, high) per group and overall of an unweighted score metric (audit.fairness._small_sample): Newcombe's
    AUC interval, the betting interval of the mean score (Student's t above BETTING_MAX_ROWS rows), the
    conservative binned ECE interval. The percentile bootstrap under-covered these at 30 and 100 rows
    (benchmarks.coverage: AUC 0.81, ECE 0.58, mean score 0.93)."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    slices = [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)] + [np.arange(len(codes))]
    if name == "roc_auc":
        auc = np.r_[values[0], values[1]]
        positives = np.array([y_true[rows].sum() for rows in slices], float)
        sizes = np.array([len(rows) for rows in slices], float)
        low, high = auc_interval(auc, positives, sizes - positives, level)
    else:
        pairs = [
            mean_interval(scores[rows], level, seed=seed)
            if name == "mean_score"
            else ece_interval(y_true[rows], scores[rows], level)
            for rows in slices
        ]
        low, high = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    return low[:-1], high[:-1], as_interval(low[-1], high[-1])


def assemble_table(
    *,
    columns: list[str],
    keys: list[tuple[str, ...]],
    specs: list[GroupMetric],
    computed: dict[str, dict[str, Any]],
    group_n: np.ndarray,
    min_group_size: int,
    reference: str | None,
    ci_level: float,
    unweighted: dict[str, np.ndarray] | None,
    bootstrap: dict[str, Any],
    weighted: bool,
    favourable: str = "positive",
) -> FairnessTable:
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
    data: dict[str, MetricData] = {}
    intervals: dict[str, tuple[list[Interval | None], Interval | None]] = {}
    for spec in specs:
        entry = computed[spec.name]
        counts, overall_counts, tests = _proportion_counts(spec, entry, unweighted, weighted)
        limits = None
        if counts is not None and overall_counts is not None:
            low, high = proportion_interval(counts[0], counts[1], ci_level)
            limits = (low, high)
            o_low, o_high = proportion_interval(overall_counts[0], overall_counts[1], ci_level)
            intervals[spec.name] = ([as_interval(a, b) for a, b in zip(low, high)], as_interval(o_low[0], o_high[0]))
        elif entry["boot"] is not None or entry.get("interval") is not None:
            per_group: list[Interval | None] = [None] * len(keys)
            overall_interval = None
            if entry["boot"] is not None:
                low, high, _ = percentile_interval(entry["boot"], ci_level)
                per_group = [None if small[g] else as_interval(low[g], high[g]) for g in range(len(keys))]
                if entry.get("boot_overall") is not None:
                    overall_interval = interval_or_none(entry["boot_overall"][:, 0], ci_level)
            if entry.get("interval") is not None:  # the small-sample methods: where they give one, it is used
                exact_low, exact_high, exact_overall = entry["interval"]
                per_group = [as_interval(exact_low[g], exact_high[g]) or per_group[g] for g in range(len(keys))]
                overall_interval = exact_overall or overall_interval
            intervals[spec.name] = (per_group, overall_interval)
        data[spec.name] = MetricData(
            spec=spec,
            values=np.asarray(entry["values"], float),
            support=np.asarray(entry["support"]),
            overall=float(entry["overall"][0]),
            boot=entry["boot"],
            counts=counts,
            tests=tests,
            limits=limits,
        )
    pooled, pooling = _pooled(data, keys, columns, min_group_size, ci_level, weighted)
    groups = []
    for g in range(len(keys)):
        values = {name: finite_or_none(d.values[g]) for name, d in data.items()}
        groups.append(
            GroupRow(
                key=dict(zip(columns, keys[g])),
                n=int(group_n[g]),
                share=float(group_n[g] / total_n),
                values=values,
                undefined={
                    m.name: computed[m.name].get("undefined") or m.undefined_reason
                    for m in specs
                    if values[m.name] is None
                },
                small=bool(small[g]),
                support={name: int(d.support[g]) for name, d in data.items()},
                ci={name: intervals[name][0][g] for name in intervals},
                no_interval=_no_interval_reasons(
                    data, values, intervals, g, small[g], min_group_size, bool(bootstrap.get("n_boot")), weighted
                ),
                pooled={
                    name: PooledEstimate(
                        value=float(rates.values[g]),
                        ci=as_interval(rates.low[g], rates.high[g]),
                        own_weight=float(rates.weight[g]),
                        prior_mean=float(rates.prior_means[g]),
                    )
                    for name, rates in pooled.items()
                    if values[name] is not None and np.isfinite(rates.values[g])
                },
            )
        )
    overall = {name: finite_or_none(d.overall) for name, d in data.items()}

    disparities: dict[str, Disparity] = {}
    reliable: dict[str, Disparity] = {}
    for spec in specs:
        if spec.higher_is_better is None:
            continue
        compared = compare_groups(
            data[spec.name], names, small, ci_level, min_group_size=min_group_size, reference=reference
        )
        for target, min_support in ((disparities, 0), (reliable, min_group_size)):
            target[spec.name] = build_disparity(
                data[spec.name], names, small, ci_level, compared, min_support=min_support, reference=reference
            )
    bootstrap = dict(bootstrap)
    bootstrap["intervals"] = (
        "proportions: Clopper-Pearson (exact); differences and ratios of proportions: MOVER "
        "from those limits (Newcombe; Donner & Zou); balanced accuracy: MOVER sum of the recalls' exact limits; "
        "F1: exact (Clopper-Pearson of TP / (TP + FP + FN) mapped to F1); score metrics of unweighted data: "
        "Newcombe's score interval (ROC AUC), the betting interval (mean score), a conservative binned interval "
        "(ECE); of weighted data: percentile bootstrap; other metrics: percentile bootstrap, "
        f"omitted under {min_group_size} rows, where it under-covers (audit.fairness._small_sample)"
    )
    if weighted:
        bootstrap["intervals"] += "; weighted proportions use Kish's effective sample size"
    return FairnessTable(
        sensitive_features=tuple(columns),
        metrics=tuple(m.name for m in specs),
        groups=groups,
        overall=overall,
        disparities=disparities,
        min_group_size=min_group_size,
        disparities_reliable=reliable,
        summary=disparity_summary(disparities, {name: d.boot for name, d in data.items()}, ci_level),
        overall_ci={name: iv[1] for name, iv in intervals.items()},
        bootstrap=Bootstrap(**bootstrap),
        weighted=weighted,
        favourable=favourable,
        pooling=pooling,
    )


POOLING_METHOD = (
    "empirical Bayes: a beta prior centred on each group's prediction from the other groups, its strength M "
    "averaged over a grid by its beta-binomial likelihood (prior (a + b)^(-5/2)), widened by the prediction's own "
    "variance; the value is the posterior mean, the interval the equal-tailed credible interval "
    "(audit.fairness._pooling; coverage and error measured by benchmarks.pooling)"
)


def _pooled(
    data: dict[str, MetricData],
    keys: list[tuple[str, ...]],
    columns: list[str],
    min_group_size: int,
    level: float,
    weighted: bool,
) -> tuple[dict[str, PooledRates], Pooling]:
    """Each proportion pooled over the table's groups where that can help: at least MIN_POOLED_GROUPS groups
    have rows for it and one of them has fewer than ``min_group_size``."""
    proportions = {name: d.tests for name, d in data.items() if d.tests is not None}
    if not proportions:
        return {}, Pooling(reason="no proportion in the table to pool")
    if weighted:
        return {}, Pooling(reason="not pooled: the rows are weighted, and pooling models counts of people")
    pooled, skipped = {}, []
    for name, (x, n) in proportions.items():
        if (n > 0).sum() < MIN_POOLED_GROUPS or not (n[n > 0] < min_group_size).any():
            skipped.append(name)
            continue
        pooled[name] = pool_rates(x, n, keys, columns, level)
    if not pooled:
        return {}, Pooling(
            reason=f"not pooled: pooling needs at least {MIN_POOLED_GROUPS} groups with rows for a metric and one "
            f"of them under {min_group_size} rows"
        )
    first = next(iter(pooled.values()))
    reason = (
        f"{', '.join(skipped)} not pooled: fewer than {MIN_POOLED_GROUPS} groups with rows, or none under "
        f"{min_group_size}"
        if skipped
        else ""
    )
    return pooled, Pooling(
        metrics=tuple(pooled),
        prior=first.prior,
        method=POOLING_METHOD,
        strength={name: rates.strength for name, rates in pooled.items()},
        reason=reason,
    )


def _no_interval_reasons(
    data: dict[str, MetricData],
    values: dict[str, float | None],
    intervals: dict[str, tuple[list[Interval | None], Interval | None]],
    g: int,
    small: bool,
    min_group_size: int,
    bootstrapped: bool,
    weighted: bool,
) -> dict[str, str]:
    """Why a metric with a value has no interval in group ``g``: never a bare number."""
    reasons = {}
    for name, metric in data.items():
        if values[name] is None or name == "count" or (name in intervals and intervals[name][0][g] is not None):
            continue
        if not small and not bootstrapped:
            reasons[name] = "no interval: the bootstrap is off (n_boot = 0), which this metric's interval needs"
        elif small and weighted and metric.spec.needs_scores:
            reasons[name] = (
                f"no interval for weighted data under {min_group_size} rows: the small-sample methods for score "
                "metrics assume unweighted rows, and the bootstrap under-covers there"
            )
        elif small:
            reasons[name] = (
                f"no interval under {min_group_size} rows: no small-sample method is implemented for this metric, "
                "and the percentile bootstrap under-covers there"
            )
        else:
            reasons[name] = "no interval: the resamples never had a value for this group"
    return reasons


_Pair = tuple[np.ndarray, np.ndarray]


def _proportion_counts(
    spec: GroupMetric, entry: dict[str, Any], unweighted: dict[str, np.ndarray] | None, weighted: bool
) -> tuple[_Pair | None, _Pair | None, _Pair | None]:
    """(successes, trials) per group and overall for intervals, and unweighted ones for tests, or Nones."""
    if spec.proportion is None or unweighted is None:
        return None, None, None
    numerator, denominator = spec.proportion
    if any(k not in unweighted for k in numerator + denominator):
        return None, None, None
    x = np.asarray(functools.reduce(operator.add, (np.asarray(unweighted[k], float) for k in numerator)))
    n = np.asarray(functools.reduce(operator.add, (np.asarray(unweighted[k], float) for k in denominator)))
    tests = (x, n)
    if weighted:
        if entry.get("counts") is None:
            return None, None, tests
        counts, overall_counts = entry["counts"]
        return counts, overall_counts, tests
    return (x, n), (np.array([x.sum()]), np.array([n.sum()])), tests
