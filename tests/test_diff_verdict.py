"""`audit diff`'s test: its false-positive rate on re-audits of an unchanged model, its power at three times the
tolerance, and its parts against their oracles (Holm, Katz's interval, the reading of intervals)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.diff._verdict import fall_tests, holm_rows, katz_log_ratio, log_ratio_from_intervals
from audit.fairness._stats import holm
from benchmarks._diff_sim import simulate


def test_an_unchanged_model_rarely_worsens_and_a_fall_of_three_tolerances_is_found():
    # 600 runs: the binomial standard error of a 5% rate is 0.9 points; the benchmark runs 4,000
    null = simulate(runs=600, seed=11, old_rows=10_000, new_rows=10_000, new_b=0.925)
    fewer = simulate(runs=600, seed=12, old_rows=10_000, new_rows=1_250, new_b=0.925)
    planted = simulate(runs=600, seed=13, old_rows=10_000, new_rows=10_000, new_b=0.775)
    assert null["default"] <= 0.05 and fewer["default"] <= 0.06, (null, fewer)
    assert null["point_rule_before"] > 0.25 and fewer["point_rule_before"] > 0.6  # the rule it replaces
    assert planted["default"] >= 0.8 and planted["confident"] > 0.4, planted
    assert 0.15 < planted["detectable_fall_median"] < 0.2  # what the report says these audits could detect


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=12))
def test_holm_rows_equals_holm(p_values):
    row = np.array([np.nan if p is None else p for p in p_values])
    expected = np.array([np.nan if p is None else p for p in holm(p_values)], dtype=float)
    np.testing.assert_allclose(holm_rows(row[None, :])[0], expected, equal_nan=True)


def test_katz_standard_error_covers_the_true_log_ratio_and_intervals_read_back():
    rng = np.random.default_rng(3)
    n, m, p, q = 400, 900, 0.12, 0.2
    x, y = rng.binomial(n, p, 20_000), rng.binomial(m, q, 20_000)
    log_ratio, se = katz_log_ratio(x, n, y, m, higher_is_better=True)
    covered = np.abs(log_ratio - np.log(p / q)) <= 1.96 * se
    assert 0.94 <= covered.mean() <= 0.96
    lower_better, _ = katz_log_ratio(x, n, y, m, higher_is_better=False)
    np.testing.assert_allclose(lower_better, -log_ratio)
    # intervals built as value x exp(+-1.96 se) give back the standard error of the log-ratio
    read, read_se = log_ratio_from_intervals(
        0.2,
        [0.2 * np.exp(-1.96 * 0.1), 0.2 * np.exp(1.96 * 0.1)],
        0.4,
        [0.4 * np.exp(-1.96 * 0.2), 0.4 * np.exp(1.96 * 0.2)],
        level=0.95,
        higher_is_better=True,
    )
    np.testing.assert_allclose([read, read_se], [np.log(0.5), np.hypot(0.1, 0.2)], rtol=1e-4)
    _, none = log_ratio_from_intervals(0.0, [0.0, 0.1], 0.4, [0.3, 0.5], level=0.95, higher_is_better=True)
    assert np.isnan(none)  # a zero value has no log scale: not tested


def test_a_reversal_counts_and_untestable_comparisons_stay_out_of_the_family():
    # the group overtakes the benchmark by far: the pair is further from parity, the other way round
    tests = fall_tests([-0.05, np.nan], [0.02, 0.02], [0.6, -0.3], [0.02, 0.02], tolerance=0.05)
    assert tests.worsened.tolist() == [True, False] and np.isnan(tests.p_value[1])
    assert tests.p_value_holm[0] == tests.p_value[0]  # a family of one
    closer = fall_tests([-0.4], [0.02], [-0.1], [0.02], tolerance=0.05)  # towards parity: never worse
    assert not closer.worsened[0] and closer.fall[0] < 0
