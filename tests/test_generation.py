"""Token attributions of generated text (explainers._generation): captum as the oracle on tiny GPT-2, Llama,
Mistral-style and Qwen-style models, completeness, batching that changes no number, and a planted bias."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generation import StartTokenizer
from explainers import CausalLM, attribute_generation
from explainers._errors import ConfigError, DataError, ModelError
from tests.causal_models import ARCHITECTURES, occupation_corpus, tiny_causal_lm, train_causal_lm, word_tokenizer

WORDS = "she he worked as a nurse doctor the woman man was hired an engineer . my mother father".split()
PROMPTS = ["she worked as a", "the man was hired as"]


@pytest.fixture(scope="module", params=ARCHITECTURES)
def lm(request):
    tokenizer = word_tokenizer(WORDS)
    return CausalLM(tiny_causal_lm(request.param, tokenizer, seed=1), tokenizer)


@pytest.fixture(scope="module")
def gpt2_lm():
    tokenizer = word_tokenizer(WORDS)
    return CausalLM(tiny_causal_lm("gpt2", tokenizer, seed=1), tokenizer)


def _captum(lm, method, prompt: str, targets: list[int], **kwargs) -> np.ndarray:
    from captum.attr import LLMAttribution, LLMGradientAttribution, TextTokenInput

    tokenizer = StartTokenizer(lm)
    wrapper = LLMAttribution if method.__class__.__name__ == "FeatureAblation" else LLMGradientAttribution
    attribution = wrapper(method, tokenizer)
    text = TextTokenInput(prompt, tokenizer, baselines=0, skip_tokens=[lm.start_id])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = attribution.attribute(text, target=torch.tensor(targets), **kwargs)
    return result.token_attr.detach().numpy()


def test_integrated_gradients_equal_captum_llm_attribution_on_every_architecture(lm):
    from captum.attr import LayerIntegratedGradients

    result = attribute_generation(
        lm, PROMPTS, max_new_tokens=4, settings={"n_steps": 16, "sources": "prompt", "baseline": 0}
    )
    method = LayerIntegratedGradients(lm.model, lm.model.get_input_embeddings())
    for prompt, example in zip(PROMPTS, result.examples):
        theirs = _captum(lm, method, prompt, example.target_ids, n_steps=16)
        assert example.values.shape == (4, example.prompt_length + 4)
        np.testing.assert_allclose(example.values[:, : example.prompt_length], theirs, atol=1e-4, rtol=0)
        assert np.isnan(example.values[:, example.prompt_length :]).all()  # generated tokens: not attributed
        assert example.delta.max() < 1e-2  # completeness, at 16 fixed steps on a random model


def test_input_x_gradient_equals_captum_and_saliency_is_the_gradient_norm(lm):
    from captum.attr import LayerGradientXActivation

    layer = lm.model.get_input_embeddings()
    ixg = attribute_generation(lm, PROMPTS, method="input_x_gradient", max_new_tokens=3, settings={"sources": "prompt"})
    for prompt, example in zip(PROMPTS, ixg.examples):
        theirs = _captum(lm, LayerGradientXActivation(lm.model, layer), prompt, example.target_ids)
        np.testing.assert_allclose(example.values[:, : example.prompt_length], theirs, atol=1e-5, rtol=0)
        assert example.delta is None
    saliency = attribute_generation(lm, PROMPTS[:1], method="saliency", max_new_tokens=3)
    example = saliency.examples[0]
    ids = lm.encode(PROMPTS[:1])[0] + example.target_ids
    for i in range(3):  # a plain autograd loop, one target at a time
        length = len(ids) - 3 + i
        embeds = layer(torch.tensor([ids[:length]])).detach().requires_grad_(True)
        logp = torch.log_softmax(lm.model(inputs_embeds=embeds).logits[0, -1], -1)[ids[length]]
        (gradient,) = torch.autograd.grad(logp, embeds)
        expected = gradient[0, 1:].norm(dim=-1).numpy()  # the start token is not attributed
        np.testing.assert_allclose(example.values[i, : length - 1], expected, atol=1e-5, rtol=1e-4)
        assert np.isnan(example.values[i, length - 1 :]).all()  # tokens after the target: never seen


def test_feature_ablation_equals_captum_llm_attribution(lm):
    from captum.attr import FeatureAblation

    # a word-level tokenizer: every token is a word, so word occlusion is captum's token occlusion
    result = attribute_generation(
        lm, PROMPTS, method="feature_ablation", max_new_tokens=3, settings={"sources": "prompt", "baseline": 0}
    )
    for prompt, example in zip(PROMPTS, result.examples):
        # captum's default cached path reads other numbers for later targets under transformers 5; uncached is
        # its definition (one forward per ablation)
        theirs = _captum(lm, FeatureAblation(lm.model), prompt, example.target_ids, use_cached_outputs=False)
        np.testing.assert_allclose(example.values[:, : example.prompt_length], theirs, atol=1e-5, rtol=0)


def test_all_sources_equal_a_plain_captum_loop_with_earlier_tokens_interpolated(lm):
    from captum.attr import LayerIntegratedGradients

    result = attribute_generation(lm, PROMPTS[:1], max_new_tokens=4, settings={"n_steps": 16, "baseline": 0})
    example = result.examples[0]
    ids = lm.encode(PROMPTS[:1])[0] + example.target_ids
    prompt_end = len(ids) - 4

    def log_prob(input_ids, target):
        return torch.log_softmax(lm.model(input_ids=input_ids).logits[:, -1], -1)[:, target]

    method = LayerIntegratedGradients(log_prob, lm.model.get_input_embeddings())
    for i in range(4):
        inputs = torch.tensor([ids[: prompt_end + i]])
        baseline = inputs.clone()
        baseline[0, 1:] = 0  # every token but the start token
        theirs = method.attribute(inputs, baseline, additional_forward_args=(ids[prompt_end + i],), n_steps=16)
        expected = theirs.sum(-1)[0, 1:].detach().numpy()
        np.testing.assert_allclose(example.values[i, : prompt_end - 1 + i], expected, atol=1e-4, rtol=0)
        assert np.isnan(example.values[i, prompt_end - 1 + i :]).all()
    assert example.delta.max() < 1e-2


def test_auto_steps_meet_the_tolerance_and_batching_changes_no_number(gpt2_lm):
    lm = gpt2_lm
    auto = attribute_generation(lm, PROMPTS, max_new_tokens=5, settings={"tolerance": 1e-4})
    for example in auto.examples:
        assert all(d <= 1e-4 or s >= 256 for d, s in zip(example.delta, example.steps))
        base_plus_sum = example.base_values + np.nansum(example.values, 1)
        np.testing.assert_allclose(base_plus_sum, example.outputs, atol=1e-4)
    tiny_batches = attribute_generation(lm, PROMPTS, max_new_tokens=5, settings={"tolerance": 1e-4, "batch_tokens": 7})
    alone = attribute_generation(lm, PROMPTS[1:], max_new_tokens=5, settings={"tolerance": 1e-4})
    for a, b in zip(auto.examples, tiny_batches.examples):
        np.testing.assert_allclose(a.values, b.values, atol=1e-6)
    np.testing.assert_allclose(auto.examples[1].values, alone.examples[0].values, atol=1e-6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prompts=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join), min_size=1, max_size=3),
    batch_tokens=st.integers(1, 80),
    new_tokens=st.integers(1, 4),
)
def test_any_batch_size_gives_the_one_batch_numbers(gpt2_lm, prompts, batch_tokens, new_tokens):
    """Property: for any prompts and any token budget, the same numbers as everything in one batch, and
    integrated gradients complete (base + sum = output) within the fixed rule's error."""
    common = dict(max_new_tokens=new_tokens, settings={"n_steps": 24, "batch_tokens": 4096})
    one = attribute_generation(gpt2_lm, prompts, **common)
    small = attribute_generation(
        gpt2_lm, prompts, max_new_tokens=new_tokens, settings={"n_steps": 24, "batch_tokens": batch_tokens}
    )
    for a, b in zip(one.examples, small.examples):
        np.testing.assert_allclose(a.values, b.values, atol=1e-6)
        np.testing.assert_allclose(a.base_values + np.nansum(a.values, 1), a.outputs, atol=5e-3)


