import json
import xml.etree.ElementTree as ElementTree

import numpy as np
import pandas as pd
import pytest

from audit import AuditConfig, ConfigError, DataConfig, run_audit
from audit.gate._policy import PRESETS, Policy, Rule, evaluate, load_policy, load_preset
from audit.cli import main
from reports import render_junit


@pytest.fixture(scope="module")
def demo_result(adult_test, adult_model):
    from audit.demo._demo import demo_config

    return run_audit(demo_config(sample=6000), data=adult_test, model=adult_model)


def _outcome(gate, rule, scope):
    return next(o for o in gate.outcomes if o.rule == rule and o.scope == scope)


def test_four_fifths_fails_for_sex_with_fairlearns_figure(demo_result, adult_test, adult_model):
    from fairlearn.metrics import demographic_parity_ratio

    from audit.demo._demo import demo_config
    from audit.data._tables import build_dataset

    gate = evaluate(demo_result, [load_preset("four-fifths")])
    assert not gate.passed
    female = _outcome(gate, "four-fifths", "sex: sex=Female")
    dataset = build_dataset(adult_test, demo_config(sample=6000).data, seed=0)
    y_pred = adult_model.predict(dataset.features) == 1
    expected = demographic_parity_ratio(dataset.y_true, y_pred, sensitive_features=dataset.sensitive["sex"])
    assert female.status == "fail" and female.value == pytest.approx(expected, abs=1e-12)
    # the benchmark group is the comparison, not a case
    assert _outcome(gate, "four-fifths", "sex: sex=Male").status == "skipped"


def test_every_preset_runs_on_the_demo(demo_result):
    verdicts = {name: evaluate(demo_result, [load_preset(name)]) for name in PRESETS}
    assert set(verdicts) == {
        "four-fifths",
        "nyc-ll144",
        "equalized-odds",
        "text-counterfactual",
        "eu-ai-act",
        "explanation-quality",
        "llm-bias",
        "proxies",
    }
    # LL144 is report-first: the tables are there, and the 0.8 flag only warns
    ll144 = verdicts["nyc-ll144"]
    assert ll144.passed and _outcome(ll144, "ll144-tables", "regulatory.ll144.tables").status == "pass"
    assert any(
        o.rule == "ll144-impact-ratio-flag" and o.status == "fail" and o.severity == "warning" for o in ll144.outcomes
    )
    odds = verdicts["equalized-odds"]
    by_sex = demo_result.fairness[0].disparities_reliable
    assert _outcome(odds, "tpr-gap", "sex").value == pytest.approx(by_sex["tpr"].difference)
    assert _outcome(odds, "fpr-gap", "sex").value == pytest.approx(by_sex["fpr"].difference)
    # a tabular audit has no counterfactual metrics: that is an error, never a pass
    text = verdicts["text-counterfactual"]
    assert not text.passed and {o.status for o in text.outcomes} == {"error"}
    # nor language-model probes
    probes = verdicts["llm-bias"]
    assert not probes.passed and {o.status for o in probes.outcomes} == {"error"}
    assert verdicts["eu-ai-act"].passed
    # the demo's shap explanations are faithful for every large enough group and change when labels are shuffled
    assert verdicts["explanation-quality"].passed
    # relationship and marital-status are proxies for sex; neither carries half of a flagged gap alone, but
    # together they carry more than half of the sex FPR gap, and the preset says so
    proxies = verdicts["proxies"]
    assert any(o.scope.endswith(": relationship") and o.status == "pass" for o in proxies.outcomes)
    failed = [o for o in proxies.outcomes if o.status == "fail"]
    assert not proxies.passed and failed and {o.rule for o in failed} == {"no-dominant-joint-proxy"}
    assert any("fpr by sex" in o.scope and "marital-status" in o.scope and "relationship" in o.scope for o in failed)


def test_a_rule_whose_metric_is_missing_is_an_error(biased_frame):
    result = run_audit(
        AuditConfig(data=DataConfig(label="label", sensitive=("group",), prediction="decision")), data=biased_frame
    )
    policy = Policy("p", (Rule(metric="roc_auc", where="worst_group", compare=">=", threshold=0.7),), "0", "test")
    gate = evaluate(result, [policy])
    assert not gate.passed and gate.outcomes[0].status == "error"
    assert "'roc_auc' is not in the audit result" in gate.outcomes[0].message


