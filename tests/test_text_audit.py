import numpy as np
import pandas as pd
import pytest

from audit import AuditConfig, ConfigError, DataConfig, ExplainerConfig, ModelConfig, run_audit
from explainers._text_model import TextClassifier
from reports import render_html
from tests.text_models import tiny_model

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture()
def tweets():
    rng = np.random.default_rng(0)
    base = ["she loves the phone", "he hates the service", "the battery is great", "the screen is awful",
            "they love this store", "it was very bad", f"great {XSS} phone", "not good food"]
    texts = [base[i % len(base)] for i in range(40)]
    return pd.DataFrame({"text": texts, "label": rng.integers(0, 2, 40), "region": rng.choice(["north", "south"], 40)})


def test_text_model_audit_end_to_end(tweets):
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"])
    config = AuditConfig(data=DataConfig(label="label", sensitive=("region",), text="text"),
                         explainers=ExplainerConfig(sample_size=16))
    result = run_audit(config, data=tweets, model=classifier)
    assert result.model["kind"] == "text" and result.model["positive_class_index"] == 1
    summary = result.attributions[0]
    assert summary.method == "layer_integrated_gradients" and summary.granularity == "token"
    assert summary.completeness_error_max < 1e-3
    assert set(summary.sensitive_features_in_model) <= {"she", "he"} and summary.reliance_on_sensitive is not None
    assert set(summary.importance_by_group["region"]) == {"north", "south"}
    assert len(summary.examples) == 12 and summary.examples[0]["words"]
    html = render_html(result)
    assert "Example token heatmaps" in html and XSS not in html


def test_text_model_needs_a_text_column(tweets):
    model, tokenizer = tiny_model("bert")
    config = AuditConfig(data=DataConfig(label="label", sensitive=("region",)), model=ModelConfig(kind="text"))
    with pytest.raises(ConfigError, match="A text model reads a text column: name it in data.text"):
        run_audit(config, data=tweets, model=TextClassifier(model, tokenizer))


def test_tabular_method_on_a_text_model_is_recorded_as_refused(tweets):
    model, tokenizer = tiny_model("bert")
    config = AuditConfig(data=DataConfig(label="label", sensitive=("region",), text="text"),
                         explainers=ExplainerConfig(methods=("shap",), sample_size=8))
    result = run_audit(config, data=tweets, model=TextClassifier(model, tokenizer, labels=["0", "1"]))
    assert [(f.step, f.error_type) for f in result.failures] == [("explainer: shap", "CapabilityError")]
    assert "this audit's model reads text" in result.failures[0].message


def test_text_model_from_a_local_directory(tweets, tmp_path):
    model, tokenizer = tiny_model("distilbert")
    model.config.id2label, model.config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    frame = tweets.assign(label=np.where(tweets["label"] == 1, "pos", "neg"))
    config = AuditConfig(data=DataConfig(label="label", positive_label="pos", sensitive=("region",), text="text"),
                         model=ModelConfig(kind="text", path=str(tmp_path / "model")),
                         explainers=ExplainerConfig(methods=("layer_integrated_gradients",), sample_size=6))
    result = run_audit(config, data=frame)
    assert result.model["labels"] == ["neg", "pos"] and len(result.provenance["sha256"]["model"]) == 64
    assert result.attributions[0].n_examples == 6
