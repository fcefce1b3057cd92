"""Counterfactual recourse (docs/recourse.md): exact answers checked against an exhaustive search that calls the model
on every allowed combination (``benchmarks.recourse.exhaustive_cost``, the benchmark's oracle too), on the demo's
tree model, a logistic pipeline, a HistGradientBoosting on numeric inputs and a grid search; the burden by group
found where planted and absent where not; the gate, the report, notices."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit import (
    AuditConfig,
    AuditResult,
    ConfigError,
    DataConfig,
    ExplainerConfig,
    RecourseConfig,
    find_recourse,
    run_audit,
)
from audit.demo._demo import DEMO_FEATURES
from audit.gate._policy import Policy, Rule, evaluate
from audit.recourse._burden import welch
from audit.recourse._space import configured_space
from benchmarks.recourse import exhaustive_cost

ACTIONABLE = ("education-num", "hours-per-week", "occupation", "workclass")


def _favourable(model, threshold=0.5):
    return lambda frame: model.predict_proba(frame)[:, 1] >= threshold


def _check_exact(model, rows, reference, config, decide, *, grid=None, protected=("sex", "race")):
    batch = find_recourse(model, rows, reference=reference, config=config, protected=protected)
    space = configured_space(reference, config, grid=grid)
    unfavourable = rows[~decide(rows)]
    assert len(batch.rows) == len(unfavourable) > 0
    for (_, row), answer in zip(unfavourable.iterrows(), batch.rows):
        best = exhaustive_cost(row.to_frame().T.astype(rows.dtypes.to_dict()), space, config.max_changes, decide)
        if best is None:
            assert answer.status == "none" and answer.cost is None
        else:
            assert answer.status == "found" and answer.cost == pytest.approx(best, abs=1e-9)
            changed = row.to_frame().T.astype(rows.dtypes.to_dict())
            for change in answer.changes:  # the stated change, applied by hand, is accepted by the model
                changed[change.feature] = change.proposed
            assert decide(changed.astype(rows.dtypes.to_dict()))[0]
    return batch


@pytest.fixture(scope="module")
def adult_rows(adult_test):
    return adult_test[DEMO_FEATURES]


def test_the_demo_tree_model_gets_the_cheapest_recourse_an_exhaustive_search_finds(adult_model, adult_rows):
    config = RecourseConfig(actionable=ACTIONABLE, increase_only=("education-num",))
    rows = adult_rows.iloc[:40]
    batch = _check_exact(adult_model, rows, adult_rows, config, _favourable(adult_model))
    assert batch.method == "trees" and batch.exact and batch.verified_share == 1.0
    statuses = set(batch.statuses())
    assert statuses == {"found", "none"}  # both outcomes are exercised
    assert {"sex", "race", "age", "capital-gain"} <= set(batch.locked)
    for answer in batch.rows:  # education only ever goes up; protected and locked inputs never move
        for change in answer.changes:
            assert change.feature in ACTIONABLE
            if change.feature == "education-num":
                assert change.proposed > change.current


@pytest.fixture(scope="module")
def logistic(adult_train):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = adult_train.iloc[:6000]
    categorical = [c for c in DEMO_FEATURES if not pd.api.types.is_numeric_dtype(train[c])]
    numeric = [c for c in DEMO_FEATURES if c not in categorical]
    prepare = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric)
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=2000))
    return model.fit(train[DEMO_FEATURES], train["income"] == ">50K")


@pytest.mark.parametrize("solver", ["listed", "highs"])
def test_a_logistic_pipeline_is_solved_exactly_by_the_integer_program(logistic, adult_rows, solver, monkeypatch):
    if solver == "highs":  # every row through the solver rather than the listing of its combinations
        monkeypatch.setattr("audit.recourse._linear.ENUMERATED", 0)
    config = RecourseConfig(actionable=ACTIONABLE, increase_only=("education-num",), category_cost=0.3)
    batch = _check_exact(logistic, adult_rows.iloc[100:130], adult_rows, config, _favourable(logistic))
    assert batch.method == "linear" and batch.evaluations == 0


def test_the_grid_search_is_the_cheapest_on_its_grid(logistic, adult_rows):
    config = RecourseConfig(actionable=("education-num", "hours-per-week", "occupation"), method="search", grid=6)
    batch = _check_exact(logistic, adult_rows.iloc[:30], adult_rows, config, _favourable(logistic), grid=6)
    assert batch.method == "search" and not batch.exact
    assert batch.settings["values_offered"]["hours-per-week"] <= 6
    assert "search" in batch.decisions[0]["evidence"]


def test_a_histgradientboosting_on_numbers_with_units_limits_and_three_changes(adult_train, adult_test):
    from sklearn.ensemble import HistGradientBoostingClassifier

    numeric = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(
        adult_train[numeric].iloc[:8000], adult_train["income"].iloc[:8000] == ">50K"
    )
    config = RecourseConfig(
        actionable=("education-num", "hours-per-week", "capital-loss"),
        increase_only=("education-num",),
        decrease_only=("capital-loss",),
        cost="units",
        units={"education-num": 1, "hours-per-week": 10, "capital-loss": 1000},
        limits={"hours-per-week": [20, 60]},
        max_changes=3,
    )
    batch = _check_exact(model, adult_test[numeric].iloc[:25], adult_test[numeric], config, _favourable(model))
    assert batch.method == "trees"
    for answer in batch.rows:
        for change in answer.changes:
            if change.feature == "hours-per-week":
                assert 20 <= change.proposed <= 60


@settings(max_examples=25, deadline=None)
@example(weights=[0.0, 0.0, 1.0], bias=-1.0, seed=0, max_changes=1)  # a score exactly at the threshold is favourable
@given(
    weights=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    bias=st.floats(-4, -1),
    seed=st.integers(0, 10_000),
    max_changes=st.integers(1, 3),
)
def test_the_integer_program_equals_exhaustive_search_on_random_linear_models(weights, bias, seed, max_changes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.integers(0, 6, size=(60, 3)).astype(float), columns=["a", "b", "c"])
    model = LogisticRegression().fit(frame, np.r_[np.zeros(30), np.ones(30)])
    model.coef_ = np.array([weights], dtype=float)  # the model under test: any weights, fixed by hand
    model.intercept_ = np.array([bias])
    config = RecourseConfig(actionable=("a", "b", "c"), increase_only=("a",), max_changes=max_changes)
    decide = _favourable(model)
    if decide(frame.iloc[:8]).all():
        return
    _check_exact(model, frame.iloc[:8], frame, config, decide, protected=())


@pytest.mark.parametrize(
    "config, message",
    [
        (RecourseConfig(actionable=("sex",)), "protected characteristics"),
        (RecourseConfig(actionable=("salary",)), "does not take"),
        (RecourseConfig(actionable=("occupation",), increase_only=("occupation",)), "apply to numeric inputs"),
        (RecourseConfig(actionable=("hours-per-week",), cost="units"), "recourse.units lacks"),
        (RecourseConfig(actionable=("hours-per-week",), method="linear"), 'recourse.method = "linear"'),
    ],
)
def test_bad_recourse_settings_say_what_to_fix(adult_model, adult_rows, config, message):
    with pytest.raises(ConfigError, match=message):
        find_recourse(adult_model, adult_rows.iloc[:50], reference=adult_rows, config=config, protected=("sex",))


@pytest.mark.parametrize(
    "table, message",
    [
        ({"actionable": ["age"], "increase_only": ["hours"]}, "recourse.increase_only"),
        ({"actionable": ["age"], "increase_only": ["age"], "decrease_only": ["age"]}, "disjoint"),
        ({"actionable": ["age"], "max_changes": 5}, "from 1 to 4"),
        ({"actionable": ["age"], "limits": {"age": [60, 20]}}, "low <= high"),
        ({"actionable": ["age"], "cost": "dollars"}, "recourse.cost"),
        ({"actionable": ["sex"]}, "never a sensitive feature"),
        ({"actionable": ["age"], "max_rowz": 3}, "Did you mean recourse.'max_rows'"),
    ],
)
def test_bad_recourse_config_is_refused_at_load(table, message):
    raw = {"data": {"label": "income", "sensitive": ["sex"]}, "recourse": table}
    with pytest.raises(ConfigError, match=message):
        AuditConfig.from_dict(raw)


def _lending(n: int, *, planted: bool, seed: int = 0) -> tuple[pd.DataFrame, object]:
    """Applicants whose group the model never reads; with ``planted``, the model reads a region that is group B's in
    four of five cases and marks it down, so B must change more to be approved (Sharma et al.'s burden)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.4, "B", "A")
    region = np.where(rng.random(n) < np.where(group == "B", 0.8, 0.2), "north", "south")
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 12, n).round(),
            "savings": rng.gamma(2, 5, n).round(),
            "region": region if planted else rng.choice(["north", "south"], n),
            "group": group,
        }
    )
    signal = 0.12 * (frame["income"] - 55) + 0.1 * (frame["savings"] - 10) - 4.0 * (frame["region"] == "north")
    frame["approved"] = (signal + rng.logistic(size=n) > 0).astype(int)
    prepare = make_column_transformer((OneHotEncoder(), ["region"]), remainder="passthrough")
    model = make_pipeline(prepare, LogisticRegression(max_iter=1000))
    model.fit(frame[["income", "savings", "region"]], frame["approved"])
    return frame, model


