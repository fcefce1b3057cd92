"""Audit diffs: a planted change (the demo model against one trained with `sex` shuffled) must show, a control must
not, and the command line's verdicts, outputs and refusals."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from audit import SCHEMA_VERSION, MitigationConfig, QualityConfig, SlicesConfig
from audit.cli import main
from audit.demo._demo import demo_config, train_adult_model
from audit.diff import compare_results
from audit.result._records import GateResult, RuleOutcome
from audit.result._result import AuditResult
from audit.run._runner import run_audit


@pytest.fixture(scope="module")
def audits(adult_train, adult_test, adult_model, tmp_path_factory):
    """The demo model and the sex-shuffled variant audited on the same 6,000 test rows, and the demo model on
    6,000 other rows (the control: same model, fresh data)."""
    shuffled = adult_train.copy()
    shuffled["sex"] = np.random.default_rng(1).permutation(shuffled["sex"].to_numpy())
    variant = train_adult_model(shuffled, seed=0)
    rows = np.random.default_rng(0).permutation(len(adult_test))
    first, second = adult_test.iloc[np.sort(rows[:6000])], adult_test.iloc[np.sort(rows[6000:12000])]
    config = demo_config(out_dir=str(tmp_path_factory.mktemp("diff")))
    # what a diff reads: fairness, attributions and gap shares; the steps it does not compare are off
    config = dataclasses.replace(
        config,
        explainers=dataclasses.replace(config.explainers, sample_size=200),
        quality=QualityConfig(enabled=False),
        slices=SlicesConfig(enabled=False),
        mitigation=MitigationConfig(enabled=False),
    )
    return {
        "old": run_audit(config, data=first, model=adult_model, quiet=True),
        "planted": run_audit(config, data=first, model=variant, quiet=True),
        "control": run_audit(config, data=second, model=adult_model, quiet=True),
    }


def _compare(old, new, **settings):
    return compare_results(old, new, baseline="old.json", baseline_sha256="0" * 64, **settings)


def test_the_planted_change_shows_in_the_gap_shares(audits):
    changes = _compare(audits["old"], audits["planted"])
    sex = [m for m in changes.gap_shares if m.feature == "sex" and m.table == "sex" and m.metric == "selection_rate"]
    assert sex and sex[0].separated, sex
    assert sex[0].old > 0.08 and sex[0].new < 0.03  # the model read sex directly; shuffled, it cannot
    assert sex[0] in changes.separated()


def test_the_same_model_on_fresh_rows_worsens_nothing_and_keeps_sex_shares(audits):
    for confident in (False, True):
        changes = _compare(audits["old"], audits["control"], confident=confident)
        assert changes.passed and changes.worsened == 0 and changes.tested > 10, [
            (m.table, m.metric, m.group, m.old, m.new, m.p_value_holm) for m in changes.metrics if m.worsened
        ]
    assert not [m for m in changes.gap_shares if m.feature == "sex" and m.separated]
    identical = _compare(audits["old"], audits["old"])
    assert identical.passed and not identical.separated() and not identical.findings and not identical.gate
    assert not any(i.changed for i in identical.inputs)
    low, high = identical.detectable_fall
    assert 0.05 <= low <= high < 1 and identical.detection_power == 0.8


def _scaled(result, table_index, metric, factor):
    """``result`` with one non-benchmark group's ``metric`` (and its interval) multiplied by ``factor``."""
    table = result.fairness[table_index]
    disparity = table.disparities_reliable[metric]
    name = next(
        g.name
        for g in table.groups
        if g.name != disparity.benchmark_group and g.support.get(metric, g.n) >= table.min_group_size
    )
    groups = [
        dataclasses.replace(
            g,
            values={**g.values, metric: g.values[metric] * factor},
            ci={**g.ci, metric: [v * factor for v in g.ci[metric]]},
        )
        if g.name == name
        else g
        for g in table.groups
    ]
    fairness = list(result.fairness)
    fairness[table_index] = dataclasses.replace(table, groups=groups)
    return dataclasses.replace(result, fairness=fairness), table.name, name


def test_a_ratio_that_falls_beyond_the_tolerance_worsens_and_findings_match_by_what_they_are_about(audits):
    old = audits["old"]
    worse, table, group = _scaled(old, 0, "selection_rate", 0.6)
    moved = [
        dataclasses.replace(f, message=f.message + " (moved)", evidence={**f.evidence, "ratio": 0.01})
        for f in old.findings
    ]
    worse = dataclasses.replace(worse, findings=moved)
    changes = _compare(old, worse, tolerance=0.05)
    flagged = [m for m in changes.metrics if m.worsened]
    assert [(m.table, m.metric, m.group) for m in flagged] == [(table, "selection_rate", group)]
    assert flagged[0].p_value_holm < 0.05 and flagged[0].fall > 0.05 and flagged[0].compared_with
    assert not changes.passed and not changes.findings  # the same findings, other numbers
    assert _compare(old, worse, tolerance=0.5).passed  # beyond chance, within the tolerance
    slight, _, _ = _scaled(old, 0, "selection_rate", 0.97)  # a fall within what chance moves
    assert _compare(old, slight, tolerance=0.0).passed


