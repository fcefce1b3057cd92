"""Paired-swap audits (docs/swaps.md): a planted ranker's displacement is measured within its interval, a fair one
passes; a scikit-learn pipeline that learned names is caught, one that never saw them is not; a tiny language-model
judge trained to prefer the first answer shows position bias and its control does not; bad input is refused or
counted; the result round-trips, gates and renders."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import audit
from audit._errors import ConfigError, DataError
from audit.swaps._documents import _ranks, _variant_ranks
from tests.causal_models import JUDGE_TEMPLATE, judge_pairs, trained_judge

MALE = ["Brad", "Brendan", "Geoffrey", "Greg", "Jay", "Matthew", "Neil", "Todd"]  # name_gender's, White-perceived
FEMALE = ["Allison", "Anne", "Carrie", "Emily", "Jill", "Kristen", "Meredith", "Sarah"]
LIST_SIZE, SPREAD, PENALTY = 40, 40.0, 3.0


def _applications(lists: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Documents signed by male names, each with a merit drawn uniformly on [0, SPREAD), LIST_SIZE per list."""
    rng = np.random.default_rng(seed)
    n = lists * LIST_SIZE
    merit = rng.uniform(0, SPREAD, n)
    names = rng.choice(MALE, n)
    texts = [f"{name} applied for the analyst role. Merit {m:.6f}." for name, m in zip(names, merit)]
    return texts, np.repeat(np.arange(lists), LIST_SIZE)


def _merit(texts: list[str]) -> np.ndarray:
    return np.array([float(re.search(r"Merit ([0-9]+\.[0-9]+)", t).group(1)) for t in texts])


def planted_ranker(texts: list[str]) -> np.ndarray:
    """Scores merit, minus PENALTY for a female name: a female-named document drops below the others within
    PENALTY of its merit."""
    female = np.array([any(re.search(rf"\b{n}\b", t) for n in FEMALE) for t in texts])
    return _merit(texts) - PENALTY * female


@pytest.fixture(scope="module")
def applications():
    return _applications(60, seed=3)


@pytest.fixture(scope="module")
def planted(applications):
    texts, lists = applications
    return audit.swap_audit(
        documents=texts, scorer=planted_ranker, queries=lists, k=5, threshold=30.0, lexicons=["name_gender"]
    )


def _row(result, measure, subject="male -> female", suite=0):
    return next(r for r in result.suites[suite].rows if r.measure == measure and r.subject == subject)


def test_a_planted_ranker_is_found_and_its_displacement_is_within_its_interval(planted, applications):
    # the displacement a male -> female swap causes in expectation: the other LIST_SIZE - 1 merits (uniform on
    # [0, SPREAD)) that fall within PENALTY below the document's own, averaged over its merit (edges included)
    expected = (LIST_SIZE - 1) * (PENALTY / SPREAD - PENALTY**2 / (2 * SPREAD**2))
    displacement = _row(planted, "rank_displacement")
    assert displacement.ci[0] <= expected <= displacement.ci[1], (displacement, expected)
    assert abs(displacement.estimate - expected) < 0.25
    assert displacement.p_holm < 1e-10 and displacement.n == len(applications[0])
    score = _row(planted, "score_change")
    assert score.estimate == pytest.approx(-PENALTY) and score.ci == pytest.approx([-PENALTY, -PENALTY])
    assert _row(planted, "decision_rate_change").estimate < 0 and _row(planted, "top_k_rate_change").estimate < 0


def test_each_displacement_equals_a_plain_loop(planted, applications):
    texts, lists = applications
    scores = planted_ranker(texts)
    variants = [re.sub(r"^\w+", lambda m: FEMALE[MALE.index(m.group(0))], t) for t in texts]
    moved = []
    for i, variant in enumerate(variants):
        others = [j for j in range(len(texts)) if lists[j] == lists[i] and j != i]
        new = planted_ranker([variant])[0]
        moved.append(sum(scores[j] > new for j in others) - sum(scores[j] > scores[i] for j in others))
    assert _row(planted, "rank_displacement").estimate == pytest.approx(np.mean(moved))


