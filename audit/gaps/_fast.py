"""Exact fast paths for the model's outcome on a gap decomposition's hybrid rows.

The decomposition asks the model about W hybrids per pair and order (``audit.gaps._decompose``). For a
scikit-learn model behind column-wise preprocessing these outcomes can be had without calling the model on data
frames: the groups' rows are transformed once, and a hybrid in the transformed space takes each input's own
transformed columns from one row or the other. Then, by the final estimator:

- ``trees``: scikit-learn's tree ensembles (binary) are walked once per pair for all the hybrids of an order
  (``explainers._hybrid_trees``); the raw output's link (logistic for boosting) is applied after.
- ``linear``: a model whose raw output is ``X @ coef + intercept`` (logistic and linear regressions, linear SVMs):
  each input's change of the raw output is in closed form per pair, and the hybrids along an order are its
  running sums.
- ``transformed``: any other final estimator, asked about the transformed hybrids directly (no data frames, no
  preprocessing per call).

No path is assumed to be right: before it is used it must reproduce the model's own outcomes, called the ordinary
way, on 256 pairs' random hybrids (once per path and outcome), and every gap's pairs' own rows must get the outcomes
the audit measured (scores to 1e-9, decisions equal). A path that does not, or does not apply, gives way to the
next, and at the end to the model itself; the path used, or why none was, is recorded in the gap report's settings
(``evaluation``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np
import pandas as pd
from explainers._errors import CapabilityError

__all__ = ["ModelForm", "HybridPath", "FastPaths", "PATHS"]

PATHS = ("trees", "linear", "transformed")
_CHECK_PAIRS = 256
_TOLERANCE = 1e-9
_OWNER_SAMPLE = 2000


@dataclass(frozen=True)
class ModelForm:
    """What the fast paths read of the audited model: the fitted scikit-learn estimator or pipeline, the method the
    audit calls (``predict_proba``, ``decision_function``, or ``predict`` for regression), the positive class's
    column, and the decision threshold on probabilities."""

    model: Any
    method: str
    positive_index: int | None
    threshold: float


@dataclass
class _Prepared:
    """The model split into column-wise preprocessing and its final estimator, the audit's rows transformed once."""

    estimator: Any
    transformed: np.ndarray  # every audit row, transformed
    owner: np.ndarray  # per transformed column: the input (position in the features' columns) it is computed from
    trees: Any = None  # explainers._hybrid_trees.FlatTrees, read once
    coef: np.ndarray | None = None
    tree_reason: str = ""
    tree_offset: float | None = None  # the raw output the trees do not carry, read once
    linear_reason: str = ""


