"""Adverse-decision notices: the reason sets against set algebra, the tree SHAP against shap itself, a planted
reason found and noise never cited, the known answers on UCI Adult, and the command line."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from audit.cli import main
from tests.shapley import brute_force_shapley
from audit.demo._demo import DEMO_FEATURES
from audit.notices import NoticeSettings, explain_decisions, reason_sets

matrices = st.integers(1, 12).flatmap(
    lambda rows: st.integers(2, 7).flatmap(
        lambda cols: st.tuples(
            *[arrays(np.float64, (rows, cols), elements=st.floats(-3, 3, allow_nan=False)) for _ in range(2)]
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(matrices, st.integers(1, 4), st.floats(0, 1))
def test_reason_sets_follow_their_definition(pair, k, margin):
    exact, second = pair
    sets = reason_sets(exact, second, reasons=k, tie_margin=margin)
    for i in range(len(exact)):

        def top(v):
            order = np.argsort(v[i], kind="stable")[: min(k, v.shape[1])]
            return {int(j) for j in order if v[i, j] < 0}

        a, b = top(exact), top(second)
        assert set(sets.stated[i]) == a & b
        assert sorted(sets.stated[i], key=lambda j: exact[i, j]) == sets.stated[i]
        assert set(sets.tied[i]) | set(sets.disputed[i]) == a ^ b
        assert not set(sets.tied[i]) & set(sets.disputed[i])
        assert sets.agree[i] == (not sets.disputed[i])
        if margin == 0 and a == b:
            assert sets.agree[i]


@settings(max_examples=60, deadline=None)
@given(matrices, st.floats(0, 0.5), st.floats(0, 0.5))
def test_a_wider_margin_never_turns_agreement_into_disagreement(pair, first, extra):
    exact, second = pair
    narrow = reason_sets(exact, second, tie_margin=first).agree
    wide = reason_sets(exact, second, tie_margin=first + extra).agree
    assert np.all(wide[narrow])


def test_identical_methods_agree_and_state_the_negative_top_k():
    values = np.array([[-2.0, -1.0, 0.5, -0.2, 0.0], [0.3, 0.2, 0.1, -0.05, 1.0]])
    sets = reason_sets(values, values.copy(), reasons=3, tie_margin=0.0)
    assert sets.stated == [[0, 1, 3], [3]] and sets.agree.all() and sets.tied == [[], []]


def test_a_near_tie_at_the_cut_is_tied_and_a_clear_difference_is_disputed():
    exact = np.array([[-2.0, -1.0, -0.50, -0.48, 0.0]])
    swapped = np.array([[-2.0, -1.0, -0.48, -0.50, 0.0]])  # the 3rd and 4th trade places by 0.02
    sets = reason_sets(exact, swapped, reasons=3, tie_margin=0.1)
    assert sets.stated == [[0, 1]] and sets.tied == [[2, 3]] and sets.agree.all()
    far = np.array([[-2.0, -1.0, 0.4, -0.9, 0.0]])  # the second method sees feature 2 raise the score
    sets = reason_sets(exact, far, reasons=3, tie_margin=0.1)
    assert sets.disputed == [[2]] and sets.tied == [[3]] and not sets.agree.any()  # 3 is within 0.1 of the cut


def _credit(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(size=n),
            "debt": rng.normal(size=n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "region": rng.choice(["north", "south", "east"], size=n),
        }
    )
    logit = 2.0 * frame["income"] - 3.0 * frame["debt"]
    frame["approved"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def _tree_pipeline(frame: pd.DataFrame, features: list[str], max_depth: int | None = 5):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    prepare = ColumnTransformer(
        [("c", OrdinalEncoder(), categorical)], remainder="passthrough", verbose_feature_names_out=False
    )
    boosted = HistGradientBoostingClassifier(max_iter=60, max_depth=max_depth, random_state=0)
    model = Pipeline([("prepare", prepare), ("classify", boosted)])
    return model.fit(frame[features], frame["approved"])


@pytest.fixture(scope="module")
def credit():
    frame = _credit()
    features = ["income", "debt", "noise_a", "noise_b", "region"]
    return frame, features, _tree_pipeline(frame, features)


def _notices(model, frame, features, rows, **kwargs):
    p = model.predict_proba(frame[features])[:, 1]
    data = frame[features].iloc[rows]
    return explain_decisions(
        model,
        data,
        row_ids=data.index.to_numpy(),
        unfavourable=p[rows] < 0.5,
        favourable_index=1,
        decisions=np.where(p[rows] < 0.5, 0, 1),
        scores=p[rows],
        reference=frame[features],
        **kwargs,
    )


def test_a_planted_reason_is_found_and_noise_is_never_the_first(credit):
    frame, features, model = credit
    heavy_debt = np.flatnonzero((frame["debt"] > 1.2) & (frame["income"].abs() < 0.3))
    poor = np.flatnonzero((frame["income"] < -1.5) & (frame["debt"].abs() < 0.2))
    batch = _notices(model, frame, features, np.concatenate([heavy_debt, poor]))
    first = {n.row_id: (n.reasons or n.candidates)[0].feature for n in batch.notices if n.reasons or n.candidates}
    assert np.mean([first.get(r) == "debt" for r in heavy_debt]) > 0.95
    assert np.mean([first.get(r) == "income" for r in poor]) > 0.95
    assert all(f not in ("noise_a", "noise_b") for f in first.values())
    assert batch.check_pass_rate > 0.95 and batch.agreement > 0.9
    notice = next(n for n in batch.notices if n.row_id == heavy_debt[0])
    assert notice.status == "confirmed" and notice.reasons[0].text.startswith("debt of ")
    assert notice.reasons[0].text.endswith("lowered the score the most")


def test_the_tree_shap_equals_shap_and_the_threads_change_no_number(credit):
    import shap

    from explainers._tree_shap import interventional_tree_shap, tree_model, tree_shap

    frame, features, model = credit
    tree = tree_model(model, frame[features].head(500), class_index=1)
    rows = tree.transform(frame[features].iloc[:300])
    background = tree.transform(frame[features].iloc[1000:1060])
    exact = tree_shap(tree, rows)
    oracle = shap.TreeExplainer(model[-1]).shap_values(rows)
    order = [tree.feature_names.index(o) for o in tree.owners]
    expected = np.zeros_like(exact.values)
    for k, j in enumerate(order):
        expected[:, j] += oracle[:, k]
    assert np.allclose(exact.values, expected, atol=1e-10) and exact.completeness_error < 1e-8
    leaves = tree_shap(tree, rows, from_leaves=True)  # the notices' path: the same values from the leaves
    assert np.allclose(leaves.values, expected, atol=1e-10) and leaves.completeness_error < 1e-8
    assert np.allclose(leaves.base_values, exact.base_values, atol=1e-10)
    alone = tree_shap(tree, rows, background=background)
    assert alone.completeness_error < 1e-9  # every row, continuous inputs included
    oracle = shap.TreeExplainer(
        model[-1], data=shap.maskers.Independent(background, max_samples=60), feature_perturbation="interventional"
    ).shap_values(rows, check_additivity=False)
    expected = np.zeros_like(alone.values)
    for k, j in enumerate(order):
        expected[:, j] += oracle[:, k]
    # where shap and we differ most, brute force (every coalition of the transformed columns, the estimator called
    # on each hybrid row) says which is right: shap compares HistGradientBoosting's inputs in single precision
    worst = int(np.argmax(np.abs(alone.values - expected).max(axis=1)))
    for i in (0, worst):
        oracle_row = tree.to_inputs(brute_force_shapley(tree.output, rows[i], background)[None, :])[0]
        assert np.abs(alone.values[i] - oracle_row).max() < 1e-9
    parallel = interventional_tree_shap(tree, rows, background=background, threads=3)
    assert np.array_equal(alone.values, parallel.values)


def test_forests_are_explained_in_probability_and_other_models_are_refused(credit):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from audit._errors import CapabilityError

    frame, _, _ = credit
    numeric = ["income", "debt", "noise_a", "noise_b"]
    forest = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0).fit(frame[numeric], frame["approved"])
    batch = _notices(forest, frame, numeric, np.arange(400))
    assert batch.methods["output_space"] == "probability"
    assert batch.methods["second"]["completeness_error"] < 1e-6
    linear = LogisticRegression().fit(frame[numeric], frame["approved"])
    with pytest.raises(CapabilityError, match="needs a tree ensemble"):
        _notices(linear, frame, numeric, np.arange(50))


def test_a_rows_notice_does_not_depend_on_the_rows_explained_with_it(credit):
    frame, features, model = credit
    together = _notices(model, frame, features, np.arange(600))
    alone = _notices(model, frame, features, np.array([n.row_id for n in together.notices[:5]]))
    assert [n for n in together.notices[:5]] == alone.notices


def test_known_answers_on_uci_adult(adult_test, adult_model):
    """The issue's goal: on unfavourable decisions the two methods agree on the top-3 reasons (up to near-ties of
    0.1 log-odds) for >= 90%, and neutralising the first reason beats a random feature for >= 95%."""
    features = adult_test[DEMO_FEATURES]
    p = adult_model.predict_proba(features)[:, 1]
    rows = np.flatnonzero(p < 0.5)[:1500]
    data = features.iloc[rows]
    batch = explain_decisions(
        adult_model,
        data,
        row_ids=data.index.to_numpy(),
        unfavourable=np.ones(len(rows), bool),
        favourable_index=1,
        decisions=np.full(len(rows), "<=50K"),
        scores=p[rows],
        reference=features,
        protected=("sex", "race"),
        settings=NoticeSettings(processes=2),
    )
    assert batch.agreement >= 0.90 and batch.check_pass_rate >= 0.95
    assert batch.methods["exact"]["completeness_error"] < 1e-8
    assert batch.methods["second"]["inexact_rows"] == 0
    assert batch.protected_reasons > 0  # the demo model reads sex: notices must say so, not hide it
    flagged = next(n for n in batch.notices if any(r.protected for r in n.reasons))
    assert "protected characteristic" in flagged.note


@pytest.fixture()
def tree_project(tmp_path):
    frame = _credit(2000)
    features = ["income", "debt", "noise_a", "noise_b", "region"]
    frame["group"] = np.where(np.random.default_rng(0).random(len(frame)) < 0.5, "a", "b")
    frame.to_csv(tmp_path / "data.csv", index=False)
    joblib.dump(_tree_pipeline(frame, features), tmp_path / "model.joblib")
    (tmp_path / "audit.toml").write_text(
        '[data]\npath = "data.csv"\nlabel = "approved"\npositive_label = 1\nsensitive = ["group"]\n'
        f'features = {json.dumps(features)}\n[model]\npath = "model.joblib"\n'
    )
    return tmp_path


def test_the_command_writes_every_notice_and_prints_the_rows_asked_for(tree_project, capsys):
    out = tree_project / "notices"
    assert main(["explain-decision", str(tree_project / "audit.toml"), "--out", str(out), "--threads", "1"]) == 0
    record = json.loads((out / "notices.json").read_text())
    table = pd.read_csv(out / "notices.csv")
    assert record["summary"]["explained"] == len(table) == record["summary"]["unfavourable"] > 100
    assert set(record["sha256"]) >= {"data", "model", "config"}
    assert [d["choice"] for d in record["decisions"]] == ["baseline", "background"]
    assert "the two methods agree on" in capsys.readouterr().out
    confirmed = next(n for n in record["notices"] if n["status"] == "confirmed")
    favourable = next(i for i in range(2000) if i not in {n["row_id"] for n in record["notices"]})
    code = main(
        [
            "explain-decision",
            str(tree_project / "audit.toml"),
            "--out",
            str(out),
            "--row",
            str(confirmed["row_id"]),
            "--row",
            str(favourable),
        ]
    )
    said = capsys.readouterr().out
    assert code == 0 and "Principal reasons (compared with the average applicant):" in said
    assert f"row {favourable}: decision 1 is favourable" in said
    assert json.loads((out / "notices.json").read_text())["summary"]["explained"] == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--row", "999999"], "must name rows of the data"),
        (["--tie-margin", "-1"], "'tie_margin' setting"),
        (["--reasons", "0"], "'reasons' setting"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tree_project, capsys, extra, message):
    out = tree_project / "notices"
    assert main(["explain-decision", str(tree_project / "audit.toml"), "--out", str(out), *extra]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_a_model_that_is_not_a_tree_is_refused_with_what_is_needed(tree_project, capsys):
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(tree_project / "data.csv")
    joblib.dump(LogisticRegression().fit(frame[["income", "debt"]], frame["approved"]), tree_project / "model.joblib")
    text = (tree_project / "audit.toml").read_text()
    (tree_project / "audit.toml").write_text(text.replace('"noise_a", "noise_b", "region"', ""))
    (tree_project / "audit.toml").write_text(
        text.replace('features = ["income", "debt", "noise_a", "noise_b", "region"]', 'features = ["income", "debt"]')
    )
    assert main(["explain-decision", str(tree_project / "audit.toml"), "--out", str(tree_project / "o")]) == 2
    assert "needs a tree ensemble" in capsys.readouterr().err


def test_continuous_inputs_are_explained_exactly_where_shap_is_not(credit):
    """shap 0.51's interventional tree code is inexact for some rows with continuous values (about 1% here); ours
    adds up for every row, so no row goes to review for that reason (issue 32)."""
    import shap

    from explainers._tree_shap import tree_model

    frame, features, model = credit
    batch = _notices(model, frame, features, np.arange(2000))
    assert batch.methods["second"]["inexact_rows"] == 0 and batch.methods["second"]["completeness_error"] < 1e-9
    assert not [n for n in batch.notices if "do not add up" in n.note]
    tree = tree_model(model, frame[features].head(500), class_index=1)
    rows = tree.transform(frame[features].iloc[:2000])
    background = tree.transform(frame[features].iloc[2000:2200])
    explainer = shap.TreeExplainer(
        model[-1], data=shap.maskers.Independent(background, max_samples=200), feature_perturbation="interventional"
    )
    theirs = explainer.shap_values(rows, check_additivity=False).sum(axis=1) + float(explainer.expected_value)
    assert (np.abs(theirs - tree.output(rows)) > 1e-3).sum() > 0  # the defect this replaces is still there in shap


def test_the_command_explains_the_rows_of_another_file_against_the_configs_population(tree_project, capsys):
    frame = pd.read_csv(tree_project / "data.csv")
    applicants = frame.drop(columns=["approved", "group"]).iloc[:40].reset_index(drop=True)
    applicants.loc[0, "debt"] = 3.0  # a heavy debt: the first reason
    applicants.to_csv(tree_project / "applicants.csv", index=False)
    out = tree_project / "new"
    assert (
        main(
            [
                "explain-decision",
                str(tree_project / "audit.toml"),
                "--data",
                str(tree_project / "applicants.csv"),
                "--out",
                str(out),
                "--row",
                "0",
            ]
        )
        == 0
    )
    said = capsys.readouterr().out
    record = json.loads((out / "notices.json").read_text())
    assert record["summary"]["rows"] == 1 and "rows" in record["sha256"]
    assert "debt of 3 lowered the score the most" in said
    assert record["decisions"][1]["value"].endswith("the config's data")


def test_the_check_neutralises_exactly_as_the_model_called_on_every_hybrid(credit):
    """The check's neutralised outputs come from the trees' leaves; the oracle calls the model on each row with the
    feature's columns (one-hot columns together) taken from each background row, and averages."""
    from audit.notices._notices import _neutralised_outputs
    from explainers._tree_shap import tree_model

    frame, features, model = credit
    tree = tree_model(model, frame[features].head(500), class_index=1)
    rows = tree.transform(frame[features].iloc[:40])
    background = tree.transform(frame[features].iloc[1000:1050])
    owners = np.asarray(tree.owners)

    def oracle(i, j):
        hybrid = np.repeat(rows[i : i + 1], len(background), axis=0)
        columns = owners == tree.feature_names[j]
        hybrid[:, columns] = background[:, columns]
        return tree.output(hybrid).mean()

    # every input, "region" (three one-hot columns) included, two checks per row, rows split over threads
    chosen = np.column_stack([np.arange(40) % len(tree.feature_names), (np.arange(40) + 2) % len(tree.feature_names)])
    expected = np.array([[oracle(i, j) for j in chosen[i]] for i in range(len(rows))])
    for threads in (1, 3):
        assert np.abs(_neutralised_outputs(tree, rows, background, chosen, threads) - expected).max() < 1e-9


