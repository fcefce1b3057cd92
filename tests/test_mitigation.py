"""The mitigation frontier: ThresholdOptimizer as the oracle at tolerance 0, no grid point beats the LP, bands
cover the chosen rules' true accuracy, and the audit, gate, report and export carry it."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta
from sklearn.base import BaseEstimator, ClassifierMixin

from audit import AuditResult, ConfigError, evaluate, run_audit
from audit.cli import main
from audit.demo._demo import DEMO_FEATURES, demo_config
from audit.gate._policy import _parse_policy
from audit.mitigation._frontier import frontier
from audit.mitigation._roc import group_roc
from audit.mitigation._solve import solve
from reports import render_html


class _Scores(ClassifierMixin, BaseEstimator):
    """A prefit 'estimator' whose probability is the score column, for ThresholdOptimizer."""

    fitted_ = True
    classes_ = np.array([0, 1])

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        s = np.asarray(X["score"], float)
        return np.column_stack([1 - s, s])

    def predict(self, X):
        return (np.asarray(X["score"]) >= 0.5).astype(int)


@pytest.fixture(scope="module")
def adult_scores(adult_test, adult_model):
    scores = adult_model.predict_proba(adult_test[list(DEMO_FEATURES)])[:, 1]
    return scores, (adult_test["income"] == ">50K").to_numpy(), adult_test["sex"].to_numpy().astype(str)


@pytest.mark.parametrize(
    "constraint, fairlearn_name", [("demographic_parity", "demographic_parity"), ("equalized_odds", "equalized_odds")]
)
def test_tolerance_zero_equals_threshold_optimizer_on_adult(adult_scores, constraint, fairlearn_name):
    from fairlearn.postprocessing import ThresholdOptimizer

    scores, y, sex = adult_scores
    names = sorted(set(sex))
    rocs = [group_roc(scores[sex == g], y[sex == g]) for g in names]
    rule = solve(rocs, names, constraint=constraint, tolerance=0.0)
    optimizer = ThresholdOptimizer(
        estimator=_Scores(),
        constraints=fairlearn_name,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict_proba",
    )
    frame = pd.DataFrame({"score": scores})
    optimizer.fit(frame, y, sensitive_features=sex)
    chance = optimizer._pmf_predict(frame, sensitive_features=sex)[:, 1]
    theirs = float(np.mean(chance * y + (1 - chance) * (1 - y)))
    assert rule.objective == pytest.approx(theirs, abs=1e-3)
    # the constraint both reach, from expected decisions
    ours = _expected_positive(rule, scores, sex)
    for values in (ours, chance):
        if constraint == "demographic_parity":
            rates = [values[sex == g].mean() for g in names]
        else:
            rates = [values[(sex == g) & y].mean() for g in names] + [values[(sex == g) & ~y].mean() for g in names]
            rates = [rates[0] - rates[1], rates[2] - rates[3]]
        spread = max(rates) - min(rates) if constraint == "demographic_parity" else max(abs(r) for r in rates)
        assert spread < 1e-3


def _expected_positive(rule, scores, groups):
    chance = np.zeros(len(scores))
    for name, thresholds, weights in zip(rule.groups, rule.thresholds, rule.weights):
        mine = groups == name
        chance[mine] = sum(w * (scores[mine] >= t) for t, w in zip(thresholds, weights))
    return chance


def test_no_point_of_a_dense_threshold_grid_beats_the_frontier(adult_scores):
    scores, y, sex = adult_scores
    names = sorted(set(sex))
    rocs = [group_roc(scores[sex == g], y[sex == g]) for g in names]
    grid = np.linspace(0, 1, 10_001)
    per_group = []
    for g in names:
        mine = sex == g
        pos, neg = np.sort(scores[mine & y]), np.sort(scores[mine & ~y])
        tp = len(pos) - np.searchsorted(pos, grid, side="left")
        fp = len(neg) - np.searchsorted(neg, grid, side="left")
        per_group.append((tp, fp, len(pos), len(neg)))
    n = len(y)
    for tolerance in (0.0, 0.02, 0.05, 0.1):
        best = solve(rocs, names, constraint="demographic_parity", tolerance=tolerance).objective
        (tp0, fp0, p0, n0), (tp1, fp1, p1, n1) = per_group
        rate0, rate1 = (tp0 + fp0) / (p0 + n0), (tp1 + fp1) / (p1 + n1)
        correct0, correct1 = tp0 + n0 - fp0, tp1 + n1 - fp1
        order = np.argsort(rate1)
        sorted_rate, sorted_correct = rate1[order], correct1[order]
        grid_best = 0.0
        for i in range(len(grid)):  # the best group-1 threshold within the tolerance of group 0's rate
            low, high = np.searchsorted(sorted_rate, [rate0[i] - tolerance - 1e-12, rate0[i] + tolerance + 1e-12])
            if high > low:
                grid_best = max(grid_best, (correct0[i] + sorted_correct[low:high].max()) / n)
        assert grid_best <= best + 1e-9, (tolerance, grid_best, best)


def _simulated(seed: int, n: int = 4000):
    """Two groups with known score distributions (Beta by class), so a rule's true accuracy is exact."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    prevalence = np.where(group == "a", 0.4, 0.25)
    y = rng.random(n) < prevalence
    shapes = {("a", True): (5, 2), ("a", False): (2, 5), ("b", True): (4, 3), ("b", False): (2, 4)}
    scores = np.empty(n)
    for (g, cls), (a, b) in shapes.items():
        mine = (group == g) & (y == cls)
        scores[mine] = rng.beta(a, b, mine.sum())
    return scores, y, group, shapes