class HybridPath:
    """The outcome of the pairs' hybrid rows by one fast path (``name``), once it has passed its check."""

    def __init__(
        self,
        name: str,
        score: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray],
        link: Callable[[np.ndarray], np.ndarray],
        group: np.ndarray,
        other: np.ndarray,
        width: int,
        owner: np.ndarray,
        swaps: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        self.name, self._score, self._link, self._swaps = name, score, link, swaps
        self.group, self.other, self.width = group, other, width
        self.owner = owner

    @cached_property
    def differs(self) -> np.ndarray:
        """(pairs, inputs): where a pair's two rows differ in an input's transformed columns (where they do not,
        the hybrid that hands it over is the row itself)."""
        with np.errstate(invalid="ignore"):
            columns = ~((self.group == self.other) | (np.isnan(self.group) & np.isnan(self.other)))
        owns = np.zeros((len(self.owner), self.width), dtype=np.int64)
        owns[np.arange(len(self.owner)), self.owner] = 1
        return (columns.astype(np.int64) @ owns) > 0

    def single_swaps(self, inputs: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(first, last), each (pairs, len(inputs)): every pair's outcome with one input handed over first (the
        group's row with the other row's value) and last (the other row with the group row's value)."""
        if self._swaps is not None:
            first, last = self._swaps(np.asarray(inputs, dtype=np.int64))
            return self._link(first), self._link(last)
        everyone = np.arange(len(self.group))
        first, last = [], []
        for k in inputs:
            take = np.zeros((len(everyone), self.width), dtype=bool)
            take[:, k] = True
            first.append(self.on_hybrids(everyone, take))
            last.append(self.on_hybrids(everyone, ~take))
        return np.column_stack(first), np.column_stack(last)

    def along_orders(self, positions: np.ndarray) -> np.ndarray:
        """(pairs, W + 1): the outcome after 0..W steps, ``positions[p, j]`` the step at which pair p hands input
        j over."""
        return self._link(self._score(np.arange(len(positions)), positions, None))

    def on_hybrids(self, pairs: np.ndarray, take_other: np.ndarray) -> np.ndarray:
        """The outcome of the hybrids of ``pairs`` that take the comparison row's inputs where ``take_other``."""
        return self._link(self._score(pairs, None, take_other)[:, 0])

    def differs_from(self, first: np.ndarray, last: np.ndarray, start: np.ndarray, end: np.ndarray) -> str:
        """Why the path's outcomes of every pair's two rows (``first``, ``last``) are not the measured ones
        (``start``, ``end``); "" when they are."""
        for got, want in ((first, start), (last, end)):
            if not _close(got, want):
                return f"it differs from the measured outcomes by up to {_gap(got, want):.3g}"
        return ""


@dataclass
class FastPaths:
    """The fast paths for one audit: the model prepared once (``prepare``), a checked path per gap (``for_gap``)."""

    form: ModelForm | None
    features: pd.DataFrame
    threads: int = 1
    _prepared: _Prepared | None = field(default=None, init=False)
    _reason: str = field(default="", init=False)
    _done: bool = field(default=False, init=False)
    _checked: dict = field(default_factory=dict, init=False)  # (path, kind, flip) -> why it failed, or ""

    def prepared(self) -> _Prepared | None:
        if not self._done:
            self._done = True
            try:
                self._prepared = _prepare(self.form, self.features) if self.form is not None else None
                if self.form is None:
                    self._reason = "the model is not a scikit-learn model"
            except _NotApplicable as why:
                self._reason = str(why)
        return self._prepared

    def for_gap(
        self,
        kind: str,
        flip: bool,
        group_rows: np.ndarray,
        other_rows: np.ndarray,
        model_outcome: Callable[[np.ndarray, np.ndarray], np.ndarray],
        measured: tuple[np.ndarray, np.ndarray],
    ) -> tuple[HybridPath | None, str]:
        """The first path that reproduces ``model_outcome(pairs, take_other)`` (the model called the ordinary way)
        for this gap's pairs (the audit rows ``group_rows`` / ``other_rows``, paired), or (None, why not)."""
        prepared = self.prepared()
        if prepared is None:
            return None, self._reason
        if self.form.method == "predict" and kind != "value":
            return None, "the model gives labels only (no scores to read the decisions from)"
        reasons = []
        for name in PATHS:
            key = (name, kind, flip)
            if self._checked.get(key):  # failed on an earlier gap of this audit
                reasons.append(f"{name}: {self._checked[key]}")
                continue
            try:
                path, reason = self._path(name, prepared, kind, flip, group_rows, other_rows)
                if path is None:
                    reasons.append(f"{name}: {reason}")
                    continue
                # the model is asked about random hybrids once per path and outcome (the same model for every gap);
                # every gap's pairs are held to their measured outcomes
                if key not in self._checked:
                    self._checked[key] = _check(path, model_outcome, np.random.default_rng(len(group_rows)))
                failed = self._checked[key] or _ends_check(path, measured, np.random.default_rng(len(other_rows)))
            except Exception as err:  # e.g. a model that takes only data frames: it is asked the ordinary way
                failed = self._checked[key] = f"it failed ({type(err).__name__}: {err})"
            if not failed:
                return path, ""
            reasons.append(f"{name}: {failed}")
        return None, "; ".join(reasons)

    def _path(
        self, name: str, prepared: _Prepared, kind: str, flip: bool, group_rows: np.ndarray, other_rows: np.ndarray
    ) -> tuple[HybridPath | None, str]:
        form = self.form
        group, other = prepared.transformed[group_rows], prepared.transformed[other_rows]
        width = self.features.shape[1]
        if name == "trees":
            if prepared.trees is None:
                return None, prepared.tree_reason
            return _tree_path(prepared, form, kind, flip, group, other, width, self.threads), ""
        if name == "linear":
            if prepared.coef is None:
                return None, prepared.linear_reason
            return _linear_path(prepared, form, kind, flip, group, other, width), ""
        return _transformed_path(prepared, form, kind, flip, group, other, width), ""


class _NotApplicable(Exception):
    pass


def _prepare(form: ModelForm, features: pd.DataFrame) -> _Prepared:
    from explainers._tabular import dense, input_column_map, split_pipeline

    preprocess, estimator = split_pipeline(form.model)
    columns = list(features.columns)
    if preprocess is None:
        try:
            transformed = features.to_numpy(dtype=float)
        except (ValueError, TypeError) as err:
            raise _NotApplicable(
                f"the model takes the data as it is and its inputs are not all numbers ({err})"
            ) from err
        owners = columns
    try:
        if preprocess is not None:
            transformed = np.asarray(dense(preprocess.transform(features)), dtype=float)
            # which input owns each transformed column, probed on a sample (a column of a category the sample lacks
            # is traced by its name; the check below catches any mistake)
            sample = np.random.default_rng(0).permutation(len(features))[:_OWNER_SAMPLE]
            owners = input_column_map(preprocess, features.iloc[np.sort(sample)])
    except (CapabilityError, ValueError, TypeError) as err:
        raise _NotApplicable(f"the model's inputs are not transformed column by column ({err})") from err
    if transformed.ndim != 2 or len(owners) != transformed.shape[1]:
        raise _NotApplicable("the preprocessing's output could not be traced to the inputs")
    prepared = _Prepared(
        estimator, np.ascontiguousarray(transformed), np.array([columns.index(o) for o in owners], dtype=np.int64)
    )
    try:
        from explainers._hybrid_trees import flat_trees

        prepared.trees = flat_trees(estimator)
    except CapabilityError as err:
        prepared.tree_reason = str(err)
    coef, intercept = getattr(estimator, "coef_", None), getattr(estimator, "intercept_", None)
    if coef is not None and intercept is not None and np.size(intercept) == 1 and np.size(coef) == transformed.shape[1]:
        prepared.coef = np.asarray(coef, dtype=float).ravel()
    else:
        prepared.linear_reason = "the final estimator is not linear (one coefficient per transformed column)"
    return prepared


def _outcome_link(
    form: ModelForm, kind: str, flip: bool, to_probability: Callable[[np.ndarray], np.ndarray] | None
) -> Callable[[np.ndarray], np.ndarray]:
    """From the estimator's raw output for ``classes_[1]`` to the audit's outcome of ``kind``: the positive class's
    score (a probability through ``to_probability``, or the decision value), the decision read from it exactly as
    the audit's adapter reads it, 1 - that where the metric counts the other outcome."""

    def link(raw: np.ndarray) -> np.ndarray:
        if kind == "value":
            values = raw
        else:
            positive_first = form.positive_index == 0
            if form.method == "predict_proba":
                probability = to_probability(raw) if to_probability is not None else raw
                score = 1 - probability if positive_first else probability
                values = (score >= form.threshold) if kind == "decision" else score
            else:  # decision_function: positive above 0
                score = -raw if positive_first else raw
                values = (score > 0) if kind == "decision" else score
        values = np.asarray(values, dtype=float)
        return 1 - values if flip else values

    return link


def _logistic(raw: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(raw)


def _tree_path(
    prepared: _Prepared,
    form: ModelForm,
    kind: str,
    flip: bool,
    group: np.ndarray,
    other: np.ndarray,
    width: int,
    threads: int,
) -> HybridPath:
    from explainers._hybrid_trees import hybrid_outputs, order_outputs, single_swap_outputs

    trees = prepared.trees
    group, other = trees.prepare(group), trees.prepare(other)
    if prepared.tree_offset is None:  # once per audit: gradient boosting's initial estimate is read off the model
        prepared.tree_offset = trees.offset if np.isfinite(trees.offset) else _measured_offset(prepared, group)
    offset = prepared.tree_offset

    def score(pairs, positions, take_other):
        if positions is not None:
            return offset + order_outputs(trees, group, other, prepared.owner, positions, threads=threads)
        return (
            offset
            + hybrid_outputs(trees, group[pairs], other[pairs], prepared.owner, take_other, threads=threads)[:, None]
        )

    def swaps(inputs):
        first, last = single_swap_outputs(trees, group, other, prepared.owner, inputs, threads=threads)
        return offset + first, offset + last

    to_probability = _logistic if trees.link == "logistic" else None
    return HybridPath(
        "trees", score, _outcome_link(form, kind, flip, to_probability), group, other, width, prepared.owner, swaps
    )


def _measured_offset(prepared: _Prepared, rows: np.ndarray) -> float:
    """The raw output the trees do not carry (gradient boosting's initial estimate), read off the estimator."""
    from explainers._hybrid_trees import hybrid_outputs

    sample = rows[:64]
    raw = np.asarray(prepared.estimator.decision_function(_as_fitted(prepared.estimator, sample)), dtype=float)
    leaves = hybrid_outputs(
        prepared.trees,
        sample,
        sample,
        prepared.owner,
        np.zeros((len(sample), int(prepared.owner.max()) + 1), dtype=bool),
    )
    return float(np.median(raw.ravel() - leaves)) if len(sample) else 0.0


def _linear_path(
    prepared: _Prepared, form: ModelForm, kind: str, flip: bool, group: np.ndarray, other: np.ndarray, width: int
) -> HybridPath:
    coef = prepared.coef
    intercept = float(np.ravel(prepared.estimator.intercept_)[0])
    start = group @ coef + intercept
    # per pair and input: the change of the raw output when that input's columns take the comparison row's values
    moved = np.zeros((len(group), width))
    np.add.at(moved.T, prepared.owner, ((other - group) * coef).T)

    def score(pairs, positions, take_other):
        if positions is not None:
            order = np.argsort(positions, axis=1)
            steps = np.take_along_axis(moved, order, axis=1)
            return start[:, None] + np.concatenate([np.zeros((len(start), 1)), np.cumsum(steps, axis=1)], axis=1)
        return (start[pairs] + (moved[pairs] * take_other).sum(axis=1))[:, None]

    def swaps(inputs):
        end = start + moved.sum(axis=1)
        return start[:, None] + moved[:, inputs], end[:, None] - moved[:, inputs]

    return HybridPath(
        "linear", score, _outcome_link(form, kind, flip, _logistic), group, other, width, prepared.owner, swaps
    )


def _transformed_path(
    prepared: _Prepared, form: ModelForm, kind: str, flip: bool, group: np.ndarray, other: np.ndarray, width: int
) -> HybridPath:
    estimator = prepared.estimator
    method = form.method

    def call(rows: np.ndarray) -> np.ndarray:
        output = np.asarray(getattr(estimator, method)(_as_fitted(estimator, rows)), dtype=float)
        return output[:, 1] if method == "predict_proba" else output.ravel()  # the raw output for classes_[1]

    def score(pairs, positions, take_other):
        if positions is not None:
            out = np.empty((len(positions), positions.shape[1] + 1))
            for step in range(positions.shape[1] + 1):
                take = (positions < step)[:, prepared.owner]
                out[:, step] = call(np.where(take, other, group))
            return out
        take = take_other[:, prepared.owner]
        return call(np.where(take, other[pairs], group[pairs]))[:, None]

    return HybridPath("transformed", score, _outcome_link(form, kind, flip, None), group, other, width, prepared.owner)


def _as_fitted(estimator: Any, rows: np.ndarray):
    names = getattr(estimator, "feature_names_in_", None)
    return pd.DataFrame(rows, columns=list(names)) if names is not None else rows


def _check(
    path: HybridPath, model_outcome: Callable[[np.ndarray, np.ndarray], np.ndarray], rng: np.random.Generator
) -> str:
    """Why ``path`` does not reproduce the model ("" when it does): on up to 256 pairs, random hybrids (each input
    from either row) against the model called the ordinary way."""
    size = len(path.group)
    if size == 0:
        return ""
    pairs = rng.choice(size, size=min(_CHECK_PAIRS, size), replace=False)
    take = rng.random((len(pairs), path.width)) < 0.5
    fast, model = path.on_hybrids(pairs, take), model_outcome(pairs, take)
    if not _close(fast, model):
        return f"it differs from the model's own outcome on random hybrids by up to {_gap(fast, model):.3g}"
    return ""


def _ends_check(path: HybridPath, measured: tuple[np.ndarray, np.ndarray], rng: np.random.Generator) -> str:
    """Why the path's outcomes of up to 256 pairs' own rows are not the outcomes the audit measured ("" when they
    are; the decomposition compares every pair's rows again where it computes them)."""
    size = len(path.group)
    if size == 0:
        return ""
    pairs = rng.choice(size, size=min(_CHECK_PAIRS, size), replace=False)
    ends = path.on_hybrids(
        np.concatenate([pairs, pairs]),
        np.repeat([False, True], len(pairs))[:, None] & np.ones((1, path.width), dtype=bool),
    )
    return path.differs_from(ends[: len(pairs)], ends[len(pairs) :], measured[0][pairs], measured[1][pairs])


def _close(first: np.ndarray, second: np.ndarray) -> bool:
    return bool(np.all(np.abs(first - second) <= _TOLERANCE * np.maximum(1.0, np.abs(second))))


def _gap(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.max(np.abs(first - second)))