def _lending_audit(planted: bool) -> AuditResult:
    frame, model = _lending(3000, planted=planted)
    config = AuditConfig(
        data=DataConfig(
            label="approved", positive_label=1, sensitive=("group",), features=("income", "savings", "region")
        ),
        explainers=ExplainerConfig(methods=()),
        recourse=RecourseConfig(actionable=("income", "savings"), limits={"income": [0, 75]}, max_rows=800),
    )
    return run_audit(config, data=frame, model=model)


@pytest.fixture(scope="module")
def burdened():
    return _lending_audit(True)


@pytest.fixture(scope="module")
def unburdened():
    return _lending_audit(False)


def test_a_planted_burden_is_found_and_its_control_is_not(burdened, unburdened):
    group_b = next(g for g in burdened.recourse.tables[0].groups if g.group == "group=B")
    assert burdened.recourse.method == "linear" and burdened.recourse.verified_share == 1.0
    assert group_b.cost_difference > 0 and group_b.cost_p_holm < 1e-6
    assert group_b.cost_difference_ci[0] > 0
    assert any(f.kind == "recourse" and "group=B" in f.message for f in burdened.findings)
    control = next(g for g in unburdened.recourse.tables[0].groups if g.group == "group=B")
    assert control.cost_p_holm > 0.05 and control.cost_difference_ci[0] < 0 < control.cost_difference_ci[1]
    assert not any(f.kind == "recourse" for f in unburdened.findings)
    assert [d.choice for d in burdened.decisions if d.choice.startswith("recourse")] == [
        "recourse method",
        "recourse cost",
    ]
    table = burdened.recourse.tables[0]
    assert table.benchmark == "group=A" and "most unfavourable decisions" in table.benchmark_reason


