"""The mitigation frontier: what fixing a gap costs, chosen on one half of the rows and measured on the other.

1. The rows are split at random (seeded) into a fit half and an evaluation half.
2. On the fit half, for each tolerance, ``_solve`` finds the best group-specific randomised thresholds; beside
   them, the best single threshold for everybody (group-blind: it does not use the group at decision time)
   that meets the same tolerance on the fit half.
3. Every rule, and the current model (one threshold), is measured on the evaluation half: accuracy, the
   constraint's value, and the cost (current accuracy minus the rule's). The evaluation half is resampled
   ``n_boot`` times (a multinomial over (group, class, score interval) cells: the row bootstrap, exactly in
   distribution) for percentile intervals; the cost's interval is paired (the same resample for both).

The intervals are those of the chosen rules' performance on new rows like the evaluation half; the choice of
rules on the fit half is not resampled.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from audit._errors import DataError
from audit.mitigation._roc import group_roc
from audit.mitigation._reach import GroupRates, reach, tighten
from audit.mitigation._solve import CONSTRAINTS, ThresholdRule, solve
from audit.result._sections import MitigationFrontier, MitigationPoint, MitigationReport

__all__ = ["frontier", "mitigation_report", "not_applicable", "DEFAULT_TOLERANCES", "LEGAL_NOTE"]

DEFAULT_TOLERANCES = {
    "demographic_parity": (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2),
    "impact_ratio": (1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5),
    "equal_opportunity": (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2),
    "equalized_odds": (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2),
}
WORDS = {
    "demographic_parity": "largest difference in selection rates",
    "impact_ratio": "impact ratio (lowest favourable rate over the highest)",
    "equal_opportunity": "largest difference in TPR",
    "equalized_odds": "largest difference in TPR or FPR",
}


def frontier(
    *,
    scores,
    y_true,
    groups,
    constraint: str,
    threshold: float,
    favourable: str = "positive",
    tolerances=None,
    n_boot: int = 200,
    ci_level: float = 0.95,
    seed: int = 0,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
    sensitive: str = "group",
    min_group_size: int = 0,
    reach_target: float = 0.9,
) -> MitigationFrontier:
    """``min_group_size``: groups with fewer rows in either half are not bound by the constraint, nor counted in
    its value (as with the fairness tables' benchmark); they keep their own best thresholds. ``reach_target``: the
    chance, estimated on the fit half, that a fix reaches its tolerance held out (0.5: solve at the tolerance
    itself)."""
    if constraint not in CONSTRAINTS:
        raise DataError(f"The constraint must be one of {CONSTRAINTS}. Got {constraint!r} instead.")
    scores = np.asarray(scores, float)
    y = np.asarray(y_true, bool)
    groups = np.asarray(groups).astype(str)
    names = sorted({str(g) for g in groups})
    if len(names) < 2:
        raise DataError(f"A mitigation frontier needs at least two groups of {sensitive!r}; got {names}.")
    fit = _fit_half(len(y), seed)
    codes = np.searchsorted(names, groups)
    rocs = [group_roc(scores[fit & (codes == g)], y[fit & (codes == g)]) for g in range(len(names))]
    tolerances = DEFAULT_TOLERANCES[constraint] if tolerances is None else tuple(tolerances)
    bound = _bound(codes, fit, len(names), min_group_size)
    if bound.sum() < 2:
        raise DataError(f"A mitigation frontier of {sensitive!r}: {_too_few(names, codes, min_group_size)}.")
    common = dict(favourable=favourable, cost_fp=cost_fp, cost_fn=cost_fn, constrained=bound.tolist())
    counts = (np.array([r.positives for r in rocs])[bound], np.array([r.negatives for r in rocs])[bound])
    reaching = _Reaching(constraint, favourable, bound, counts, reach_target)
    rules = {("fix", t): reaching.solve(rocs, names, t, common) for t in tolerances}
    rules[("fix", None)] = _Chosen(solve(rocs, names, constraint=constraint, tolerance=None, **common))
    current = ThresholdRule(
        groups=names,
        thresholds=[np.array([threshold])] * len(names),
        weights=[np.array([1.0])] * len(names),
        objective=np.nan,
    )
    blind = _group_blind(scores[fit], y[fit], codes[fit], names, tolerances, reaching)
    measured = _Measure(
        scores[~fit],
        y[~fit],
        codes[~fit],
        len(names),
        constraint,
        favourable,
        bound,
        [c.rule for c in [_Chosen(current), *rules.values(), *blind.values()] if c.rule is not None],
        n_boot=n_boot,
        seed=seed,
    )
    base = measured.of(current)
    level = (1 - ci_level) / 2

    def point(tolerance, chosen: _Chosen, uses_group):
        rule = chosen.rule
        if rule is None:
            return MitigationPoint(tolerance=tolerance, feasible=False, uses_group=uses_group)
        accuracy, value = measured.of(rule)
        coin_flips = measured.randomised(rule)
        return MitigationPoint(
            tolerance=tolerance,
            feasible=True,
            uses_group=uses_group,
            fit_accuracy=None if np.isnan(rule.objective) else rule.objective,
            accuracy=float(accuracy[0]),
            accuracy_ci=_interval(accuracy[1:], level),
            constraint_value=_finite(value[0]),
            constraint_ci=_interval(value[1:], level),
            cost=float(base[0][0] - accuracy[0]),
            cost_ci=_interval(base[0][1:] - accuracy[1:], level),
            thresholds={
                name: [[_threshold_text(t), float(w)] for t, w in zip(ts, ws)]
                for name, ts, ws in zip(rule.groups, rule.thresholds, rule.weights)
            },
            reached=None if tolerance is None else bool(_meets(value[0], tolerance, constraint)),
            fit_target=chosen.fit_target,
            reach=chosen.chance,
            randomised_share=float(coin_flips[0]),
            randomised_share_ci=_interval(coin_flips[1:], level),
        )

    return MitigationFrontier(
        constraint=constraint,
        words=WORDS[constraint],
        sensitive=sensitive,
        groups=names,
        favourable=favourable,
        constrained_groups=[name for name, ok in zip(names, bound) if ok],
        min_group_size=min_group_size,
        current=point(None, _Chosen(current), False),
        frontier=[point(t, rules[("fix", t)], True) for t in (*tolerances, None)],
        group_blind=[point(t, blind.get(t, _Chosen(None)), False) for t in tolerances],
        fit_rows=int(fit.sum()),
        eval_rows=int((~fit).sum()),
        n_boot=n_boot,
        reach_target=reach_target,
    )


class _Chosen(NamedTuple):
    """A rule chosen on the fit half (None: none meets the tolerance), the tolerance it was solved for, and its
    estimated chance of meeting the tolerance held out."""

    rule: ThresholdRule | None
    fit_target: float | None = None
    chance: float | None = None


def _meets(value, tolerance: float, constraint: str):
    """Whether a constraint value (or an array of them) meets the tolerance; undefined values do not."""
    value = np.asarray(value, float)
    meets = value >= tolerance - 1e-12 if constraint == "impact_ratio" else value <= tolerance + 1e-12
    return meets & np.isfinite(value)


class _Reaching:
    """Solves for a tolerance so that the rule reaches it held out with the target chance (``_reach``): solve at
    the tolerance, tighten by the rule's standard errors, solve again; twice, as the errors move with the rule.
    Where no tightened rule reaches the target chance (a tolerance at parity, too few rows), the rule with the
    best chance is kept and that lower chance is what the result records."""

    def __init__(self, constraint, favourable, bound, counts, target):
        self.constraint, self.favourable, self.bound, self.counts, self.target = (
            constraint,
            favourable,
            np.asarray(bound, bool),
            counts,
            target,
        )

    def rates(self, fpr: np.ndarray, tpr: np.ndarray) -> GroupRates:
        return GroupRates(tpr=tpr[self.bound], fpr=fpr[self.bound], positives=self.counts[0], negatives=self.counts[1])

    def chance(self, rates: GroupRates, tolerance: float) -> np.ndarray:
        return reach(rates, constraint=self.constraint, favourable=self.favourable, tolerance=tolerance)

    def solve(self, rocs, names, tolerance, common):
        kwargs = dict(constraint=self.constraint, **common)
        rule = solve(rocs, names, tolerance=tolerance, **kwargs)
        if rule is None:
            return _Chosen(None)
        best = _Chosen(rule, tolerance, float(self.chance(self.rates(rule.fpr, rule.tpr), tolerance)))
        if self.target <= 0.5:
            return best
        current = rule
        for _ in range(2):
            if best.chance >= self.target:
                break
            target = tighten(
                self.rates(current.fpr, current.tpr),
                constraint=self.constraint,
                favourable=self.favourable,
                tolerance=tolerance,
                target=self.target,
            )
            tighter = solve(rocs, names, tolerance=target, **kwargs)
            if tighter is None:
                break
            current = tighter
            chance = float(self.chance(self.rates(tighter.fpr, tighter.tpr), tolerance))
            if chance > best.chance:
                best = _Chosen(tighter, target, chance)
        return best


def _fit_half(rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 11]).random(rows) < 0.5


def not_applicable(groups, *, min_group_size: int, seed: int) -> str | None:
    """Why a frontier cannot be drawn for these groups (fewer than two with ``min_group_size`` rows in each
    half), or None."""
    groups = np.asarray(groups).astype(str)
    names, codes = np.unique(groups, return_inverse=True)
    if _bound(codes, _fit_half(len(groups), seed), len(names), min_group_size).sum() >= 2:
        return None
    return _too_few(names.tolist(), codes, min_group_size)


def _bound(codes: np.ndarray, fit: np.ndarray, n_groups: int, min_group_size: int) -> np.ndarray:
    """The groups the constraint binds: those with ``min_group_size`` rows (at least one) in each half."""
    in_fit, in_eval = np.bincount(codes[fit], minlength=n_groups), np.bincount(codes[~fit], minlength=n_groups)
    return np.minimum(in_fit, in_eval) >= max(min_group_size, 1)


def _too_few(names: list[str], codes: np.ndarray, min_group_size: int) -> str:
    sizes = dict(zip(names, np.bincount(codes, minlength=len(names)).tolist()))
    return (
        f"fewer than two groups have {min_group_size}+ rows in each half of the data (groups: {sizes}); "
        "a frontier between them would rest on too few rows"
    )


def _threshold_text(value: float):
    """+inf selects nobody, -inf everybody: JSON has no infinity, so they are written as words."""
    if value == np.inf:
        return "none"
    if value == -np.inf:
        return "all"
    return float(value)


def _finite(value) -> float | None:
    return float(value) if np.isfinite(value) else None


def _interval(draws: np.ndarray, level: float) -> list[float] | None:
    draws = draws[np.isfinite(draws)]
    if len(draws) < 2:
        return None
    low, high = np.quantile(draws, [level, 1 - level])
    return [float(low), float(high)]


def _group_blind(scores, y, codes, names, tolerances, reaching: _Reaching) -> dict:
    """The most accurate single threshold (on the fit half) meeting each tolerance with the target chance of
    reaching it held out (where none does: the most accurate meeting it on the fit half): candidates at 200 score
    quantiles."""
    candidates = np.unique(np.quantile(scores, np.linspace(0, 1, 201)))
    tp, fp, positives, negatives = _counts_at(scores, y, codes, len(names), candidates)
    accuracy, value = _summarise(
        tp, fp, positives[:, None], negatives[:, None], reaching.constraint, reaching.favourable, reaching.bound
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = reaching.rates(fp / negatives[:, None], tp / positives[:, None])
    chosen = {}
    for tolerance in tolerances:
        ok = _meets(value, tolerance, reaching.constraint)
        if not ok.any():
            continue
        chance = reaching.chance(rates, tolerance)
        sure = ok & (chance >= reaching.target)
        pick = sure if sure.any() else ok
        best = int(np.flatnonzero(pick)[np.argmax(accuracy[pick])])
        rule = ThresholdRule(
            groups=names,
            thresholds=[np.array([candidates[best]])] * len(names),
            weights=[np.array([1.0])] * len(names),
            objective=float(accuracy[best]),
        )
        chosen[tolerance] = _Chosen(rule, None, float(chance[best]))
    return chosen


def _counts_at(scores, y, codes, n_groups, thresholds):
    tp = np.zeros((n_groups, len(thresholds)))
    fp = np.zeros_like(tp)
    positives, negatives = np.zeros(n_groups), np.zeros(n_groups)
    for g in range(n_groups):
        mine = codes == g
        pos, neg = np.sort(scores[mine & y]), np.sort(scores[mine & ~y])
        tp[g] = len(pos) - np.searchsorted(pos, thresholds, side="left")
        fp[g] = len(neg) - np.searchsorted(neg, thresholds, side="left")
        positives[g], negatives[g] = len(pos), len(neg)
    return tp, fp, positives, negatives


def _summarise(tp, fp, positives, negatives, constraint, favourable, bound):
    """Accuracy (every group) and the constraint's value (the ``bound`` groups) from per-group expected counts
    (groups on axis 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        total = (positives + negatives).sum(0)
        accuracy = (tp + negatives - fp).sum(0) / total
        size = positives + negatives
        rate = (tp + fp) / size
        if favourable == "negative":
            rate = 1 - rate
        tpr, fpr = tp / positives, fp / negatives
        bound = np.asarray(bound, bool)
        rate, tpr, fpr = rate[bound], tpr[bound], fpr[bound]
        if constraint == "impact_ratio":
            value = np.nanmin(rate, 0) / np.nanmax(rate, 0)
        elif constraint == "demographic_parity":
            value = np.nanmax(rate, 0) - np.nanmin(rate, 0)
        elif constraint == "equal_opportunity":
            value = np.nanmax(tpr, 0) - np.nanmin(tpr, 0)
        else:
            value = np.maximum(np.nanmax(tpr, 0) - np.nanmin(tpr, 0), np.nanmax(fpr, 0) - np.nanmin(fpr, 0))
    return accuracy, value


class _Measure:
    """Rules measured on the evaluation rows, and on ``n_boot`` multinomial resamples of them: counts per
    (group, class, interval between the rules' thresholds) cell, so a resample costs one multinomial draw."""

    def __init__(self, scores, y, codes, n_groups, constraint, favourable, bound, rules, *, n_boot, seed):
        cuts = np.unique(np.concatenate([t for rule in rules for t in rule.thresholds]))
        cuts = cuts[np.isfinite(cuts)]
        self.cuts = cuts  # ascending; a row's bin = how many cuts lie at or below its score
        bins = np.searchsorted(cuts, scores, side="right")
        k = len(cuts) + 1
        cell = (codes * 2 + y.astype(int)) * k + bins
        counts = np.bincount(cell, minlength=n_groups * 2 * k).astype(float)
        draws = [counts]
        if n_boot:
            rng = np.random.default_rng([seed, 13])
            draws += list(rng.multinomial(int(counts.sum()), counts / counts.sum(), size=n_boot))
        table = np.array(draws).reshape(len(draws), n_groups, 2, k)
        # rows at or above cut j: bins j+1 .. k-1 (bin b holds scores in [cuts[b-1], cuts[b]))
        self.at_least = np.concatenate(
            [np.cumsum(table[..., ::-1], -1)[..., ::-1], np.zeros(table.shape[:-1] + (1,))], -1
        )
        self.totals = table.sum(-1)
        self.constraint, self.favourable, self.bound = constraint, favourable, bound

    def _count(self, threshold: float) -> np.ndarray:
        """Rows (draws x groups x classes) with score >= threshold."""
        if threshold == np.inf:
            return np.zeros(self.totals.shape)
        if threshold == -np.inf:
            return self.totals
        index = int(np.searchsorted(self.cuts, threshold, side="left")) + 1
        return self.at_least[..., index]

    def of(self, rule: ThresholdRule) -> tuple[np.ndarray, np.ndarray]:
        """(accuracy, constraint value) on the evaluation half [0] and each resample [1:]."""
        selected = np.zeros(self.totals.shape)
        for g, (ts, ws) in enumerate(zip(rule.thresholds, rule.weights)):
            selected[:, g] = sum(w * self._count(t)[:, g] for t, w in zip(ts, ws))
        tp, fp = selected[..., 1].T, selected[..., 0].T
        return _summarise(
            tp, fp, self.totals[..., 1].T, self.totals[..., 0].T, self.constraint, self.favourable, self.bound
        )

    def randomised(self, rule: ThresholdRule) -> np.ndarray:
        """The share of rows whose decision is a coin flip (a score between a group's lowest and highest
        threshold), on the evaluation half [0] and each resample [1:]."""
        flips = np.zeros(self.totals.shape[0])
        for g, ts in enumerate(rule.thresholds):
            if len(ts) > 1:
                flips += (self._count(float(np.min(ts))) - self._count(float(np.max(ts))))[:, g].sum(-1)
        return flips / self.totals.sum((1, 2))


LEGAL_NOTE = (
    "Group-specific thresholds use the protected attribute at decision time. That is unlawful in some "
    "settings: in US employment tests, adjusting scores or cut-offs by race, color, religion, sex or "
    "national origin is prohibited (42 U.S.C. 2000e-2(l)), and similar limits apply elsewhere. The "
    "group-blind options (one threshold for everybody) do not use the group at decision time. Take "
    "legal advice before applying either."
)


def mitigation_report(
    *,
    scores,
    y_true,
    sensitive,
    settings,
    threshold: float,
    favourable: str,
    ci_level: float,
    seed: int,
    min_group_size: int = 0,
) -> MitigationReport:
    """Every configured constraint's frontier (``settings``: a ``MitigationConfig``) for the groups of the
    ``sensitive`` column (a Series named after its feature)."""
    frontiers = [
        frontier(
            scores=scores,
            y_true=y_true,
            groups=sensitive.to_numpy(),
            constraint=name,
            threshold=threshold,
            favourable=favourable,
            tolerances=settings.tolerances,
            n_boot=settings.n_boot,
            ci_level=ci_level,
            seed=seed,
            cost_fp=settings.cost_fp,
            cost_fn=settings.cost_fn,
            sensitive=str(sensitive.name),
            min_group_size=min_group_size,
            reach_target=settings.reach,
        )
        for name in settings.constraints
    ]
    return MitigationReport(frontiers=frontiers, legal_note=LEGAL_NOTE, settings=dataclasses.asdict(settings))
