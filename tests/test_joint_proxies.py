"""Proxies that act together: two planted models whose every input passes alone are caught together; inputs that say
nothing of the group are not (a null simulation of the joint AUC)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import AuditResult, GapsConfig, evaluate, load_preset
from audit._errors import ConfigError
from audit.gaps._proxies import JointModel, binned
from benchmarks._joint_proxies import planted_audit


@pytest.fixture(scope="module", params=["weak_inputs", "xor"])
def planted(request):
    result, _ = planted_audit(request.param, seed=5, rows=6000)
    return request.param, result


def test_inputs_that_pass_alone_are_a_proxy_together_and_fail_the_preset(planted):
    kind, result = planted
    assert not result.failures
    for gap in result.gap_explanations.explanations:
        assert gap.flagged and all(f.role == "other" for f in gap.features)  # no input is a proxy on its own
        joint = gap.joint_proxy
        assert joint is not None and joint.role == "proxy"
        assert joint.proxy_auc >= 0.7 > joint.strongest_single_auc
        assert joint.share_ci[0] > 0.9  # the group never enters the model: its inputs carry the whole gap
        expected = {"weak_inputs": 8, "xor": 2}[kind]
        assert len(joint.features) == expected and "noise" not in joint.features
    selection = next(g for g in result.gap_explanations.explanations if g.metric == "selection_rate")
    assert selection.value / selection.compared_value < 0.35  # the planted models discriminate
    assert sum(f.kind == "joint_proxy" for f in result.findings) == len(result.gap_explanations.explanations)
    gate = evaluate(result, [load_preset("proxies")])
    failed = [o for o in gate.outcomes if o.status == "fail"]
    assert not gate.passed and {o.rule for o in failed} == {"no-dominant-joint-proxy"}
    again = AuditResult.from_json(result.to_json())
    assert again.gap_explanations.explanations[0].joint_proxy == result.gap_explanations.explanations[0].joint_proxy


def test_the_report_says_which_inputs_act_together(planted):
    from reports import render_html

    _, result = planted
    html = render_html(result)
    assert "Together, a proxy" in html and "judged <strong>together</strong>" in html


@pytest.mark.slow
def test_inputs_independent_of_the_group_are_never_a_joint_proxy():
    """Null simulation: ten inputs with no relation to the group, 40 seeds of 4,000 rows. Cross-fitting keeps the
    joint AUC at chance (measured: mean 0.50, max 0.53): it never reaches the 0.7 of a proxy."""
    aucs, kept = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        member = rng.random(4000) < 0.3
        codes = np.column_stack(
            [binned(pd.Series(rng.standard_normal(4000))) for _ in range(8)]
            + [rng.integers(1, 40, 4000), rng.integers(1, 3, 4000)]
        )
        fit = JointModel(codes, member, rng.permutation(4000) % 2, seed=seed)
        aucs.append(fit.auc)
        kept.append(int((fit.drops >= 0.01).sum()))
    aucs = np.array(aucs)
    assert abs(aucs.mean() - 0.5) < 0.01 and aucs.max() < 0.56, aucs
    assert np.mean(kept) <= 1  # shuffling an unrelated input rarely costs the AUC 0.01 (measured: 5% of inputs)


def test_the_joint_share_setting_is_validated():
    with pytest.raises(ConfigError, match="gaps.joint_min_share"):
        GapsConfig(joint_min_share=0.0)
