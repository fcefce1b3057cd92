"""Scale-out: executors (in-process and a real Dask LocalCluster on 127.0.0.1), sharded attributions,
fairness from files by partition, worker faults and bad clusters."""

import dataclasses
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from audit import (
    ExplainerConfig,
    GapsConfig,
    MitigationConfig,
    QualityConfig,
    ResourceError,
    SlicesConfig,
    group_metrics,
    run_audit,
)
from audit.demo._demo import demo_config
from audit.exec._executors import DaskExecutor, InProcessExecutor
from audit.run._from_file import fairness_from_file

pytestmark = pytest.mark.slow  # starts Dask clusters: left out of `make test-fast`

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with DaskExecutor(workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def decisions_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 120_000
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "race": rng.choice(list("ABCDE"), n, p=[0.5, 0.2, 0.15, 0.1, 0.05]),
            "label": rng.integers(0, 2, n),
        }
    )
    frame["score"] = np.clip(rng.normal(0.4 + 0.2 * frame["label"], 0.2), 0, 1)
    frame["decision"] = (frame["score"] > 0.5).astype(int)
    folder = tmp_path_factory.mktemp("data")
    frame.to_parquet(folder / "d.parquet", row_group_size=25_000)
    frame.to_csv(folder / "d.csv", index=False)
    return frame, folder


def _same_point_estimates(tables, frame, *, auc_bound=True):
    reference = group_metrics(
        y_true=frame["label"],
        y_pred=frame["decision"],
        sensitive=frame[["sex", "race"]],
        scores=frame["score"],
        metrics=tables[-1].metrics,
        n_boot=0,
    )
    ours = tables[-1]
    assert [g.name for g in ours.groups] == [g.name for g in reference.groups]
    for mine, theirs in zip(ours.groups, reference.groups):
        assert mine.n == theirs.n
        for metric in ours.metrics:
            if metric == "roc_auc":
                assert abs(mine.values[metric] - theirs.values[metric]) <= ours.bootstrap.roc_auc_binning_bound
            elif metric == "ece":
                assert mine.values[metric] == pytest.approx(theirs.values[metric], abs=1e-12)
            else:
                assert mine.values[metric] == theirs.values[metric], metric  # identical, not just close


@pytest.mark.parametrize("name", ["d.parquet", "d.csv"])
def test_fairness_by_partition_equals_the_in_memory_engine(decisions_file, name):
    frame, folder = decisions_file
    tables = fairness_from_file(
        folder / name,
        label="label",
        prediction="decision",
        score="score",
        sensitive=("sex", "race"),
        partition_rows=20_000,
        n_boot=200,
    )
    assert [t.name for t in tables] == ["sex", "race", "sex x race"]
    _same_point_estimates(tables, frame)
    interval = tables[0].groups[0].ci["selection_rate"]
    assert interval[0] < tables[0].groups[0].values["selection_rate"] < interval[1]


def test_fairness_on_the_dask_cluster_equals_the_in_memory_engine(decisions_file, cluster):
    frame, folder = decisions_file
    tables = fairness_from_file(
        folder / "d.parquet",
        label="label",
        prediction="decision",
        score="score",
        sensitive=("sex", "race"),
        executor=cluster,
        n_boot=200,
    )
    _same_point_estimates(tables, frame)
    # the bootstrap draws come from (seed, partition), never from the worker: the same intervals in process
    local = fairness_from_file(
        folder / "d.parquet", label="label", prediction="decision", score="score", sensitive=("sex", "race"), n_boot=200
    )
    for remote_table, local_table in zip(tables, local):
        assert remote_table.overall_ci == local_table.overall_ci
        assert [g.ci for g in remote_table.groups] == [g.ci for g in local_table.groups]
        assert remote_table.summary == local_table.summary


def test_sharded_attributions_on_dask_equal_in_process(adult_test, adult_model, cluster):
    config = demo_config(sample=1500)
    local = run_audit(config, data=adult_test, model=adult_model)
    remote = run_audit(config, data=adult_test, model=adult_model, executor=cluster)
    assert remote.provenance.executor == {"name": "dask", "workers": 2}
    a, b = local.attributions[0], remote.attributions[0]
    assert a.method == b.method == "shap_tree" and a.n_examples == b.n_examples
    for feature in a.features:
        assert b.global_importance[feature] == pytest.approx(a.global_importance[feature], rel=1e-12)
    assert remote.quality.methods["shap_tree"].faithfulness.status == "ok"


def _kill_a_busy_worker(cluster) -> threading.Thread:
    """Kill (SIGKILL) a worker process as soon as it is running tasks; the thread records the pid it killed."""
    pids = cluster.client.run(os.getpid)
    killed: list[int] = []

    def watch():
        deadline = time.time() + 120
        while time.time() < deadline:
            busy = [address for address, tasks in cluster.client.processing().items() if tasks]
            if busy and busy[0] in pids:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.killed = killed
    thread.start()
    return thread


