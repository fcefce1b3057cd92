"""The rows a verdict needs: power against the engine's own test by simulation, the audit's record, the gate's
message on a group too small to check, and `audit plan`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit import AuditConfig, DataConfig, run_audit
from audit.cli import main
from audit.fairness._power import line_rate, power_to_detect
from audit.fairness._stats import compare_proportions
from audit.fairness._types import FairnessTable
from audit.gate._policy import evaluate, load_preset
from audit.result._serde import from_dict, to_dict


def _simulated(p_group, n_group, p_bench, n_bench, level, draws, seed):
    """The engine's test (compare_proportions) run on ``draws`` simulated pairs of groups: its rejection rate."""
    rng = np.random.default_rng(seed)
    pairs = zip(rng.binomial(n_group, p_group, draws).tolist(), rng.binomial(n_bench, p_bench, draws).tolist())
    rejected: dict[tuple[int, int], bool] = {}
    hits = 0
    for pair in pairs:
        if pair not in rejected:
            p_value, _ = compare_proportions(pair[0], n_group, pair[1], n_bench)
            rejected[pair] = p_value is not None and p_value < level
        hits += rejected[pair]
    return hits / draws


@pytest.mark.parametrize(
    "p_bench, n_bench, n_group, kind, threshold, comparisons",
    [
        (0.3, 2000, 30, "ratio", 0.8, 1),  # Fisher's exact test (an expected cell under 5)
        (0.3, 2000, 300, "ratio", 0.8, 5),
        (0.6, 200, 100, "difference", 0.05, 1),
        (0.1, 2000, 300, "ratio", 0.8, 1),
    ],
)
def test_the_power_is_the_engines_test_by_simulation(p_bench, n_bench, n_group, kind, threshold, comparisons):
    found = power_to_detect(
        benchmark_rate=p_bench,
        benchmark_rows=n_bench,
        group_rows=n_group,
        kind=kind,
        threshold=threshold,
        higher_is_better=True,
        alpha=0.05,
        comparisons=comparisons,
    )
    p_group = line_rate(p_bench, kind=kind, threshold=threshold, higher_is_better=True)
    simulated = _simulated(p_group, n_group, p_bench, n_bench, 0.05 / comparisons, 3000, seed=n_group)
    assert found.power == pytest.approx(simulated, abs=0.05)  # benchmarks.power: mean error 0.006, max 0.036
    # the rows it asks for deliver the power it promises, and about two thirds of them would not
    needed = found.rows_needed
    assert (needed is not None and needed > n_group) or found.power >= 0.8 or "not reachable" in found.note
    if needed is not None and needed <= 3000:
        at_needed = _simulated(p_group, needed, p_bench, n_bench, 0.05 / comparisons, 3000, seed=1)
        assert at_needed >= 0.76
        assert _simulated(p_group, int(needed * 0.6), p_bench, n_bench, 0.05 / comparisons, 3000, seed=2) < 0.76


def test_with_no_gap_the_test_holds_its_level_and_lines_outside_0_1_are_refused():
    assert _simulated(0.3, 40, 0.3, 2000, 0.05, 4000, seed=3) <= 0.05 + 3 * (0.05 * 0.95 / 4000) ** 0.5
    assert line_rate(0.5, kind="ratio", threshold=0.8, higher_is_better=False) == pytest.approx(0.625)  # FPR: up
    assert line_rate(0.9, kind="ratio", threshold=0.8, higher_is_better=False) is None
    found = power_to_detect(
        benchmark_rate=0.9,
        benchmark_rows=100,
        group_rows=10,
        kind="ratio",
        threshold=0.8,
        higher_is_better=False,
        alpha=0.05,
    )
    assert found.power is None and "no rate in [0, 1]" in found.note
    zero = power_to_detect(
        benchmark_rate=0.0,
        benchmark_rows=100,
        group_rows=10,
        kind="ratio",
        threshold=0.8,
        higher_is_better=True,
        alpha=0.05,
    )
    assert zero.power is None and "no gap at all" in zero.note


def test_a_small_benchmark_limits_the_power_and_the_note_says_what_would_reach_it():
    found = power_to_detect(
        benchmark_rate=0.36,
        benchmark_rows=50,
        group_rows=6,
        kind="ratio",
        threshold=0.8,
        higher_is_better=True,
        alpha=0.05,
    )
    assert found.rows_needed is None and "50 rows: even an unlimited group" in found.note
    both = int(found.note.split("; ")[1].split(" rows")[0].replace(",", ""))
    assert _simulated(0.36 * 0.8, both, 0.36, both, 0.05, 2000, seed=4) >= 0.76


