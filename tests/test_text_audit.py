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
    base = [
        "she loves the phone",
        "he hates the service",
        "the battery is great",
        "the screen is awful",
        "they love this store",
        "it was very bad",
        f"great {XSS} phone",
        "not good food",
    ]
    texts = [base[i % len(base)] for i in range(40)]
    return pd.DataFrame({"text": texts, "label": rng.integers(0, 2, 40), "region": rng.choice(["north", "south"], 40)})


def test_text_model_audit_end_to_end(tweets):
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("region",), text="text"), explainers=ExplainerConfig(sample_size=16)
    )
    result = run_audit(config, data=tweets, model=classifier)
    assert result.model.kind == "text" and result.model.positive_class_index == 1
    summary = result.attributions[0]
    assert summary.method == "layer_integrated_gradients" and summary.granularity == "token"
    assert summary.completeness_error_max < 1e-3
    assert set(summary.sensitive_features_in_model) <= {"she", "he"} and summary.reliance_on_sensitive is not None
    assert set(summary.importance_by_group["region"]) == {"north", "south"}
    assert len(summary.examples) == 12 and summary.examples[0]["words"]
    html = render_html(result)
    assert "Example token heatmaps" in html and XSS not in html
    # a text model's input is its text, not the other columns of the data
    assert "the text in column text" in html and '<th scope="row">Features</th>' not in html


def test_text_model_needs_a_text_column(tweets):
    model, tokenizer = tiny_model("bert")
    config = AuditConfig(data=DataConfig(label="label", sensitive=("region",)), model=ModelConfig(kind="text"))
    with pytest.raises(ConfigError, match="A text model reads a text column: name it in data.text"):
        run_audit(config, data=tweets, model=TextClassifier(model, tokenizer))


def test_tabular_method_on_a_text_model_is_recorded_as_refused(tweets):
    model, tokenizer = tiny_model("bert")
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("region",), text="text"),
        explainers=ExplainerConfig(methods=("shap",), sample_size=8),
    )
    result = run_audit(config, data=tweets, model=TextClassifier(model, tokenizer, labels=["0", "1"]))
    assert [(f.step, f.error_type) for f in result.failures] == [("explainer: shap", "CapabilityError")]
    assert "this audit's model reads text" in result.failures[0].message


def test_text_model_from_a_local_directory(tweets, tmp_path):
    model, tokenizer = tiny_model("distilbert")
    model.config.id2label, model.config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    frame = tweets.assign(label=np.where(tweets["label"] == 1, "pos", "neg"))
    config = AuditConfig(
        data=DataConfig(label="label", positive_label="pos", sensitive=("region",), text="text"),
        model=ModelConfig(kind="text", path=str(tmp_path / "model")),
        explainers=ExplainerConfig(methods=("layer_integrated_gradients",), sample_size=6),
    )
    result = run_audit(config, data=frame)
    assert result.model.labels == ["neg", "pos"] and len(result.provenance.sha256["model"]) == 64
    assert result.attributions[0].n_examples == 6


# --- friction on real text (issue 16) ---------------------------------------------------------------------------


def _text_project(tmp_path, tweets, texts):
    model, tokenizer = tiny_model("distilbert")
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    frame = tweets.iloc[: len(texts)].assign(text=texts)
    frame.to_csv(tmp_path / "texts.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        '[data]\npath = "texts.csv"\nlabel = "label"\npositive_label = 1\nsensitive = ["region"]\ntext = "text"\n'
        '[model]\nkind = "text"\npath = "model"\n[explainers]\nsample_size = 4\n[text]\nattribution_sample = 0\n'
        '[fairness]\nn_boot = 0\n[quality]\nenabled = false\n[output]\ndir = "out"\n'
    )
    return tmp_path / "audit.toml"


def test_empty_texts_are_skipped_with_their_csv_lines_and_words_like_null_are_text(tweets, tmp_path, capsys):
    import json

    from audit.cli import main

    texts = ["she loves it", "", "N/A", "null", "\u200b", "he hates it", "None", "the phone is good"] * 2
    config = _text_project(tmp_path, tweets, texts)
    assert main(["run", str(config), "--quiet"]) == 0  # numeric positive_label = 1 works from TOML
    result = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert result["data"]["n_rows"] == 12  # "", and a zero-width space, twice each, are left out
    assert result["data"]["empty_texts_skipped"] == [1, 4, 9, 12]
    skipped = next(s for s in result["skipped"] if s["step"] == "empty texts")
    assert "CSV lines 3, 6, 11, 14" in skipped["reason"]
    assert "tweets" not in capsys.readouterr().out
    config.write_text(config.read_text().replace('text = "text"\n', 'text = "text"\nempty_text = "error"\n', 1))
    assert main(["run", str(config), "--quiet"]) == 2
    assert "CSV lines 3, 6, 11, 14" in capsys.readouterr().err


def test_csv_encoding_is_a_setting(tweets, tmp_path):
    import json

    from audit.cli import main

    config = _text_project(tmp_path, tweets, ["café is good", "he hates the café"] * 4)
    frame = pd.read_csv(tmp_path / "texts.csv")
    frame.to_csv(tmp_path / "texts.csv", index=False, encoding="latin-1")
    assert main(["run", str(config), "--quiet"]) == 2
    config.write_text(config.read_text().replace('text = "text"\n', 'text = "text"\nencoding = "latin-1"\n'))
    assert main(["run", str(config), "--quiet"]) == 0
    assert json.loads((tmp_path / "out" / "audit.json").read_text())["data"]["n_rows"] == 8


def test_verify_hashes_a_model_folder_as_the_run_did(tweets, tmp_path):
    from audit.cli import main

    config = _text_project(tmp_path, tweets, ["she loves it", "he hates it"] * 4)
    assert main(["run", str(config), "--quiet"]) == 0
    assert main(["verify", str(tmp_path / "out" / "audit.json"), "--model", str(tmp_path / "model")]) == 0
    (tmp_path / "model" / "config.json").write_text((tmp_path / "model" / "config.json").read_text() + " ")
    assert main(["verify", str(tmp_path / "out" / "audit.json"), "--model", str(tmp_path / "model")]) == 1


def test_per_group_quality_lands_on_the_rows_that_were_explained(tweets):
    """Explained texts carry the data's own row ids (a shuffled sample), so by-group checks use their groups."""
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"])
    frame = tweets.sample(frac=1, random_state=3).reset_index(drop=True)
    frame["region"] = np.where(np.arange(len(frame)) < 20, "north", "south")
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("region",), text="text"), explainers=ExplainerConfig(sample_size=12)
    )
    from audit.config._settings import QualityConfig

    config = AuditConfig(
        data=config.data, explainers=config.explainers, quality=QualityConfig(sample_size=12, sanity=False)
    )
    result = run_audit(config, data=frame, model=classifier)
    by_group = result.quality.methods["layer_integrated_gradients"].faithfulness.to_dict()["by_group"]["region"]
    rng = np.random.default_rng(config.seed)
    explained = np.sort(rng.choice(len(frame), size=12, replace=False))
    expected_north = int((explained < 20).sum())
    assert by_group["north"]["examples"] == expected_north and by_group["south"]["examples"] == 12 - expected_north