def test_a_contrast_is_the_difference_of_its_two_continuations(gpt2_lm):
    """Input x gradient is linear in the target: the contrast's row equals A's rows summed minus B's, over the
    prompt they share; its output is log p(A) - log p(B)."""
    lm, prompt = gpt2_lm, ["the woman was hired as"]
    both = attribute_generation(
        lm, prompt, continuations=[" a nurse"], contrasts=[" an engineer ."], method="input_x_gradient"
    )
    parts = [
        attribute_generation(
            lm, prompt, continuations=[c], method="input_x_gradient", settings={"sources": "prompt"}
        ).examples[0]
        for c in (" a nurse", " an engineer .")
    ]
    n = both.examples[0].prompt_length
    expected = parts[0].values[:, :n].sum(0) - parts[1].values[:, :n].sum(0)
    np.testing.assert_allclose(both.examples[0].values[0, :n], expected, atol=1e-6)
    assert both.examples[0].outputs[0] == pytest.approx(parts[0].outputs.sum() - parts[1].outputs.sum(), abs=1e-6)
    assert np.isnan(both.examples[0].values[0, n:]).all()


def test_out_of_memory_halves_the_batch_and_gives_the_same_numbers(gpt2_lm, monkeypatch):
    lm = gpt2_lm
    reference = attribute_generation(lm, PROMPTS, max_new_tokens=3, settings={"n_steps": 8, "batch_tokens": 4096})
    original = lm.logits
    seen = []

    def small_memory(ids, mask, position_ids=None, *, autocast=True):
        seen.append(ids.numel())
        if ids.numel() > 60:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(ids, mask, position_ids, autocast=autocast)

    monkeypatch.setattr(lm, "logits", small_memory)
    result = attribute_generation(lm, PROMPTS, max_new_tokens=3, settings={"n_steps": 8, "batch_tokens": 4096})
    assert max(seen) > 60 and result.meta["batch_tokens"] <= 60
    for a, b in zip(reference.examples, result.examples):
        np.testing.assert_allclose(a.values, b.values, atol=1e-6)