def _wait_for_workers(cluster, count=2):
    deadline = time.time() + 30
    while len(cluster.client.scheduler_info()["workers"]) < count and time.time() < deadline:
        time.sleep(0.2)  # the nanny restarts a killed worker for the next tests


def _slow_square(value):
    time.sleep(0.4)
    return value * value


def test_a_killed_worker_loses_and_doubles_nothing(cluster):
    killer = _kill_a_busy_worker(cluster)
    results = cluster.map(_slow_square, list(range(12)))
    killer.join()
    assert killer.killed and results == [i * i for i in range(12)]
    _wait_for_workers(cluster)


def test_an_audit_completes_when_a_worker_dies_mid_run(adult_test, adult_model, cluster):
    # only the attributions run on the cluster: the steps that run here are off, so the test waits on the kill alone
    config = dataclasses.replace(
        demo_config(sample=2000),
        explainers=ExplainerConfig(methods=("shap_permutation",), sample_size=120, background_size=50),
        quality=QualityConfig(enabled=False),
        gaps=GapsConfig(enabled=False),
        slices=SlicesConfig(enabled=False),
        mitigation=MitigationConfig(enabled=False),
    )
    _wait_for_workers(cluster)
    killer = _kill_a_busy_worker(cluster)  # dies while it explains its first shard
    result = run_audit(config, data=adult_test, model=adult_model, executor=cluster)
    killer.join()
    assert killer.killed and killer.killed[0] not in cluster.client.run(os.getpid).values()
    assert not result.failures
    summary = result.attributions[0]
    assert summary.n_examples == 120 and summary.completeness_error_max < 1e-6


def test_unreachable_scheduler_fails_fast_with_a_clear_error():
    started = time.perf_counter()
    with pytest.raises(ResourceError, match="Could not reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        DaskExecutor(scheduler="tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - started < 15


def _needs_a_missing_package(_):
    import audit_toolkit_missing_dependency  # noqa: F401


def test_a_worker_without_the_models_package_names_it(cluster):
    with pytest.raises(ResourceError, match="lacks the package 'audit_toolkit_missing_dependency'"):
        cluster.map(_needs_a_missing_package, [1])


def test_in_process_executor_keeps_order():
    assert InProcessExecutor().map(_slow_square, [3, 1, 2]) == [9, 1, 4]


def test_audit_run_with_partitions_on_workers_equals_the_in_memory_audit(decisions_file, tmp_path, capsys):
    import json

    from audit.cli import main

    _, folder = decisions_file
    common = (
        f'[data]\npath = "{folder / "d.parquet"}"\nlabel = "label"\nprediction = "decision"\n'
        'score = "score"\nsensitive = ["sex", "race"]\n[fairness]\nn_boot = 200\n'
    )
    (tmp_path / "memory.toml").write_text(common)
    (tmp_path / "parts.toml").write_text(
        common.replace('score = "score"\n', 'score = "score"\nengine = "partitions"\n')
    )
    # the data lies in another folder: the configs are trusted here
    assert (
        main(
            [
                "run",
                str(tmp_path / "parts.toml"),
                "--workers",
                "2",
                "--out",
                str(tmp_path / "p"),
                "--quiet",
                "--allow-outside",
            ]
        )
        == 0
    )
    assert main(["run", str(tmp_path / "memory.toml"), "--out", str(tmp_path / "m"), "--quiet", "--allow-outside"]) == 0
    parts, memory = (json.loads((tmp_path / d / "audit.json").read_text()) for d in ("p", "m"))
    assert parts["data"]["n_rows"] == memory["data"]["n_rows"] == 120_000
    assert parts["provenance"]["executor"] == {"name": "dask", "workers": 2}
    for mine, theirs in zip(parts["fairness"], memory["fairness"]):
        for a, b in zip(mine["groups"], theirs["groups"]):
            assert a["n"] == b["n"] and a["values"]["selection_rate"] == b["values"]["selection_rate"]
            assert a["values"]["fpr"] == b["values"]["fpr"]
    assert [e["flagged_groups"] for e in parts["regulatory"]["four_fifths"]] == [
        e["flagged_groups"] for e in memory["regulatory"]["four_fifths"]
    ]
    assert (tmp_path / "p" / "report.html").stat().st_size > 1_000_000
    from audit import ConfigError, DataConfig

    with pytest.raises(ConfigError, match="needs data.path"):
        DataConfig(label="label", sensitive=("sex",), prediction="decision", engine="partitions")


def test_sharded_text_attributions_equal_in_process(cluster):
    from explainers import get_explainer
    from explainers._sharded import explain_texts_sharded
    from explainers._text_model import TextClassifier
    from tests.text_models import tiny_model

    model, tokenizer = tiny_model("bert")
    classifier = TextClassifier(model, tokenizer, labels=["0", "1"])
    texts = [
        "she loves the phone",
        "he hates it",
        "the battery is great and the screen is awful",
        "good",
        "they love this store",
        "it was very bad",
    ] * 2
    explainer = get_explainer("layer_integrated_gradients", n_steps=16, target=1)
    local = explainer.explain_texts(classifier, texts)
    remote = explain_texts_sharded(explainer, classifier, texts, executor=cluster)
    assert remote.words == local.words and remote.tokens == local.tokens
    assert np.allclose(remote.values[remote.token_mask], local.values[local.token_mask], atol=1e-6)
    assert remote.values.shape == local.values.shape and list(remote.row_ids) == list(range(len(texts)))
    assert remote.meta["steps_per_example"] == local.meta["steps_per_example"]


class _Split(InProcessExecutor):
    """In-process, but sharded as a cluster of ``workers`` would be."""

    def __init__(self, workers: int) -> None:
        self.workers = workers


@pytest.mark.parametrize("method", ["shap_permutation", "lime_tabular"])
def test_sampling_explainers_give_identical_values_on_any_number_of_workers(cluster, method):
    from sklearn.linear_model import LogisticRegression

    from audit.models._adapters import make_adapter
    from explainers import get_explainer
    from explainers._sharded import explain_sharded

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "c": rng.choice(["x", "y", "z"], 200)})
    model = LogisticRegression().fit(frame[["a", "b"]], frame["a"] + rng.normal(size=200) > 0)
    adapter = make_adapter(lambda f: model.predict_proba(f[["a", "b"]])[:, 1], positive_label=1, output="probability")
    rows, background = frame.iloc[:18].reset_index(drop=True), frame.iloc[50:90].reset_index(drop=True)
    row_ids = np.arange(1000, 1018)
    runs = [
        explain_sharded(
            get_explainer(method, seed=3), adapter, rows, background=background, row_ids=row_ids, executor=executor
        ).values
        for executor in (InProcessExecutor(), _Split(1), _Split(2), _Split(3), cluster)
    ]
    for values in runs[1:]:
        assert np.array_equal(values, runs[0])  # exactly equal, not close
    other_seed = explain_sharded(
        get_explainer(method, seed=4),
        adapter,
        rows,
        background=background,
        row_ids=row_ids,
        executor=InProcessExecutor(),
    ).values
    assert not np.array_equal(other_seed, runs[0])  # the seed does matter