def _true_accuracy(point, shapes):
    share, prevalence, total = {"a": 0.6, "b": 0.4}, {"a": 0.4, "b": 0.25}, 0.0
    for g in ("a", "b"):
        tpr = fpr = 0.0
        for threshold, weight in point.thresholds[g]:
            t = {"none": np.inf, "all": -np.inf}.get(threshold, threshold)
            tpr += weight * beta.sf(t, *shapes[(g, True)])
            fpr += weight * beta.sf(t, *shapes[(g, False)])
        total += share[g] * (prevalence[g] * tpr + (1 - prevalence[g]) * (1 - fpr))
    return total


def test_bands_cover_the_chosen_rules_true_accuracy_in_200_simulations():
    covered = []
    for seed in range(200):
        scores, y, group, shapes = _simulated(seed)
        result = frontier(
            scores=scores,
            y_true=y,
            groups=group,
            constraint="demographic_parity",
            threshold=0.5,
            tolerances=(0.05,),
            n_boot=200,
            seed=seed,
        )
        point = result.at(0.05)
        truth = _true_accuracy(point, shapes)
        covered.append(point.accuracy_ci[0] <= truth <= point.accuracy_ci[1])
    assert np.mean(covered) >= 0.93, np.mean(covered)


@pytest.fixture(scope="module")
def demo_result(adult_test, adult_model):
    return run_audit(demo_config(), data=adult_test, model=adult_model)


