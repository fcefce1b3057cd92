import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, fisher_exact

from audit import four_fifths, group_metrics, ll144_audit
from audit.fairness._stats import compare_proportions, holm


def test_holm_known_answer():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([None, 0.2, None]) == [None, 0.2, None]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400), st.floats(0, 1), st.floats(0, 1))
def test_proportion_test_matches_scipy(n1, n2, r1, r2):
    x1, x2 = int(r1 * n1), int(r2 * n2)
    p_value, test = compare_proportions(x1, n1, x2, n2)
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    if test == "fisher_exact":
        assert p_value == pytest.approx(fisher_exact(table)[1], rel=1e-9)
    elif x1 + x2 in (0, n1 + n2):
        assert p_value == 1.0
    else:  # the pooled z test is the chi-square test without continuity correction
        assert p_value == pytest.approx(chi2_contingency(table, correction=False)[1], rel=1e-6, abs=1e-12)


def test_four_fifths_on_the_adult_model_fails_for_sex(adult_test, adult_model):
    from fairlearn.metrics import demographic_parity_ratio

    y_true = (adult_test["income"] == ">50K").to_numpy()
    y_pred = adult_model.predict(adult_test) == 1
    table = group_metrics(y_true=y_true, y_pred=y_pred, sensitive=adult_test[["sex"]], n_boot=200)
    result = four_fifths(table).to_dict()
    female = next(r for r in result["rows"] if r["group"] == "sex=Female")
    assert result["benchmark_group"] == "sex=Male" and result["flagged_groups"] == ["sex=Female"]
    assert female["impact_ratio"] == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, sensitive_features=adult_test["sex"]), abs=1e-12
    )
    assert female["impact_ratio"] < 0.8 and female["significant"] and female["p_value_holm"] < 1e-10
    assert female["impact_ratio_ci"][1] < 0.8  # fails with confidence, not only on the point estimate


def test_four_fifths_small_gap_on_small_numbers_is_not_significant():
    sensitive = pd.DataFrame({"g": ["a"] * 10 + ["b"] * 10})
    y_pred = np.array([1] * 6 + [0] * 4 + [1] * 4 + [0] * 6, bool)
    result = four_fifths(group_metrics(y_true=y_pred, y_pred=y_pred, sensitive=sensitive, n_boot=0)).to_dict()
    b = next(r for r in result["rows"] if r["group"] == "g=b")
    assert b["flagged"] and not b["significant"] and b["small"]


def _ll144_frame():
    rng = np.random.default_rng(0)
    n = 5000
    sex = rng.choice(["Female", "Male", "(missing)"], n, p=[0.48, 0.49, 0.03])
    race = rng.choice(["White", "Black", "Asian", "Tiny"], n, p=[0.6, 0.25, 0.14, 0.01])
    score = rng.random(n) + (sex == "Male") * 0.2
    return pd.DataFrame({"sex": sex, "race": race}), score


def test_ll144_selection_rates_unknowns_and_exclusions():
    sensitive, score = _ll144_frame()
    decisions = score > 0.7
    result = ll144_audit(
        sensitive, sex="sex", race="race", decisions=decisions, scores=None, exclude_under=0.02
    ).to_dict()
    assert result["unknown_category_count"] == int((sensitive["sex"] == "(missing)").sum())
    assert [t["breakdown"] for t in result["tables"]] == ["sex", "race", "sex x race"]
    by_sex = {r["category"]: r for r in result["tables"][0]["rows"]}
    known = sensitive["sex"] != "(missing)"
    female = (sensitive["sex"] == "Female").to_numpy()
    assert by_sex["sex=Female"]["selection_rate"] == pytest.approx(decisions[female].mean())
    assert by_sex["sex=Male"]["impact_ratio"] == 1.0
    assert by_sex["sex=Female"]["n"] + by_sex["sex=Male"]["n"] == known.sum()
    race_rows = {r["category"]: r for r in result["tables"][1]["rows"]}
    assert race_rows["race=Tiny"]["excluded"]["reason"].startswith("under 2% of the data")
    assert race_rows["race=Tiny"]["impact_ratio"] is None
    assert "race=Tiny" in result["tables"][1]["under_2_percent"]
    assert not any(r["flagged"] for t in result["tables"] for r in t["rows"])  # no threshold unless asked


def test_ll144_scoring_rate_and_flag_on_request():
    sensitive, score = _ll144_frame()
    result = ll144_audit(
        sensitive, sex="sex", race=None, decisions=None, scores=score, mode="scoring", flag_below=0.8
    ).to_dict()
    median = np.median(score)
    female = (sensitive["sex"] == "Female").to_numpy()
    rows = {r["category"]: r for r in result["tables"][0]["rows"]}
    assert result["median_score"] == pytest.approx(median)
    assert rows["sex=Female"]["scoring_rate"] == pytest.approx((score[female] > median).mean())
    male = (sensitive["sex"] == "Male").to_numpy()
    expected = (score[female] > median).mean() / (score[male] > median).mean()  # about 0.4 / 0.6: planted
    assert rows["sex=Female"]["impact_ratio"] == pytest.approx(expected) and expected < 0.75
    assert rows["sex=Female"]["flagged"] and not rows["sex=Male"]["flagged"]
    assert rows["sex=Male"]["benchmark"] and result["tables"][0]["benchmark_category"] == "sex=Male"
    assert len(result["tables"]) == 1


def test_nyc_ll144_preset_flags_the_ratios_the_ll144_tables_hold():
    """In scoring mode the flag reads the scoring-rate impact ratios of the LL144 tables, not the fairness
    tables' selection rate."""
    from audit import AuditConfig, DataConfig, FairnessConfig, run_audit
    from audit.gate._policy import evaluate, load_preset

    sensitive, score = _ll144_frame()
    frame = sensitive.assign(y=(score > 0.6).astype(int), d=(score > 1.1).astype(int), s=score / score.max())
    config = AuditConfig(
        data=DataConfig(label="y", sensitive=("sex", "race"), prediction="d", score="s"),
        fairness=FairnessConfig(n_boot=0, ll144={"sex": "sex", "race": "race", "mode": "scoring"}),
    )
    result = run_audit(config, data=frame)
    gate = evaluate(result, [load_preset("nyc-ll144")])
    female = next(o for o in gate.outcomes if o.scope == "LL144 sex: sex=Female")
    row = next(r for r in result.regulatory.ll144.tables[0].rows if r.category == "sex=Female")
    assert female.value == row.impact_ratio and "scoring rate impact ratio" in female.message
    assert female.status == "fail" and female.severity == "warning" and gate.passed  # the law sets no threshold
