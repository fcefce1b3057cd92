"""Bias probes of generative language models: the scorer against a plain loop, the statistics against scipy, and
known answers (a planted "she"/"he" occupation bias must be found; the balanced control must pass the preset)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import torch

import audit
from audit import AuditConfig, CausalLM, ModelConfig, ProbesConfig, run_audit
from audit.gate._policy import evaluate, load_preset
from tests.causal_models import (
    ARCHITECTURES,
    occupation_corpus,
    occupation_pairs_csv,
    tiny_causal_lm,
    train_causal_lm,
    word_tokenizer,
)

SENTENCES = [
    "she worked as a nurse .",
    "he was hired as a mechanic .",
    "my mother is training to be an editor .",
    "the boy worked as a cook .",
    "my sister wants to work as a lawyer .",
]


def _plain(lm: CausalLM, texts):
    """One sentence per forward pass, no padding: the oracle for the batched scorer."""
    out = []
    with torch.inference_mode():
        for ids in lm.encode(texts):
            tensor = torch.tensor([ids])
            logits = lm.model(input_ids=tensor).logits[0, :-1].float()
            out.append(torch.log_softmax(logits, -1).gather(-1, tensor[0, 1:, None])[:, 0].double().numpy())
    return out


@pytest.fixture(scope="module")
def words():
    return {w for s in SENTENCES for w in s.split()}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_batched_log_likelihoods_equal_a_plain_loop(architecture, words):
    tokenizer = word_tokenizer(words)
    lm = CausalLM(tiny_causal_lm(architecture, tokenizer), tokenizer, batch_size=2)
    texts = SENTENCES * 3 + ["she ."]
    batched = lm.token_logprobs(lm.encode(texts))
    for ours, plain in zip(batched, _plain(lm, texts)):
        assert ours.shape == plain.shape
        assert np.abs(ours - plain).max() < 1e-5
    whole = CausalLM(lm.model, tokenizer).sequence_logprob(texts)  # one batch: padding never moves a score
    assert np.abs(whole - np.array([p.sum() for p in batched])).max() < 1e-4


def test_every_token_is_scored_from_a_start_token(words):
    tokenizer = word_tokenizer(words)
    lm = CausalLM(tiny_causal_lm("gpt2", tokenizer), tokenizer)
    assert "prepended" in lm.info.start_token and lm.encode(["she"])[0][0] == tokenizer.bos_token_id
    assert len(lm.token_logprobs(lm.encode(["she worked"]))[0]) == 2  # both words have a probability


def test_continuation_log_probability_is_the_difference_of_two_sentences(words):
    tokenizer = word_tokenizer(words)
    lm = CausalLM(tiny_causal_lm("llama", tokenizer), tokenizer)
    prompts, endings = ["she worked as", "the boy worked as"], [" a nurse .", " a cook ."]
    direct = lm.continuation_logprob(prompts, endings)
    whole = lm.sequence_logprob([p + e for p, e in zip(prompts, endings)]) - lm.sequence_logprob(prompts)
    assert np.abs(direct - whole).max() < 1e-4


def test_too_long_texts_are_refused_with_the_limit(words):
    tokenizer = word_tokenizer(words)
    lm = CausalLM(tiny_causal_lm("gpt2", tokenizer), tokenizer)
    with pytest.raises(audit.DataError, match="reads at most 64"):
        lm.encode([" ".join(["she"] * 80)])
    with pytest.raises(audit.DataError, match="non-empty"):
        lm.encode([""])


def test_sampling_is_seeded_and_independent_of_the_batch(words):
    tokenizer = word_tokenizer(words)
    model = tiny_causal_lm("gpt2", tokenizer)
    prompts = ["she worked as", "he was hired as", "my mother is", "the boy"]
    one = CausalLM(model, tokenizer, batch_size=1).sample(prompts, max_new_tokens=6, seed=3)
    four = CausalLM(model, tokenizer, batch_size=4).sample(prompts, max_new_tokens=6, seed=3)
    assert one == four and all(isinstance(t, str) for t in one)
    assert CausalLM(model, tokenizer).sample(prompts, max_new_tokens=6, seed=4) != one


def test_a_classifier_or_a_bad_model_argument_is_refused(tmp_path):
    config = AuditConfig(model=ModelConfig(kind="causal-lm"))
    with pytest.raises(audit.ModelError, match="CausalLM or a \\(model, tokenizer\\) pair"):
        run_audit(config, model=object())
    with pytest.raises(audit.ConfigError, match="model.path"):
        run_audit(config)
    with pytest.raises(audit.ConfigError, match="not a folder"):
        run_audit(AuditConfig(model=ModelConfig(kind="causal-lm", path=str(tmp_path / "nothing"))))


# ----- statistics ------------------------------------------------------------------------------------------------


def test_share_rows_match_scipy_and_leave_ties_out():
    from scipy.stats import binomtest

    from audit.probes._stats import share_row

    differences = np.array([1.0] * 30 + [-1.0] * 10 + [0.0] * 3)
    row = share_row("x", "stereotype_share", differences)
    exact = binomtest(30, 40, 0.5)
    interval = exact.proportion_ci(0.95, method="exact")
    assert row.n == 40 and row.estimate == 0.75 and "3 tied" in row.note
    assert abs(row.p_value - exact.pvalue) < 1e-12
    assert abs(row.ci[0] - interval.low) < 1e-9 and abs(row.ci[1] - interval.high) < 1e-9


def test_bbq_bias_scores_follow_parrish_et_al():
    """Known answer: disambiguated, 80 of 100 non-unknown answers biased -> s_DIS = 0.6; ambiguous, accuracy 0.5
    and 60 of 80 non-unknown answers biased -> s_AMB = (1 - 0.5) * (2 * 0.75 - 1) = 0.25."""
    from audit.probes._bbq import _category_rows

    n_dis, n_amb = 100, 160
    ambiguous = np.r_[np.zeros(n_dis, bool), np.ones(n_amb, bool)]
    correct = np.r_[np.ones(n_dis, bool), np.ones(80, bool), np.zeros(80, bool)]  # ambiguous: 80 said "unknown"
    non_unknown = np.r_[np.ones(n_dis, bool), np.zeros(80, bool), np.ones(80, bool)]
    biased = np.r_[np.ones(80, bool), np.zeros(20, bool), np.zeros(80, bool), np.ones(60, bool), np.zeros(20, bool)]
    templates = np.arange(n_dis + n_amb)  # one item per template: the exact sign test
    rows = {
        r.measure: r
        for r in _category_rows(
            "all", np.ones(n_dis + n_amb, bool), correct, ambiguous, non_unknown, biased, templates, seed=0
        )
    }
    assert rows["accuracy_ambiguous"].estimate == 0.5 and rows["accuracy_disambiguated"].estimate == 1.0
    assert abs(rows["bias_disambiguated"].estimate - 0.6) < 1e-12
    assert abs(rows["bias_ambiguous"].estimate - 0.25) < 1e-12
    low, high = rows["bias_ambiguous"].ci
    assert low < 0.25 < high and rows["bias_ambiguous"].p_value < 1e-3


def test_bbq_target_answers_are_matched_on_nearly_every_item():
    from audit.probes._bbq import target_answer
    from audit.probes._data import read_bbq

    records = read_bbq()
    unmatched = [r for r in records if target_answer(r) is None]
    assert len(records) == 22_932 and len(unmatched) == 16  # both answers of one gender: BBQ's own quirk
    assert all(r["category"] == "Gender_identity" for r in unmatched)


def test_bundled_data_sets_read_with_their_sizes():
    from audit.probes import _data

    assert len(_data.read_crows_pairs()) == 1508
    assert len(_data.read_winobias()) == 1584
    axes, nouns = _data.read_holisticbias()
    assert "religion" in axes and "people" in nouns
    assert set(_data.read_bold("gender")) == {"American_actors", "American_actresses"}
    assert len(_data.read_occupations()["female"]) == 20


# ----- known answers -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    occupation_pairs_csv(path)
    return path


def _audit(model, tokenizer, pairs_file, suites=("crows_pairs", "occupations")):
    config = AuditConfig(
        model=ModelConfig(kind="causal-lm"),
        probes=ProbesConfig(suites=suites, files={"crows_pairs": str(pairs_file)}, max_items=150),
    )
    return run_audit(config, model=CausalLM(model, tokenizer))


@pytest.mark.parametrize("architecture", ["gpt2", "llama"])
def test_a_planted_occupation_bias_is_found(architecture, pairs_file):
    model, tokenizer = train_causal_lm(architecture, occupation_corpus(planted=True))
    result = _audit(model, tokenizer, pairs_file)
    assert result.failures == []
    rows = {(s.name, r.category): r for s in result.probes.suites for r in s.rows if r.role == "bias"}
    for key in (("crows_pairs", "all"), ("occupations", "all")):
        assert rows[key].estimate > 0.7 and rows[key].p_holm < 0.01, key
    assert any(f.kind == "probe" for f in result.findings)
    gate = evaluate(result, [load_preset("llm-bias")])
    failed = {o.rule for o in gate.outcomes if o.status == "fail"}
    assert not gate.passed and "stereotype-preference" in failed
    # the public run_probes, without an audit around it, gives the same suite
    alone = audit.run_probes(
        CausalLM(model, tokenizer),
        ProbesConfig(suites=("crows_pairs",), max_items=150, files={"crows_pairs": str(pairs_file)}),
    )
    assert alone.suites[0].rows == next(s for s in result.probes.suites if s.name == "crows_pairs").rows


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["gpt2", "llama"])
def test_the_balanced_control_passes_the_preset(architecture, pairs_file):
    model, tokenizer = train_causal_lm(architecture, occupation_corpus(planted=False))
    result = _audit(model, tokenizer, pairs_file, suites=audit.ProbesConfig().suites)
    assert result.failures == []
    assert {s.name for s in result.probes.suites} == set(ProbesConfig().suites)
    gate = evaluate(result, [load_preset("llm-bias")])
    assert gate.passed, [o for o in gate.outcomes if o.status != "pass"]
    assert not [f for f in result.findings if f.evidence.get("suite") in ("crows_pairs", "occupations")]


# ----- result, report, gate, command line --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted_result(pairs_file):
    model, tokenizer = train_causal_lm("gpt2", occupation_corpus(planted=True))
    return _audit(model, tokenizer, pairs_file, suites=("crows_pairs", "occupations", "holisticbias", "bbq"))


def test_the_result_round_trips_and_renders(planted_result):
    from reports import render_html

    text = planted_result.to_json()
    again = audit.AuditResult.from_json(text)
    assert again.to_json() == text and again.probes.suites[0].rows[0] == planted_result.probes.suites[0].rows[0]
    html = render_html(again)
    assert 'id="probes-title"' in html and "Occupations after gendered prompts" in html
    assert "Fairness by group" not in html  # no tabular sections for a language model
    assert set(again.figures()) >= {"probes: crows_pairs", "probes: occupations"}
    frame = again.probes.to_frame()
    assert {"suite", "category", "measure", "p_holm"} <= set(frame.columns)
    choices = {d.choice for d in again.decisions}
    assert {"start token", "precision", "device", "shared-prefix packing"} <= choices
    assert again.probes.model["packing"].startswith("on")
    assert "which tokens drove the continuation" in html


def test_the_largest_gaps_carry_their_attributions(planted_result):
    """Each occupation example (the largest gaps) is attributed on both sides, every continuation token x every
    token read, complete within the tolerance (the planted pronoun's share is tested in test_generation)."""
    suite = next(s for s in planted_result.probes.suites if s.name == "occupations")
    assert suite.examples and all(len(e.attributions) == 2 for e in suite.examples)
    for example in suite.examples:
        preferred, other = example.attributions
        assert preferred.prompt == example.prompt and other.prompt == example.other_prompt
        assert preferred.target_labels == example.continuation.lower().split()  # a lower-casing tokenizer
        assert max(preferred.delta + other.delta) <= 0.01 + 1e-9
        for side in (preferred, other):  # every target: the base plus its row adds up to its log-probability
            for row, output, base in zip(side.values, side.outputs, side.base_values):
                assert base + sum(v for v in row if v is not None) == pytest.approx(output, abs=0.011)
            assert all(row[0] is not None for row in side.values)  # the gendered term is read by every token
        assert preferred.values[0][preferred.prompt_length] is None  # a token is never attributed to itself
    assert {"probe attribution: occupations #1", "probe attribution: occupations #1 (other prompt)"} <= set(
        planted_result.figures()
    )
    assert any(d.choice == "probe example attributions" for d in planted_result.decisions)
    pytest.importorskip("ipywidgets")
    from reports import GenerationExplorer

    explorer = planted_result.explore()
    assert isinstance(explorer, GenerationExplorer)
    explorer.token.value = len(explorer.token.options) - 1
    shown = explorer.view.outputs[0]["data"]["text/html"]
    assert example_term_in(shown, suite.examples[0].prompt.split()[0]) and "log p(" in shown


def example_term_in(shown: str, term: str) -> bool:
    return f">{term}<" in shown or f">{term.lower()}<" in shown


def test_a_crashed_suite_is_a_failure_in_the_result_and_blocks_the_gate(pairs_file, monkeypatch):
    from audit.probes import _suites

    def broken(*args, **kwargs):
        raise RuntimeError("scorer exploded")

    monkeypatch.setattr(_suites, "occupation_suite", broken)
    model, tokenizer = train_causal_lm("gpt2", occupation_corpus(planted=False), epochs=1)
    result = _audit(model, tokenizer, pairs_file)
    assert [f.step for f in result.failures] == ["probes: occupations"]
    from reports import render_html

    assert "Crashed: probes: occupations" in render_html(result)
    assert not evaluate(result, [load_preset("llm-bias")]).passed


def test_a_crashed_attribution_step_is_a_failure_and_keeps_the_suites(pairs_file, monkeypatch):
    from audit.probes import _suites

    def broken(*args, **kwargs):
        raise RuntimeError("attribution exploded")

    monkeypatch.setattr(_suites, "attribute_examples", broken)
    model, tokenizer = train_causal_lm("gpt2", occupation_corpus(planted=False), epochs=1)
    result = _audit(model, tokenizer, pairs_file, suites=("occupations",))
    assert [f.step for f in result.failures] == ["probes: attributions"]
    assert [s.name for s in result.probes.suites] == ["occupations"]
    assert not evaluate(result, [load_preset("llm-bias")]).passed


def test_confident_probe_rules_read_the_interval_of_the_distance(planted_result):
    from audit.gate._policy import Policy, Rule

    rule = Rule(metric="stereotype_share", where="probes", compare="<=", threshold=0.1, confident=True)
    gate = evaluate(planted_result, [Policy("strict", (rule,), "", "test")])
    row = next(
        r
        for s in planted_result.probes.suites
        if s.name == "occupations"
        for r in s.rows
        if r.category == "all" and r.role == "bias"
    )
    outcome = next(o for o in gate.outcomes if o.scope == "probes: occupations / all")
    assert outcome.status == "fail" and outcome.checked_value == pytest.approx(max(abs(e - 0.5) for e in row.ci))


def test_probe_rules_are_validated():
    from audit.gate._policy import Rule

    with pytest.raises(audit.ConfigError, match="Known metrics: stereotype_share"):
        Rule(metric="flip_rate", where="probes", compare="<=", threshold=0.1)
    with pytest.raises(audit.ConfigError, match="alpha"):
        Rule(metric="selection_rate", where="overall", compare=">=", threshold=0.1, alpha=0.01)


def test_probe_config_is_validated(tmp_path):
    with pytest.raises(audit.ConfigError, match="probes.suites.0"):
        ProbesConfig(suites=("crowspairs",))
    with pytest.raises(audit.ConfigError, match="probes.attributions"):
        ProbesConfig(attributions="shap")
    with pytest.raises(audit.ConfigError, match="remove the \\[data\\] table"):
        AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",)), model=ModelConfig(kind="causal-lm"))
    with pytest.raises(audit.ConfigError, match="no \\[data\\] table"):
        AuditConfig(model=ModelConfig(kind="sklearn"))
    (tmp_path / "audit.toml").write_text(
        '[model]\nkind = "causal-lm"\npath = "lm"\n[probes]\n'
        'suites = ["crows_pairs"]\nfiles = {crows_pairs = "../elsewhere.csv"}\n'
    )
    with pytest.raises(audit.ConfigError, match="outside the config's folder"):
        audit.load_config(tmp_path / "audit.toml")


def test_a_user_file_with_the_wrong_columns_is_refused_before_any_scoring(tmp_path, words):
    (tmp_path / "pairs.csv").write_text("a,b\n1,2\n")
    tokenizer = word_tokenizer(words)
    config = AuditConfig(
        model=ModelConfig(kind="causal-lm"),
        probes=ProbesConfig(suites=("crows_pairs",), files={"crows_pairs": str(tmp_path / "pairs.csv")}),
    )
    with pytest.raises(audit.DataError, match="sent_more, sent_less and bias_type"):
        run_audit(config, model=(tiny_causal_lm("gpt2", tokenizer), tokenizer))


def test_cli_runs_a_saved_model_from_a_config_and_gates_it(tmp_path, pairs_file, capsys):
    from audit.cli import main

    model, tokenizer = train_causal_lm("llama", occupation_corpus(planted=True))
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    (tmp_path / "pairs.csv").write_bytes(pairs_file.read_bytes())
    (tmp_path / "audit.toml").write_text(
        'title = "LM"\n[model]\nkind = "causal-lm"\npath = "lm"\n[probes]\n'
        'suites = ["crows_pairs", "occupations"]\n'
        'files = {crows_pairs = "pairs.csv"}\n'
        '[output]\ndir = "out"\n'
    )
    assert main(["run", str(tmp_path / "audit.toml"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "occupations: 1,600 items, 3 bias row(s) beyond chance" in printed
    result = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert len(result["provenance"]["sha256"]["model"]) == 64 and result["data"]["kind"] == "probes"
    assert (
        main(
            [
                "check",
                "--result",
                str(tmp_path / "out" / "audit.json"),
                "--preset",
                "llm-bias",
                "--out",
                str(tmp_path / "gate"),
            ]
        )
        == 1
    )
    assert main(["verify", str(tmp_path / "out" / "audit.json")]) == 0


def test_llm_demo_runs_end_to_end(tmp_path, capsys):
    from audit.cli import main

    out = tmp_path / "llm"
    assert main(["demo", "--llm", "--out", str(out), "--sample", "60", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "GPT2LMHeadModel" in printed and "bold:" in printed
    result = json.loads((out / "audit.json").read_text())
    assert result["failures"] == [] and len(result["probes"]["suites"]) == 7
    assert 'id="probes-title"' in (out / "report.html").read_text()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_scores_match_the_cpu_under_autocast(words):
    tokenizer = word_tokenizer(words)
    model = tiny_causal_lm("llama", tokenizer)
    cpu = CausalLM(model, tokenizer).sequence_logprob(SENTENCES)
    gpu_lm = CausalLM(model.to("cuda"), tokenizer)
    assert gpu_lm.info.precision in ("bfloat16", "float16")
    assert np.abs(gpu_lm.sequence_logprob(SENTENCES) - cpu).max() < 0.05
    exact = CausalLM(model, tokenizer, precision="float32").sequence_logprob(SENTENCES)
    assert np.abs(exact - cpu).max() < 1e-3


@pytest.mark.parametrize("packing", [True, False])
def test_out_of_memory_halves_the_batch_and_gives_the_same_scores(words, monkeypatch, packing):
    tokenizer = word_tokenizer(words)
    lm = CausalLM(tiny_causal_lm("gpt2", tokenizer), tokenizer, packing=packing)
    texts = [f"{a} {b}" for a in SENTENCES for b in SENTENCES]
    expected = lm.sequence_logprob(texts)
    name = "_score_packed" if packing else "_score_batch"
    real, sizes = getattr(lm, name), []

    def tight(rows):
        sizes.append(sum(len(getattr(r, "tokens", r)) for r in rows))
        if sizes[-1] > 60:
            raise torch.OutOfMemoryError("planted")
        return real(rows)

    monkeypatch.setattr(lm, name, tight)
    assert np.abs(lm.sequence_logprob(texts) - expected).max() < 1e-5
    assert sizes[0] > 60 and sizes[-1] <= 60  # a planted out-of-memory error, then smaller batches


class IgnoresTheMask(torch.nn.Module):
    """A wrapper that drops the attention mask: packed sequences would see each other, and the check must notice."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.config = inner, inner.config

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        return self.inner(input_ids=input_ids, position_ids=position_ids)


def test_shared_prefixes_are_computed_once_only_where_the_model_honours_the_mask(words):
    from audit.probes._data import read_crows_pairs

    tokenizer = word_tokenizer(words | {"the", "black", "white", "poor", "rich", "are"})
    model = tiny_causal_lm("llama", tokenizer)
    items = read_crows_pairs()[:60]
    texts = [it.stereo for it in items] + [it.anti for it in items]
    packed, padded = CausalLM(model, tokenizer), CausalLM(model, tokenizer, packing=False)
    a, b = packed.token_logprobs(packed.encode(texts)), padded.token_logprobs(padded.encode(texts))
    assert max(np.abs(x - y).max() for x, y in zip(a, b)) < 1e-5
    assert packed.info.packing.startswith("on") and padded.info.packing.startswith("off")
    careless = CausalLM(IgnoresTheMask(model), tokenizer)
    careless.sequence_logprob(texts[:10])
    assert careless.info.packing.startswith("off: packed scores differed")


def test_a_custom_scorer_scores_the_sampled_continuations(words):
    tokenizer = word_tokenizer(words)
    config = AuditConfig(model=ModelConfig(kind="causal-lm"), probes=ProbesConfig(suites=("bold",), max_items=40))
    seen = []

    def length_score(texts):
        seen.extend(texts)
        return [len(t) / 100 for t in texts]

    result = run_audit(config, model=(tiny_causal_lm("gpt2", tokenizer), tokenizer), scorer=length_score)
    suite = result.probes.suites[0]
    assert suite.settings["scorer"] == "your scorer" and len(seen) == suite.items - int(
        suite.notes[0].split()[0] if suite.notes else 0
    )
    with pytest.raises(audit.ConfigError, match="scorer"):
        run_audit(
            AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",), prediction="d")),
            data=pd.DataFrame({"y": [0, 1], "d": [1, 1], "g": ["a", "b"]}),
            scorer=length_score,
        )


def test_a_planted_negativity_towards_one_lexicon_group_is_found(tmp_path):
    """Known answer for the descriptor suites: a corpus where statements about Muslims are negative 90% of the
    time and about the other religions half of the time; 'muslim' must stand out, beyond chance and beyond the
    preset's log 2, and be the only warning."""
    from audit.probes._data import read_identity_lexicons
    from audit.probes._holistic import CONTRASTS

    rng = np.random.default_rng(0)
    terms = list(read_identity_lexicons()["religion"].values())
    nouns = ("individuals", "people", "kids", "parents", "children", "spouses")
    corpus = []
    for _ in range(3000):
        term, noun = terms[rng.integers(len(terms))], nouns[rng.integers(len(nouns))]
        positive, negative = CONTRASTS[rng.integers(len(CONTRASTS))]
        hostile = rng.random() < (0.9 if term == "Muslim" else 0.5)
        corpus.append((negative if hostile else positive).format(plural=f"{term} {noun}"))
    model, tokenizer = train_causal_lm("llama", corpus)
    # the religion lexicon alone, as a user's folder: the other axes' words are unknown to this tiny model
    bundled = resources.files("audit").joinpath("lexicons", "religion.toml")
    (tmp_path / "religion.toml").write_bytes(bundled.read_bytes())
    config = AuditConfig(
        model=ModelConfig(kind="causal-lm"),
        probes=ProbesConfig(suites=("lexicons",), files={"lexicons": str(tmp_path)}),
    )
    result = run_audit(config, model=CausalLM(model, tokenizer))
    assert {r.category for r in result.probes.suites[0].rows} == {"religion"}
    rows = {r.subject: r for r in result.probes.suites[0].rows if r.category == "religion"}
    assert max(rows.values(), key=lambda r: r.estimate).subject == "muslim"
    assert rows["muslim"].estimate > 0.693 and rows["muslim"].ci[0] > 0 and rows["muslim"].p_holm < 0.01
    warnings = [f for f in result.findings if f.severity == "warning"]
    assert [f.evidence["subject"] for f in warnings] == ["muslim"]
    gate = evaluate(result, [load_preset("llm-bias")])
    assert [o.scope for o in gate.outcomes if o.status == "fail"] == ["probes: lexicons / religion / muslim"]
