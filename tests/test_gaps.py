"""Gap explanations: the decomposition adds up, matches exact oracles, finds a planted proxy and spares a control."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import AuditConfig, AuditResult, DataConfig, ExplainerConfig, GapsConfig, MitigationConfig, SlicesConfig
from audit import evaluate, group_metrics, load_policy, load_preset, run_audit
from audit._errors import ConfigError
from audit.gaps._decompose import PairedRows, couple, pair_contributions, two_sample_bootstrap
from audit.gaps._explain import ModelOutputs, explain_gaps
from audit.gaps._proxies import binned, proxy_auc
from audit.gaps._swaps import align_words
from benchmarks.gap import gap_config, planted_proxy


def _logistic(frame: pd.DataFrame, features: list[str]):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(frame[features], frame["label"])


def _explain(frame: pd.DataFrame, model, features: list[str], *, metrics=("selection_rate",), n_boot=0, seed=0):
    """explain_gaps on a table by ``group``, without the rest of an audit (fast enough for 100 seeds)."""
    X = frame[features]
    y = frame["label"].to_numpy().astype(bool)
    proba = model.predict_proba(X)[:, 1]
    sensitive = frame[["group"]].astype(str)
    table = group_metrics(
        y_true=y,
        y_pred=proba >= 0.5,
        sensitive=sensitive,
        scores=proba,
        n_boot=0,
        metrics=("selection_rate", "tpr", "fpr"),
    )

    def rescore(kind, rows):
        scores = model.predict_proba(rows)[:, 1]
        return scores >= 0.5 if kind == "decision" else scores

    return explain_gaps(
        [table],
        features=X,
        y_true=y,
        sensitive=sensitive,
        task="binary",
        favourable="positive",
        outputs=ModelOutputs({"decision": proba >= 0.5, "score": proba}, rescore),
        settings=GapsConfig(metrics=metrics, n_boot=n_boot),
        ratio_threshold=0.8,
        alpha=0.05,
        ci_level=0.95,
        seed=seed,
    )


# --- the coupling and the additivity -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.01, 10), min_size=1, max_size=40),
    st.lists(st.floats(0.01, 10), min_size=1, max_size=40),
    st.integers(0, 2**31),
)
def test_the_coupling_keeps_both_groups_weights_exactly(group, other, seed):
    group, other = np.array(group), np.array(other)
    plan = couple(group, other, np.random.default_rng(seed))
    assert len(plan) <= len(group) + len(other) - 1
    assert np.allclose(np.bincount(plan.group_rows, plan.weights, len(group)), group / group.sum(), atol=1e-12)
    assert np.allclose(np.bincount(plan.other_rows, plan.weights, len(other)), other / other.sum(), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(2, 30), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2**31))
def test_contributions_add_up_to_each_pairs_change_for_any_model(n_group, n_other, width, orders, seed):
    rng = np.random.default_rng(seed)
    columns = [f"f{i}" for i in range(width)]
    group = pd.DataFrame(rng.normal(size=(n_group, width)), columns=columns)
    other = pd.DataFrame(rng.normal(size=(n_other, width)), columns=columns)
    weights = rng.normal(size=width)

    def outcome(frame):  # not additive: a threshold on a product and a sum
        values = frame.to_numpy()
        return ((values @ weights) * values[:, 0] > 0.1).astype(float)

    plan = couple(np.ones(n_group), np.ones(n_other), rng)
    start, end = outcome(group), outcome(other)
    credits = pair_contributions(
        PairedRows(group, other, plan, outcome, group_outcomes=start, other_outcomes=end), orders=orders, rng=rng
    )
    assert np.abs(credits.sum(axis=1) - (end[plan.other_rows] - start[plan.group_rows])).max() < 1e-12
    gap = plan.weights @ (start[plan.group_rows] - end[plan.other_rows])
    assert abs(gap - (start.mean() - end.mean())) < 1e-12  # the pairs reproduce both groups' means


def test_two_orders_of_two_features_are_the_exact_shapley_values():
    """With two features an order and its reverse are every order: the estimate is the exact Shapley value of the
    coupling's value function, which a brute-force enumeration of coalitions computes independently."""
    rng = np.random.default_rng(3)
    group = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(1, size=40)})
    other = pd.DataFrame({"a": rng.normal(2, size=55), "b": rng.normal(size=55)})

    def outcome(frame):
        return ((frame["a"] * frame["b"] + frame["a"]) > 0.5).to_numpy(float)

    plan = couple(np.ones(40), np.ones(55), rng)
    credits = pair_contributions(
        PairedRows(group, other, plan, outcome, group_outcomes=outcome(group), other_outcomes=outcome(other)),
        orders=2,
        rng=rng,
    )
    ours = plan.weights @ credits

    def value(coalition):
        rows = group.iloc[plan.group_rows].reset_index(drop=True).copy()
        for name in coalition:
            rows[name] = other.iloc[plan.other_rows][name].to_numpy()
        return plan.weights @ outcome(rows)

    exact = []
    for name in ("a", "b"):
        rest = [c for c in ("a", "b") if c != name]
        total = 0.0
        for size in range(len(rest) + 1):
            for coalition in itertools.combinations(rest, size):
                weight = 1 / (2 * (1 if size == 0 else 1))  # d = 2: |S|!(d-|S|-1)!/d! = 1/2 for both sizes
                total += weight * (value([*coalition, name]) - value(list(coalition)))
        exact.append(total)
    assert np.allclose(ours, exact, atol=1e-12)


