"""Counterfactual recourse for unfavourable decisions (docs/recourse.md): the cheapest change to actionable inputs
that the model turns into the favourable decision, exact for linear models (an integer program) and tree ensembles
(over the leaves' boxes), a documented grid search for any other model; every answer checked by calling the model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import ConfigError
from audit.config._settings import RecourseConfig
from audit.recourse._linear import cheapest_linear
from audit.recourse._search import cheapest_accepted, class_costs, combinations_layout
from audit.recourse._space import ActionSpace, configured_space
from audit.result._serde import plain_value as _plain

__all__ = ["RecourseChange", "RowRecourse", "RecourseBatch", "search_recourse", "DecisionRule"]

METHODS = {
    "linear": "exact: an integer program over every value seen (the model's output is a sum over its inputs); "
    "dominated values dropped, the rest listed in full or, when there are too many, solved by HiGHS at a zero gap",
    "trees": "exact: every combination of the leaves' boxes on the actionable inputs, cheapest first, at each box's "
    "cheapest value seen",
    "search": "a search over a grid of values seen (each numeric input's quantiles), cheapest first: the cheapest on "
    "the grid, not proven cheapest between its points",
}
_MARGIN = 1e-9  # the slack, relative, around the decision boundary; the model's own decision has the last word


@dataclass(frozen=True)
class DecisionRule:
    """How the audit turns the model's score into the decision: the score is the probability (``predict_proba``) or
    the decision value (``decision_function``) of the positive class, positive at or above ``threshold``;
    ``favourable_positive``: the favourable decision is the positive one; ``favourable_index``: its column in the
    estimator's classes; ``decide``: the audit's own decision on input rows (True = favourable)."""

    method: str
    threshold: float
    favourable_positive: bool
    favourable_index: int
    decide: Callable[[pd.DataFrame], np.ndarray]

    def boundary(self, space: str) -> tuple[float, bool]:
        """The favourable class's output the decision needs, in ``space`` ("probability", "log-odds" or "decision"),
        and whether it must be exceeded (the negative decision is the one strictly below the threshold)."""
        strict = not self.favourable_positive
        if self.method == "decision_function":
            return (self.threshold if self.favourable_positive else -self.threshold), strict
        t = self.threshold if self.favourable_positive else 1 - self.threshold
        if space == "probability":
            return t, strict
        t = min(max(t, 1e-12), 1 - 1e-12)
        return math.log(t / (1 - t)), strict


@dataclass(frozen=True)
class RecourseChange:
    """One input changed: from the person's value to the proposed one, with its cost and, for a number, where both
    values sit in the population (mid-rank percentile, 0-100)."""

    feature: str
    current: Any
    proposed: Any
    cost: float
    percentile_current: float | None = None
    percentile_proposed: float | None = None

    def phrase(self) -> str:
        if self.percentile_current is None:
            return f"changing {self.feature} from {_shown(self.current)} to {_shown(self.proposed)}"
        verb = "raising" if float(self.proposed) > float(self.current) else "lowering"
        return (
            f"{verb} {self.feature} from {_shown(self.current)} to {_shown(self.proposed)} (percentile "
            f"{self.percentile_current:.0f} to {self.percentile_proposed:.0f})"
        )


@dataclass(frozen=True)
class RowRecourse:
    """One unfavourable decision: ``status`` "found" (the changes reach the favourable decision, checked with the
    model), "none" (no allowed change of at most ``max_changes`` inputs does) or "unverified" (the search's answer
    was refused by the model itself: never stated; counted)."""

    row_id: Any
    status: str
    cost: float | None
    changes: tuple[RecourseChange, ...]
    text: str


@dataclass(frozen=True)
class RecourseBatch:
    """Recourse for every unfavourable decision of one call, with how it was found and what was decided."""

    rows: list[RowRecourse]
    method: str
    exact: bool
    actionable: tuple[str, ...]
    locked: tuple[str, ...]
    seconds: float
    evaluations: int
    settings: dict[str, Any]
    decisions: list[dict[str, str]] = field(default_factory=list)

    @property
    def verified_share(self) -> float | None:
        answered = [r for r in self.rows if r.status in ("found", "unverified")]
        return sum(r.status == "found" for r in answered) / len(answered) if answered else None

    def costs(self) -> np.ndarray:
        """Per row: the recourse's cost, NaN where there is none (or it was not verified)."""
        return np.array([r.cost if r.status == "found" and r.cost is not None else np.nan for r in self.rows])

    def statuses(self) -> np.ndarray:
        return np.array([r.status for r in self.rows], dtype=object)

    def table(self) -> pd.DataFrame:
        """One line per row: id, status, cost, the changes as text."""
        return pd.DataFrame(
            [
                {"row_id": r.row_id, "status": r.status, "cost": r.cost, "changes": r.text, "count": len(r.changes)}
                for r in self.rows
            ],
            columns=["row_id", "status", "cost", "changes", "count"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "exact": self.exact,
            "actionable": list(self.actionable),
            "locked": list(self.locked),
            "seconds": self.seconds,
            "evaluations": self.evaluations,
            "verified_share": self.verified_share,
            "settings": self.settings,
            "decisions": self.decisions,
            "rows": [asdict(r) for r in self.rows],
        }


def _shown(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def _linear_parts(estimator: Any, rule: DecisionRule, sample: np.ndarray) -> tuple | None:
    """(weights, intercept) of the favourable class's output when the estimator is linear and its score is the
    logistic of (or equal to) that output on these transformed rows; None otherwise."""
    coef, intercept = getattr(estimator, "coef_", None), getattr(estimator, "intercept_", None)
    if coef is None or intercept is None or np.ndim(coef) != 2 or np.shape(coef)[0] != 1:
        return None
    if len(getattr(estimator, "classes_", ())) != 2:
        return None
    sign = 1.0 if rule.favourable_index == 1 else -1.0
    weights, bias = sign * np.asarray(coef, float)[0], sign * float(np.asarray(intercept, float).ravel()[0])
    frame = _named(estimator, sample)
    try:
        if rule.method == "predict_proba":
            expected = 1 / (1 + np.exp(-(sample @ weights + bias)))
            observed = np.asarray(estimator.predict_proba(frame), float)[:, rule.favourable_index]
        else:
            expected = sample @ weights + bias
            observed = sign * np.asarray(estimator.decision_function(frame), float)
    except Exception:  # noqa: BLE001 - a model we cannot read as linear is searched instead (recorded)
        return None
    return (weights, bias) if np.allclose(expected, observed, rtol=1e-7, atol=1e-9) else None


def _named(estimator: Any, rows: np.ndarray) -> Any:
    names = getattr(estimator, "feature_names_in_", None)
    return pd.DataFrame(rows, columns=list(names)) if names is not None else rows


def _cast(values: np.ndarray, column: pd.Series) -> np.ndarray | pd.Series:
    """Candidate values in the input column's own type (integers stay integers for the model)."""
    if pd.api.types.is_integer_dtype(column) and np.all(np.mod(values.astype(float), 1) == 0):
        return values.astype(column.dtype)
    return values


class _Model:
    """The model split into column-wise preprocessing and final estimator, with each actionable input's candidate
    values transformed once."""

    def __init__(self, model: Any, reference: pd.DataFrame, space: ActionSpace) -> None:
        from explainers._tabular import dense, input_column_map, split_pipeline

        self.preprocess, self.estimator = split_pipeline(model)
        self.columns = list(reference.columns)
        probe = reference.head(2000)
        self.owners = (
            np.array(input_column_map(self.preprocess, probe))
            if self.preprocess is not None
            else np.array(self.columns)
        )
        self._dense = dense
        self.owned = [np.flatnonzero(self.owners == name) for name in space.features]
        self.tables = []
        for j, name in enumerate(space.features):
            frame = reference.iloc[np.zeros(len(space.values[j]), dtype=int)].reset_index(drop=True)
            frame[name] = _cast(space.values[j], reference[name])
            self.tables.append(self.transform(frame)[:, self.owned[j]])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        frame = frame[self.columns]
        if self.preprocess is None:
            return frame.to_numpy(dtype=float)
        return self._dense(self.preprocess.transform(frame))

    def assemble(self, base: np.ndarray, values: np.ndarray) -> np.ndarray:
        rows = base.copy()
        for j, columns in enumerate(self.owned):
            moved = np.flatnonzero(values[:, j] >= 0)
            if len(moved):
                rows[np.ix_(moved, columns)] = self.tables[j][values[moved, j]]
        return rows


def _tree_classes(model: _Model, leaves: Any, current: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per actionable input: each candidate value's box class, and each row's own class (its value's)."""
    features = np.concatenate(leaves.features) if leaves.features else np.zeros(0, int)
    bounds = np.concatenate([np.concatenate(leaves.low), np.concatenate(leaves.high)]) if leaves.low else np.zeros(0)
    owner = np.concatenate([features, features])
    classes, own = [], []
    for j, columns in enumerate(model.owned):
        value_codes, row_codes = [], []
        for position, column in enumerate(columns):
            cuts = np.unique(bounds[(owner == column) & np.isfinite(bounds)])
            for table, codes in ((model.tables[j][:, position], value_codes), (current[:, column], row_codes)):
                prepared = leaves.prepare(table)
                code = np.searchsorted(cuts, prepared, side="left")
                codes.append(np.where(np.isnan(prepared), len(cuts) + 1, code))
        stacked = np.column_stack(value_codes + [np.zeros(len(model.tables[j]), int)])
        mine = np.column_stack(row_codes + [np.zeros(len(current), int)])
        distinct, inverse = np.unique(np.vstack([stacked, mine]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        classes.append(inverse[: len(stacked)])
        own.append(inverse[len(stacked) :])
    return classes, own


def _choose_method(model: Any, reference: pd.DataFrame, settings: RecourseConfig, rule: DecisionRule):
    """(method, linear weights or None, why): exact where the model's structure is read and checked, else search."""
    from explainers._interventional import EXACT_INTERVENTIONAL_MODELS
    from explainers._tabular import dense, split_pipeline

    preprocess, estimator = split_pipeline(model)
    type_name = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    linear = None
    if rule.method != "predict":
        try:
            sample = reference.head(500)
            sample_t = dense(preprocess.transform(sample)) if preprocess is not None else sample.to_numpy(dtype=float)
            linear = _linear_parts(estimator, rule, sample_t)
        except (TypeError, ValueError):  # inputs the model cannot take as numbers: not a linear model we read
            linear = None
    tree = (
        rule.method != "predict"
        and type_name in EXACT_INTERVENTIONAL_MODELS
        and not np.any(getattr(estimator, "is_categorical_", None) or False)
    )
    wanted, name = settings.method, type(estimator).__qualname__
    if wanted == "linear" and linear is None:
        raise ConfigError(
            'recourse.method = "linear" needs a linear binary classifier whose score is the logistic of (or equal '
            f'to) coef_ . x + intercept_; the final estimator is a {name}. Use "auto".'
        )
    if wanted == "trees" and not tree:
        raise ConfigError(
            'recourse.method = "trees" needs a scikit-learn tree ensemble read exactly (no native categorical '
            f'splits) with scores; the final estimator is a {name}. Use "auto".'
        )
    if wanted == "linear" or (wanted == "auto" and linear is not None):
        return "linear", linear, f"the final estimator {name} is linear in its inputs (checked on 500 rows)"
    if wanted == "trees" or (wanted == "auto" and tree):
        return "trees", None, f"the final estimator {name} is a tree ensemble read exactly"
    if wanted == "search":
        return "search", None, "set by recourse.method"
    if rule.method == "predict":
        return (
            "search",
            None,
            (
                f"the model ({name}) is reached only through its decisions, so neither a linear model nor a tree "
                "ensemble read exactly"
            ),
        )
    return "search", None, f"the model ({name}) is neither a linear model nor a tree ensemble read exactly"


def search_recourse(
    model: Any,
    features: pd.DataFrame,
    *,
    row_ids: np.ndarray,
    reference: pd.DataFrame,
    rule: DecisionRule,
    settings: RecourseConfig,
    protected: tuple[str, ...] = (),
) -> RecourseBatch:
    """Recourse for every row of ``features`` (rows the model decides unfavourably; a row it already decides
    favourably is an error). ``reference``: the population whose values are offered and which prices percentile
    shifts (the audit's data); ``protected``: inputs that are never changed."""
    started = time.perf_counter()
    if len(row_ids) != len(features):
        raise ConfigError("The 'row_ids' parameter of search_recourse must have one entry per row of 'features'.")
    reference = reference[list(features.columns)]
    method, linear, why = _choose_method(model, reference, settings, rule)
    space = configured_space(
        reference, settings, protected=protected, grid=settings.grid if method == "search" else None
    )
    n_inputs = len(space.features)
    decided = np.asarray(rule.decide(features), dtype=bool) if len(features) else np.zeros(0, bool)
    if decided.any():
        raise ConfigError(
            f"search_recourse explains unfavourable decisions; {int(decided.sum())} of the rows given are decided "
            f"favourably (e.g. row id {_shown(row_ids[int(np.argmax(decided))])}). Pass only the unfavourable ones."
        )
    if method != "search":
        wrapped = _Model(model, reference, space)
        current_t = wrapped.transform(features) if len(features) else np.zeros((0, len(wrapped.owners)))
    costs = [space.costs(j, features[name].to_numpy()) for j, name in enumerate(space.features)]
    if method == "linear":
        weights, bias = linear
        boundary, strict = rule.boundary("log-odds" if rule.method == "predict_proba" else "decision")
        output = current_t @ weights + bias
        gains = [
            (wrapped.tables[j] @ weights[wrapped.owned[j]])[None, :]
            - (current_t[:, wrapped.owned[j]] @ weights[wrapped.owned[j]])[:, None]
            for j in range(n_inputs)
        ]

        def solve(rows: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray, int]:
            need = boundary - output[rows] + margin
            picked, cost = cheapest_linear(
                [g[rows] for g in gains], [c[rows] for c in costs], need, settings.max_changes
            )
            return picked, cost, 0

    else:
        if method == "trees":
            from explainers._tree_shap import tree_model

            tree = tree_model(model, reference.head(2000), class_index=rule.favourable_index)
            classes, own = _tree_classes(wrapped, tree.leaves, current_t)
            boundary, strict = rule.boundary(tree.space)

            def accepting(subset: np.ndarray, margin: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
                def accepts(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
                    out = tree.output(wrapped.assemble(current_t[subset[rows]], values))
                    return out > boundary + margin if strict else out >= boundary + margin

                return accepts

        else:
            boundary, strict = 0.0, False
            classes = [np.arange(len(v)) for v in space.values]
            own = [np.full(len(features), -1) for _ in space.values]

            def accepting(subset: np.ndarray, margin: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
                def accepts(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
                    return np.asarray(rule.decide(_changed(features, subset[rows], values, space)), dtype=bool)

                return accepts

        def solve(rows: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray, int]:
            cheapest, which = [], []
            for j in range(n_inputs):
                own_top = int(own[j].max()) if len(own[j]) else -1
                n_classes = max(int(classes[j].max()) + 1 if len(classes[j]) else 0, own_top + 1)
                per_class, index = class_costs(costs[j][rows], classes[j], n_classes)
                if own_top >= 0:  # moving within one's own box changes nothing
                    per_class[np.arange(len(rows)), own[j][rows]] = np.inf
                cheapest.append(per_class)
                which.append(index)
            layout = combinations_layout([c.shape[1] for c in cheapest], settings.max_changes)
            return cheapest_accepted(cheapest, which, layout, accepting(rows, margin))

    # First with a hair of slack on the model's own boundary (a score exactly at the threshold is favourable, and the
    # arithmetic here may land a rounding error below it); the model's own decision has the last word, and a row
    # whose answer it refuses is solved again a hair inside the boundary.
    slack = _MARGIN * (1 + abs(boundary))
    everyone = np.arange(len(features))
    chosen, found, evaluations = solve(everyone, -slack)
    accepted = _accepted(features, chosen, found, space, rule)
    refused = np.flatnonzero(np.isfinite(found) & ~accepted)
    if len(refused) and method != "search":
        again, again_cost, more = solve(refused, slack)
        chosen[refused], found[refused] = again, again_cost
        evaluations += more
        accepted[refused] = _accepted(features.iloc[refused], again, again_cost, space, rule)
    rows = _stated(features, row_ids, chosen, found, accepted, space, settings, method)
    locked = tuple(c for c in features.columns if c not in space.features)
    decisions = [
        {"choice": "recourse method", "value": method, "evidence": f"{why}; {METHODS[method]}"},
        {
            "choice": "recourse cost",
            "value": settings.cost,
            "evidence": (
                "per input, the shift in the population's percentile (mid-rank, the audit's data); a category change "
                f"costs {settings.category_cost:g}"
                if settings.cost == "percentile"
                else "per input, the change in its own units over recourse.units; a category change costs "
                f"{settings.category_cost:g}"
            ),
        },
    ]
    return RecourseBatch(
        rows=rows,
        method=method,
        exact=method != "search",
        actionable=space.features,
        locked=locked,
        seconds=time.perf_counter() - started,
        evaluations=int(evaluations),
        settings={
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()},
            "values_offered": {f: int(len(v)) for f, v in zip(space.features, space.values)},
        },
        decisions=decisions,
    )


def _changed(features: pd.DataFrame, rows: np.ndarray, values: np.ndarray, space: ActionSpace) -> pd.DataFrame:
    frame = features.iloc[rows].reset_index(drop=True)
    for j, name in enumerate(space.features):
        moved = np.flatnonzero(values[:, j] >= 0)
        if len(moved):
            column = frame[name].astype(object) if not space.numeric[j] else frame[name].astype(float)
            column.iloc[moved] = space.values[j][values[moved, j]]
            frame[name] = _cast(column.to_numpy(), features[name]) if space.numeric[j] else column
    return frame


def _accepted(
    features: pd.DataFrame, chosen: np.ndarray, found: np.ndarray, space: ActionSpace, rule: DecisionRule
) -> np.ndarray:
    """Each found change applied to its row and decided by the model as the audit calls it."""
    answered = np.flatnonzero(np.isfinite(found))
    accepted = np.zeros(len(features), dtype=bool)
    if len(answered):
        accepted[answered] = np.asarray(rule.decide(_changed(features, answered, chosen[answered], space)), bool)
    return accepted


def _stated(
    features: pd.DataFrame,
    row_ids: np.ndarray,
    chosen: np.ndarray,
    found: np.ndarray,
    accepted: np.ndarray,
    space: ActionSpace,
    settings: RecourseConfig,
    method: str,
) -> list[RowRecourse]:
    """What is stated per row: a change the model accepted; "none"; or "unverified" where it refused the change
    found (counted, never stated)."""
    names = ", ".join(space.features)
    out = []
    shown_rows = features.to_numpy(dtype=object)
    position = {name: k for k, name in enumerate(features.columns)}
    for i in range(len(features)):
        row_id = row_ids[i].item() if hasattr(row_ids[i], "item") else row_ids[i]
        if not np.isfinite(found[i]):
            text = (
                f"No change of at most {settings.max_changes} of {names} (to "
                + ("values on the search grid" if method == "search" else "values seen in the data")
                + (", within the limits set" if settings.limits else "")
                + ") gives the favourable decision."
            )
            out.append(RowRecourse(row_id, "none", None, (), text))
            continue
        changes = []
        for j, name in enumerate(space.features):
            k = chosen[i, j]
            if k < 0:
                continue
            current, proposed = shown_rows[i, position[name]], space.values[j][k]
            cost = float(space.costs(j, np.array([current], dtype=object if not space.numeric[j] else float))[0, k])
            if space.numeric[j]:
                before, after = (
                    space.percentile(j, np.array([float(current)]))[0],
                    space.percentile(j, np.array([float(proposed)]))[0],
                )
                changes.append(
                    RecourseChange(
                        name, _plain(current), _plain(proposed), cost, 100 * float(before), 100 * float(after)
                    )
                )
            else:
                changes.append(RecourseChange(name, _plain(current), _plain(proposed), cost))
        phrase = " and ".join(c.phrase() for c in changes)
        if accepted[i]:
            text = f"{phrase[0].upper()}{phrase[1:]} would have given the favourable decision (checked with the model)."
            out.append(RowRecourse(row_id, "found", float(sum(c.cost for c in changes)), tuple(changes), text))
        else:
            text = f"The search proposed {phrase}, but the model did not accept it: not stated."
            out.append(RowRecourse(row_id, "unverified", None, tuple(changes), text))
    return out
