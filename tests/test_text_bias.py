"""Text-model bias audits: identity-term swaps, lexicons, counterfactual and identity-group metrics, the
planted-dependency known answer, the gate and the report."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from audit import AuditConfig, ConfigError, DataConfig, DataError, ExplainerConfig, TextConfig, run_audit
from audit.text._counterfactual import counterfactuals, swap_groups, template_probes
from audit.text._lexicons import BUILTIN_LEXICONS, Lexicon, builtin_lexicons, load_lexicon, load_templates
from audit.gate._policy import evaluate, load_preset
from audit.text._audit import classifier_scorer, mention_columns, text_bias_audit
from audit.text._identity_groups import identity_groups, roc_auc_delong
from explainers import get_explainer
from explainers._text_model import TextClassifier
from reports import render_html
from tests.text_models import gendered_tweets, tiny_model, train_bag_classifier

GENDER = load_lexicon("gender")


def swap_gender(text):
    return swap_groups(text, GENDER, {"male": "female", "female": "male"})[0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("He loves his mom", "She loves her dad"),
        ("HE SAID NO", "SHE SAID NO"),
        ("I saw her yesterday.", "I saw him yesterday."),  # object 'her' -> 'him'
        ("I took her car", "I took his car"),  # possessive 'her' -> 'his'
        ("The book is his.", "The book is hers."),  # standalone 'his' -> 'hers'
        ("Mr. Smith and his wife", "Ms. Smith and her husband"),
        ("the theory of the thesis", "the theory of the thesis"),  # 'he' inside words is not a mention
        ("he's here; hes not", "she's here; shes not"),
        ("#women rule", "#men rule"),
        ("@sheila and http://he.com/his and he@mail.com", "@sheila and http://he.com/his and he@mail.com"),
        ("An actor and a man", "An actress and a woman"),
    ],
)
def test_gender_swap_rules(text, expected):
    assert swap_gender(text) == expected


def test_names_keep_possessive_case_and_multiword_terms_and_articles():
    names = load_lexicon("name_race")
    assert swap_groups("Emily's cat and EMILY", names, {"white": "black"})[0] == "Lakisha's cat and LAKISHA"
    assert swap_groups("Jayden met Jay", names, {"white": "black"})[0] == "Jayden met Leroy"
    race = load_lexicon("race_ethnicity")
    assert swap_groups("An African American singer", race, {"african_american": "white"})[0] == "A White singer"
    assert (
        swap_groups("The White House says white people", race, {"white": "asian"})[0]
        == "The White House says asian people"
    )  # 'white house' is no identity mention (not_before)
    age = load_lexicon("age")
    assert swap_groups("a middle-aged man", age, {"middle_aged": "old"})[0] == "an old man"


def test_every_builtin_lexicon_has_a_source_and_swaps_both_ways():
    for name in BUILTIN_LEXICONS:
        lexicon = load_lexicon(name)
        assert lexicon.source and lexicon.axis == name and len(lexicon.groups) >= 2
        groups = list(lexicon.groups)
        term = lexicon.groups[groups[1]][0]
        variants, _ = counterfactuals([f"I met a {term} person today"], [lexicon])
        assert variants and all(groups[1] == v.source for v in variants), name
        assert {v.target for v in variants} == set(groups) - {groups[1]}


def test_several_groups_of_a_large_axis_never_swap_into_each_other():
    variants, mentioned = counterfactuals(["Muslims and christians"], [load_lexicon("religion")])
    assert mentioned["religion"] == [{"muslim", "christian"}]
    texts = [v.text for v in variants]
    assert "Muslims and muslims" not in texts and "Christians and christians" not in texts
    assert "Muslims and jews" in texts and "Jews and christians" in texts


def test_template_probes_fill_every_group_with_aligned_terms():
    originals, variants = template_probes(load_templates(), builtin_lexicons())
    assert "I am a black person." in originals and "I am an asian person." in {v.text for v in variants}
    name_variants = [v for v in variants if v.axis == "name_race"]
    assert all(v.source == "white" and v.target == "black" for v in name_variants)
    assert any(v.text.startswith("Lakisha ") for v in name_variants)
    assert all(0 <= v.text_index < len(originals) for v in variants)


def test_bad_lexicons_and_texts_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="at least two groups"):
        Lexicon(axis="x", groups={"a": ["one"]})
    with pytest.raises(ConfigError, match="group 'b' has no terms"):
        Lexicon(axis="x", groups={"a": ["one"], "b": []})
    with pytest.raises(ConfigError, match="The list of lexicons is empty"):
        builtin_lexicons([])
    with pytest.raises(ConfigError, match="Unknown lexicon 'genders'. Built-in lexicons: gender"):
        load_lexicon("genders")
    path = tmp_path / "mine.toml"
    path.write_text('axis = "pets"\n[groups]\ncat = ["cat", "cats"]\ndog = ["dog", "dogs"]\n')
    assert swap_groups("Cats rule", load_lexicon(str(path)), {"cat": "dog"})[0] == "Dogs rule"
    scorer = classifier_scorer(_StubClassifier(), positive_index=1)
    with pytest.raises(DataError, match="Text 1 is a float"):
        text_bias_audit(texts=["he", float("nan")], scorer=scorer)
    with pytest.raises(ConfigError, match="The 'text.lexicons' setting must be a non-empty list"):
        TextConfig(lexicons=[])


class _StubClassifier:
    """Scores by text length: enough to exercise the plumbing without a model."""

    def predict_proba(self, texts):
        score = np.array([min(len(t), 50) / 50 for t in texts])
        return np.column_stack([1 - score, score])


def test_texts_without_identity_terms_are_not_applicable_never_fair():
    result = text_bias_audit(
        texts=["the battery died", "great screen"],
        scorer=classifier_scorer(_StubClassifier(), positive_index=1),
        templates=False,
        y_true=[True, False],
    )
    assert result.texts_with_identity_terms == 0 and result.variants == 0
    assert set(result.not_applicable) == set(BUILTIN_LEXICONS)
    audit = _result_with_text(result)
    outcomes = evaluate(audit, [load_preset("text-counterfactual")]).outcomes
    assert {o.status for o in outcomes if o.rule in ("flip-rate", "score-shift")} == {"error"}


def _result_with_text(text):
    import dataclasses

    from audit.result._result import AuditResult
    from audit.result._sections import Provenance

    empty = AuditResult(
        title="t",
        data={},
        model={"kind": "text"},
        fairness=[],
        attributions=[],
        findings=[],
        failures=[],
        skipped=[],
        provenance=Provenance(started_at="", finished_at="", duration_s=0.0, seed=0),
        config={"fairness": {"ci_level": 0.95}},
    )
    return dataclasses.replace(empty, text=text)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=60))
def test_delong_auc_equals_sklearn_and_its_interval_contains_it(rows):
    labels = np.array([r[0] for r in rows])
    scores = np.array([r[1] for r in rows], float)
    auc, interval, reason = roc_auc_delong(labels, scores)
    if labels.all() or not labels.any():
        assert auc is None and "both classes" in reason
        return
    assert auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert interval[0] <= auc <= interval[1]


def test_delong_standard_error_matches_a_bootstrap():
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.3
    scores = rng.normal(labels * 1.0, 1.0)
    auc, (low, high), _ = roc_auc_delong(labels, scores)
    draws = [roc_auc_score(labels[i], scores[i]) for i in (rng.integers(0, 400, 400) for _ in range(400))]
    assert (high - low) / 3.92 == pytest.approx(np.std(draws), rel=0.2)


def test_identity_group_aucs_equal_sklearn_on_their_subsets():
    rng = np.random.default_rng(1)
    n = 300
    y = rng.random(n) < 0.4
    scores = rng.random(n) * 0.5 + y * 0.3
    inside = rng.random(n) < 0.3
    scores[inside & ~y] += 0.3  # the group's negative texts score high: false alarms
    mentioned = {"gender": [{"female"} if i else set() for i in inside]}
    result = identity_groups(y, scores, scores >= 0.5, mentioned, min_texts=10, ci_level=0.95)
    row = result["rows"][0]
    assert row["subgroup_auc"] == pytest.approx(roc_auc_score(y[inside], scores[inside]))
    bpsn = (inside & ~y) | (~inside & y)
    bnsp = (~inside & ~y) | (inside & y)
    assert row["bpsn_auc"] == pytest.approx(roc_auc_score(y[bpsn], scores[bpsn]))
    assert row["bnsp_auc"] == pytest.approx(roc_auc_score(y[bnsp], scores[bnsp]))
    assert row["bpsn_auc"] < row["bnsp_auc"]  # the planted false alarms show in BPSN
    negatives = inside & ~y
    assert row["fpr"] == pytest.approx(((scores >= 0.5) & negatives).sum() / negatives.sum())
    assert result["overall_auc"] == pytest.approx(roc_auc_score(y, scores))


@pytest.fixture(scope="module")
def planted():
    texts, labels = gendered_tweets(planted=True)
    return train_bag_classifier(texts[:2500], labels[:2500]), texts[2500:], labels[2500:]


@pytest.fixture(scope="module")
def control():
    texts, labels = gendered_tweets(planted=False)
    return train_bag_classifier(texts[:2500], labels[:2500]), texts[2500:], labels[2500:]


def _audit(classifier, texts, labels):
    explainer = get_explainer("layer_integrated_gradients", target=1)
    return text_bias_audit(
        texts=texts,
        y_true=labels == 1,
        scorer=classifier_scorer(classifier, positive_index=1),
        lexicons=["gender"],
        templates=False,
        n_boot=200,
        attribution_sample=30,
        explain=lambda batch: explainer.explain_texts(classifier, batch),
    )


def test_planted_gender_dependency_is_flagged_and_the_control_passes(planted, control):
    flagged, clean = _audit(*planted), _audit(*control)
    flagged_axis, clean_axis = flagged.counterfactuals.axes[0], clean.counterfactuals.axes[0]
    assert flagged_axis.flip_rate > 0.25 and flagged_axis.flip_rate_ci[0] > 0.05
    assert clean_axis.flip_rate < 0.05 and clean_axis.mean_abs_score_change < 0.05
    # the model's attribution on 'she'/'he' is far above an even share when planted, near it in the control
    shares = {r.group: r for r in flagged.identity_attribution.rows}
    assert shares["female"].share > 3 * shares["female"].uniform_share
    assert all(r.share < 2.5 * r.uniform_share for r in clean.identity_attribution.rows)
    # false alarms for texts that mention women: BPSN AUC drops only in the planted model
    bpsn = {r.group: r.bpsn_auc for r in flagged.identity_groups.rows}
    assert bpsn["female"] < 0.6 and min(r.bpsn_auc for r in clean.identity_groups.rows) > 0.75
    preset = [load_preset("text-counterfactual")]
    assert not evaluate(_result_with_text(flagged), preset).passed
    assert evaluate(_result_with_text(clean), preset).passed


def test_swaps_past_the_models_maximum_length_are_left_out():
    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"], max_length=8)
    texts = ["she loves the phone", "the phone is good and the service is great but she"]
    result = text_bias_audit(
        texts=texts,
        scorer=classifier_scorer(classifier, positive_index=1),
        lexicons=["gender"],
        templates=False,
        readable_chars=classifier.readable_chars,
    )
    assert result.variants == 1 and result.variants_truncated == 1


def test_mention_columns():
    frame = mention_columns(["She and he", "the muslim teacher", "his old muslim friend", "nothing"])
    assert frame["gender_mention"].tolist() == ["both", "none", "male", "none"]
    assert frame["identity_mention"].tolist() == ["none", "religion", "several", "none"]


def test_text_audit_runs_in_the_audit_and_the_report_escapes_texts():
    xss = "<img src=x onerror=alert(1)>"
    texts = [
        f"she said {xss} the phone is good",
        f"he hates {xss} the service",
        f"the muslim store {xss} is great",
        f"his battery {xss} was awful",
        "they love this food",
    ] * 8
    frame = pd.DataFrame({"text": texts, "label": np.arange(40) % 2})
    frame = pd.concat([frame, mention_columns(texts)], axis=1)
    model, tokenizer = tiny_model("bert")
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("gender_mention",), text="text"),
        explainers=ExplainerConfig(sample_size=4),
        text=TextConfig(attribution_sample=4, min_texts=5),
    )
    result = run_audit(config, data=frame, model=TextClassifier(model, tokenizer, labels=["0", "1"]))
    assert not result.failures
    text = result.text.to_dict()
    assert text["texts_with_identity_terms"] == 32 and {r["axis"] for r in text["counterfactuals"]["axes"]} == {
        "gender",
        "religion",
    }
    assert text["probes"]["variants"] > 100 and text["identity_groups"]["rows"]
    html = render_html(result)
    assert 'id="text-heading"' in html and "Template probes" in html and xss not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    explorer = result.explore()  # the notebook explorer shows the same examples as token heatmaps, escaped
    assert explorer.example.options
    heatmap = "".join(o["data"]["text/html"] for o in explorer.example_view.outputs)
    assert "<span" in heatmap and "<img" not in heatmap


# --- lexicons that hold on everyday text (issue 16) ------------------------------------------------------------


@pytest.mark.parametrize(
    "axis, text, mapping, expected",
    [
        ("religion", "a jew who prays", {"jewish": "muslim"}, "a muslim who prays"),
        ("religion", "a muslim who prays", {"muslim": "jewish"}, "a jew who prays"),
        ("religion", "muslim women walked", {"muslim": "jewish"}, "jewish women walked"),
        ("religion", "islam is a religion", {"muslim": "christian"}, "christianity is a religion"),
        ("religion", "islamic art", {"muslim": "christian"}, "christian art"),
        ("religion", "judaism and jews", {"jewish": "hindu"}, "hinduism and hindus"),
        ("age", "a 12-year-old boy", {"old": "young"}, "a 12-year-old boy"),
        ("age", "the old barbary coast", {"old": "millennial"}, "the old barbary coast"),
        ("age", "an old man walked", {"old": "young"}, "a young man walked"),
        ("gender", "Martin Luther King spoke", {"male": "female"}, "Martin Luther King spoke"),
        ("gender", "the king spoke", {"male": "female"}, "the queen spoke"),
        ("gender", "hes late again", {"male": "female"}, "shes late again"),
        ("gender", "HE IS HERE", {"male": "female"}, "SHE IS HERE"),
        ("race_ethnicity", "south african politics", {"african": "black"}, "south african politics"),
        ("race_ethnicity", "South African politics", {"african": "black"}, "South African politics"),
        ("race_ethnicity", "blacks and asians", {"black": "white"}, "whites and asians"),
        ("race_ethnicity", "Black Panther was great", {"black": "white"}, "Black Panther was great"),
        ("race_ethnicity", "Black people vote", {"black": "white"}, "White people vote"),
        ("sexual_orientation", "gays and lesbians marched", {"gay": "bisexual"}, "bisexuals and lesbians marched"),
        ("sexual_orientation", "homosexuals", {"homosexual": "heterosexual"}, "heterosexuals"),
    ],
)
def test_everyday_forms_and_guards(axis, text, mapping, expected):
    from audit.text._counterfactual import swap_groups
    from audit.text._lexicons import load_lexicon

    assert swap_groups(text, load_lexicon(axis), mapping)[0] == expected


def test_axes_report_their_coverage():
    from audit import text_bias_audit

    texts = ["she is here", "he is there", "the phone broke", "the screen is fine"]
    result = text_bias_audit(texts=texts, scorer=lambda batch: np.full(len(batch), 0.3), templates=False).to_dict()
    gender = next(r for r in result["counterfactuals"]["axes"] if r["axis"] == "gender")
    assert gender["coverage"] == 0.5


def test_first_names_before_surnames_still_swap():
    from audit.text._counterfactual import swap_groups
    from audit.text._lexicons import load_lexicon

    lexicon = load_lexicon("name_race")
    white, black = list(lexicon.groups)
    assert swap_groups("Emily Walsh applied", lexicon, {white: black})[0] == "Lakisha Walsh applied"