def test_the_audit_gates_renders_and_exports_its_fixes(demo_result, tmp_path, capsys):
    result = demo_result
    assert not result.failures
    fix = result.mitigation.frontiers[0].at(0.8)
    blind = result.mitigation.frontiers[0].at(0.8, group_blind=True)
    assert fix.uses_group and not blind.uses_group and 0 < fix.cost < blind.cost
    assert fix.cost_ci[0] <= fix.cost <= fix.cost_ci[1]
    assert any(f.kind == "mitigation" for f in result.findings)
    cheap = _parse_policy(
        {"rules": [{"metric": "impact_ratio", "where": "mitigation", "at": 0.8, "compare": "<=", "threshold": 0.05}]},
        name="m",
        sha256="",
        source="t",
    )
    blind_only = _parse_policy(
        {
            "rules": [
                {
                    "metric": "impact_ratio",
                    "where": "mitigation",
                    "at": 0.8,
                    "group_blind": True,
                    "compare": "<=",
                    "threshold": 0.05,
                }
            ]
        },
        name="m",
        sha256="",
        source="t",
    )
    assert evaluate(result, [cheap]).passed and not evaluate(result, [blind_only]).passed
    html = render_html(result)
    assert 'id="mitigation-heading"' in html and "42 U.S.C. 2000e-2(l)" in html
    assert "Met held out" in html and "Coin flips" in html
    path = tmp_path / "audit.json"
    path.write_text(result.to_json())
    assert AuditResult.load(path).to_json() == result.to_json()
    assert main(["thresholds", str(path), "--constraint", "impact_ratio", "--at", "0.8"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["uses_group_at_decision_time"] and set(exported["thresholds"]) == {"Female", "Male"}
    assert exported["held_out"]["cost"] == pytest.approx(fix.cost)
    assert exported["held_out"]["reached"] is True and exported["solved_for"] > 0.8
    assert 0 <= exported["held_out"]["randomised_share"] < 0.5
    assert main(["thresholds", str(path), "--constraint", "impact_ratio", "--at", "0.33"]) == 2


def test_settings_and_rules_are_validated():
    from audit import MitigationConfig

    with pytest.raises(ConfigError, match="mitigation.constraints"):
        MitigationConfig(constraints=("parity",))
    with pytest.raises(ConfigError, match="needs 'at'"):
        _parse_policy(
            {"rules": [{"metric": "impact_ratio", "where": "mitigation", "compare": "<=", "threshold": 0.02}]},
            name="m",
            sha256="",
            source="t",
        )
    with pytest.raises(ConfigError, match='apply to where = "mitigation" only'):
        _parse_policy(
            {"rules": [{"metric": "accuracy", "where": "overall", "compare": ">=", "threshold": 0.5, "at": 0.8}]},
            name="m",
            sha256="",
            source="t",
        )


def test_groups_under_the_minimum_size_are_not_bound_by_the_constraint():
    scores, y, group, _ = _simulated(0)
    group = group.astype(object)
    group[:20] = "tiny"
    result = frontier(
        scores=scores,
        y_true=y,
        groups=group,
        constraint="impact_ratio",
        threshold=0.5,
        tolerances=(0.8,),
        n_boot=50,
        min_group_size=30,
    )
    assert result.constrained_groups == ["a", "b"] and "tiny" in result.groups
    assert set(result.at(0.8).thresholds) == {"a", "b", "tiny"}  # the tiny group keeps its own best thresholds
    with pytest.raises(Exception, match="two groups"):
        frontier(scores=scores, y_true=y, groups=group, constraint="impact_ratio", threshold=0.5, min_group_size=5000)


def test_a_fix_reaches_its_tolerance_on_new_rows_in_simulation():
    """Known score distributions (benchmarks/_mitigation_reach.py): a fix solved exactly at an impact ratio of 0.8
    truly misses it about half the time; solved for a 0.9 chance, it truly meets it in nearly every run and the
    held-out value (what the gate reads) meets it in at least 85%. The estimated chance is close to the held-out
    share either way."""
    from benchmarks._mitigation_reach import rates

    exact = rates(runs=80, reach_target=0.5, seed=7)
    aimed = rates(runs=80, reach_target=0.9, seed=7)
    assert 0.3 <= exact["truly_met"] <= 0.7 and 0.3 <= exact["held_out_met"] <= 0.7
    assert aimed["truly_met"] >= 0.9 and aimed["held_out_met"] >= 0.85, aimed
    assert abs(aimed["mean_estimated_reach"] - aimed["held_out_met"]) < 0.1
    assert aimed["mean_cost"] - exact["mean_cost"] < 0.02  # the margin costs little accuracy here


def test_equalized_odds_needs_at_most_three_thresholds_per_group_and_keeps_the_point():
    rng = np.random.default_rng(3)
    for seed in range(40):
        scores, y, group, _ = _simulated(seed, n=1500)
        names = ["a", "b"]
        rocs = [group_roc(scores[group == g], y[group == g]) for g in names]
        for constraint in ("equalized_odds", "demographic_parity", "equal_opportunity", "impact_ratio"):
            tolerance = 0.8 if constraint == "impact_ratio" else float(rng.choice([0.0, 0.02, 0.05]))
            rule = solve(rocs, names, constraint=constraint, tolerance=tolerance)
            for g, roc in enumerate(rocs):
                most = 3 if constraint == "equalized_odds" else 2
                assert 1 <= len(rule.thresholds[g]) <= most, (constraint, rule.thresholds[g])
                index = np.searchsorted(-roc.thresholds, -rule.thresholds[g])
                assert rule.weights[g] @ roc.fpr[index] == pytest.approx(rule.fpr[g], abs=1e-9)
                assert rule.weights[g] @ roc.tpr[index] == pytest.approx(rule.tpr[g], abs=1e-9)


@given(st.integers(4, 30), st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_fewest_vertices_keeps_any_mixture_s_point(vertices, seed):
    from audit.mitigation._solve import fewest_vertices

    rng = np.random.default_rng(seed)
    fpr = np.r_[0, np.sort(rng.random(vertices - 2)), 1]
    tpr = np.r_[0, np.sort(rng.random(vertices - 2)), 1]
    weights = rng.dirichlet(np.full(vertices, 0.5))
    index, kept = fewest_vertices(fpr, tpr, weights)
    assert len(index) <= 3 and kept.sum() == pytest.approx(1) and (kept > 0).all()
    assert kept @ fpr[index] == pytest.approx(weights @ fpr, abs=1e-9)
    assert kept @ tpr[index] == pytest.approx(weights @ tpr, abs=1e-9)


def test_coin_flips_are_counted_on_the_held_out_rows():
    scores, y, group, _ = _simulated(5)
    result = frontier(
        scores=scores,
        y_true=y,
        groups=group,
        constraint="equalized_odds",
        threshold=0.5,
        tolerances=(0.02,),
        n_boot=50,
        seed=5,
    )
    point = result.at(0.02)
    held_out = ~(np.random.default_rng([5, 11]).random(len(y)) < 0.5)
    flips = np.zeros(len(y), bool)
    for name, pairs in point.thresholds.items():
        cuts = [{"none": np.inf, "all": -np.inf}.get(t, t) for t, _ in pairs]
        if len(cuts) > 1:
            flips |= (group == name) & (scores >= min(cuts)) & (scores < max(cuts))
    assert point.randomised_share == pytest.approx(flips[held_out].mean())
    assert point.randomised_share_ci[0] <= point.randomised_share <= point.randomised_share_ci[1]


def test_the_gate_fails_a_fix_that_misses_on_the_held_out_rows(demo_result):
    result = demo_result
    frontier_ = result.mitigation.frontiers[0]
    fix = frontier_.at(0.8)
    assert fix.reached and fix.constraint_value >= 0.8 and fix.reach >= 0.9 and fix.fit_target > 0.8
    rule = _parse_policy(
        {"rules": [{"metric": "impact_ratio", "where": "mitigation", "at": 0.8, "compare": "<=", "threshold": 0.05}]},
        name="m",
        sha256="",
        source="t",
    )
    assert evaluate(result, [rule]).passed
    record = json.loads(result.to_json())
    point = next(p for p in record["mitigation"]["frontiers"][0]["frontier"] if p["tolerance"] == 0.8)
    point["reached"], point["constraint_value"] = False, 0.77
    missed = evaluate(AuditResult.from_json(json.dumps(record)), [rule])
    assert not missed.passed
    assert any("miss it on the held-out rows" in o.message for o in missed.outcomes)
