import json
import re
from pathlib import Path

import html5lib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from audit import SCHEMA_VERSION, AuditConfig, AuditResult, ConfigError, DataConfig, ExplainerConfig, run_audit
from reports import render_html

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def demo_result(adult_test, adult_model):
    from audit.demo._demo import demo_config

    return run_audit(demo_config(sample=3000), data=adult_test, model=adult_model)


@pytest.fixture()
def xss_result(biased_frame):
    frame = biased_frame.assign(group=biased_frame["group"].map({"A": "A", "B": XSS}))
    frame = frame.rename(columns={"x1": f"feature {XSS}"})
    features = [f"feature {XSS}", "x2"]
    model = LogisticRegression().fit(frame[features], frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",), features=tuple(features)),
        explainers=ExplainerConfig(methods=("shap",), sample_size=30, background_size=20),
        title=f"Audit {XSS}",
    )
    return run_audit(config, data=frame, model=model)


def test_json_round_trip_is_lossless(demo_result):
    text = demo_result.to_json()
    again = AuditResult.from_json(text)
    assert again.to_json() == text
    raw = json.loads(text)
    assert raw["schema_version"] == SCHEMA_VERSION and "probes" not in raw  # absent for a model not a language model
    assert "changes" not in raw  # absent without a baseline
    assert "NaN" not in text and "Infinity" not in text
    assert raw["provenance"]["seed"] == 0 and raw["provenance"]["packages"]["numpy"]
    # sections are typed data, and an absent text section is None
    assert again.text is None and again.regulatory.four_fifths[0].table == "sex"
    assert again.provenance.seed == 0 and again.decisions[0].choice == "positive class"


LEGACY = sorted((Path(__file__).parent / "data" / "legacy").glob("audit-*.json.gz"))


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.name)
def test_results_of_earlier_schema_versions_load_render_and_gate(path):
    """Real audit.json files written by releases of schema 1.0, 1.2 and 1.8 (the demo and the text demo, run at
    commits 4baf443, afd165c and 5eb7207; the language-model probe demo at 5eb7207): they load into the typed
    schema 2.0 sections, render, gate, and round-trip."""
    import gzip

    from audit import evaluate, load_preset

    raw = json.loads(gzip.decompress(path.read_bytes()))
    result = AuditResult.from_dict(raw)
    assert result.schema_version == SCHEMA_VERSION and result.upgraded_from == raw["schema_version"]
    assert result.provenance.started_at == raw["provenance"]["started_at"]
    if raw.get("regulatory", {}).get("four_fifths"):
        row = result.regulatory.four_fifths[0].rows[0]
        assert row.benchmark == raw["regulatory"]["four_fifths"][0]["rows"][0]["reference"]  # 1.x name, migrated
    if raw.get("text"):
        assert result.text.counterfactuals.axes[0].flip_rate == raw["text"]["counterfactuals"]["axes"][0]["flip_rate"]
    if raw.get("quality"):
        assert set(result.quality.methods) == set(raw["quality"]["methods"])
    html = render_html(result)
    assert "Provenance" in html and raw["provenance"]["started_at"] in html
    if raw.get("probes"):
        return  # a language model's probes: no tables for the four-fifths preset
    gate = evaluate(result, [load_preset("four-fifths")])
    assert gate.outcomes and all("cannot be checked" not in o.message for o in gate.outcomes)
    assert AuditResult.from_json(result.to_json()).to_json() == result.to_json()


def test_a_section_with_an_unknown_or_mistyped_field_is_refused(demo_result):
    raw = demo_result.to_dict()
    raw["regulatory"]["four_fifths"][0]["rows"][0]["impact_ratio"] = "high"
    with pytest.raises(ConfigError, match=r"regulatory.four_fifths.0.rows.0.impact_ratio' must be a number"):
        AuditResult.from_dict(raw)
    raw = demo_result.to_dict()
    raw["quality"]["methods"]["shap_tree"]["faithfulness"]["deletion_margni"] = 0.1
    with pytest.raises(ConfigError, match="fields this version does not know: \\['deletion_margni'\\]"):
        AuditResult.from_dict(raw)


def test_result_content_for_the_demo(demo_result):
    assert [t.name for t in demo_result.fairness] == ["sex", "race", "sex x race"]
    assert demo_result.failures == []
    shap = demo_result.attributions[0]
    assert shap.method == "shap_tree" and shap.completeness_error_max < 1e-6
    assert set(shap.importance_by_group) == {"sex", "race"}
    assert shap.sensitive_features_in_model == ["sex", "race"]
    # The Adult model selects women far less often than men: a disparity finding must say so.
    sex = demo_result.fairness[0]
    assert sex.disparities["selection_rate"].worst_group == "sex=Female"
    assert sex.disparities["selection_rate"].ratio < 0.5
    assert any(
        f.kind == "disparity" and f.evidence["table"] == "sex" and f.evidence["metric"] == "selection_rate"
        for f in demo_result.findings
    )


