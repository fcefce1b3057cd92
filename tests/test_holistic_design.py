"""HolisticBias's descriptor test respects its crossed noun x template design: with descriptor x noun interactions
and no descriptor effect its p-values hold their level where the t test over blocks as if independent does not, and
a planted descriptor effect is found. benchmarks/soundness.py measures the family-wise rate (Holm over 65
descriptors at 0.01: 1.0% of 400 null runs)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import t as student

from audit.probes._holistic import crossed_gap_tests
from benchmarks.soundness import holistic_negativity


def _p_values(runs: int, **scenario) -> tuple[np.ndarray, np.ndarray]:
    """(ours, the independent-blocks t test's): every descriptor's p-value of one axis per run."""
    ours, naive = [], []
    for seed in range(runs):
        (table,) = holistic_negativity(np.random.default_rng(seed), axes=1, **scenario)
        ours += [p for _, _, p, _ in crossed_gap_tests(table, seed=seed, draws=4000)]
        gaps = (table - np.median(table, axis=0, keepdims=True)).reshape(len(table), -1)
        t = gaps.mean(axis=1) / (gaps.std(axis=1, ddof=1) / np.sqrt(gaps.shape[1]))
        naive += list(2 * student.sf(np.abs(t), gaps.shape[1] - 1))
    return np.array(ours), np.array(naive)


@pytest.mark.parametrize(
    "scenario",
    [
        {"noun_sd": 1.0, "template_sd": 0.0, "residual_sd": 0.2},  # the review's case: descriptor x noun only
        {"noun_sd": 0.5, "template_sd": 0.5, "residual_sd": 0.5},
    ],
)
def test_no_descriptor_effect_keeps_the_level(scenario):
    ours, naive = _p_values(120, **scenario)  # 600 descriptors
    assert 0.02 <= (ours < 0.05).mean() <= 0.08
    assert (naive < 0.05).mean() >= 0.15  # blocks taken as independent: several times the level


def test_a_planted_descriptor_effect_is_found():
    found = 0
    for seed in range(40):
        (table,) = holistic_negativity(
            np.random.default_rng(1000 + seed), axes=1, noun_sd=1.0, template_sd=0.0, residual_sd=0.2, planted=3.0
        )
        found += crossed_gap_tests(table, seed=seed)[0][2] < 0.01 / 65  # Holm's strictest step over 65
    assert found / 40 >= 0.75