def test_partitions_engine_honours_the_reference_and_scores_on_any_scale(decisions_file):
    frame, folder = decisions_file
    scaled = frame.assign(score=frame["score"] * 9 + 1)  # a 1-10 score
    scaled.to_parquet(folder / "scaled.parquet", row_group_size=25_000)
    tables = fairness_from_file(
        folder / "scaled.parquet",
        label="label",
        prediction="decision",
        sensitive=("sex", "race"),
        score="score",
        n_boot=0,
        reference={"race": "B"},
        metrics=("selection_rate", "roc_auc", "ece"),
    )
    memory = group_metrics(
        y_true=scaled["label"],
        y_pred=scaled["decision"],
        sensitive=scaled[["race"]],
        scores=scaled["score"],
        metrics=("selection_rate", "roc_auc", "ece"),
        n_boot=0,
        reference="race=B",
    )
    race = next(t for t in tables if t.name == "race")
    by_partitions, in_memory = race.disparities["selection_rate"], memory.disparities["selection_rate"]
    assert by_partitions.to_reference.keys() == in_memory.to_reference.keys()
    for name, entry in memory.disparities["selection_rate"].to_reference.items():
        assert race.disparities["selection_rate"].to_reference[name].p_value == entry.p_value
    for ours, theirs in zip(race.groups, memory.groups):
        assert ours.values["ece"] is None and ours.undefined["ece"] == theirs.undefined["ece"]
        assert abs(ours.values["roc_auc"] - theirs.values["roc_auc"]) < race.bootstrap.roc_auc_binning_bound + 1e-9
    from audit._errors import ConfigError

    with pytest.raises(ConfigError, match="'fairness.reference' group race='Q' does not occur"):
        fairness_from_file(
            folder / "d.parquet",
            label="label",
            prediction="decision",
            sensitive=("race",),
            n_boot=0,
            reference={"race": "Q"},
        )


def test_a_missing_sensitive_value_in_a_file_is_refused_with_the_column(tmp_path):
    from audit._errors import DataError

    frame = pd.DataFrame({"sex": ["F", "M", None, "F"] * 25, "label": [0, 1] * 50, "decision": [1, 0, 0, 1] * 25})
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(DataError, match="'sex' has 25 missing values"):
        fairness_from_file(tmp_path / "d.parquet", label="label", prediction="decision", sensitive=("sex",), n_boot=0)
