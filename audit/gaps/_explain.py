"""``explain_gaps``: each fairness table's largest gap, split over the model's inputs, with proxies and a check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from audit.config._settings import GapsConfig
from audit.fairness._comparisons import comparison_flagged
from audit.fairness._counts import encode_groups
from audit.fairness._types import FairnessTable
from audit.gaps._fast import FastPaths, ModelForm
from audit.gaps._decompose import PairedRows, couple, pair_contributions, single_swaps, two_sample_bootstrap
from audit.gaps._proxies import JointModel, attribute_nmi, binned, proxy_auc
from audit.result._gap_sections import GapCheck, GapExplanation, GapFeature, GapReport, JointProxy
from explainers._stats import interval_or_none

__all__ = ["ModelOutputs", "explain_gaps", "METHOD"]

METHOD = (
    "Shapley decomposition over the model's inputs of the gap between a group and its comparison group: the "
    "groups' rows are paired (a transport plan with the groups' exact weights), each pair's hybrid row takes "
    "the comparison row's values feature by feature in random orders (with their reverses), and each change "
    "of the model's outcome is credited to the feature handed over; contributions add up to the gap exactly. "
    "Intervals: two-sample bootstrap (each group's rows resampled, each row with its pairs)."
)

# metric -> (the rows it counts: None, "positive" or "negative" labels; the outcome it averages; 1 - outcome?)
_SPECS = {
    "selection_rate": (None, "decision", False),
    "negative_rate": (None, "decision", True),
    "tpr": ("positive", "decision", False),
    "fnr": ("positive", "decision", True),
    "fpr": ("negative", "decision", False),
    "tnr": ("negative", "decision", True),
    "mean_score": (None, "score", False),
    "mean_prediction": (None, "value", False),
}


@dataclass(frozen=True)
class ModelOutputs:
    """What the audit measured per row (``measured``: "decision", "score" or "value"), and the model to ask again
    (``rescore(kind, features)``) about the hybrid rows."""

    measured: dict[str, np.ndarray]
    rescore: Callable[[str, pd.DataFrame], np.ndarray]
    form: ModelForm | None = None  # what the exact fast paths read (audit.gaps._fast); None: ask the model


def default_metrics(task: str, favourable: str) -> tuple[str, ...]:
    if task == "regression":
        return ("mean_prediction",)
    return ("negative_rate" if favourable == "negative" else "selection_rate", "tpr", "fpr")


def explain_gaps(
    tables: list[FairnessTable],
    *,
    features: pd.DataFrame,
    y_true: np.ndarray,
    sensitive: pd.DataFrame,
    task: str,
    favourable: str,
    outputs: ModelOutputs,
    settings: GapsConfig,
    ratio_threshold: float,
    alpha: float,
    ci_level: float,
    seed: int,
    threads: int = 1,
) -> GapReport:
    """For each table (``settings.tables``) and metric, the gap between the worst group with enough rows and the
    benchmark group (the fairness table's own pair), decomposed over ``features``' columns."""
    metrics = (
        default_metrics(task, favourable)
        if settings.metrics is None
        else tuple(
            ("negative_rate" if favourable == "negative" else "selection_rate") if m == "favourable_rate" else m
            for m in settings.metrics
        )
    )
    explanations, not_explained = [], []
    proxies = _ProxyCache(features, sensitive, seed)
    fast = FastPaths(outputs.form, features, threads=threads)
    evaluation: dict[str, str] = {}  # gap -> the path that computed its hybrids' outcomes
    for table_index, table in enumerate(tables):
        if settings.tables is not None and table.name not in settings.tables:
            continue
        groups = _Groups(sensitive, table.sensitive_features)
        for metric_index, metric in enumerate(dict.fromkeys(metrics)):
            reason = _unexplainable(table, metric, outputs)
            if reason:
                not_explained.append({"table": table.name, "metric": metric, "reason": reason})
                continue
            rng = np.random.default_rng([seed, table_index, metric_index])
            explanation, path = _explain_one(
                table,
                metric,
                groups,
                features=features,
                y_true=y_true,
                outputs=outputs,
                settings=settings,
                proxies=proxies,
                rng=rng,
                ratio_threshold=ratio_threshold,
                alpha=alpha,
                ci_level=ci_level,
                fast=fast,
            )
            explanations.append(explanation)
            evaluation[f"{table.name}: {metric}"] = path
    return GapReport(
        explanations=explanations,
        method=METHOD,
        not_explained=not_explained,
        settings={
            "n_boot": settings.n_boot,
            "orders": settings.orders,
            "proxy_auc": settings.proxy_auc,
            "proxy_share": settings.proxy_share,
            "random_features": settings.random_features,
            "joint_min_share": settings.joint_min_share,
            "ci_level": ci_level,
            "seed": seed,
            "evaluation": evaluation,
        },
    )


def _unexplainable(table: FairnessTable, metric: str, outputs: ModelOutputs) -> str:
    if table.weighted:  # the pairs carry equal row weights; a weighted table's gap would not be theirs
        return "the table is weighted by sample weights, which gap explanations do not take in this version"
    if metric not in table.metrics:
        return f"{metric} is not among this table's metrics (add it to fairness.metrics)"
    disparity = table.disparities_reliable.get(metric)
    if disparity is None or disparity.worst_to_benchmark is None or disparity.benchmark_group is None:
        return f"no group of {table.name} with {table.min_group_size}+ rows for {metric} differs from a benchmark"
    if disparity.worst_to_benchmark == disparity.benchmark_group:
        return "the worst group is the benchmark: there is no gap to explain"
    kind = _SPECS[metric][1]
    if kind not in outputs.measured:
        return f"the model gives no {kind}s"
    return ""


class _Groups:
    """Each row's group of one table as an integer code (the fairness engine's own encoding), by the tables' names."""

    def __init__(self, sensitive: pd.DataFrame, columns: tuple[str, ...]) -> None:
        self.codes, keys = encode_groups(sensitive[list(columns)])
        self._index = {", ".join(f"{c}={v}" for c, v in zip(columns, key)): i for i, key in enumerate(keys)}

    def rows(self, name: str) -> np.ndarray:
        """A mask of the rows of group ``name`` ("sex=Female, race=Black")."""
        return self.codes == self._index[name]


