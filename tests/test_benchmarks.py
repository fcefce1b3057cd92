"""The benchmarks stay runnable (their timings are measured by running them, never asserted here)."""

from benchmarks.fairness import fairlearn_frame, make_data, max_abs_diff, ours


def test_fairness_benchmark_pieces_agree_on_a_small_sample():
    y_true, y_pred, sensitive = make_data(3000)
    table = ours(y_true, y_pred, sensitive)
    assert len(table.groups) == 20
    assert max_abs_diff(table, fairlearn_frame(y_true, y_pred, sensitive)) < 1e-12
