"""No silent guesses: every automatic choice is recorded with its evidence and its override, or refused when
the evidence fits two readings; one rule decides the positive class; unknown settings are refused (issue 14)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from audit import AuditConfig, DataConfig, run_audit
from audit.config._settings import ExplainerConfig, FairnessConfig, ModelConfig, QualityConfig
from audit._errors import ConfigError, DataError, ModelError
from audit.data._labels import positive_class_index, positive_mask
from audit.models._adapters import make_adapter
from explainers import get_explainer


def _decisions(result):
    return {d.choice: d.to_dict() for d in result.decisions}


def test_every_automatic_choice_is_recorded_and_shown(biased_frame):
    model = LogisticRegression().fit(biased_frame[["x1", "x2"]], biased_frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",)),
        explainers=ExplainerConfig(sample_size=50),
        fairness=FairnessConfig(n_boot=0),
        quality=QualityConfig(enabled=False),
    )
    result = run_audit(config, data=biased_frame, model=model)
    decisions = _decisions(result)
    assert decisions["positive class"]["value"] == 1 and "0/1" in decisions["positive class"]["evidence"]
    assert decisions["positive class"]["override"] == "data.positive_label"
    output, inputs = decisions["model output"], decisions["model inputs"]
    assert output["value"] == "probability" and "predict_proba" in output["evidence"]
    assert inputs["value"] == ["x1", "x2"] and "feature_names_in_" in inputs["evidence"]
    assert decisions["shap algorithm (shap_linear)"]["value"] == "shap_linear"
    assert decisions["decision threshold"]["evidence"] == "model.threshold (the default)"
    assert all({"choice", "value", "evidence", "override"} <= set(d.to_dict()) for d in result.decisions)
    from audit import AuditResult
    from reports import render_html

    assert AuditResult.from_json(result.to_json()).decisions == result.decisions
    html = render_html(result)
    assert 'id="decisions"' in html and "data.positive_label" in html


def test_a_model_trained_on_0_1_read_with_another_positive_label_is_recorded():
    index, how = positive_class_index([0, 1], ">50K")
    assert index == 1 and "class 1 is read as positive" in how
    with pytest.raises(ModelError, match="none of them is the positive label 'maybe'"):
        positive_class_index(["no", "yes"], "maybe")


@pytest.mark.parametrize(
    "values, positive, expected",
    [
        ([0, 1, 1.0, 0], 1, [False, True, True, False]),  # TOML integer vs CSV float
        (["1", "0", "1"], 1, [True, False, True]),  # text digits
        ([True, False], "True", [True, False]),
        (["yes", "no", "Yes"], "yes", [True, False, False]),  # text is matched exactly
        ([1.5, 2.0], 2, [False, True]),
    ],
)
def test_one_rule_for_the_positive_label(values, positive, expected):
    assert positive_mask(values, positive).tolist() == expected


def test_numeric_positive_label_from_toml_matches_a_float_column(tmp_path):
    frame = pd.DataFrame({"y": [0.0, 1.0] * 50, "g": ["a", "b"] * 50, "d": [0, 1] * 50})
    frame.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "a.toml").write_text(
        '[data]\npath = "d.csv"\nlabel = "y"\npositive_label = 1\nsensitive = ["g"]\n'
        'prediction = "d"\n[fairness]\nn_boot = 0\n'
    )
    from audit.config._settings import load_config

    result = run_audit(load_config(tmp_path / "a.toml"))
    assert result.data.positive_rate == 0.5


def test_ambiguous_torch_output_is_refused_with_the_setting_to_add():
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight[:] = 0.01
        net.bias[:] = 0.5  # outputs near 0.5: probabilities or logits?
    frame = pd.DataFrame({"a": np.linspace(-1, 1, 50), "b": np.linspace(1, -1, 50)})
    with pytest.raises(ConfigError, match='model.output = "probability" or "logit"'):
        make_adapter(net, positive_label=1).predict(frame)
    as_logits = make_adapter(net, positive_label=1, output="logit").predict(frame)
    assert np.all(as_logits.scores > 0.5)
    settled = make_adapter(torch.nn.Sequential(net, torch.nn.Sigmoid()), positive_label=1)
    settled.predict(frame)
    assert "Sigmoid" in settled.output_evidence
    wide = make_adapter(torch.nn.Linear(2, 1), positive_label=1)
    wide.model.weight.data[:] = torch.tensor([[5.0, 0.0]])
    wide.predict(frame)
    assert "outside [0, 1]" in wide.output_evidence and wide.reading == "logit"


def test_unknown_explainer_settings_are_refused_with_the_closest_name():
    with pytest.raises(ConfigError, match="Unknown setting 'n_step' .* Did you mean 'n_steps'"):
        get_explainer("layer_integrated_gradients", n_step=8)
    with pytest.raises(ConfigError, match="Did you mean 'num_samples'"):
        get_explainer("lime_tabular", num_sample=10)
    with pytest.raises(ConfigError, match="Did you mean 'max_evals'"):
        get_explainer("shap_permutation", max_eval=10)
    with pytest.raises(ConfigError, match="Did you mean 'n_steps'"):
        get_explainer("integrated_gradients", nsteps=10)
    assert get_explainer("layer_integrated_gradients", batch_size=4, seed=0, background_size=3).batch_size == 4


def test_unknown_score_metric_raises():
    from audit.fairness._bootstrap import score_metric

    with pytest.raises(DataError, match="Unknown score metric 'brier'"):
        score_metric("brier", np.array([0, 1]), np.array([0.2, 0.8]), None)


def test_unknown_reference_group_is_a_config_error_listing_the_groups(biased_frame):
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",), prediction="decision"),
        fairness=FairnessConfig(reference={"group": "Bee"}),
    )
    with pytest.raises(ConfigError, match=r"group='Bee' does not occur in the data. Groups of 'group': 'A', 'B'"):
        run_audit(config, data=biased_frame)


def test_randomisation_uses_the_explanation_background(biased_frame, monkeypatch):
    import audit.quality._checks as quality

    seen = {}
    real = quality._explain_rows

    def spy(config, dataset, adapter, method, rows, background):
        seen["background"] = np.asarray(background)
        return real(config, dataset, adapter, method, rows, background)

    monkeypatch.setattr(quality, "_explain_rows", spy)
    model = LogisticRegression().fit(biased_frame[["x1", "x2"]], biased_frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",)),
        explainers=ExplainerConfig(sample_size=60, background_size=25),
        fairness=FairnessConfig(n_boot=0),
        model=ModelConfig(),
    )
    result = run_audit(config, data=biased_frame, model=model)
    rng = np.random.default_rng(config.seed)
    rng.choice(len(biased_frame), size=60, replace=False)
    expected = np.sort(rng.choice(len(biased_frame), size=25, replace=False))
    assert np.array_equal(seen["background"], expected)
    assert result.quality.methods["shap_linear"].sanity.kind == "label_randomisation"