def test_a_linear_regression_gap_is_each_coefficient_times_the_mean_difference():
    """For an additive model every order credits the same amounts: the decomposition of the mean-prediction gap is
    the closed form coef_k * (mean_A x_k - mean_B x_k), with scikit-learn's fitted coefficients as the oracle."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=600),
            "x2": rng.normal(size=600),
            "x3": rng.normal(size=600),
            "group": rng.choice(["p", "q"], 600),
        }
    )
    frame.loc[frame.group == "p", "x1"] += 1.0
    frame["label"] = 2 * frame.x1 - frame.x2 + 0.5 * frame.x3 + rng.normal(size=600)
    features = ["x1", "x2", "x3"]
    model = LinearRegression().fit(frame[features], frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", task="regression", sensitive=("group",)),
        explainers=ExplainerConfig(methods=()),
        slices=SlicesConfig(enabled=False),
        mitigation=MitigationConfig(enabled=False),
        gaps=GapsConfig(n_boot=50),
    )
    result = run_audit(config, data=frame, model=model)
    gap = result.gap_explanations.explanations[0]
    assert gap.metric == "mean_prediction" and gap.additivity_error < 1e-9
    by_group = frame.groupby("group")[features].mean()
    expected = model.coef_ * (by_group.loc[gap.group.split("=")[1]] - by_group.loc[gap.compared_with.split("=")[1]])
    ours = pd.Series({f.feature: f.contribution for f in gap.features})[features]
    assert np.allclose(ours.to_numpy(), expected.to_numpy(), atol=1e-9)


# --- known answers -------------------------------------------------------------------------------------------


def test_a_planted_proxy_carries_the_gap_in_95_of_100_seeds_and_the_control_stays_under_10_percent():
    proxy_shares, control_shares = [], []
    for seed in range(100):
        frame = planted_proxy(seed, rows=1500)
        model = _logistic(frame, ["proxy", "control"])
        gap = _explain(frame, model, ["proxy", "control"], seed=seed).explanations[0]
        parts = {f.feature: f for f in gap.features}
        assert gap.additivity_error < 1e-6 and gap.group == "group=b"
        assert parts["proxy"].role == "proxy" and parts["control"].role == "other"
        proxy_shares.append(parts["proxy"].share)
        control_shares.append(abs(parts["control"].share))
    assert sum(share >= 0.8 for share in proxy_shares) >= 95
    assert max(control_shares) < 0.1


def test_a_feature_the_model_ignores_gets_nothing_and_an_unbiased_control_passes_the_gate():
    """No group difference in any input: the gap is chance, not flagged, and the proxies preset passes."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=3000), "unused": rng.normal(size=3000), "group": rng.choice(["a", "b"], 3000)}
    )
    frame["label"] = (rng.random(3000) < 1 / (1 + np.exp(-2 * frame.x))).astype(int)
    model = _logistic(frame, ["x"])

    class OnlyX:  # sees "unused" but ignores it
        def predict_proba(self, rows):
            return model.predict_proba(rows[["x"]])

    result = run_audit(gap_config(["x", "unused"], n_boot=100), data=frame, model=OnlyX())
    gap = next(g for g in result.gap_explanations.explanations if g.metric == "selection_rate")
    assert not gap.flagged
    assert {f.feature: f.contribution for f in gap.features}["unused"] == 0.0
    outcome = evaluate(result, [load_preset("proxies")])
    assert outcome.passed and all(o.status == "skipped" for o in outcome.outcomes if o.scope.startswith("gaps:"))


