"""Explanation quality: known answers for faithfulness and the randomisation test, bad input reported as
such, agreement, and the checks inside an audit, its report and its gate."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from audit import AuditConfig, DataConfig, ExplainerConfig, run_audit
from audit.models._adapters import make_adapter
from audit.gate._policy import evaluate, load_preset
from audit.result._sections import GroupMargin
from explainers import get_explainer
from explainers._quality_measures import (
    cascading_stages,
    label_randomisation_test,
    randomisation_test,
    rank_agreement,
    tabular_faithfulness,
    text_faithfulness,
)
from reports import render_html
from tests.text_models import gendered_tweets, train_bag_classifier

FEATURES = [f"x{i}" for i in range(6)]


@pytest.fixture(scope="module")
def known_subset():
    """Only x0 and x1 matter (strongly); x2..x5 are noise the model barely uses."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 6)), columns=FEATURES)
    frame["group"] = np.where(rng.random(3000) < 0.5, "a", "b")
    logit = 2.5 * frame["x0"] - 2.0 * frame["x1"]
    frame["label"] = (rng.random(3000) < 1 / (1 + np.exp(-logit))).astype(int)
    model = LogisticRegression().fit(frame[FEATURES], frame["label"])
    return frame, model


def _faithfulness(frame, model, values, **kwargs):
    adapter = make_adapter(model, positive_label=1)
    rows = frame[FEATURES].iloc[:200]
    return tabular_faithfulness(
        lambda f: adapter.predict(f).scores,
        rows,
        values,
        frame[FEATURES].median().astype(object),
        groups={"group": frame["group"].to_numpy()[:200]},
        n_boot=300,
        **kwargs,
    )


def test_a_correct_method_beats_random_and_wrong_ones_do_not(known_subset):
    frame, model = known_subset
    adapter = make_adapter(model, positive_label=1)
    shap = (
        get_explainer("shap_linear")
        .explain(adapter, frame[FEATURES].iloc[:200], row_ids=np.arange(200), background=frame[FEATURES].iloc[200:400])
        .values
    )
    correct = _faithfulness(frame, model, shap)
    assert correct["status"] == "ok" and correct["deletion_margin"] > 0.05 and correct["deletion_margin_ci"][0] > 0
    assert correct["insertion_margin"] > 0.05
    assert all(r["deletion_margin"] > 0 for r in correct["by_group"]["group"].values())
    reversed_ = _faithfulness(frame, model, -shap)
    assert reversed_["deletion_margin"] < 0 and reversed_["deletion_margin_ci"][1] < 0
    noise = _faithfulness(frame, model, np.random.default_rng(1).normal(size=shap.shape))
    assert abs(noise["deletion_margin"]) < 0.03 and noise["deletion_margin_ci"][0] <= 0.01


def test_unscorable_examples_are_counted_never_scored(known_subset):
    frame, model = known_subset
    values = np.random.default_rng(0).normal(size=(200, 6))
    values[:3] = np.nan
    values[3:5] = 0.0
    result = _faithfulness(frame, model, values)
    assert result["not_scored"] == {"no_attribution": 3, "all_zero": 2, "output_unchanged": 0}
    assert result["examples"] == 195
    constant = LogisticRegression().fit(frame[FEATURES], frame["label"])
    constant.coef_[:] = 0.0  # a model whose output never moves
    flat = _faithfulness(frame, constant, values)
    assert flat["status"].startswith("not scored") and "does not change" in flat["status"]
    assert "deletion_margin" not in flat and flat["not_scored"]["output_unchanged"] == 195


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(6, 16)
        self.out = torch.nn.Linear(16, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x))).squeeze(-1)


def test_randomisation_separates_a_real_explainer_from_an_edge_detector(known_subset):
    frame, _ = known_subset
    torch.manual_seed(0)
    net = Net()
    x = torch.tensor(frame[FEATURES].to_numpy(), dtype=torch.float32)
    y = torch.tensor(frame["label"].to_numpy(), dtype=torch.float32)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(200):
        optimiser.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(x), y).backward()
        optimiser.step()
    rows = frame[FEATURES].iloc[:100]
    ig = get_explainer("integrated_gradients", n_steps=32)

    def explain_ig(model):
        return ig.explain(
            make_adapter(model, positive_label=1, kind="torch"), rows, row_ids=np.arange(100), background=rows
        ).values

    def edge_detector(model):  # looks only at the input, never at the model
        return rows.to_numpy() * 1.0

    stages = cascading_stages(net)
    assert [label for label, _ in stages] == ["head", "all modules"]
    real = randomisation_test(explain_ig, net, stages=stages)
    fake = randomisation_test(edge_detector, net, stages=stages)
    assert real["final_spearman"] < 0.5 and fake["final_spearman"] == pytest.approx(1.0)
    # retraining on shuffled labels: the same separation for models that are cheap to retrain
    shuffled = LogisticRegression().fit(frame[FEATURES], np.random.default_rng(0).permutation(frame["label"]))
    linear = get_explainer("shap_linear")
    background = frame[FEATURES].iloc[200:400]
    original = linear.explain(
        make_adapter(LogisticRegression().fit(frame[FEATURES], frame["label"]), positive_label=1),
        rows,
        background=background,
        row_ids=np.arange(100),
    ).values
    again = linear.explain(
        make_adapter(shuffled, positive_label=1), rows, background=background, row_ids=np.arange(100)
    ).values
    assert label_randomisation_test(original, again)["final_spearman"] < 0.5
    assert label_randomisation_test(original, original)["final_spearman"] == pytest.approx(1.0)