@pytest.mark.slow
def test_no_reason_is_stated_against_a_baseline_the_applicant_beats(adult_test, adult_model):
    """Regulation B's two methods on UCI Adult's denials. Against the average applicant about a third of denials
    score above the average: their inputs did not lower the score relative to it, so no reason is stated (review).
    Against the marginal approvals (applicants just approved) every denial is below, and reasons are stated; the
    two baselines give different top reasons for many denials, so which one was used is recorded."""
    features = adult_test[DEMO_FEATURES]
    p = adult_model.predict_proba(features)[:, 1]
    rows = np.flatnonzero(p < 0.5)[:400]
    data = features.iloc[rows]
    batches = {
        baseline: explain_decisions(
            adult_model,
            data,
            row_ids=data.index.to_numpy(),
            unfavourable=np.ones(len(rows), bool),
            favourable_index=1,
            decisions=np.full(len(rows), "<=50K"),
            scores=p[rows],
            reference=features,
            reference_favourable=p >= 0.5,
            settings=NoticeSettings(processes=1, baseline=baseline),
        )
        for baseline in ("population", "marginal_approvals")
    }
    average, marginal = batches["population"], batches["marginal_approvals"]
    base = average.methods["second"]["baseline_output"]
    above = [n for n in average.notices if n.beats_baseline]
    assert 0.2 < len(above) / len(rows) < 0.5 and average.beats_baseline == len(above)
    for notice in average.notices:
        output = np.log(notice.score / (1 - notice.score))
        assert notice.beats_baseline == (output >= min(base, average.methods["exact"]["baseline_output"]) - 1e-9)
        if notice.beats_baseline:
            assert notice.status == "review" and not notice.reasons and "at or above the baseline" in notice.note
    assert marginal.beats_baseline == 0 and marginal.confirmed / len(rows) > 0.9 and marginal.agreement > 0.95
    assert marginal.methods["exact"]["baseline_output"] > 0 > base  # the marginal approvals sit above the cut
    assert [d["choice"] for d in marginal.decisions] == ["baseline", "background"]
    assert (
        "marginal approvals" in marginal.decisions[0]["value"]
        and marginal.to_dict()["summary"]["baseline"] == "marginal_approvals"
    )
    assert "compared with applicants just approved" in next(n for n in marginal.notices if n.reasons).text()
    differ = [
        {r.feature for r in a.reasons} != {r.feature for r in m.reasons}
        for a, m in zip(average.notices, marginal.notices)
        if a.reasons and m.reasons
    ]
    assert np.mean(differ) > 0.2  # the baseline changes the reasons: it has to be chosen and recorded
    with pytest.raises(Exception, match="reference_favourable"):
        explain_decisions(
            adult_model,
            data.head(5),
            row_ids=np.arange(5),
            unfavourable=np.ones(5, bool),
            favourable_index=1,
            decisions=np.zeros(5),
            reference=features,
            settings=NoticeSettings(baseline="marginal_approvals"),
        )