def _explain_one(
    table: FairnessTable,
    metric: str,
    groups: _Groups,
    *,
    features: pd.DataFrame,
    y_true: np.ndarray,
    outputs: ModelOutputs,
    settings: GapsConfig,
    proxies: "_ProxyCache",
    rng: np.random.Generator,
    ratio_threshold: float,
    alpha: float,
    ci_level: float,
    fast: FastPaths,
) -> tuple[GapExplanation, str]:
    disparity = table.disparities_reliable[metric]
    group, other = disparity.worst_to_benchmark, disparity.benchmark_group
    scope, kind, flip = _SPECS[metric]
    counted = np.ones(len(y_true), bool) if scope is None else (y_true.astype(bool) == (scope == "positive"))
    group_rows = np.flatnonzero(groups.rows(group) & counted)
    other_rows = np.flatnonzero(groups.rows(other) & counted)
    measured = outputs.measured[kind].astype(float)
    measured = 1 - measured if flip else measured

    def outcome(frame: pd.DataFrame) -> np.ndarray:
        values = np.asarray(outputs.rescore(kind, frame), dtype=float)
        return 1 - values if flip else values

    coupling = couple(np.ones(len(group_rows)), np.ones(len(other_rows)), rng)
    pairs = PairedRows(
        features.iloc[group_rows].reset_index(drop=True),
        features.iloc[other_rows].reset_index(drop=True),
        coupling,
        outcome,
        group_outcomes=measured[group_rows],
        other_outcomes=measured[other_rows],
    )
    pairs.fast, why_not = fast.for_gap(
        kind,
        flip,
        group_rows[coupling.group_rows],
        other_rows[coupling.other_rows],
        pairs.ask_model,
        (pairs.start, pairs.end),
    )
    # credits move the outcome from A's to B's; the gap is A's minus B's, so each feature's part is minus its credit
    parts = -pair_contributions(pairs, orders=settings.orders, rng=rng)
    path = pairs.fast.name if pairs.fast is not None else f"model ({why_not or pairs.fast_failure})"
    pair_gap = pairs.start - pairs.end
    contributions = coupling.weights @ parts
    gap = float(coupling.weights @ pair_gap)
    columns = list(features.columns)
    top = _top_contributor(columns, contributions, gap)
    others = [c for c in columns if c != top]
    randoms = list(rng.choice(others, size=min(settings.random_features, len(others)), replace=False)) if others else []
    swaps = single_swaps(pairs, [top, *randoms]) if top else {}
    # per pair and checked feature: the part of the gap the feature carries at each end of the orders, averaged
    closing = (
        np.stack([_carried(pairs.start, pairs.end, *swaps[name]) for name in [top, *randoms]], axis=1)
        if top
        else np.empty((len(coupling), 0, 2))
    )
    ends = coupling.weights @ closing.reshape(len(coupling), -1) if top else None
    closing = closing.mean(axis=2)
    stacked = np.column_stack([parts, pair_gap, closing])
    boot = (
        two_sample_bootstrap(
            coupling, stacked, group_size=len(group_rows), other_size=len(other_rows), n_boot=settings.n_boot, rng=rng
        )
        if settings.n_boot
        else None
    )
    value, compared = table.group(group).values[metric], table.group(other).values[metric]
    gap_ci = _interval(boot, len(columns), ci_level)
    shares_defined = gap_away_from_zero(gap, gap_ci)
    rows = _feature_rows(
        columns,
        contributions,
        gap if shares_defined else 0.0,
        boot,
        table,
        group,
        other,
        groups,
        proxies,
        settings,
        ci_level,
    )
    check = (
        _check(top, randoms, coupling.weights @ closing, ends, gap, boot, len(columns), ci_level)
        if (top and shares_defined)
        else None
    )
    joint = (
        _joint_proxy(columns, contributions, gap, boot, table, group, other, groups, proxies, settings, ci_level, rows)
        if shares_defined
        else None
    )
    return GapExplanation(
        table=table.name,
        metric=metric,
        group=group,
        compared_with=other,
        value=float(value),
        compared_value=float(compared),
        gap=gap,
        gap_ci=gap_ci,
        flagged=comparison_flagged(disparity.to_benchmark.get(group), ratio_threshold=ratio_threshold, alpha=alpha),
        rows=len(group_rows),
        compared_rows=len(other_rows),
        pairs=len(coupling),
        orders=settings.orders,
        additivity_error=float(abs(contributions.sum() - (value - compared))),
        features=sorted(rows, key=lambda r: -abs(r.contribution)),
        check=check,
        note=_note(table, columns, gap_ci, shares_defined),
        joint_proxy=joint,
    ), path