def test_the_planted_proxy_audit_fails_the_proxies_preset_and_round_trips(tmp_path):
    frame = planted_proxy(7, rows=3000, others=3, categorical=1)
    features = [c for c in frame.columns if c not in ("group", "label")]
    from benchmarks.gap import boosted_model

    result = run_audit(gap_config(features, n_boot=100), data=frame, model=boosted_model(frame, features))
    assert not result.failures
    report = result.gap_explanations
    selection = next(g for g in report.explanations if g.metric == "selection_rate")
    assert selection.flagged and selection.features[0].feature == "proxy" and selection.features[0].role == "proxy"
    low, high = selection.features[0].share_ci
    assert low <= selection.features[0].share <= high and low > 0.8
    assert all(g.additivity_error < 1e-6 for g in report.explanations)
    assert selection.check.passed and selection.check.feature == "proxy"
    assert any(f.kind == "proxy" and "proxy stands in for group" in f.message for f in result.findings)
    # the public explain_gaps, without an audit around it, gives the same report (its own tables, same settings)
    import audit

    assert (
        audit.explain_gaps(gap_config(features, n_boot=100), data=frame, model=boosted_model(frame, features)) == report
    )
    gate = evaluate(result, [load_preset("proxies")])
    failed = [o for o in gate.outcomes if o.status == "fail"]
    assert not gate.passed and failed and all(o.scope.endswith(": proxy") for o in failed)
    again = AuditResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    assert json.loads(result.to_json())["gap_explanations"]["explanations"][0]["features"][0]["feature"] == "proxy"
    assert again.gap_explanations.to_frame().shape[0] == sum(len(g.features) for g in report.explanations)
    # a confident rule reads the upper end of the share's interval
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[rules]]\nmetric = "proxy_share"\nwhere = "gaps"\ncompare = "<="\nthreshold = 0.5\nconfident = true\n'
    )
    confident = evaluate(result, [load_policy(policy)])
    checked = [o for o in confident.outcomes if o.scope.endswith(": proxy") and "selection_rate" in o.scope][0]
    assert checked.checked_value == high


def test_adult_names_relationship_and_marital_status_as_proxies_for_sex(adult_test, adult_model):
    from audit.datasets import DEMO_FEATURES

    config = AuditConfig(
        data=DataConfig(label="income", positive_label=">50K", sensitive=("sex",), features=tuple(DEMO_FEATURES)),
        explainers=ExplainerConfig(methods=()),
        slices=SlicesConfig(enabled=False),
        mitigation=MitigationConfig(enabled=False),
        gaps=GapsConfig(metrics=("selection_rate",), n_boot=50),
    )
    result = run_audit(config, data=adult_test, model=adult_model)
    gap = result.gap_explanations.explanations[0]
    assert (gap.group, gap.compared_with, gap.flagged) == ("sex=Female", "sex=Male", True)
    roles = {f.feature: f.role for f in gap.features}
    assert roles["relationship"] == "proxy" and roles["marital-status"] == "proxy" and roles["sex"] == "direct"
    aucs = {f.feature: f.proxy_auc for f in gap.features}
    assert aucs["relationship"] > 0.8 and aucs["capital-gain"] < 0.6
    assert gap.additivity_error < 1e-6 and gap.check.passed
    assert gap.note.startswith("The model takes sex as input")
    messages = [f.message for f in result.findings if f.kind == "proxy"]
    assert any("relationship stands in for sex" in m for m in messages)
    assert any("marital-status stands in for sex" in m for m in messages)


# --- the proxy strength ----------------------------------------------------------------------------------------