def test_eraser_on_text_known_answer():
    texts, labels = gendered_tweets(planted=True, n=2600)
    classifier = train_bag_classifier(texts[:2500], labels[:2500])
    sample = texts[2500:2540]
    attribution = get_explainer("layer_integrated_gradients", target=1).explain_texts(classifier, sample)
    score = lambda batch: classifier.predict_proba(batch, allow_empty=True)  # noqa: E731
    real = text_faithfulness(score, attribution.words, attribution.word_values, attribution.targets, n_boot=300)
    assert real["status"] == "ok" and real["comprehensiveness_margin"] > 0.05
    assert real["comprehensiveness_margin_ci"][0] > 0 and real["sufficiency_margin"] > 0
    rng = np.random.default_rng(0)
    random_values = [rng.normal(size=len(v)).tolist() for v in attribution.word_values]
    fake = text_faithfulness(score, attribution.words, random_values, attribution.targets, n_boot=300)
    assert fake["comprehensiveness_margin"] < real["comprehensiveness_margin"] / 3
    empty = text_faithfulness(score, [[]], [[]], np.array([1]))
    assert empty["status"].startswith("not scored") and empty["examples"] == 0


def test_rank_agreement():
    a = {"x": 3.0, "y": 2.0, "z": 1.0}
    rows = rank_agreement({"one": a, "same": dict(a), "reversed": {"x": 1.0, "y": 2.0, "z": 3.0}}, top=1)
    by_pair = {tuple(r["methods"]): r for r in rows}
    assert by_pair[("one", "same")]["spearman"] == pytest.approx(1.0) and by_pair[("one", "same")]["top_overlap"] == 1
    assert by_pair[("one", "reversed")]["spearman"] == pytest.approx(-1.0)
    assert by_pair[("one", "reversed")]["top_overlap"] == 0


def test_quality_in_the_audit_report_and_gate(known_subset):
    frame, model = known_subset
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",), features=tuple(FEATURES)),
        explainers=ExplainerConfig(methods=("shap_linear", "shap_permutation"), sample_size=120, background_size=50),
    )
    result = run_audit(config, data=frame, model=model)
    assert not result.failures
    methods = result.quality.methods
    assert set(methods) == {"shap_linear", "shap_permutation"}
    for entry in methods.values():
        assert entry.faithfulness.deletion_margin > 0.05
        assert entry.sanity.kind == "label_randomisation" and entry.sanity.final_spearman < 0.5
    assert result.quality.agreement[0].spearman > 0.8  # two shap estimators agree
    html = render_html(result)
    assert 'id="quality-heading"' in html and "Randomisation test" in html
    gate = evaluate(result, [load_preset("explanation-quality")])
    assert gate.passed, [o.message for o in gate.outcomes if o.status != "pass"]
    # a method that is no better than random for one group fails the preset, and becomes a finding
    by_group = {
        "group": {
            "a": GroupMargin(examples=60, small=False, deletion_margin=0.2, deletion_margin_ci=[0.1, 0.3]),
            "b": GroupMargin(examples=60, small=False, deletion_margin=-0.01, deletion_margin_ci=[-0.05, 0.02]),
        }
    }
    broken = dataclasses.replace(
        result,
        quality=dataclasses.replace(
            result.quality,
            methods={
                name: dataclasses.replace(
                    entry, faithfulness=dataclasses.replace(entry.faithfulness, by_group=by_group)
                )
                for name, entry in result.quality.methods.items()
            },
        ),
    )
    assert not evaluate(broken, [load_preset("explanation-quality")]).passed
    from audit.quality._checks import quality_findings

    assert any(f.kind == "explanation_disparity" for f in quality_findings(broken.quality))