def test_welch_equals_scipy():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(3)
    a, b = rng.gamma(2, 0.2, 40), rng.gamma(2.5, 0.2, 90)
    difference, interval, p_value = welch(a, b)
    assert p_value == pytest.approx(ttest_ind(a, b, equal_var=False).pvalue, rel=1e-10)
    expected = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert interval == pytest.approx([expected.low, expected.high], rel=1e-10)
    assert difference == pytest.approx(a.mean() - b.mean())


def _gate(result, **rule):
    rules = [
        Rule(metric="mean_cost", where="recourse", stat="difference_to_best", compare="<=", threshold=0.05, **rule)
    ]
    return evaluate(result, [Policy("recourse", tuple(rules), "0", "test")])


def test_the_gate_fails_the_burdened_model_passes_the_control_and_errors_without_evidence(burdened, unburdened):
    assert not _gate(burdened).passed
    assert _gate(unburdened, confident=False).passed
    missing = dataclasses.replace(unburdened, recourse=None)
    outcome = _gate(missing)
    assert not outcome.passed and "has no recourse" in outcome.outcomes[0].message
    tiny = _gate(unburdened, min_group_size=100_000)
    assert not tiny.passed and "found no evidence either way" in " ".join(o.message for o in tiny.outcomes)


def test_the_result_round_trips_and_the_report_shows_the_burden(burdened, tmp_path):
    from audit import write_outputs

    again = AuditResult.from_dict(json.loads(burdened.to_json()))
    assert again.recourse == burdened.recourse
    paths = write_outputs(burdened, str(tmp_path))
    html = paths["html"].read_text()
    assert "What would change the decision" in html and "group=B" in html
    assert burdened.recourse.examples[0].text in html.replace("&#39;", "'")


def test_a_model_known_only_as_a_function_is_searched_on_a_grid_and_every_answer_checked():
    frame, _ = _lending(1500, planted=True)

    def score(rows: pd.DataFrame) -> np.ndarray:  # a plain function of the inputs, returning probabilities
        z = 0.12 * (rows["income"] - 55) + 0.1 * (rows["savings"] - 10) - 4.0 * (rows["region"] == "north")
        return 1 / (1 + np.exp(-z.to_numpy(dtype=float)))

    config = AuditConfig(
        data=DataConfig(
            label="approved", positive_label=1, sensitive=("group",), features=("income", "savings", "region")
        ),
        explainers=ExplainerConfig(methods=()),
        recourse=RecourseConfig(actionable=("income", "savings"), max_rows=150, grid=10),
    )
    result = run_audit(config, data=frame, model=score)
    recourse = result.recourse
    assert recourse.method == "search" and not recourse.exact and recourse.verified_share == 1.0
    assert recourse.found > 0 and recourse.settings["values_offered"]["income"] <= 10
    decision = next(d for d in result.decisions if d.choice == "recourse method")
    assert "neither a linear model" in decision.evidence and decision.override == "recourse.method"
    assert any("search grid" in e.text for e in recourse.examples if e.status == "none") or recourse.none == 0