def test_proxy_auc_of_a_binary_feature_is_scikit_learns_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    member = rng.random(4000) < 0.4
    feature = np.where(rng.random(4000) < np.where(member, 0.8, 0.3), "yes", "no")
    folds = rng.permutation(4000) % 2
    ours = proxy_auc(binned(pd.Series(feature)), member, folds)
    theirs = np.mean([roc_auc_score(member[folds == h], feature[folds == h] == "yes") for h in (0, 1)])
    assert abs(ours - theirs) < 1e-12


def test_a_feature_with_many_rare_categories_does_not_look_like_a_proxy():
    """Cross-fitting: 2,000 unique ids would give an in-sample AUC of 1.0; held out they carry nothing."""
    rng = np.random.default_rng(0)
    member = rng.random(2000) < 0.5
    ids = pd.Series([f"id{i}" for i in range(2000)])
    assert abs(proxy_auc(binned(ids, bins=20), member, rng.permutation(2000) % 2) - 0.5) < 0.05


def test_the_two_sample_bootstrap_resamples_each_group_not_the_pairs():
    """A small group paired with a large one: the interval of the small group's mean must be as wide as its own
    standard error says, not as narrow as the number of pairs would make it."""
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=50), rng.normal(size=5000)
    plan = couple(np.ones(50), np.ones(5000), rng)
    values = (small[plan.group_rows] - large[plan.other_rows])[:, None]
    boot = two_sample_bootstrap(plan, values, group_size=50, other_size=5000, n_boot=2000, rng=rng)
    expected = np.sqrt(small.var() / 50 + large.var() / 5000)
    assert abs(boot[:, 0].std() / expected - 1) < 0.1


# --- settings, skips, failures, the report ----------------------------------------------------------------------


def test_bad_gap_settings_and_rules_are_refused_with_the_setting_to_fix():
    with pytest.raises(ConfigError, match="gaps.metrics"):
        GapsConfig(metrics=("accuracy",))
    with pytest.raises(ConfigError, match="gaps.proxy_auc"):
        GapsConfig(proxy_auc=0.3)
    with pytest.raises(ConfigError, match="proxy_share, direct_share"):
        from audit import Rule

        Rule(metric="share", where="gaps", compare="<=", threshold=0.5)


def test_decisions_read_from_the_data_skip_the_gaps_with_the_reason(biased_frame):
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",), prediction="decision"),
        explainers=ExplainerConfig(methods=()),
    )
    result = run_audit(config, data=biased_frame)
    assert result.gap_explanations is None
    assert any(s.step == "gap explanations" and "data.prediction" in s.reason for s in result.skipped)


def test_a_model_that_crashes_on_hybrid_rows_is_a_failure_that_blocks_the_gate():
    frame = planted_proxy(0, rows=800)
    model = _logistic(frame, ["proxy", "control"])
    measured = len(frame)

    class Fragile:
        def predict_proba(self, rows):
            if len(rows) != measured:
                raise RuntimeError("cannot score these rows")
            return model.predict_proba(rows)

    result = run_audit(gap_config(["proxy", "control"], n_boot=10), data=frame, model=Fragile())
    assert result.gap_explanations is None
    assert [f.step for f in result.failures] == ["gap explanations"]
    gate = evaluate(result, [load_preset("proxies")])
    assert not gate.passed and any(o.rule == "step-failed" for o in gate.outcomes)
    assert any(o.status == "error" and "no gap explanations" in o.message for o in gate.outcomes)


def test_swapped_words_are_aligned_by_the_words_around_them():
    assert align_words("I am a nondisabled person .".split(), "I am an autistic person .".split()) == (2, 2)
    assert align_words("he is his own boss".split(), "she is her own boss".split()) == (0, 2)
    assert align_words("Muslim".split(), "Jewish".split()) == (0, 0)
    assert align_words("my gay friend".split(), "my friend".split()) == (1, 1)  # never overlapping


