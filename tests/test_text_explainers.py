import math

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients

from audit import CapabilityError, DataError
from explainers import EXPLAINERS, get_explainer
from explainers._text_model import TextClassifier, find_embedding_layer
from tests.text_models import ARCHITECTURES, tiny_model

TEXTS = ["she was very good", "the phone battery is awful, but the screen is great!", "bad"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_finds_its_embeddings_and_is_complete(architecture):
    model, tokenizer = tiny_model(architecture)
    classifier = TextClassifier(model, tokenizer)
    assert classifier.embedding_layer is model.get_input_embeddings()
    attribution = get_explainer("layer_integrated_gradients", n_steps=32).explain_texts(classifier, TEXTS)
    assert attribution.granularity == "token" and attribution.values.shape == attribution.token_mask.shape
    assert attribution.completeness_error.max() < 1e-4
    # special tokens and padding are left out; words are merged from pieces
    assert attribution.tokens[2] == ["bad"] and attribution.words[1][:2] == ["the", "phone"]
    assert np.allclose([sum(w) for w in attribution.word_values], attribution.values.sum(1), atol=1e-6)


def test_matches_captum_at_the_same_steps():
    model, tokenizer = tiny_model("bert", num_labels=3)
    classifier = TextClassifier(model, tokenizer)
    ours = get_explainer("layer_integrated_gradients", n_steps=50).explain_texts(classifier, TEXTS)
    captum = LayerIntegratedGradients(
        lambda ids, mask: torch.softmax(model(input_ids=ids, attention_mask=mask).logits, -1),
        model.bert.embeddings.word_embeddings,
    )
    for i, text in enumerate(TEXTS):
        encoded = tokenizer(text, return_tensors="pt")
        baseline = classifier.baseline_ids(encoded["input_ids"], encoded["attention_mask"])
        theirs = (
            captum.attribute(
                encoded["input_ids"],
                baselines=baseline,
                additional_forward_args=(encoded["attention_mask"],),
                target=int(ours.targets[i]),
                n_steps=50,
            )
            .sum(-1)[0, 1:-1]
            .detach()
            .numpy()
        )
        np.testing.assert_allclose(ours.values[i, : len(theirs)], theirs, atol=1e-6)


def test_auto_steps_hold_the_tolerance_with_fewer_steps():
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer)
    auto = get_explainer("layer_integrated_gradients", n_steps="auto", tolerance=1e-4).explain_texts(classifier, TEXTS)
    assert auto.completeness_error.max() <= 1e-4
    assert max(auto.meta["steps_per_example"]) < 50


def test_custom_head_over_an_encoder():
    encoder_model, tokenizer = tiny_model("bert")

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder_model.bert
            self.head = torch.nn.Linear(32, 2)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            pooled = (hidden * attention_mask[..., None]).sum(1) / attention_mask.sum(1, keepdim=True)
            return self.head(pooled)

    model = Head().eval()
    classifier = TextClassifier(model, tokenizer)
    assert classifier.embedding_layer is model.encoder.embeddings.word_embeddings
    attribution = get_explainer("layer_integrated_gradients", n_steps=24).explain_texts(classifier, TEXTS[:2])
    assert attribution.completeness_error.max() < 1e-4


def test_bad_inputs():
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, max_length=8)
    explainer = get_explainer("layer_integrated_gradients", n_steps=8)
    with pytest.raises(DataError, match="Text 1 is empty"):
        explainer.explain_texts(classifier, ["good", "  "])
    with pytest.raises(DataError, match="Text 0 is a int, not a string"):
        explainer.explain_texts(classifier, [3])
    with pytest.raises(DataError, match=r"target class 5 is out of range: the model has 2 classes \(0 to 1\)"):
        get_explainer("layer_integrated_gradients", target=5).explain_texts(classifier, ["good"])
    long = " ".join(["good"] * 20)
    attribution = explainer.explain_texts(classifier, [long, "bad"])
    assert attribution.meta["truncated"] == [True, False]
    assert len(attribution.tokens[0]) == 6  # 8 minus [CLS] and [SEP]
    with pytest.raises(
        CapabilityError,
        match=r"Could not find the token-embedding layer of Linear. Tried: .*"
        r"Name it with embedding_layer=",
    ):
        find_embedding_layer(torch.nn.Linear(2, 2))