@pytest.fixture(scope="module")
def small_group_audit():
    rng = np.random.default_rng(5)
    sizes = {"A": 2000, "B": 1500, "C": 12}
    group = np.concatenate([[name] * n for name, n in sizes.items()])
    rate = {"A": 0.5, "B": 0.45, "C": 0.3}
    decision = np.array([rng.random() < rate[g] for g in group])
    frame = pd.DataFrame({"group": group, "label": rng.random(len(group)) < 0.5, "decision": decision})
    config = AuditConfig(data=DataConfig(label="label", sensitive=("group",), prediction="decision"))
    return run_audit(config, data=frame)


def test_the_audit_records_the_rows_each_inconclusive_comparison_needs(small_group_audit):
    table = small_group_audit.fairness[0]
    rows = {(p.metric, p.group, p.kind): p for p in table.power}
    small = rows[("selection_rate", "group=C", "ratio")]
    assert small.why.startswith("fewer than 30 rows") and small.support == 12 and small.benchmark_group == "group=A"
    assert small.power < 0.2 and small.rows_needed > 100 and small.level == pytest.approx(0.05 / 2)
    assert small.power == pytest.approx(
        power_to_detect(
            benchmark_rate=table.group("group=A").values["selection_rate"],
            benchmark_rows=2000,
            group_rows=12,
            kind="ratio",
            threshold=0.8,
            higher_is_better=True,
            alpha=0.05,
            comparisons=2,
        ).power
    )
    # B is above the line (ratio 0.9) and has rows: not inconclusive, not listed
    assert ("selection_rate", "group=B", "ratio") not in rows
    loaded = from_dict(FairnessTable, to_dict(table), "fairness.0")
    assert loaded.power == table.power


def test_the_gate_says_what_a_skipped_small_group_would_need(small_group_audit):
    gate = evaluate(small_group_audit, [load_preset("four-fifths")])
    skipped = next(o for o in gate.outcomes if o.scope == "group: group=C")
    assert skipped.status == "skipped" and skipped.power is not None and skipped.rows_needed > 100
    assert "Fewer than 30 rows: not checked. At this size the test would find a ratio of 0.8" in skipped.message
    assert f"about {skipped.rows_needed:,} rows would give 80%" in skipped.message


def test_audit_plan_prints_and_writes_the_rows_each_group_needs(tmp_path, capsys):
    rng = np.random.default_rng(6)
    group = np.repeat(["A", "B", "C"], [1500, 400, 15])
    pd.DataFrame(
        {"group": group, "label": (rng.random(len(group)) < 0.3).astype(int), "x": rng.normal(size=len(group))}
    ).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        'title = "Plan"\n[data]\npath = "data.csv"\nlabel = "label"\nsensitive = ["group"]\n'
    )
    assert main(["plan", str(tmp_path / "audit.toml"), "--json", str(tmp_path / "plan.json")]) == 0
    printed = capsys.readouterr().out
    assert "By group (benchmark group=A):" in printed and "group=C: 15 rows; ratio 0.8: power" in printed
    plan = json.loads((tmp_path / "plan.json").read_text())
    base = plan["assumed_rate"]
    row = next(r for r in plan["rows"] if r["group"] == "group=C" and r["kind"] == "ratio")
    expected = power_to_detect(
        benchmark_rate=base,
        benchmark_rows=1500,
        group_rows=15,
        kind="ratio",
        threshold=0.8,
        higher_is_better=True,
        alpha=0.05,
        comparisons=2,
    )
    assert row["power"] == pytest.approx(expected.power) and row["rows_needed"] == expected.rows_needed
    # a rate the plan cannot assume is refused (exit 2), and nothing is written
    assert main(["plan", str(tmp_path / "audit.toml"), "--metric", "tpr", "--json", str(tmp_path / "tpr.json")]) == 2
    assert "--assume-rate" in capsys.readouterr().err and not (tmp_path / "tpr.json").exists()
    assert main(["plan", str(tmp_path / "audit.toml"), "--assume-rate", "1.5"]) == 2