def test_a_fair_ranker_passes_with_evidence_and_the_gate_agrees(applications, tmp_path):
    texts, lists = applications
    fair = audit.swap_audit(
        documents=texts, scorer=_merit, queries=lists, k=5, threshold=30.0, lexicons=["name_gender"]
    )
    rows = [r for r in fair.suites[0].rows if r.role == "bias"]
    assert rows and all(r.estimate == 0 and r.p_value is None and r.n == len(texts) for r in rows)
    result = _result_with(fair)
    policy = _policy(tmp_path, "rank_displacement", threshold=0.5)
    assert audit.evaluate(result, [policy]).passed
    biased = _result_with(
        audit.swap_audit(documents=texts, scorer=planted_ranker, queries=lists, lexicons=["name_gender"])
    )
    verdict = audit.evaluate(biased, [policy])
    assert not verdict.passed and any(o.status == "fail" for o in verdict.outcomes)


def _result_with(swaps):
    frame = pd.DataFrame({"g": ["a", "b"] * 20, "y": [0, 1, 1, 0] * 10, "d": [0, 1] * 20})
    base = audit.run_audit(
        audit.AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",), prediction="d")), data=frame
    )
    import dataclasses

    return dataclasses.replace(base, swaps=swaps)


def _policy(tmp_path, metric, *, threshold, alpha=None):
    extra = f"\nalpha = {alpha}" if alpha else ""
    path = tmp_path / f"{metric}.toml"
    path.write_text(
        f'[[rules]]\nmetric = "{metric}"\nwhere = "swaps"\ncompare = "<="\nthreshold = {threshold}{extra}\n',
        encoding="utf-8",
    )
    return audit.load_policy(path)