def test_greedy_generation_equals_transformers_generate_and_sampling_is_seeded(gpt2_lm):
    lm = gpt2_lm
    ids = lm.encode(PROMPTS)
    ours = lm.continue_ids(ids, max_new_tokens=6)
    for row, new in zip(ids, ours):
        expected = lm.model.generate(
            torch.tensor([row]),
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=lm.pad_id,
            eos_token_id=lm.tokenizer.eos_token_id,
        )[0, len(row) :]
        expected = expected.tolist()
        if lm.tokenizer.eos_token_id in expected:
            expected = expected[: expected.index(lm.tokenizer.eos_token_id)]
        assert new == expected
    assert lm.continue_ids(ids, max_new_tokens=6, seed=3) == lm.continue_ids(ids, max_new_tokens=6, seed=3)
    result = attribute_generation(lm, PROMPTS, max_new_tokens=6, seed=3, settings={"n_steps": 4})
    assert [e.target_ids for e in result.examples] == lm.continue_ids(ids, max_new_tokens=6, seed=3)
    assert result.meta["continuation"].startswith("sampled (seed 3")


@pytest.fixture(scope="module")
def planted_and_balanced():
    return (
        CausalLM(*train_causal_lm("gpt2", occupation_corpus(planted=True), seed=0)),
        CausalLM(*train_causal_lm("gpt2", occupation_corpus(planted=False), seed=0)),
    )


def _prompt_words(example) -> dict[str, float]:
    words = sorted(set(example.word_of_token[: example.prompt_length]))
    return {example.words[w]: float(example.word_values[0, w]) for w in words}


