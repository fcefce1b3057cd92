"""Compliance dossiers: every field filled from the record with its evidence or marked for a person, values equal
to the record's, a changed byte caught by `audit verify`, templates checked, output escaped."""

from __future__ import annotations

import dataclasses
import json

import pytest

from audit.cli import main
from audit.demo._demo import demo_config
from audit.dossiers import TEMPLATES, build_dossier
from audit.dossiers._sources import resolve
from audit.run._runner import run_audit
from reports import find_chromium, render_dossier_html, render_dossier_markdown


@pytest.fixture(scope="module")
def record(adult_test, adult_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dossier")
    config = demo_config(out_dir=str(folder), sample=3000)
    config = dataclasses.replace(
        config,
        title="Income model <script>alert(1)</script> | v2",
        explainers=dataclasses.replace(config.explainers, sample_size=200),
    )
    result = run_audit(config, data=adult_test, model=adult_model, quiet=True)
    path = folder / "audit.json"
    path.write_text(result.to_json())
    return path, result


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_field_is_filled_with_evidence_or_says_what_is_needed(record, template):
    path, _ = record
    dossier = build_dossier(path, template)
    raw = json.loads(path.read_text())
    assert dossier.fields() and dossier.audit_sha256 and len(dossier.audit_sha256) == 64
    for field in dossier.fields():
        assert field.text.strip(), field.id
        if field.status == "filled":
            assert field.evidence, field.id
            for evidence in field.evidence:
                assert resolve(raw, evidence.pointer) == evidence.value
                if evidence.interval_pointer:
                    assert resolve(raw, evidence.interval_pointer) == evidence.interval
        else:
            assert field.status == "needs human input" and not field.evidence
    assert dossier.counts["filled"] >= 4 and dossier.counts["needs human input"] >= 2


def test_the_ll144_summary_states_the_audits_own_rates_and_ratios(record):
    path, result = record
    dossier = build_dossier(path, "nyc-ll144")
    fields = {f.id: f for f in dossier.fields()}
    rows = fields["rates_and_ratios"].rows
    expected = [
        (r.category, f"{r.impact_ratio:.3f}" if r.impact_ratio is not None else "undefined")
        for t in result.regulatory.ll144.tables
        for r in t.rows
    ]
    assert [(row[1], row[4]) for row in rows] == expected
    assert fields["unknown_category"].status == "filled"
    assert str(result.regulatory.ll144.unknown_category_count) in fields["unknown_category"].text
    assert fields["auditor"].status == "needs human input"  # never invented


def test_what_the_record_lacks_goes_to_a_person_with_the_reason(record, tmp_path):
    path, result = record
    bare = dataclasses.replace(result, regulatory=dataclasses.replace(result.regulatory, ll144=None), mitigation=None)
    (tmp_path / "audit.json").write_text(bare.to_json())
    fields = {f.id: f for f in build_dossier(tmp_path / "audit.json", "nyc-ll144").fields()}
    assert fields["rates_and_ratios"].status == "needs human input"
    assert "fairness.ll144" in fields["rates_and_ratios"].why
    eu = {f.id: f for f in build_dossier(tmp_path / "audit.json", "eu-ai-act-annex-iv").fields()}
    assert eu["bias_measures"].status == "needs human input" and "mitigation" in eu["bias_measures"].why
    assert eu["policy_verdict"].status == "needs human input" and "audit check" in eu["policy_verdict"].why


def test_a_changed_byte_of_the_evidence_fails_verify(record, tmp_path, capsys):
    path, _ = record
    audit = tmp_path / "audit.json"
    audit.write_bytes(path.read_bytes())
    out = tmp_path / "d"
    assert main(["dossier", str(audit), "--template", "eu-ai-act-annex-iv", "--out", str(out)]) == 0
    assert main(["verify", str(out / "dossier.json")]) == 0
    assert "The dossier matches its evidence." in capsys.readouterr().out
    text = audit.read_text()
    accuracy = json.loads(text)["model"]["accuracy"]
    audit.write_text(text.replace(repr(accuracy), repr(accuracy + 0.001), 1))  # one cited value changed
    assert main(["verify", str(out / "dossier.json")]) == 1
    said = capsys.readouterr().out
    assert "MISMATCH  audit record" in said and "/model/accuracy" in said
    audit.write_bytes(path.read_bytes())
    html = (out / "dossier.html").read_text()
    (out / "dossier.html").write_text(html.replace("Needs human input.", "Done.", 1))
    assert main(["verify", str(out / "dossier.json")]) == 1
    assert "dossier.html: changed since it was written" in capsys.readouterr().out


def test_templates_are_checked_and_a_users_own_template_works(record, tmp_path, capsys):
    path, _ = record
    assert main(["dossier", str(path), "--template", "eu-ai-act", "--out", str(tmp_path / "x")]) == 2
    assert "eu-ai-act-annex-iv" in capsys.readouterr().err and not (tmp_path / "x").exists()
    own = tmp_path / "own.toml"
    own.write_text(
        'id = "own"\nname = "Our checklist"\nlaw = "internal"\n[[sections]]\ntitle = "Checks"\n'
        '[[sections.fields]]\nid = "acc"\nlabel = "Accuracy"\nsource = "performance.overal"\n'
        'needs = "The accuracy."\n'
    )
    assert main(["dossier", str(path), "--template", str(own), "--out", str(tmp_path / "o")]) == 2
    assert "Did you mean 'performance.overall'" in capsys.readouterr().err
    own.write_text(own.read_text().replace("performance.overal", "performance.overall"))
    assert main(["dossier", str(path), "--template", str(own), "--out", str(tmp_path / "o")]) == 0
    dossier = json.loads((tmp_path / "o" / "dossier.json").read_text())
    assert dossier["sections"][0]["fields"][0]["status"] == "filled"


def test_html_and_markdown_escape_what_the_record_says(record):
    path, _ = record
    dossier = build_dossier(path, "iso-42005")
    html = render_dossier_html(dossier)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "script-src" not in html and "default-src 'none'" in html
    markdown = render_dossier_markdown(dossier)
    assert "<script>" not in markdown
    assert all(line.count("|") >= 2 for line in markdown.splitlines() if line.startswith("| "))


@pytest.mark.skipif(find_chromium() is None, reason="no chromium found (Debian: apt-get install chromium)")
def test_a_pdf_is_printed_through_chromium(record, tmp_path):
    path, _ = record
    assert main(["dossier", str(path), "--template", "nyc-ll144", "--out", str(tmp_path / "p"), "--pdf"]) == 0
    assert (tmp_path / "p" / "dossier.pdf").read_bytes().startswith(b"%PDF")


def test_the_largest_disparities_field_is_the_results_ranking(record):
    path, result = record
    for template, field_id in (
        ("eu-ai-act-annex-iv", "bias_largest_disparities"),
        ("iso-42005", "impacts_largest_disparities"),
    ):
        field = {f.id: f for f in build_dossier(path, template).fields()}[field_id]
        assert field.status == "filled"
        ranked = result.largest_disparities()
        assert [(row[0], row[1], row[2], row[3]) for row in field.rows] == [
            (e.table, e.metric, e.comparison.group, e.comparison.compared_with) for e in ranked
        ]
        assert [e.value for e in field.evidence] == [e.comparison.ratio for e in ranked]


def test_a_1x_record_has_no_ranked_disparities_and_says_why():
    from audit.dossiers._sources import SOURCES, Missing

    outcome = SOURCES["fairness.largest_disparities"]({"schema_version": "1.8", "fairness": [{}]})
    assert isinstance(outcome, Missing) and "schema 1.x" in outcome.why


def test_the_cyclonedx_model_card_validates_against_the_published_1_6_schema(record, tmp_path, capsys):
    validation = pytest.importorskip("cyclonedx.validation.json", reason="the dev extra's cyclonedx-python-lib")
    from cyclonedx.schema import SchemaVersion

    from reports import render_cyclonedx

    path, result = record
    text = render_cyclonedx(result)
    assert validation.JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    card = json.loads(text)["components"][0]["modelCard"]
    assessments = card["considerations"]["fairnessAssessments"]
    women = next(a for a in assessments if a["groupAtRisk"] == "sex=Female (by sex)")
    comparison = result.fairness[0].disparities["selection_rate"].to_benchmark["sex=Female"]
    assert f"Impact ratio {comparison.ratio:.3f}" in women["harms"] and "below four-fifths" in women["harms"]
    metrics = {(m["type"], m["slice"]): m for m in card["quantitativeAnalysis"]["performanceMetrics"]}
    row = next(g for g in result.fairness[0].groups if g.name == "sex=Female")
    shown = metrics[("selection_rate", "sex=Female")]
    assert float(shown["value"]) == pytest.approx(row.values["selection_rate"], rel=1e-3)
    assert float(shown["confidenceInterval"]["lowerBound"]) == pytest.approx(row.ci["selection_rate"][0], rel=1e-3)
    assert render_cyclonedx(result) == text  # deterministic: the serial number derives from the result
    assert main(["report", str(path), "--cyclonedx", str(tmp_path / "card.cdx.json")]) == 0
    assert json.loads((tmp_path / "card.cdx.json").read_text())["specVersion"] == "1.6"
    assert "Report:" not in capsys.readouterr().out  # only the card was asked for


@pytest.mark.parametrize(
    "template, years", [("colorado-sb26-189", 3), ("california-ads-employment", 4), ("eu-ai-act-annex-iv", 10)]
)
def test_each_template_dates_how_long_to_keep_the_record(record, template, years):
    path, result = record
    dossier = build_dossier(path, template)
    start = result.provenance.finished_at[:10]
    assert dossier.retain_until == f"{int(start[:4]) + years}{start[4:]}"
    field = dossier.fields()[-1]
    assert field.id == "retention" and field.status == "filled" and f"{years} years" in field.text
    assert field.evidence[0].pointer == "/provenance/finished_at"
    unset = build_dossier(path, "iso-42005")
    assert unset.retain_until is None and unset.fields()[-1].status == "needs human input"


def test_a_jurisdiction_selects_the_tests_a_record_must_carry_and_says_why(record, tmp_path, capsys):
    path, result = record
    texas = build_dossier(path, "iso-42005", jurisdiction_name="texas")
    section = texas.sections[-2]
    assert "intent only" in section.title
    inputs, impact = section.fields
    assert inputs.status == "filled" and "sex" in inputs.text  # the demo model reads sex: an intent-only record says so
    assert "(informative)" in impact.label and "disparate impact alone" in impact.reference
    assert not texas.missing_required
    assert (
        main(
            [
                "dossier",
                str(path),
                "--template",
                "iso-42005",
                "--jurisdiction",
                "illinois",
                "--out",
                str(tmp_path / "full"),
            ]
        )
        == 0
    )
    # Illinois asks for the proxy check, which a record without gap explanations lacks: the dossier says so, exit 1
    lacking = tmp_path / "audit.json"
    lacking.write_text(dataclasses.replace(result, gap_explanations=None).to_json())
    out = tmp_path / "il"
    assert (
        main(["dossier", str(lacking), "--template", "iso-42005", "--jurisdiction", "illinois", "--out", str(out)]) == 1
    )
    said = capsys.readouterr().out
    assert "lacks 1 test(s) illinois requires: inputs standing in for a protected characteristic" in said
    written = json.loads((out / "dossier.json").read_text())
    missing = [f for s in written["sections"] for f in s["fields"] if f["status"] == "missing required test"]
    assert len(missing) == 1 and "ZIP codes" in missing[0]["reference"] and "[gaps]" in missing[0]["why"]
    assert "Required test missing." in (out / "dossier.md").read_text()
    bad = tmp_path / "bad"
    assert main(["dossier", str(lacking), "--template", "iso-42005", "--jurisdiction", "mars", "--out", str(bad)]) == 2
    assert "must be one of eu, nyc" in capsys.readouterr().err and not bad.exists()


def test_the_bias_profile_has_one_entry_per_gate_rule_and_per_finding(record, tmp_path):
    from audit.gate._policy import evaluate, load_preset

    path, result = record
    gated = dataclasses.replace(result, gate=evaluate(result, [load_preset("four-fifths")]))
    gated_path = tmp_path / "audit.json"
    gated_path.write_text(gated.to_json())
    dossier = build_dossier(gated_path, "pren-18283-bias-profile")
    profile = next(f for f in dossier.fields() if f.id == "profile")
    rules = {(o.policy, o.rule) for o in gated.gate.outcomes}
    assert len(profile.rows) == len(rules) + len(gated.findings) > 0
    assert profile.columns == [
        "scenario",
        "group",
        "hazard",
        "metric and threshold",
        "evidence",
        "mitigation",
        "review trigger",
    ]
    rule_rows = profile.rows[: len(rules)]
    assert all(row[2] == "unequal allocation of the favourable outcome" for row in rule_rows)
    assert all("fail" in row[4] and "pass" in row[4] for row in rule_rows)
    kinds = {row[0].split("(")[1].split(",")[0] for row in profile.rows[len(rules) :]}
    assert kinds == {f.kind for f in gated.findings}
    assert any(row[5] == "needs human input" for row in profile.rows)  # no mitigation measured in this audit
    assert dossier.jurisdiction == "eu" and dossier.retain_until is not None