def test_text_methods_are_registered():
    assert "layer_integrated_gradients" in EXPLAINERS.names()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_models_gpu_without_moving_it():
    model, tokenizer = tiny_model("bert")
    model = model.cuda()
    classifier = TextClassifier(model, tokenizer)
    attribution = get_explainer("layer_integrated_gradients", n_steps=16).explain_texts(classifier, TEXTS)
    assert next(model.parameters()).is_cuda and attribution.meta["device"].startswith("cuda")
    assert attribution.completeness_error.max() < 1e-4


@pytest.mark.parametrize(
    "method, settings", [("lime_text", {"num_samples": 200}), ("shap_partition_text", {"max_evals": 60})]
)
def test_perturbation_text_methods(method, settings):
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer)
    attribution = get_explainer(method, **settings).explain_texts(classifier, TEXTS[:2])
    assert attribution.granularity == "token" and attribution.tokens[0][:2] == ["she", "was"]
    assert attribution.values.shape == attribution.token_mask.shape
    if method == "shap_partition_text":
        assert attribution.completeness_error.max() < 1e-6


def test_auto_steps_rounds_share_passes_and_stop_at_the_cap():
    from explainers._text_ig import MAX_STEPS, _next_steps

    assert _next_steps(24, 0.05, 0.008) % 8 == 0 and _next_steps(24, 0.05, 0.008) > 24
    assert _next_steps(24, 0.0081, 0.008) == 40  # 24 x 1.5 margin, rounded up to a multiple of 8
    assert _next_steps(64, 1e-9, 1.0) == 72  # never fewer than 8 more
    assert _next_steps(200, 10.0, 1e-6) == MAX_STEPS
    model, tokenizer = tiny_model("roberta", seed=3)
    classifier = TextClassifier(model, tokenizer)
    # an impossible tolerance drives every text through several rounds up to the cap
    attribution = get_explainer("layer_integrated_gradients", n_steps="auto", tolerance=1e-12).explain_texts(
        classifier, TEXTS
    )
    assert max(attribution.meta["steps_per_example"]) == MAX_STEPS
    assert all(
        run >= used
        for run, used in zip(attribution.meta["steps_run_per_example"], attribution.meta["steps_per_example"])
    )


def test_two_panel_rule_integrates_polynomials_exactly_and_equals_the_one_panel_limit():
    from explainers._text_ig import _gauss_legendre, _two_panel_gauss_legendre

    nodes, weights = _two_panel_gauss_legendre(20)
    assert len(nodes) == 20 and np.all(np.diff(nodes) > 0) and 0 < nodes[0] and nodes[-1] < 1
    for degree in range(20):  # 10 nodes a panel: exact up to degree 19 on each panel
        assert abs(weights @ nodes**degree - 1 / (degree + 1)) < 1e-12
    # a bump in the middle of the path (the shape a classifier's integrand takes) is where two panels win
    bump = lambda a: np.exp(-(((a - 0.45) / 0.05) ** 2))  # noqa: E731
    exact = 0.05 * np.sqrt(np.pi) / 2 * (math.erf(0.55 / 0.05) + math.erf(0.45 / 0.05))
    one_nodes, one_weights = _gauss_legendre(20)
    assert abs(weights @ bump(nodes) - exact) < abs(one_weights @ bump(one_nodes) - exact)


# --- every model family, as a user saves and loads it (issue 16) ---------------------------------------------


def _pad_is_eos(architecture):
    """GPT-2 as it is shipped: no pad token of its own, so pad = end of sequence ([SEP] here)."""
    model, tokenizer = tiny_model(architecture)
    tokenizer.eos_token = "[SEP]"
    tokenizer.pad_token = "[SEP]"
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