def gap_away_from_zero(gap: float, gap_ci: list[float] | None) -> bool:
    """Whether a share of the gap is a quantity: the gap is not 0 and, where it has an interval, the interval
    excludes 0. A gap whose resamples cross zero makes ``contribution / gap`` swing through infinity, so its
    contributions are reported in the metric's own units only."""
    if gap == 0 or not np.isfinite(gap):
        return False
    return gap_ci is None or gap_ci[0] > 0 or gap_ci[1] < 0


def _top_contributor(columns: list[str], contributions: np.ndarray, gap: float) -> str | None:
    """The feature carrying the most of the gap in its direction (None when the gap is 0)."""
    if gap == 0 or not columns:
        return None
    return columns[int(np.argmax(contributions * np.sign(gap)))]


def _interval(boot: np.ndarray | None, column: int, level: float, divide_by: int | None = None):
    """A bootstrap percentile interval; of a ratio, only over resamples whose denominator keeps the gap's sign
    (the caller gives ratios only for gaps whose interval excludes 0), and None unless both ends are finite."""
    if boot is None:
        return None
    samples = boot[:, column]
    if divide_by is not None:
        denominator = boot[:, divide_by]
        sign = np.sign(np.median(denominator))
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = np.where(np.sign(denominator) == sign, samples / denominator, np.nan)
    return _finite(interval_or_none(samples, level))