def test_a_planted_pronoun_carries_every_flipping_swap_of_an_additive_text_model():
    """A bag-of-embeddings classifier trained where 'she' follows the negative label adds up its evidence in
    log-odds: swapping she/he changes the term's own term only, so the term carries 100% of each flip (in probability
    space the other words' attributions would move too, with the operating point)."""
    from explainers import get_explainer
    from tests.text_models import gendered_tweets, train_bag_classifier
    from audit.gaps._swaps import swap_explanations
    from audit.result._sections import CounterfactualExample

    texts, labels = gendered_tweets(planted=True)
    classifier = train_bag_classifier(texts[:2500], labels[:2500])
    held = texts[2500:2700]
    variants = [("he " + t[4:]) if t.startswith("she ") else ("she " + t[3:]) for t in held]
    before, after = classifier.predict_proba(held)[:, 1], classifier.predict_proba(variants)[:, 1]
    flips = [i for i in range(len(held)) if (before[i] >= 0.5) != (after[i] >= 0.5)][:8]
    assert len(flips) == 8
    examples = [
        CounterfactualExample(
            axis="gender",
            source=held[i].split()[0],
            target=variants[i].split()[0],
            original=held[i],
            variant=variants[i],
            original_score=float(before[i]),
            variant_score=float(after[i]),
            flipped=True,
        )
        for i in flips
    ]
    explainer = get_explainer("layer_integrated_gradients", target=1, seed=0, output="log-odds")
    swaps, summary = swap_explanations(
        examples,
        lambda batch: explainer.explain_texts(classifier, batch),
        method="layer_integrated_gradients",
        ci_level=0.95,
        seed=0,
    )
    assert summary.term_share_mean > 0.999 and all(s.term in ("she", "he") for s in swaps)
    for swap, i in zip(swaps, flips):
        assert abs(swap.unexplained) < 1e-3 and swap.output_space == "log-odds"
        odds = np.log(after[i] / (1 - after[i])) - np.log(before[i] / (1 - before[i]))
        # the explainer's log-odds are the classifier's (up to float32 probabilities near 1)
        assert abs(swap.output_change - odds) < 1e-3 * max(1.0, abs(odds))


def test_a_gap_rule_with_nothing_to_check_is_an_error_never_a_pass(tmp_path):
    from audit.result._gap_sections import GapReport

    frame = planted_proxy(3, rows=1000)
    result = run_audit(
        gap_config(["proxy", "control"], n_boot=0), data=frame, model=_logistic(frame, ["proxy", "control"])
    )
    policy = tmp_path / "p.toml"
    policy.write_text(
        '[[rules]]\nmetric = "proxy_share"\nwhere = "gaps"\ncompare = "<="\nthreshold = 0.5\n'
        'tables = ["group", "region"]\n'
    )
    outcomes = evaluate(result, [load_policy(policy)]).outcomes
    assert any(o.scope == "region" and o.status == "error" for o in outcomes)
    import dataclasses

    empty = dataclasses.replace(
        result,
        gap_explanations=GapReport(
            explanations=[], method="", not_explained=[{"table": "group", "metric": "tpr", "reason": "no reason"}]
        ),
    )
    gate = evaluate(empty, [load_preset("proxies")])
    assert not gate.passed and all(o.status == "error" for o in gate.outcomes)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 25), st.integers(2, 400), st.integers(0, 2**31), st.booleans())
def test_the_binned_auc_and_nmi_equal_scikit_learn(bins, rows, seed, tied_shares):
    """The proxy AUC and NMI are counted from tables (linear in the rows); scikit-learn ranks and builds the
    contingency itself: the oracle, ties between bins included."""
    from sklearn.metrics import normalized_mutual_info_score, roc_auc_score

    from audit.gaps._proxies import _binned_auc, attribute_nmi

    rng = np.random.default_rng(seed)
    share = rng.choice([0.1, 0.3, 0.5], size=bins) if tied_shares else rng.random(bins)
    codes = rng.integers(0, bins, rows)
    positive = rng.random(rows) < rng.uniform(0.1, 0.9)
    if positive.all() or not positive.any():
        positive[0] = not positive[0]
    assert abs(_binned_auc(share, codes, positive) - roc_auc_score(positive, share[codes])) < 1e-12
    attribute = rng.integers(0, rng.integers(1, 5), rows)
    assert abs(attribute_nmi(codes, attribute) - normalized_mutual_info_score(attribute, codes)) < 1e-12