def test_same_inputs_and_seed_give_the_same_numbers(adult_test, adult_model, demo_result):
    from audit.demo._demo import demo_config

    again = run_audit(demo_config(sample=3000), data=adult_test, model=adult_model)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "provenance"}  # noqa: E731
    assert strip(again) == strip(demo_result)


def test_from_json_rejects_what_is_not_a_result():
    with pytest.raises(ConfigError, match="has no 'schema_version'"):
        AuditResult.from_json('{"title": "x"}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        AuditResult.from_json("{")
    with pytest.raises(ConfigError, match="schema_version '9.0'"):
        AuditResult.from_json('{"schema_version": "9.0"}')


def test_report_is_valid_self_contained_html(demo_result):
    from plotly.offline import get_plotlyjs

    html = render_html(demo_result)
    bundle = get_plotlyjs()
    assert html.count(bundle[-200:]) == 1  # plotly.js embedded exactly once
    # Validate our own markup strictly; the minified bundle holds a raw control byte html5lib objects to.
    ours = html.replace(bundle.replace("</script", "<\\/script"), "/* plotly.js */")
    assert len(ours) < len(html) - 1_000_000
    html5lib.HTMLParser(strict=True).parse(ours)  # raises on any parse error
    assert not re.search(r"<script[^>]+src=", html) and "<link" not in html
    assert "Content-Security-Policy" in html
    for section in ("summary", "data-model", "fairness", "gaps", "attributions", "provenance"):
        assert f'id="{section}"' in html
    # race and sex x race have small groups: pooled rates beside the raw ones; sex has two groups, and says why
    assert "Pooled estimates by race" in html and "Pooled estimates by sex x race" in html
    assert "Pooled estimates: not pooled: pooling needs at least 5 groups" in html
    n_figures = len(re.findall(r'<div class="figure" id="figure-\d+"', html))
    # per table: rates and disparities; importance; importance by sex and by race; faithfulness curves; slices;
    # the mitigation frontier; one chart per explained gap (3 tables x 3 metrics)
    assert len(demo_result.gap_explanations.explanations) == 9
    assert n_figures == len(re.findall(r'<script type="application/json" id="figure-\d+-data">', html)) == 3 * 2 + 6 + 9


def test_report_escapes_values_from_data_and_config(xss_result):
    html = render_html(xss_result)
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # inside figure JSON the name is HTML-escaped for plotly's labels, and tojson escapes the rest, so no tag can
    # close the script and no label renders markup
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html


def test_crashed_step_is_shown_as_crashed_not_as_nothing_found(biased_frame, monkeypatch):
    import explainers._shap_backend as backend

    def boom(self, *args, **kwargs):
        raise RuntimeError("simulated explainer crash")

    monkeypatch.setattr(backend.ShapAutoExplainer, "explain", boom)
    model = LogisticRegression().fit(biased_frame[["x1", "x2"]], biased_frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",), features=("x1", "x2")),
        explainers=ExplainerConfig(sample_size=40, background_size=20),
    )
    result = run_audit(config, data=biased_frame, model=model)
    assert [(f.step, f.error_type, f.message) for f in result.failures] == [
        ("explainer: shap", "RuntimeError", "simulated explainer crash")
    ]
    html = render_html(result)
    assert "Crashed: explainer: shap" in html and "simulated explainer crash" in html
    assert "Every step ran." not in html
    monkeypatch.undo()
    clean = render_html(run_audit(config, data=biased_frame, model=model))
    assert "Every step ran." in clean and "Crashed" not in clean


def test_audit_without_a_model_skips_explainers_and_says_why(biased_frame):
    config = AuditConfig(data=DataConfig(label="label", sensitive=("group",), prediction="decision"))
    result = run_audit(config, data=biased_frame)
    assert result.model.kind == "predictions"
    # decisions only: no thresholds to move, no model to ask about hybrid rows
    assert [s.step for s in result.skipped] == ["explainer: shap", "mitigation", "gap explanations"]
    assert "No model was given" in result.skipped[0].reason
    assert result.attributions == [] and result.failures == []
    # planted bias: group B is selected half as often
    finding = next(f for f in result.findings if f.kind == "disparity" and f.evidence["metric"] == "selection_rate")
    assert finding.evidence["group"] == "group=B"
    assert "Not run: explainer: shap" in render_html(result)


def test_unbiased_control_has_no_selection_rate_finding(biased_frame):
    rng = np.random.default_rng(3)
    fair = biased_frame.assign(decision=(rng.random(len(biased_frame)) < 0.45).astype(int))
    config = AuditConfig(data=DataConfig(label="label", sensitive=("group",), prediction="decision"))
    result = run_audit(config, data=fair)
    assert not [f for f in result.findings if f.kind == "disparity"]


def test_notebook_display_is_the_report(biased_frame):
    config = AuditConfig(data=DataConfig(label="label", sensitive=("group",), prediction="decision"))
    result = run_audit(config, data=biased_frame)
    assert result._repr_html_().startswith("<!DOCTYPE html>")
    frame = result.fairness[0].to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == ["group=A", "group=B"]