def _feature_rows(columns, contributions, gap, boot, table, group, other, groups, proxies, settings, ci_level):
    rows = []
    for index, name in enumerate(columns):
        share = float(contributions[index] / gap) if gap != 0 else None
        auc = proxies.auc(name, groups, group, other)
        nmi = proxies.nmi(name, table.name, groups)
        score = None if share is None or auc is None else (2 * auc - 1) * max(share, 0.0)
        if name in table.sensitive_features:
            role = "direct"
        elif share is not None and auc is not None and auc >= settings.proxy_auc and share >= settings.proxy_share:
            role = "proxy"
        else:
            role = "other"
        rows.append(
            GapFeature(
                feature=name,
                contribution=float(contributions[index]),
                contribution_ci=_interval(boot, index, ci_level),
                share=share,
                share_ci=_interval(boot, index, ci_level, divide_by=len(columns)) if share is not None else None,
                proxy_auc=auc,
                nmi=nmi,
                proxy_score=score,
                role=role,
            )
        )
    return rows


JOINT_MIN_GAIN = 0.01  # a feature stays in a joint proxy when shuffling it lowers the joint AUC this much


def _joint_proxy(
    columns, contributions, gap, boot, table, group, other, groups, proxies, settings, ci_level, rows
) -> JointProxy | None:
    """The inputs that stand in for the attribute together, and the part of the gap they carry.

    Candidates: every input but the protected attribute carrying at least ``joint_min_share`` of the gap. Kept:
    those that identify the group alone (a single-input AUC of at least ``proxy_auc``) or add to what the other
    inputs tell (shuffling it lowers the inputs' joint AUC by ``JOINT_MIN_GAIN``), so that an input carrying the
    gap for its own reasons (capital gains beside relationship, for sex) is not counted as a proxy. Their summed
    parts with a bootstrap interval, and their joint AUC (a classifier fitted on them alone)."""
    single = {r.feature: r.proxy_auc for r in rows}
    candidates = [
        i
        for i, name in enumerate(columns)
        if name not in table.sensitive_features and contributions[i] / gap >= settings.joint_min_share
    ]
    if len(candidates) < 2:
        return None
    model = proxies.joint_model(
        tuple(name for name in columns if name not in table.sensitive_features), groups, group, other
    )
    position = {name: j for j, name in enumerate(model.names)}
    members = [
        i
        for i in candidates
        if model.drops[position[columns[i]]] >= JOINT_MIN_GAIN or (single[columns[i]] or 0.0) >= settings.proxy_auc
    ]
    if len(members) < 2:
        return None
    auc = proxies.joint_model(tuple(columns[i] for i in members), groups, group, other, importance=False).auc
    if not np.isfinite(auc):
        return None
    names = [columns[i] for i in members]
    contribution = float(contributions[members].sum())
    share = contribution / gap
    contribution_ci = share_ci = None
    if boot is not None:
        summed = boot[:, members].sum(axis=1, keepdims=True)
        with_gap = np.column_stack([summed, boot[:, len(columns)]])
        contribution_ci = _interval(with_gap, 0, ci_level)
        share_ci = _interval(with_gap, 0, ci_level, divide_by=1)
    alone = [single[name] for name in names if single[name] is not None]
    role = "proxy" if auc >= settings.proxy_auc and share >= settings.proxy_share else "other"
    return JointProxy(
        features=names,
        contribution=contribution,
        contribution_ci=contribution_ci,
        share=float(share),
        share_ci=share_ci,
        proxy_auc=auc,
        strongest_single_auc=max(alone) if alone else None,
        role=role,
    )