def test_confident_rule_fails_on_the_ci_bound_where_the_point_estimate_passes():
    rng = np.random.default_rng(0)
    n = 400
    group = np.repeat(["A", "B"], n // 2)
    # exactly 100/200 of A and 88/200 of B selected: a ratio of 0.88 whose interval reaches below 0.8
    decision = np.concatenate([rng.permutation(np.arange(200) < 100), rng.permutation(np.arange(200) < 88)])
    frame = pd.DataFrame({"group": group, "label": rng.random(n) < 0.5, "decision": decision})
    result = run_audit(
        AuditConfig(data=DataConfig(label="label", sensitive=("group",), prediction="decision")), data=frame
    )
    ratio = result.fairness[0].disparities["selection_rate"].to_benchmark["group=B"]
    assert ratio.ratio > 0.8 and ratio.ratio_ci[0] < 0.8
    plain = Rule(metric="selection_rate", where="every_group", stat="ratio_to_best", compare=">=", threshold=0.8)
    sure = Rule(
        metric="selection_rate",
        where="every_group",
        stat="ratio_to_best",
        compare=">=",
        threshold=0.8,
        confident=True,
        id="sure",
    )
    gate = evaluate(result, [Policy("p", (plain, sure), "0", "test")])
    assert _outcome(gate, plain.id, "group: group=B").status == "pass"
    confident = _outcome(gate, "sure", "group: group=B")
    assert confident.status == "fail" and confident.checked_value == pytest.approx(ratio.ratio_ci[0])


def test_junit_parses_and_counts(demo_result):
    gate = evaluate(demo_result, [load_preset("four-fifths"), load_preset("nyc-ll144")])
    root = ElementTree.fromstring(render_junit(gate.to_dict()).split("\n", 1)[1])
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == len(gate.outcomes)
    blocking_fails = sum(o.status == "fail" and o.severity == "error" for o in gate.outcomes)
    assert int(suite.get("failures")) == blocking_fails == len(suite.findall("testcase/failure")) > 0
    assert int(suite.get("errors")) == 0
    assert {c.get("classname").split(".")[0] for c in cases} == {"four-fifths", "nyc-ll144"}


def test_policy_validation_errors():
    with pytest.raises(ConfigError, match=r"Unknown metric 'selection_rat' in rule"):
        Rule(metric="selection_rat", where="every_group", compare=">=", threshold=0.8)
    with pytest.raises(ConfigError, match=r"'stat' of rule .* must be one of ratio, difference"):
        Rule(metric="tpr", where="disparity", stat="ratio_to_best", compare=">=", threshold=0.8)
    with pytest.raises(ConfigError, match=r"Unknown preset 'four-fiths'. Did you mean 'four-fifths'\?"):
        load_preset("four-fiths")


@pytest.fixture()
def project(tmp_path, biased_frame):
    biased_frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        '[data]\npath = "data.csv"\nlabel = "label"\nsensitive = ["group"]\n'
        'prediction = "decision"\n[output]\ndir = "out"\n'
    )
    return tmp_path


def test_check_command_exit_codes_and_outputs(project, capsys, monkeypatch):
    assert main(["check", str(project / "audit.toml"), "--preset", "four-fifths", "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL     error    four-fifths  group: group=B" in printed and "Policy VIOLATED" in printed
    gate = json.loads((project / "out" / "gate.json").read_text())
    assert gate["passed"] is False and gate["policies"][0]["name"] == "four-fifths"
    result = json.loads((project / "out" / "audit.json").read_text())
    assert result["gate"]["passed"] is False and "policy:four-fifths" in result["provenance"]["sha256"]
    assert "VIOLATED" in (project / "out" / "report.html").read_text()
    ElementTree.parse(project / "out" / "junit.xml")

    (project / "lenient.toml").write_text(
        '[[rules]]\nmetric = "selection_rate"\nwhere = "every_group"\n'
        'stat = "ratio_to_best"\ncompare = ">="\nthreshold = 0.3\n'
    )
    assert (
        main(["check", "--result", str(project / "out" / "audit.json"), "--policy", str(project / "lenient.toml")]) == 0
    )

    (project / "bad.toml").write_text(
        '[[rules]]\nmetric = "selection_rat"\nwhere = "overall"\ncompare = ">="\nthreshold = 0.1\n'
    )
    assert main(["check", str(project / "audit.toml"), "--policy", str(project / "bad.toml")]) == 2
    assert "Unknown metric 'selection_rat'" in capsys.readouterr().err

    # no policy given: [tool.audit] of ./pyproject.toml
    monkeypatch.chdir(project)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[[tool.audit.rules]]\nmetric = "accuracy"\n'
        'where = "overall"\ncompare = ">="\nthreshold = 0.0\n'
    )
    assert load_policy(project / "pyproject.toml").rules[0].metric == "accuracy"
    assert main(["check", "--result", str(project / "out" / "audit.json")]) == 0


def test_verify_detects_changed_files(project, capsys):
    assert main(["run", str(project / "audit.toml"), "--quiet"]) == 0
    record = project / "out" / "audit.json"
    assert main(["verify", str(record)]) == 0
    assert "data    match" in capsys.readouterr().out
    with open(project / "data.csv", "a") as handle:
        handle.write("0.1,0.2,A,1,1\n")
    assert main(["verify", str(record)]) == 1
    assert "data    MISMATCH" in capsys.readouterr().out
    assert main(["verify", str(record), "--model", str(project / "missing.joblib")]) == 2