@pytest.mark.parametrize("architecture", ["roberta", "gpt2"])
def test_completeness_is_measured_from_the_true_path_start(architecture):
    """The baseline output comes from the baseline's embeddings under the real ids, mask and positions: with
    enough steps the gap is integration error only (it was 0.08-0.82 on RoBERTa and GPT-2 with pad = eos)."""
    model, tokenizer = _pad_is_eos(architecture) if architecture == "gpt2" else tiny_model(architecture)
    classifier = TextClassifier(model, tokenizer)
    attribution = get_explainer("layer_integrated_gradients", n_steps="auto", tolerance=1e-4).explain_texts(
        classifier, TEXTS
    )
    assert attribution.completeness_error.max() <= 1e-4
    assert max(attribution.meta["steps_per_example"]) < 256


def test_rmsnorm_models_start_from_a_non_zero_baseline_and_converge():
    model, tokenizer = tiny_model("llama")
    classifier = TextClassifier(model, tokenizer)
    assert classifier.baseline_token == tokenizer.unk_token_id and "RMSNorm" in classifier.baseline_description
    attribution = get_explainer("layer_integrated_gradients", n_steps="auto", tolerance=1e-5).explain_texts(
        classifier, TEXTS
    )
    assert attribution.completeness_error.max() <= 1e-5 and "RMSNorm" in attribution.meta["baseline"]
    pad = TextClassifier(model, tokenizer, baseline="pad")  # the user's override is honoured and recorded
    assert pad.baseline_token == tokenizer.pad_token_id and "baseline = 'pad'" in pad.baseline_description
    with pytest.raises(DataError, match="'baseline' parameter must be one of"):
        TextClassifier(model, tokenizer, baseline="zeros")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("side", ["right", "left"])
def test_a_text_scores_the_same_alone_and_in_a_mixed_batch(architecture, side):
    model, tokenizer = _pad_is_eos(architecture) if architecture == "gpt2" else tiny_model(architecture)
    tokenizer.padding_side = side
    classifier = TextClassifier(model, tokenizer)
    texts = ["good", "the battery is great and the screen is awful but the service was very good", "she loves it"]
    alone = np.concatenate([classifier.predict_proba([t]) for t in texts])
    together = classifier.predict_proba(texts, batch_size=3)
    np.testing.assert_allclose(alone, together, atol=1e-5)


@pytest.mark.parametrize("architecture", ["gpt2", "llama"])
def test_decoders_read_positions_from_the_mask_even_when_left_padded(architecture):
    model, tokenizer = tiny_model(architecture)
    classifier = TextClassifier(model, tokenizer)
    texts = ["good", "the battery is great and the screen is awful"]
    encoded = tokenizer(texts, padding=True, padding_side="left", return_tensors="pt")
    with torch.inference_mode():
        left = torch.softmax(classifier.logits(encoded["input_ids"], encoded["attention_mask"]), -1).numpy()
    np.testing.assert_allclose(left, classifier.predict_proba(texts), atol=1e-5)


def test_roberta_reads_its_usable_length_and_long_texts_do_not_crash():
    model, tokenizer = tiny_model("roberta")  # 70 position embeddings less padding_idx + 1 reserved ones
    tokenizer.model_max_length = int(1e30)  # as a tokenizer saved without model_max_length reads
    classifier = TextClassifier(model, tokenizer)
    assert classifier.max_length == 70 - model.config.pad_token_id - 1
    long_text = " ".join(["good"] * 200)
    assert classifier.predict_proba([long_text]).shape == (1, 2)


def test_a_language_model_checkpoint_is_refused(tmp_path):
    import transformers as t

    from audit import ModelError
    from tests.text_models import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    lm = t.GPT2LMHeadModel(
        t.GPT2Config(vocab_size=len(tokenizer.get_vocab()), n_embd=32, n_layer=1, n_head=2, n_positions=64)
    )
    with pytest.raises(ModelError, match="language model, not a sequence classifier"):
        TextClassifier(lm, tokenizer)
    lm.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    with pytest.raises(ModelError, match="no weights for the classification head"):
        TextClassifier.from_pretrained(str(tmp_path / "lm"))
    classifier_model, _ = tiny_model("gpt2")
    classifier_model.save_pretrained(tmp_path / "clf")
    tokenizer.save_pretrained(tmp_path / "clf")
    loaded = TextClassifier.from_pretrained(str(tmp_path / "clf"))
    original = TextClassifier(classifier_model, tokenizer)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), original.predict_proba(TEXTS), atol=1e-6)