def test_a_diff_that_can_test_nothing_does_not_pass(audits):
    old = audits["old"]
    bare = dataclasses.replace(old, fairness=[dataclasses.replace(t, disparities_reliable={}) for t in old.fairness])
    changes = _compare(bare, old)
    assert changes.tested == 0 and not changes.passed and changes.worsened == 0
    assert any("no evidence" in note for note in changes.notes)


def test_the_command_exits_by_the_verdict_and_writes_json_and_junit(audits, tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(audits["old"].to_json())
    new.write_text(audits["planted"].to_json())
    assert main(["diff", str(old), str(new), "--out", str(tmp_path / "d")]) in (0, 1)
    said = capsys.readouterr().out
    assert "carried by sex" in said and "separated" in said
    record = json.loads((tmp_path / "d" / "diff.json").read_text())
    assert record["baseline"] == str(old)
    assert any(m["feature"] == "sex" and m["separated"] for m in record["gap_shares"])
    assert "<testsuite" in (tmp_path / "d" / "junit.xml").read_text()
    assert main(["diff", str(old), str(old), "--out", str(tmp_path / "same")]) == 0
    worse, _, _ = _scaled(audits["old"], 0, "tpr", 0.6)
    (tmp_path / "worse.json").write_text(worse.to_json())
    assert main(["diff", str(old), str(tmp_path / "worse.json"), "--out", str(tmp_path / "w")]) == 1
    assert "<failure" in (tmp_path / "w" / "junit.xml").read_text()
    assert "could detect a fall" in capsys.readouterr().out
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'diff_tolerance = 0.5\n[[rules]]\nmetric = "tpr"\nwhere = "every_group"\n'
        'stat = "ratio_to_best"\ncompare = ">="\nthreshold = 0.0\n'
    )
    assert (
        main(["diff", str(old), str(tmp_path / "worse.json"), "--policy", str(policy), "--out", str(tmp_path / "p")])
        == 0
    )
    record = json.loads((tmp_path / "p" / "diff.json").read_text())
    assert record["tolerance_source"].startswith("diff_tolerance")
    assert {m["metric"] for m in record["metrics"] if m.get("p_value") is not None} == {"tpr"}  # the policy's only
    policy.write_text(policy.read_text().replace("0.5", "0.05", 1))
    assert (
        main(["diff", str(old), str(tmp_path / "worse.json"), "--policy", str(policy), "--out", str(tmp_path / "q")])
        == 1
    )


@pytest.mark.parametrize(
    "extra, message",
    [(["--tolerance", "-1"], "'tolerance' of an audit diff"), (["--policy", "missing.toml"], "does not exist")],
)
def test_bad_input_exits_2_and_writes_nothing(audits, tmp_path, capsys, extra, message):
    old = tmp_path / "old.json"
    old.write_text(audits["old"].to_json())
    assert main(["diff", str(old), str(old), "--out", str(tmp_path / "d"), *extra]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "d").exists()
    assert main(["diff", str(tmp_path / "nope.json"), str(old)]) == 2


def test_the_changes_section_round_trips_and_renders(audits):
    from reports import render_html

    result = dataclasses.replace(audits["planted"], changes=_compare(audits["old"], audits["planted"]))
    loaded = AuditResult.from_json(result.to_json())
    assert loaded.changes == result.changes and loaded.schema_version == SCHEMA_VERSION
    html = render_html(loaded)
    assert "Changes since the last audit" in html and 'href="#changes"' in html and "share of the gap: sex" in html
    assert 'href="#changes"' not in render_html(audits["old"])


def test_policy_outcomes_that_flipped_are_listed(audits):
    def gated(result, status):
        return dataclasses.replace(
            result,
            gate=GateResult(
                passed=status == "pass",
                policies=[],
                outcomes=[
                    RuleOutcome("four-fifths", "impact-ratio", "sex", status, "error", ""),
                    RuleOutcome("four-fifths", "impact-ratio", "race", "pass", "error", ""),
                ],
            ),
        )

    changes = _compare(gated(audits["old"], "pass"), gated(audits["old"], "fail"))
    assert [(g.rule, g.scope, g.old, g.new) for g in changes.gate] == [("impact-ratio", "sex", "pass", "fail")]
    assert _compare(audits["old"], gated(audits["old"], "fail")).gate[0].old is None  # not gated before


def test_the_ratios_shown_are_each_tables_ranking_in_both_audits(audits):
    changes = _compare(audits["old"], audits["planted"])
    shown = [m for m in changes.metrics if m.statistic == "ratio"]
    expected = [
        (e.table, e.metric, f"{e.comparison.group} / {e.comparison.compared_with}", e.comparison.ratio)
        for table in audits["planted"].fairness
        for e in table.largest_disparities()
    ]
    assert shown and [(m.table, m.metric, m.group, m.new) for m in shown] == expected
    old = {(e.table, e.metric): e.comparison.ratio for e in audits["old"].largest_disparities()}
    assert all(m.old == old[(m.table, m.metric)] for m in shown)
