"""Adverse-decision notices: the principal reasons for each unfavourable decision of a tree model, stated only where
two exact attribution methods agree on them and a per-row check confirms the first (docs/notices.md)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.exec._threads import limited_threads
from audit.notices._reasons import reason_sets
from audit.result._serde import plain_value as _shown
from explainers._base import row_seed

__all__ = ["Notice", "NoticeBatch", "NoticeSettings", "Reason", "ReasonCheck", "explain_decisions"]

_RANKS = ("the most", "the second most", "the third most", "the fourth most", "the fifth most")
EXACT = "exact tree SHAP, path-dependent (the trees' own training cover)"
SECOND = (
    "exact tree SHAP, interventional (against a stratified background of applicants; our own traversal of the "
    "trees, checked against brute-force Shapley values)"
)
MARGINAL = (
    "exact tree SHAP, interventional, against {half} of the marginal approvals (a stratified background; our "
    "own traversal of the trees)"
)
BASELINES = ("population", "marginal_approvals")
# what a reason is compared with, in the notice's words (Regulation B, 12 CFR 1002 Supp. I, comment 9(b)(2)-5)
BASELINE_NAMES = {"population": "the average applicant", "marginal_approvals": "applicants just approved"}
# the marginal approvals: the favourable reference rows with the lowest scores, this share of them (at least twice
# the background size, so that the two halves each give a full background)
MARGINAL_SHARE = 0.1


@dataclass(frozen=True)
class NoticeSettings:
    """``reasons``: how many principal reasons at most (US adverse-action notices give up to four); ``tie_margin``:
    contributions (log-odds) closer than this to a method's last reason count as tied with it; ``background_size``:
    rows of the reference population the interventional method and the check compare with; ``processes``: threads
    that compute the interventional method and the check over chunks of rows (the same numbers for any count).
    ``baseline``: what a reason lowered the score relative to (Regulation B's two methods): "population", the
    average applicant; "marginal_approvals", the applicants approved with the lowest scores."""

    reasons: int = 3
    tie_margin: float = 0.1
    background_size: int = 200
    seed: int = 0
    processes: int = 1
    baseline: str = "population"

    def __post_init__(self) -> None:
        for name, low, high in (("reasons", 1, 5), ("background_size", 10, 100_000), ("processes", 1, 256)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(
                    f"The {name!r} setting of the notices must be an integer from {low} to {high}. "
                    f"Got {value!r} instead."
                )
        if (
            isinstance(self.tie_margin, bool)
            or not isinstance(self.tie_margin, (int, float))
            or not 0 <= self.tie_margin < 10
        ):
            raise ConfigError(
                f"The 'tie_margin' setting of the notices must be a number of log-odds from 0 to 10 "
                f"(0: exact ties only). Got {self.tie_margin!r} instead."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"The 'seed' setting of the notices must be an integer. Got {self.seed!r} instead.")
        if self.baseline not in BASELINES:
            raise ConfigError(
                f"The 'baseline' setting of the notices must be one of {', '.join(BASELINES)}. Got "
                f"{self.baseline!r} instead."
            )


@dataclass(frozen=True)
class Reason:
    """One principal reason: the feature, the applicant's value, what each method gives it (log-odds toward the
    favourable decision; negative lowers it), whether it is a protected characteristic, and the sentence."""

    feature: str
    value: Any
    rank: int
    exact: float
    second: float
    protected: bool
    text: str


@dataclass(frozen=True)
class ReasonCheck:
    """Neutralising the first reason (its value replaced by each background applicant's, the outputs averaged)
    must move the output toward the favourable side more than neutralising a randomly drawn other feature."""

    neutralised: str
    effect: float
    random_feature: str
    random_effect: float
    passed: bool


@dataclass(frozen=True)
class Notice:
    """``status`` "confirmed": the reasons may be stated; "review": a person must look first (``note`` says why), and
    the reasons both methods found wait in ``candidates``."""

    row_id: Any
    score: float | None
    decision: Any
    status: str
    reasons: tuple[Reason, ...]
    candidates: tuple[Reason, ...]
    tied: tuple[str, ...]
    disputed: tuple[str, ...]
    methods_agree: bool
    check: ReasonCheck | None
    note: str
    baseline: str = "population"
    beats_baseline: bool = False  # the row's output is at or above the baseline's: no reason can be stated
    # what would change the decision ([recourse]): status, cost, the sentence and the changes; None when not asked
    recourse: dict[str, Any] | None = None

    def text(self) -> str:
        """The notice as plain text."""
        score = "" if self.score is None else f" (score {self.score:.3f})"
        lines = [f"Row {self.row_id}: decision {self.decision}{score}."]
        if self.status == "confirmed":
            lines.append(f"Principal reasons (compared with {BASELINE_NAMES[self.baseline]}):")
            lines += [f"  {r.rank}. {r.text}." for r in self.reasons]
            if self.tied:
                lines.append(f"  About as much as the last reason: {', '.join(self.tied)}.")
        else:
            lines.append(f"Needs review before any notice is sent: {self.note}")
        if self.status == "confirmed" and self.note:
            lines.append(self.note)
        if self.recourse is not None:
            lines.append(f"What would change the decision: {self.recourse['text']}")
        return "\n".join(lines)


@dataclass(frozen=True)
class NoticeBatch:
    """Every notice of one run, with what was decided automatically and how often the two safeguards held."""

    notices: list[Notice]
    rows: int
    unfavourable: int
    agreement: float | None
    check_pass_rate: float | None
    confirmed: int
    protected_reasons: int
    seconds: float
    methods: dict[str, Any]
    settings: dict[str, Any]
    decisions: list[dict[str, str]] = field(default_factory=list)
    beats_baseline: int = 0  # notices whose row scores at or above the baseline (no reasons stated against it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": {
                "rows": self.rows,
                "unfavourable": self.unfavourable,
                "explained": len(self.notices),
                "confirmed": self.confirmed,
                "agreement": self.agreement,
                "check_pass_rate": self.check_pass_rate,
                "protected_reasons": self.protected_reasons,
                "beats_baseline": self.beats_baseline,
                "baseline": self.settings.get("baseline"),
                "seconds": self.seconds,
            },
            "methods": self.methods,
            "settings": self.settings,
            "decisions": self.decisions,
            "notices": [asdict(n) for n in self.notices],
        }

    def table(self) -> pd.DataFrame:
        """One line per notice (for a mail merge): row, status, score, reasons 1..k and the note."""
        width = self.settings["reasons"]
        lines = []
        for n in self.notices:
            line = {"row_id": n.row_id, "status": n.status, "decision": n.decision, "score": n.score}
            for i in range(width):
                line[f"reason_{i + 1}"] = n.reasons[i].text if i < len(n.reasons) else ""
            line["note"] = n.note
            line["recourse"] = n.recourse["text"] if n.recourse is not None else ""
            lines.append(line)
        columns = ["row_id", "status", "decision", "score", *[f"reason_{i + 1}" for i in range(width)], "note"]
        if any(n.recourse is not None for n in self.notices):
            columns.append("recourse")
        return pd.DataFrame(lines, columns=columns + ["recourse"])[columns]


def _sentence(feature: str, value: Any, rank: int, protected: bool) -> str:
    shown = "missing" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    where = _RANKS[rank - 1] if rank <= len(_RANKS) else f"the {rank}th most"
    return f"{feature} of {shown} lowered the score {where}" + (" (a protected characteristic)" if protected else "")


def stratified_background(outputs: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Positions of ``size`` reference rows, one drawn at random from each of ``size`` equal strata of the model's
    output: the background's output distribution matches the population's, which steadies the interventional
    attributions of rare, strong values (capital gains) far more than a plain random draw of the same size."""
    if len(outputs) <= size:
        return np.arange(len(outputs))
    rng = np.random.default_rng(seed)
    strata = np.array_split(np.argsort(outputs, kind="stable"), size)
    return np.sort(np.array([rng.choice(stratum) for stratum in strata]))


def _neutralised_outputs(
    model, rows: np.ndarray, background: np.ndarray, features: np.ndarray, threads: int = 1
) -> np.ndarray:
    """For each row i and check c: the mean output over background rows b of row i with feature ``features[i, c]``'s
    transformed columns taken from b (the feature "neutralised" to the population's values), exact from the trees'
    leaves (tests/test_notices.py checks it against the model called on every hybrid row); row chunks in threads."""
    from explainers._interventional import neutralised_outputs
    from explainers._tree_shap import in_row_chunks

    owners = np.asarray(model.owners)
    masks = np.stack([owners == name for name in model.feature_names])
    mean = float(np.mean(model.output(background)))
    features = np.asarray(features, dtype=int).reshape(len(rows), -1)
    if not len(rows):
        return np.zeros(features.shape)
    return in_row_chunks(
        lambda chunk: neutralised_outputs(model.leaves, rows[chunk], background, mean, masks, features[chunk]),
        len(rows),
        threads,
    )


def _checks(
    tree,
    rows: np.ndarray,
    background: np.ndarray,
    first: np.ndarray,
    ids: np.ndarray,
    outputs: np.ndarray,
    seed: int,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row with a first reason (``first`` >= 0): how far neutralising it moves the output, which other feature
    was drawn, and how far neutralising that one moves it (NaN and -1 where there is no reason)."""
    effects, random_effects = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    random_features = np.full(len(rows), -1)
    checked = np.flatnonzero(first >= 0)
    if len(checked):
        random_features[checked] = _random_other(ids[checked], first[checked], len(tree.feature_names), seed)
        both = _neutralised_outputs(
            tree, rows[checked], background, np.column_stack([first[checked], random_features[checked]]), threads
        )
        effects[checked] = both[:, 0] - outputs[checked]
        random_effects[checked] = both[:, 1] - outputs[checked]
    return effects, random_features, random_effects


def _random_other(row_ids: np.ndarray, first: np.ndarray, n_features: int, seed: int) -> np.ndarray:
    """A feature other than each row's first reason, drawn from the row's own stream (the same for the row whatever
    else is explained with it)."""

    draws = np.array([row_seed(seed, i) % (n_features - 1) for i in row_ids])
    return np.where(draws >= first, draws + 1, draws)


def explain_decisions(
    model: Any,
    features: pd.DataFrame,
    *,
    row_ids: np.ndarray,
    unfavourable: np.ndarray,
    favourable_index: int,
    decisions: np.ndarray,
    scores: np.ndarray | None = None,
    reference: pd.DataFrame | None = None,
    reference_source: str = "the rows scored",
    reference_favourable: np.ndarray | None = None,
    protected: tuple[str, ...] = (),
    settings: NoticeSettings | None = None,
) -> NoticeBatch:
    """Notices for the rows of ``features`` where ``unfavourable`` holds.

    ``favourable_index``: the column of the favourable decision in the estimator's classes; ``decisions``: each
    row's decision as shown; ``scores``: each row's score as shown (e.g. the probability of the favourable
    decision); ``reference``: the population the background is drawn from (default: ``features``);
    ``reference_favourable``: which reference rows the model decides favourably (needed for the
    "marginal_approvals" baseline).
    """
    from explainers._tree_shap import interventional_tree_shap, tree_model, tree_shap

    settings = settings or NoticeSettings()
    started = time.perf_counter()
    unfavourable = np.asarray(unfavourable, dtype=bool)
    if len(unfavourable) != len(features) or len(row_ids) != len(features) or len(decisions) != len(features):
        raise ConfigError(
            "The 'row_ids', 'unfavourable' and 'decisions' parameters of explain_decisions must have "
            f"one entry per row of 'features' ({len(features)})."
        )
    if features.shape[1] < 2:
        raise ConfigError(
            "Notices need a model of at least two features: the per-row check compares the first "
            "reason with another feature."
        )
    reference = features if reference is None else reference[list(features.columns)]
    tree = tree_model(
        model, pd.concat([features.head(2000), reference.head(2000)], ignore_index=True), class_index=favourable_index
    )
    tree.leaves  # a model whose trees are not read exactly is refused up front, and the leaves are read once
    population = tree.transform(reference)
    outputs = tree.output(population)
    if settings.baseline == "population":
        chosen = stratified_background(outputs, settings.background_size, settings.seed)
        other, choice = None, _population_choice(len(chosen), reference_source, settings.seed)
    else:
        chosen, other, choice = _marginal_backgrounds(
            outputs, reference_favourable, len(reference), settings.background_size, settings.seed, reference_source
        )
    background = population[chosen]
    picked = np.flatnonzero(unfavourable)
    rows = tree.transform(features.iloc[picked])
    ids = np.asarray(row_ids)[picked]
    with limited_threads(1):  # our threads split the rows; native thread pools inside each would oversubscribe
        if other is None:
            exact = tree_shap(tree, rows, from_leaves=True)
        else:  # two disjoint halves of the marginal approvals: the reasons must not rest on the draw
            exact = interventional_tree_shap(tree, rows, background=background, threads=settings.processes)
        # the check of the first method's first reason (nearly always the stated one), redone below where not
        guess = np.where(exact.values.min(axis=1, initial=0.0) < 0, np.argmin(exact.values, axis=1), -1)
        checks = _checks(tree, rows, background, guess, ids, exact.outputs, settings.seed, settings.processes)
        second = interventional_tree_shap(
            tree, rows, background=background if other is None else population[other], threads=settings.processes
        )
    # a row at or above either method's baseline output was not pulled below it by its inputs taken together: a
    # reason "lowered the score" relative to a baseline the person already beats would mislead
    baseline_outputs = np.minimum(exact.base_values, second.base_values)
    beats = exact.outputs >= baseline_outputs
    sets = reason_sets(exact.values, second.values, reasons=settings.reasons, tie_margin=settings.tie_margin)
    # an error a tenth of the tie margin cannot move a reason across it in practice; beyond that, a person looks
    tolerance = max(settings.tie_margin / 10, 1e-6)
    inexact = (exact.completeness_errors > tolerance) | (second.completeness_errors > tolerance)
    names = tree.feature_names
    first = np.array([s[0] if s else -1 for s in sets.stated], dtype=int)
    redo = np.flatnonzero(first != guess)
    if len(redo):
        again = _checks(
            tree, rows[redo], background, first[redo], ids[redo], exact.outputs[redo], settings.seed, settings.processes
        )
        for held, new in zip(checks, again):
            held[redo] = new
    effects, random_features, random_effects = checks
    notices = []
    shown_values = features.iloc[picked].to_numpy(dtype=object)  # one conversion, not a lookup per reason
    for i, position in enumerate(picked):
        reasons = tuple(
            _reason(names[j], shown_values[i, j], rank, exact.values[i, j], second.values[i, j], names[j] in protected)
            for rank, j in enumerate(sets.stated[i], start=1)
        )
        check = (
            None
            if first[i] < 0
            else ReasonCheck(
                names[first[i]],
                float(effects[i]),
                names[random_features[i]],
                float(random_effects[i]),
                bool(effects[i] > random_effects[i]),
            )
        )
        error = max(exact.completeness_errors[i], second.completeness_errors[i]) if inexact[i] else None
        beaten = float(baseline_outputs[i]) if beats[i] else None
        notices.append(
            _notice(
                ids[i],
                scores,
                decisions,
                position,
                reasons,
                [names[j] for j in sets.tied[i]],
                [names[j] for j in sets.disputed[i]],
                bool(sets.agree[i]) and not inexact[i],
                check,
                error,
                settings.baseline,
                float(exact.outputs[i]),
                beaten,
            )
        )
    passed = [n.check.passed for n in notices if n.check is not None]
    first_method = EXACT if other is None else MARGINAL.format(half="one half")
    methods = {
        "exact": {
            "method": first_method,
            "completeness_error": exact.completeness_error,
            "baseline_output": float(exact.base_values[0]) if len(picked) else None,
        },
        "second": {
            "method": SECOND if other is None else MARGINAL.format(half="the other half"),
            "completeness_error": second.completeness_error,
            "background_rows": len(background),
            "inexact_rows": int(inexact.sum()),
            "baseline_output": float(second.base_values[0]) if len(picked) else None,
        },
        "output_space": tree.space,
        "estimator": type(tree.estimator).__qualname__,
        "baseline": settings.baseline,
    }
    return NoticeBatch(
        notices=notices,
        rows=len(features),
        unfavourable=len(picked),
        agreement=float(np.mean(sets.agree & ~inexact)) if len(picked) else None,
        check_pass_rate=float(np.mean(passed)) if passed else None,
        confirmed=sum(n.status == "confirmed" for n in notices),
        protected_reasons=sum(any(r.protected for r in n.reasons) for n in notices),  # stated reasons only
        seconds=time.perf_counter() - started,
        methods=methods,
        settings={**asdict(settings), "background_row_ids": [_shown(v) for v in reference.index[chosen]]},
        decisions=choice,
        beats_baseline=int(beats.sum()),
    )


def _population_choice(size: int, source: str, seed: int) -> list[dict[str, str]]:
    return [
        {
            "choice": "baseline",
            "value": "population (the average applicant)",
            "evidence": "set by NoticeSettings.baseline / --baseline; Regulation B's 'all applicants' method",
        },
        {
            "choice": "background",
            "value": f"{size} rows of {source}",
            "evidence": f"one row drawn from each of {size} equal strata of the model's output "
            f"(seed {seed}): the background's scores match the population's",
        },
    ]


def _marginal_backgrounds(
    outputs: np.ndarray, favourable: np.ndarray | None, rows: int, size: int, seed: int, source: str
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """Two disjoint stratified backgrounds from the marginal approvals: the favourable reference rows with the
    lowest outputs (``MARGINAL_SHARE`` of them, at least twice ``size``), split alternately by output."""
    if favourable is None or len(favourable) != rows:
        raise ConfigError(
            "The 'marginal_approvals' baseline needs 'reference_favourable': which reference rows the "
            "model decides favourably, one per reference row."
        )
    approved = np.flatnonzero(np.asarray(favourable, dtype=bool))
    if len(approved) < 20:
        raise ConfigError(
            f"The 'marginal_approvals' baseline needs at least 20 favourable decisions in the "
            f"reference population; it has {len(approved)}. Use --baseline population, or a larger "
            "--reference."
        )
    ordered = approved[np.argsort(outputs[approved], kind="stable")]
    pool = ordered[: min(len(ordered), max(int(np.ceil(MARGINAL_SHARE * len(ordered))), 2 * size))]
    halves = [pool[0::2], pool[1::2]]
    picked = [half[stratified_background(outputs[half], size, seed + k)] for k, half in enumerate(halves)]
    low, high = outputs[pool].min(), outputs[pool].max()
    choice = [
        {
            "choice": "baseline",
            "value": "marginal approvals (applicants just approved)",
            "evidence": f"set by NoticeSettings.baseline / --baseline; Regulation B's other method: the "
            f"{len(pool)} favourable decisions of {source} with the lowest scores (of "
            f"{len(approved)}; model output {low:.3f} to {high:.3f})",
        },
        {
            "choice": "background",
            "value": f"two disjoint halves of them, {len(picked[0])} and {len(picked[1])} rows",
            "evidence": f"alternate rows by output, each drawn one per stratum of the output (seed {seed}); the "
            "two methods are the interventional values against each half",
        },
    ]
    return np.sort(picked[0]), np.sort(picked[1]), choice


def _reason(feature: str, value: Any, rank: int, exact: float, second: float, protected: bool) -> Reason:
    shown = _shown(value)
    return Reason(
        feature, shown, rank, float(exact), float(second), protected, _sentence(feature, shown, rank, protected)
    )


def _notice(
    row_id,
    scores,
    decisions,
    position,
    reasons,
    tied,
    disputed,
    agree,
    check,
    error,
    baseline: str,
    output: float,
    beaten: float | None,
) -> Notice:
    """``beaten``: the baseline's output when the row's ``output`` is at or above it (no reason can be stated)."""
    problems = []
    if beaten is not None:
        other = "marginal_approvals" if baseline == "population" else "population"
        problems.append(
            f"this applicant's score (output {output:.3f}) is at or above the baseline's ({beaten:.3f}, "
            f"{BASELINE_NAMES[baseline]}): taken together the inputs did not lower it relative to that "
            f"baseline, so no reason can be stated against it (baseline {other!r}, Regulation B's other "
            "method, may state them)"
        )
    if error is not None:
        problems.append(
            f"the attributions do not add up to the model's output (off by {error:.2g}), so the trees "
            "were not read exactly for this row; its reasons cannot be stated"
        )
    if not reasons:
        problems.append("no feature lowered the score in the top reasons of both methods")
    if disputed:
        problems.append(f"the two methods disagree on {', '.join(disputed)} (beyond the tie margin)")
    if check is not None and not check.passed:
        problems.append(
            f"neutralising {check.neutralised} moved the score {check.effect:+.3f} log-odds, no more "
            f"than neutralising {check.random_feature} ({check.random_effect:+.3f})"
        )
    status = "review" if problems else "confirmed"
    protected = [r.feature for r in reasons if r.protected]
    note = (
        "; ".join(problems)
        if problems
        else (
            f"A protected characteristic ({', '.join(protected)}) is among the principal reasons: the model uses it; "
            "check that the law allows this before sending."
            if protected
            else ""
        )
    )
    return Notice(
        row_id=_shown(row_id),
        score=None if scores is None else float(scores[position]),
        decision=_shown(decisions[position]),
        status=status,
        reasons=reasons if status == "confirmed" else (),
        candidates=() if status == "confirmed" else reasons,
        tied=tuple(tied),
        disputed=tuple(disputed),
        methods_agree=agree,
        check=check,
        note=note,
        baseline=baseline,
        beats_baseline=beaten is not None,
    )