def test_contrastive_attribution_of_a_planted_bias_falls_on_the_gendered_term(planted_and_balanced):
    """Planted: "she"/"the woman" before female-stereotyped jobs 90% of the time. Why "nurse" rather than
    "mechanic"? Erasing the female term (contrastive erasure) takes most of the answer away; in the balanced
    model it takes almost nothing. Integrated gradients agree on the term's sign and size."""
    planted, balanced = planted_and_balanced
    prompts = ["she worked as a", "the woman was hired as a"]
    asked = dict(continuations=[" nurse", " secretary"], contrasts=[" mechanic", " carpenter"])
    found = {}
    for name, lm in (("planted", planted), ("balanced", balanced)):
        erasure = attribute_generation(lm, prompts, method="feature_ablation", **asked)
        gradients = attribute_generation(lm, prompts, settings={"tolerance": 1e-3}, **asked)
        assert erasure.output_space == "log-probability difference" and erasure.sources == "prompt"
        for a, b in zip(erasure.examples, gradients.examples):
            assert a.target_labels == [f"{a.continuation.strip()} rather than {a.contrast.strip()}"]
            assert b.delta[0] < 1e-3
            term = "she" if "she" in a.prompt else "woman"
            words = _prompt_words(a)
            found.setdefault(name, []).append(
                (words[term], sum(abs(v) for v in words.values()), _prompt_words(b)[term], a.outputs[0])
            )
            if name == "planted":
                assert max(words, key=lambda w: abs(words[w])) == term
    for erased, total, integrated, output in found["planted"]:
        assert output > 1.5 and erased / total > 0.4 and integrated > 1.0
    for (erased, _, integrated, _), (planted_erased, _, planted_integrated, _) in zip(
        found["balanced"], found["planted"]
    ):
        assert abs(erased) < 0.1 * planted_erased and abs(integrated) < 0.3 * planted_integrated


def test_a_male_default_shows_in_the_baseline_not_in_the_term(planted_and_balanced):
    """The same planted model, asked why "mechanic" rather than "nurse" after "he": the all-padding baseline
    already prefers "mechanic" (the model's default is male), so "he" carries little; the report's baseline
    column is where this shows."""
    planted, _ = planted_and_balanced
    result = attribute_generation(
        planted, ["he worked as a"], continuations=[" mechanic"], contrasts=[" nurse"], settings={"tolerance": 1e-3}
    )
    example = result.examples[0]
    assert example.outputs[0] > 1.5 and example.base_values[0] > 0.5 * example.outputs[0]
    assert abs(_prompt_words(example)["he"]) < 0.25 * example.outputs[0]


def test_words_merge_byte_level_pieces_of_gpt2s_own_tokenizer():
    from benchmarks.generation import gpt2_tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = gpt2_tokenizer()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=len(tokenizer))).eval()
    lm = CausalLM(model, tokenizer)
    result = attribute_generation(
        lm, ["The receptionist's unbelievably"], continuations=[" friendly smile."], method="input_x_gradient"
    )
    example = result.examples[0]
    assert "".join(example.source_tokens[: example.prompt_length]).replace(" ", "") == "Thereceptionist'sunbelievably"
    assert example.words[:4] == ["The", "receptionist", "'s", "unbelievably"] or "receptionist" in example.words
    assert example.words[-3:] == ["friendly", "smile", "."]
    assert example.word_values.shape == (len(example.target_labels), len(example.words))


def test_bad_settings_are_refused_with_what_to_do(gpt2_lm):
    lm = gpt2_lm
    with pytest.raises(ConfigError, match="n_step"):
        attribute_generation(lm, PROMPTS, settings={"n_step": 8})
    with pytest.raises(DataError, match="'sources'"):
        attribute_generation(lm, PROMPTS, settings={"sources": "everything"})
    with pytest.raises(DataError, match="continuations="):
        attribute_generation(lm, PROMPTS, contrasts=["x", "y"])
    with pytest.raises(DataError, match="one text per prompt"):
        attribute_generation(lm, PROMPTS, continuations=[" nurse"])
    with pytest.raises(DataError, match="longer than"):
        attribute_generation(lm, PROMPTS, max_new_tokens=500)
    with pytest.raises(ModelError, match="CausalLM"):
        attribute_generation(lm.model, PROMPTS)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_cpu_numbers(gpt2_lm):
    cpu = attribute_generation(gpt2_lm, PROMPTS, max_new_tokens=4, settings={"n_steps": 16})
    tokenizer = gpt2_lm.tokenizer
    on_gpu = CausalLM(tiny_causal_lm("gpt2", tokenizer, seed=1).cuda(), tokenizer)
    gpu = attribute_generation(on_gpu, PROMPTS, max_new_tokens=4, settings={"n_steps": 16})
    assert gpu.meta["device"].startswith("cuda")
    for a, b in zip(cpu.examples, gpu.examples):
        assert a.target_ids == b.target_ids
        np.testing.assert_allclose(a.values, b.values, atol=1e-4)