def _carried(start: np.ndarray, end: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """(pairs, 2): the gap a feature carries when handed over first (A's outcome minus A's row with B's value) and
    last (B's row with A's value minus B's outcome)."""
    return np.column_stack([start - first, last - end])


def _check(
    top: str,
    randoms: list[str],
    closed_totals: np.ndarray,
    ends: np.ndarray,
    gap: float,
    boot,
    width: int,
    ci_level: float,
) -> GapCheck:
    closed = closed_totals / gap
    closed_random = float(closed[1:].mean()) if randoms else None
    margin_ci = closed_ci = None
    if boot is not None:
        denominator = boot[:, width]
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(
                (np.sign(denominator) == np.sign(gap))[:, None], boot[:, width + 1 :] / denominator[:, None], np.nan
            )
        closed_ci = _finite(interval_or_none(shares[:, 0], ci_level))
        if randoms:
            margin_ci = _finite(interval_or_none(shares[:, 0] - shares[:, 1:].mean(axis=1), ci_level))
    margin = None if closed_random is None else float(closed[0] - closed_random)
    return GapCheck(
        feature=top,
        closed=float(closed[0]),
        closed_ci=closed_ci,
        closed_first=float(ends[0] / gap),
        closed_last=float(ends[1] / gap),
        closed_random=closed_random,
        margin=margin,
        margin_ci=margin_ci,
        random_features=[str(r) for r in randoms],
        passed=None if margin is None else margin > 0,
    )


def _finite(interval: list[float] | None) -> list[float] | None:
    return interval if interval is not None and np.all(np.isfinite(interval)) else None


def _note(table: FairnessTable, columns: list[str], gap_ci: list[float] | None, shares_defined: bool) -> str:
    inputs = [name for name in table.sensitive_features if name in columns]
    absent = [name for name in table.sensitive_features if name not in columns]
    parts = []
    if inputs:
        parts.append(f"The model takes {' and '.join(inputs)} as input: its own part of the gap is direct.")
    if absent:
        parts.append(f"The model does not take {' or '.join(absent)}: its part of the gap runs through other inputs.")
    if not shares_defined:
        where = f"its interval [{gap_ci[0]:.3f}, {gap_ci[1]:.3f}] includes 0" if gap_ci is not None else "it is 0"
        parts.append(
            f"No shares of this gap and no check: {where}, so a share (contribution / gap) has no stable "
            "value; read each contribution in the metric's own units, with its interval."
        )
    return " ".join(parts)


class _ProxyCache:
    """Binned features (once per audit), AUCs per pair of groups and NMIs per table (once each)."""

    def __init__(self, features: pd.DataFrame, sensitive: pd.DataFrame, seed: int) -> None:
        self._features, self._seed = features, seed
        self._codes: dict[str, np.ndarray] = {}
        self._aucs: dict[tuple, float | None] = {}
        self._joint: dict[tuple, "_NamedJoint"] = {}
        self._nmis: dict[tuple, float | None] = {}

    def codes(self, name: str) -> np.ndarray:
        if name not in self._codes:
            self._codes[name] = binned(self._features[name])
        return self._codes[name]

    def auc(self, name: str, groups: _Groups, group: str, other: str) -> float | None:
        key = (name, group, other)
        if key not in self._aucs:
            member = groups.rows(group)
            both = member | groups.rows(other)
            folds = np.random.default_rng(self._seed).permutation(int(both.sum())) % 2
            value = proxy_auc(self.codes(name)[both], member[both], folds)
            self._aucs[key] = value if np.isfinite(value) else None
        return self._aucs[key]

    def joint_model(
        self, names: tuple[str, ...], groups: _Groups, group: str, other: str, *, importance: bool = True
    ) -> "_NamedJoint":
        """The inputs ``names`` judged together for a pair of groups, fitted once per inputs and pair (either
        order: the AUC of telling A from B is that of telling B from A)."""
        first, second = sorted((group, other))
        key = (names, first, second)
        if key not in self._joint:
            member = groups.rows(first)
            both = member | groups.rows(second)
            folds = np.random.default_rng(self._seed).permutation(int(both.sum())) % 2
            codes = np.column_stack([self.codes(name)[both] for name in names])
            self._joint[key] = _NamedJoint(
                names, JointModel(codes, member[both], folds, seed=self._seed, importance=importance)
            )
        return self._joint[key]

    def nmi(self, name: str, table: str, groups: _Groups) -> float | None:
        key = (name, table)
        if key not in self._nmis:
            self._nmis[key] = attribute_nmi(self.codes(name), groups.codes)
        return self._nmis[key]


class _NamedJoint:
    """A JointModel's AUC and permutation importances, with its inputs' names."""

    def __init__(self, names: tuple[str, ...], model: JointModel) -> None:
        self.names, self.auc, self.drops = list(names), model.auc, model.drops
