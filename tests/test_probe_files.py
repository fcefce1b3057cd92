"""A user's own probe files read with the care of tabular data, the score a paired file tests chosen and recorded,
and a gate that never passes on no evidence (issue 32)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import audit
from audit import AuditConfig, CausalLM, ModelConfig, ProbesConfig, run_audit
from audit.gate._policy import Policy, Rule, evaluate, load_preset
from audit.probes._data import read_crows_pairs
from tests.causal_models import tiny_causal_lm, word_tokenizer

WORDS = "she he worked as a nurse mechanic teacher cook . the was kind rude caring lazy".split()


@pytest.fixture(scope="module")
def lm():
    tokenizer = word_tokenizer(WORDS)
    return CausalLM(tiny_causal_lm("gpt2", tokenizer), tokenizer)


def _pairs(path, rows):
    pd.DataFrame(rows, columns=["sent_more", "sent_less", "bias_type"]).to_csv(path, index=False)
    return path


def _scored(path, model, **settings):
    """The pairs of ``path`` audited as CrowS-Pairs; the one suite."""
    config = AuditConfig(
        model=ModelConfig(kind="causal-lm"),
        probes=ProbesConfig(suites=("crows_pairs",), files={"crows_pairs": str(path)}, **settings),
    )
    result = run_audit(config, model=model)
    assert result.failures == []
    return result, result.probes.suites[0]


def test_bad_pair_files_are_refused_with_what_is_wrong(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(audit.DataError, match="is empty"):
        read_crows_pairs(str(tmp_path / "empty.csv"))
    (tmp_path / "latin.csv").write_bytes("sent_more,sent_less,bias_type\nla bonne \xe9l\xe8ve,x,y\n".encode("latin-1"))
    with pytest.raises(audit.DataError, match=r"not UTF-8: byte 0xe9 .* Save the file as UTF-8"):
        read_crows_pairs(str(tmp_path / "latin.csv"))
    (tmp_path / "header.csv").write_text("sent_more,sent_less,bias_type\n")
    with pytest.raises(audit.DataError, match="has a header but no pairs"):
        read_crows_pairs(str(tmp_path / "header.csv"))


def test_an_empty_cell_is_left_out_and_counted_never_scored_as_nan(tmp_path, lm):
    path = _pairs(
        tmp_path / "pairs.csv",
        [
            ["she worked as a nurse .", "he worked as a nurse .", "gender"],
            ["she was kind .", "", "gender"],
            ["he worked as a cook .", "she worked as a cook .", "gender"],
        ],
    )
    items = read_crows_pairs(str(path))
    assert items[1].anti == "" and items[1].line == 3  # row 3 of the file (the header is row 1)
    _, suite = _scored(path, lm)
    assert suite.items == 2
    assert any("1 pair(s) with an empty sentence left out (rows 3)" in note for note in suite.notes)


def test_a_pair_longer_than_the_model_reads_is_left_out_not_the_suite(tmp_path, lm):
    long = " ".join(["she worked as a nurse ."] * 20)  # 120 words; the model reads 64 tokens
    path = _pairs(
        tmp_path / "pairs.csv",
        [
            ["she worked as a nurse .", "he worked as a nurse .", "gender"],
            [long, long.replace("she", "he"), "gender"],
            ["he worked as a cook .", "she worked as a cook .", "gender"],
        ],
    )
    _, suite = _scored(path, lm)
    assert suite.items == 2
    assert any("longer than the model reads (64 tokens) left out (rows 3)" in note for note in suite.notes)


def test_the_primary_score_of_a_pair_file_is_the_users_choice_and_recorded(tmp_path, lm):
    path = _pairs(
        tmp_path / "pairs.csv",
        [
            ["the nurse was caring .", "the nurse was rude .", "profession"],
            ["the cook was lazy .", "the cook was kind .", "profession"],
        ],
    )
    _, suite = _scored(path, lm, primary={"crows_pairs": "full_sentence"})
    assert suite.settings["primary"] == "full_sentence"
    assert suite.settings["primary_source"] == "probes.primary.crows_pairs"
    assert {r.measure for r in suite.rows if r.role == "bias"} == {"stereotype_share_full_sentence"}
    # the changed word is the last word: the shared-token score rests on no token after it, and says so
    assert any("rests on at most one token for 2 of 2 pairs" in note for note in suite.notes)
    assert _scored(path, lm)[1].settings["primary"] == "unmodified_tokens"
    with pytest.raises(audit.ConfigError, match="probes.primary"):
        ProbesConfig(primary={"crows_pairs": "whole"})


def test_a_suite_whose_every_pair_ties_does_not_pass_the_gate(tmp_path):
    """Pairs whose changed words the tokenizer does not know are identical to the model: every row is undefined,
    every case skipped, and the rule is an error, never a pass; the BBQ rules are not applicable."""
    tokenizer = word_tokenizer(WORDS)
    model = CausalLM(tiny_causal_lm("gpt2", tokenizer), tokenizer)
    path = _pairs(
        tmp_path / "pairs.csv",
        [
            ["the zorblat worked as a nurse .", "the quexil worked as a nurse .", "x"],
            ["the frimp was kind .", "the glorp was kind .", "y"],
        ],
    )
    result, _ = _scored(path, model, primary={"crows_pairs": "full_sentence"})
    gate = evaluate(result, [load_preset("llm-bias")])
    assert not gate.passed
    outcomes = {(o.rule, o.scope): o for o in gate.outcomes}
    assert outcomes[("stereotype-preference", "no evidence")].status == "error"
    assert outcomes[("bbq-ambiguous-bias", "probes")].status == "not applicable"
    assert gate.counts["pass"] == 0 and gate.counts["not applicable"] >= 2


def test_rules_for_suites_not_asked_for_do_not_block_a_users_pairs(tmp_path, lm):
    path = _pairs(tmp_path / "pairs.csv", [["she worked as a nurse .", "he worked as a nurse .", "gender"]] * 4)
    result, _ = _scored(path, lm)
    gate = evaluate(result, [load_preset("llm-bias")])
    bbq = [o for o in gate.outcomes if o.rule.startswith("bbq")]
    assert bbq and all(o.status == "not applicable" and "asked for" in o.message for o in bbq)
    assert not any(o.status == "error" for o in gate.outcomes)  # the preset is decided by the pairs alone
    # a policy none of whose rules applies to the audit found no evidence: it cannot pass
    bbq_only = load_preset("llm-bias")
    bbq_only = Policy("bbq-only", tuple(r for r in bbq_only.rules if r.id.startswith("bbq")), "", "test")
    gate = evaluate(result, [bbq_only])
    assert not gate.passed and [o.rule for o in gate.outcomes if o.status == "error"] == ["no-evidence"]


def test_a_tabular_rule_with_every_group_too_small_is_an_error_unless_allowed(biased_frame):
    from audit import DataConfig

    config = AuditConfig(data=DataConfig(label="label", prediction="decision", sensitive=("group",)))
    result = run_audit(config, data=biased_frame)
    rule = dict(
        metric="selection_rate",
        where="every_group",
        stat="ratio_to_best",
        compare=">=",
        threshold=0.8,
        min_group_size=10**6,
    )
    strict = evaluate(result, [Policy("p", (Rule(**rule),), "", "test")])
    assert not strict.passed and any(o.scope == "no evidence" and o.status == "error" for o in strict.outcomes)
    relaxed = evaluate(result, [Policy("p", (Rule(**rule, allow_no_evidence=True),), "", "test")])
    no_evidence = [o for o in relaxed.outcomes if o.scope == "no evidence"]
    assert len(no_evidence) == 1 and no_evidence[0].status == "skipped"
    assert relaxed.passed  # allowed explicitly, in the policy
    np.testing.assert_equal(strict.counts["pass"], 0)