def _resumes(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    skills = ["python", "sql", "excel", "statistics", "sales", "design", "writing", "support"]
    texts, female = [], rng.integers(0, 2, n).astype(bool)
    for i in range(n):
        name = rng.choice(FEMALE if female[i] else MALE)
        texts.append(f"{name} lists {' and '.join(rng.choice(skills, 2, replace=False))} on the resume.")
    return texts, female


@pytest.fixture(scope="module")
def pipelines():
    """A TF-IDF logistic regression trained on hiring decisions that favoured male names, and one trained on the
    same decisions with the names removed (it cannot see them)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, female = _resumes(1500, seed=1)
    rng = np.random.default_rng(2)
    skilled = np.array(["python" in t or "statistics" in t for t in texts])
    hired = rng.random(len(texts)) < np.where(skilled, 0.7, 0.3) - 0.25 * female
    learned = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10.0, max_iter=1000)).fit(texts, hired)
    blind_texts = [t.split(" ", 1)[1] for t in texts]
    blind = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10.0, max_iter=1000)).fit(blind_texts, hired)
    return learned, blind


def test_a_pipeline_that_learned_names_is_caught_and_one_that_never_saw_them_is_not(pipelines):
    learned, blind = pipelines
    texts, _ = _resumes(400, seed=9)
    caught = audit.swap_audit(documents=texts, scorer=learned, lexicons=["name_gender"], k=40)
    assert caught.scorer["kind"] == "predict_proba" and caught.scorer["positive_index"] == 1
    assert _row(caught, "score_change").estimate < -0.05 and _row(caught, "score_change").p_holm < 1e-6
    assert _row(caught, "score_change", "female -> male").estimate > 0.05
    assert _row(caught, "decision_rate_change").estimate < 0 and _row(caught, "decision_rate_change").p_holm < 0.01
    control = audit.swap_audit(documents=texts, scorer=blind, lexicons=["name_gender"], k=40)
    for row in control.suites[0].rows:
        if row.role == "bias":
            assert row.estimate == 0 and row.p_value is None, row


@pytest.fixture(scope="module")
def judges():
    return trained_judge(first_always=True), trained_judge(first_always=False)


def test_a_judge_trained_to_prefer_the_first_answer_shows_position_bias_and_its_control_does_not(judges):
    biased, control = judges
    prompts, first, second, a_better = judge_pairs(80, seed=7)
    common = dict(prompts=prompts, answers_a=first, answers_b=second, suites=("position",))
    found = audit.judge_audit(judge=audit.CausalLMJudge(biased, template=JUDGE_TEMPLATE), **common)
    row = _row(found, "first_position_advantage", "order swapped")
    assert row.estimate > 0.9 and row.p_holm < 1e-10 and row.ci[0] > 0.8
    judge = audit.CausalLMJudge(control, template=JUDGE_TEMPLATE)
    assert ((judge.judge(prompts, first, second).verdicts > 0) == a_better).mean() > 0.95  # it reads the answers
    passed = audit.judge_audit(judge=judge, **common)
    row = _row(passed, "first_position_advantage", "order swapped")
    assert abs(row.estimate) <= 0.05 and (row.p_holm is None or row.p_holm > 0.05)
    assert passed.scorer["kind"] == "causal-lm judge" and passed.scorer["labels"] == [" A", " B"]


def test_the_judge_suites_measure_length_and_identity_with_a_python_judge():
    prompts, first, second, _ = judge_pairs(120, seed=11)

    def judge(prompts, first, second):
        # prefers an answer of more words, and one signed by a male name (a name swap keeps the word count)
        out = []
        for a, b in zip(first, second):
            content = 2.0 * (any(w in a for w in ("right", "correct", "true ", "accurate")) - 0.5)
            content -= 2.0 * (any(w in b for w in ("right", "correct", "true ", "accurate")) - 0.5)
            male = (a.split()[0] in ("Greg", "Brad", "Todd", "Neil")) - (
                b.split()[0] in ("Greg", "Brad", "Todd", "Neil")
            )
            out.append(content + 2.5 * male + 3.0 * np.sign(len(a.split()) - len(b.split())))
        return out

    result = audit.judge_audit(
        prompts=prompts, answers_a=first, answers_b=second, judge=judge, lexicons=["name_gender"], alpha=0.01
    )
    assert _row(result, "first_position_advantage", "order swapped", suite=0).estimate == 0
    length = _row(result, "padded_win_share_change", "answer padded", suite=1)
    assert length.estimate > 0.1 and length.p_holm < 0.01
    identity = result.suites[2]
    to_female = _row(result, "swapped_win_share_change", "male -> female", suite=2)
    to_male = _row(result, "swapped_win_share_change", "female -> male", suite=2)
    assert to_female.estimate < 0 < to_male.estimate and max(to_female.p_holm, to_male.p_holm) < 0.01
    assert identity.examples and all(e.flipped for e in identity.examples)


def test_a_judge_that_answers_neither_is_counted_and_gives_no_evidence(tmp_path):
    prompts, first, second, _ = judge_pairs(30, seed=5)
    labels = iter(["A", "B", "C", "maybe"] * 100)
    result = audit.judge_audit(
        prompts=prompts,
        answers_a=first,
        answers_b=second,
        judge=lambda p, a, b: [next(labels) for _ in p],
        suites=("position",),
    )
    suite = result.suites[0]
    assert sum(suite.excluded.values()) + suite.pairs == 30 and suite.excluded["answered neither A nor B"] > 0
    never = audit.judge_audit(
        prompts=prompts, answers_a=first, answers_b=second, judge=lambda p, a, b: ["C"] * len(p), suites=("position",)
    )
    assert never.suites[0].pairs == 0 and never.suites[0].excluded == {"answered neither A nor B": 30}
    verdict = audit.evaluate(_result_with(never), [_policy(tmp_path, "first_position_advantage", threshold=0.1)])
    assert not verdict.passed and "error" in {o.status for o in verdict.outcomes}


def test_an_untrained_language_model_judge_answers_neither_label():
    from tests.causal_models import judge_tokenizer, tiny_causal_lm

    tokenizer = judge_tokenizer()
    lm = audit.CausalLM(tiny_causal_lm("gpt2", tokenizer, seed=4), tokenizer)
    prompts, first, second, _ = judge_pairs(10, seed=5)
    result = audit.judge_audit(
        prompts=prompts,
        answers_a=first,
        answers_b=second,
        judge=audit.CausalLMJudge(lm, template=JUDGE_TEMPLATE),
        suites=("position",),
    )
    assert result.suites[0].pairs == 0
    assert list(result.suites[0].excluded) == ["answered neither label (probability on both < 0.5)"]


def test_bad_scorers_judges_and_settings_are_clear_errors(applications):
    texts, lists = applications
    with pytest.raises(DataError, match="one score per text"):
        audit.swap_audit(documents=texts[:40], scorer=lambda t: np.zeros(3), lexicons=["name_gender"])
    with pytest.raises(DataError, match="one list"):
        audit.swap_audit(documents=texts[:40], scorer=_merit, queries=lists[:39], lexicons=["name_gender"])
    with pytest.raises(ConfigError, match="'k' parameter"):
        audit.swap_audit(documents=texts[:40], scorer=_merit, k=0)
    with pytest.raises(ConfigError, match="'scorer' parameter"):
        audit.swap_audit(documents=texts[:40], scorer=42)
    with pytest.raises(DataError, match="not a string|a float"):
        audit.swap_audit(documents=[*texts[:3], np.nan], scorer=_merit)
    prompts, first, second, _ = judge_pairs(6, seed=1)
    with pytest.raises(DataError, match="verdicts for"):
        audit.judge_audit(prompts=prompts, answers_a=first, answers_b=second, judge=lambda p, a, b: [1.0])
    with pytest.raises(DataError, match="one prompt and two answers"):
        audit.judge_audit(prompts=prompts, answers_a=first[:5], answers_b=second, judge=lambda p, a, b: [1.0] * len(p))
    with pytest.raises(ConfigError, match="'suites' parameter"):
        audit.judge_audit(prompts=prompts, answers_a=first, answers_b=second, judge=len, suites=("order",))
    with pytest.raises(ConfigError, match="contain \\{first\\}"):
        audit.CausalLMJudge(object(), template="{prompt} {second}")


def test_lists_of_one_document_and_missing_lists_are_counted():
    texts, _ = _applications(2, seed=4)
    queries = [0] * 39 + [1] + [None] * 40  # list 1 has one document; the last 40 have no list
    result = audit.swap_audit(documents=texts, scorer=_merit, queries=queries, lexicons=["name_gender"])
    excluded = result.suites[0].excluded
    assert excluded["documents with no list (missing query; score and decision kept)"] == 40
    assert excluded["pairs in a list of one document (no rank to move; score and decision kept)"] == 41
    assert _row(result, "score_change").n == 80 and _row(result, "rank_displacement").n == 39


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-1, 3), st.integers(0, 6)), min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), st.integers(0, 6)), max_size=20),
)
def test_ranks_and_variant_ranks_equal_counting(docs, asked):
    lists = np.array([d[0] for d in docs])
    scores = np.array([d[1] for d in docs], float)
    ranks = _ranks(scores, lists)
    for i in np.flatnonzero(lists >= 0):
        assert ranks[i] == 1 + np.sum((lists == lists[i]) & (scores > scores[i]))
    asked = [(i % len(docs), v) for i, v in asked]
    ids = np.array([i for i, _ in asked], int)
    values = np.array([v for _, v in asked], float) - 0.5
    if len(ids) == 0:
        return
    moved = _variant_ranks(values, ids, scores, lists)
    for position, (i, value) in enumerate(zip(ids, values)):
        if lists[i] < 0:
            continue
        others = (lists == lists[i]) & (np.arange(len(docs)) != i)
        assert moved[position] == 1 + np.sum(others & (scores > value))


def test_the_sign_and_mcnemar_rows_are_scipys_tests():
    from scipy.stats import binomtest, wilcoxon

    from audit.swaps._paired import change_row, mcnemar_row, sign_mean_row

    rng = np.random.default_rng(0)
    before, after = rng.random(200) < 0.5, rng.random(200) < 0.4
    row = mcnemar_row("x", "m", before, after, subject="s", seed=0)
    gained, lost = int((after & ~before).sum()), int((before & ~after).sum())
    assert row.p_value == pytest.approx(binomtest(gained, gained + lost).pvalue)
    assert row.estimate == pytest.approx(after.mean() - before.mean())
    changes = rng.normal(0.1, 1, 150)
    assert change_row("x", "m", changes, subject="s", seed=0).p_value == pytest.approx(wilcoxon(changes).pvalue)
    values = rng.integers(-2, 3, 99).astype(float)
    row = sign_mean_row("x", "m", values, subject="s", seed=0, scale=0.5)
    assert row.p_value == pytest.approx(binomtest(int((values > 0).sum()), int((values != 0).sum())).pvalue)
    assert row.estimate == pytest.approx(values.mean() / 2) and row.ci[0] <= row.estimate <= row.ci[1]


def test_the_swap_audit_round_trips_through_json(planted):
    result = _result_with(planted)
    again = audit.AuditResult.from_json(result.to_json())
    assert again.swaps == planted and again.schema_version == audit.SCHEMA_VERSION
    frame = again.swaps.to_frame()
    assert set(frame["measure"]) >= {"score_change", "rank_displacement", "top_k_rate_change"}


def test_a_text_model_audit_runs_swaps_from_the_config_and_reports_them(tmp_path):
    from explainers._text_model import TextClassifier
    from reports import render_html
    from tests.text_models import tiny_model

    rng = np.random.default_rng(0)
    base = ["she loves the phone", "he hates the service", "she said the battery is great", "he is very good"]
    texts = [base[i % len(base)] for i in range(48)]
    frame = pd.DataFrame(
        {
            "text": texts,
            "label": rng.integers(0, 2, 48),
            "region": rng.choice(["n", "s"], 48),
            "job": np.arange(48) // 12,
        }
    )
    model, tokenizer = tiny_model("bert")
    config = audit.AuditConfig(
        data=audit.DataConfig(label="label", sensitive=("region",), text="text"),
        explainers=audit.ExplainerConfig(methods=()),
        swaps=audit.SwapsConfig(enabled=True, query="job", k=3, lexicons=("gender",)),
        gaps=audit.GapsConfig(enabled=False),
    )
    result = audit.run_audit(config, data=frame, model=TextClassifier(model, tokenizer, labels=["0", "1"]))
    assert result.failures == []
    suite = result.swaps.suites[0]
    assert suite.name == "identity" and suite.pairs == 48
    assert {r.subject for r in suite.rows} == {"female -> male", "male -> female"}
    assert {"rank_displacement", "top_k_rate_change"} <= {r.measure for r in suite.rows}
    assert any(d.choice == "swap lists" and d.value == "job" for d in result.decisions)
    # the same model given as a Hugging Face (model, tokenizer) pair: the same paired rows
    direct = audit.swap_audit(
        documents=texts, scorer=(model, tokenizer), queries=frame["job"], k=3, lexicons=["gender"]
    )
    assert direct.scorer["name"].startswith("TextClassifier")
    assert [r.estimate for r in direct.suites[0].rows] == pytest.approx([r.estimate for r in suite.rows])
    html = render_html(result)
    assert "Paired swaps" in html and "the largest changes, original and variant side by side" in html
    written = audit.write_outputs(result, tmp_path)
    assert written  # the suite's hook validates the JSON against docs/audit.schema.json
    with pytest.raises(ConfigError, match="needs a text model"):
        tabular = pd.DataFrame({"g": ["a", "b"] * 20, "y": [0, 1, 1, 0] * 10, "d": [0, 1] * 20})
        audit.run_audit(
            audit.AuditConfig(
                data=audit.DataConfig(label="y", sensitive=("g",), prediction="d"),
                swaps=audit.SwapsConfig(enabled=True),
            ),
            data=tabular,
        )


def test_a_language_model_judge_is_audited_from_the_config_and_gated(judges, tmp_path):
    biased, _ = judges
    prompts, first, second, _ = judge_pairs(40, seed=21)
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"prompt": prompts, "answer_a": first, "answer_b": second}).to_csv(path, index=False)
    config = audit.AuditConfig(
        model=audit.ModelConfig(kind="causal-lm"),
        probes=audit.ProbesConfig(suites=()),
        swaps=audit.SwapsConfig(path=str(path), template=JUDGE_TEMPLATE, suites=("position", "identity")),
    )
    result = audit.run_audit(config, model=biased)
    assert result.failures == [] and result.probes.suites == []
    assert [s.name for s in result.swaps.suites] == ["judge_position", "judge_identity"]
    assert any(f.kind == "swap" and "first position advantage" in f.message for f in result.findings)
    assert "judge_pairs" in result.provenance.sha256
    verdict = audit.evaluate(result, [_policy(tmp_path, "first_position_advantage", threshold=0.1, alpha=0.01)])
    assert not verdict.passed
    from reports import render_html

    html = render_html(result)
    assert "Paired swaps" in html and "each pair judged in both orders" in html
    pd.DataFrame({"prompt": prompts, "answer": first}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ConfigError, match="lacks the column"):
        audit.run_audit(
            audit.AuditConfig(
                model=audit.ModelConfig(kind="causal-lm"),
                probes=audit.ProbesConfig(suites=()),
                swaps=audit.SwapsConfig(path=str(tmp_path / "bad.csv")),
            ),
            model=biased,
        )
    with pytest.raises(ConfigError, match="nothing would be audited"):
        audit.AuditConfig(model=audit.ModelConfig(kind="causal-lm"), probes=audit.ProbesConfig(suites=()))
    with pytest.raises(ConfigError, match="applies to a causal language model"):
        audit.AuditConfig(data=audit.DataConfig(label="y", sensitive=("g",)), swaps=audit.SwapsConfig(path="p.csv"))


def test_swaps_settings_load_from_toml_with_the_pairs_beside_the_config(tmp_path):
    (tmp_path / "pairs.csv").write_text("prompt,answer_a,answer_b\nq,a,b\n", encoding="utf-8")
    (tmp_path / "audit.toml").write_text(
        '[model]\nkind = "causal-lm"\npath = "lm"\n[probes]\nsuites = []\n'
        '[swaps]\npath = "pairs.csv"\nsuites = ["position"]\nlabels = [" yes", " no"]\nmin_answer_mass = 0.2\n',
        encoding="utf-8",
    )
    config = audit.load_config(tmp_path / "audit.toml")
    assert config.swaps.path == str(tmp_path / "pairs.csv") and config.swaps.labels == (" yes", " no")
    (tmp_path / "bad.toml").write_text('[model]\nkind = "causal-lm"\n[swaps]\npadding = "long"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="swaps.padding"):
        audit.load_config(tmp_path / "bad.toml")
    (tmp_path / "typo.toml").write_text(
        '[model]\nkind = "causal-lm"\n[swaps]\nsuite = ["position"]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="Did you mean swaps.'suites'"):
        audit.load_config(tmp_path / "typo.toml")


def test_the_command_line_audits_a_saved_judge_and_the_gate_exits_1(judges, tmp_path):
    from audit.cli import main

    biased, _ = judges
    biased.model.save_pretrained(tmp_path / "judge")
    biased.tokenizer.save_pretrained(tmp_path / "judge")
    prompts, first, second, _ = judge_pairs(30, seed=31)
    pd.DataFrame({"prompt": prompts, "answer_a": first, "answer_b": second}).to_csv(tmp_path / "pairs.csv", index=False)
    template = JUDGE_TEMPLATE.replace("\\", "\\\\")
    (tmp_path / "audit.toml").write_text(
        f'title = "judge"\n[model]\nkind = "causal-lm"\npath = "judge"\n[probes]\nsuites = []\n'
        f'[swaps]\npath = "pairs.csv"\nsuites = ["position"]\ntemplate = "{template}"\n[output]\ndir = "out"\n',
        encoding="utf-8",
    )
    (tmp_path / "policy.toml").write_text(
        '[[rules]]\nmetric = "first_position_advantage"\nwhere = "swaps"\ncompare = "<="\nthreshold = 0.05\n',
        encoding="utf-8",
    )
    assert main(["run", str(tmp_path / "audit.toml"), "--quiet"]) == 0
    written = audit.AuditResult.load(tmp_path / "out" / "audit.json")
    assert (
        written.swaps.suites[0].name == "judge_position"
        and "Paired swaps" in (tmp_path / "out" / "report.html").read_text()
    )
    checked = ["check", "--result", str(tmp_path / "out" / "audit.json"), "--policy", str(tmp_path / "policy.toml")]
    assert main(checked) == 1