def test_the_command_states_reasons_against_the_marginal_approvals(tree_project, capsys):
    out = tree_project / "marginal"
    assert (
        main(
            [
                "explain-decision",
                str(tree_project / "audit.toml"),
                "--out",
                str(out),
                "--threads",
                "1",
                "--baseline",
                "marginal_approvals",
            ]
        )
        == 0
    )
    record = json.loads((out / "notices.json").read_text())
    assert record["summary"]["baseline"] == "marginal_approvals" and record["summary"]["beats_baseline"] == 0
    assert record["settings"]["baseline"] == "marginal_approvals"
    assert record["summary"]["confirmed"] >= 0.9 * record["summary"]["unfavourable"]


def test_with_recourse_set_each_notice_says_what_would_change_the_decision(tree_project, capsys):
    config = tree_project / "audit.toml"
    config.write_text(config.read_text() + '[recourse]\nactionable = ["debt", "income"]\ndecrease_only = ["debt"]\n')
    out = tree_project / "notices"
    assert main(["explain-decision", str(config), "--out", str(out), "--threads", "1"]) == 0
    record = json.loads((out / "notices.json").read_text())
    table = pd.read_csv(out / "notices.csv", keep_default_na=False)
    assert record["methods"]["recourse"]["method"] == "trees" and record["methods"]["recourse"]["verified_share"] == 1
    assert "recourse method" in [d["choice"] for d in record["decisions"]]
    frame = pd.read_csv(tree_project / "data.csv").set_index(pd.RangeIndex(2000))
    found = [n for n in record["notices"] if n["recourse"]["status"] == "found"]
    assert len(found) > 0.5 * len(record["notices"])
    for notice in found[:20]:  # each stated change, applied to the row, is one the model approves
        row = frame.loc[[notice["row_id"]]].copy()
        for change in notice["recourse"]["changes"]:
            assert change["feature"] in ("debt", "income")
            if change["feature"] == "debt":
                assert change["proposed"] < change["current"]
            row[change["feature"]] = change["proposed"]
        model = joblib.load(tree_project / "model.joblib")
        assert model.predict(row[["income", "debt", "noise_a", "noise_b", "region"]])[0] == 1
    assert (table["recourse"] != "").all()
    assert "notice(s) state what would change the decision" in capsys.readouterr().out
    row = str(found[0]["row_id"])
    assert main(["explain-decision", str(config), "--out", str(out), "--row", row]) == 0
    assert f"What would change the decision: {found[0]['recourse']['text']}" in capsys.readouterr().out
