"""Scale-out on a local Dask cluster, in one run.

    python -m benchmarks.scale [--rows 10000000] [--explain 600]

(a) Attributions (shap_permutation on the demo's Adult model, --explain rows) on a LocalCluster of 1 worker
    and of 2 workers, one thread each: parallel efficiency = t1 / (2 * t2). Cluster start-up and a warm-up
    run are left out of both timings. max_abs_diff_sharded_sampling compares the values of 1 worker, 2 workers
    and in-process (goal 0.0: random streams come from (seed, row id), never from the shard).
(b) Fairness on a Parquet file of --rows rows (written in chunks by a child process, never whole in memory)
    through dask.dataframe on 2 workers, run first: time, and the peak memory of this process plus its workers
    (sampled every 50 ms). Then the same file read whole by the in-memory engine (its memory is not part of the peak):
    max_abs_diff_vs_in_memory over every count-based metric of every group.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SENSITIVE = ("sex", "race")


class PeakMemory:
    """Peak resident memory of this process and its children (the Dask workers), in MB."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._process, self._interval, self.peak = psutil.Process(), interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for process in [self._process, *self._process.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 2**20)
            time.sleep(self._interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def write_parquet(path: Path, rows: int, chunk: int = 1_000_000, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        label = rng.integers(0, 2, n)
        score = np.clip(rng.normal(0.4 + 0.2 * label, 0.2), 0, 1)
        table = pa.table(
            {
                "sex": rng.choice(["Female", "Male"], n),
                "race": rng.choice(
                    ["White", "Black", "Asian", "Amer-Indian", "Other"], n, p=[0.6, 0.2, 0.1, 0.05, 0.05]
                ),
                "label": label,
                "score": score,
                "decision": (score > 0.5).astype(np.int64),
            }
        )
        writer = writer or pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table, row_group_size=500_000)
    writer.close()


def attribution_times(rows: int) -> dict:
    from audit.datasets import load_adult, train_adult_model
    from audit.exec._executors import DaskExecutor
    from explainers import get_explainer
    from explainers._sharded import explain_sharded
    from audit.models._adapters import make_adapter

    test = load_adult("test")
    from audit.demo._demo import DEMO_FEATURES

    features = test[DEMO_FEATURES]
    adapter = make_adapter(train_adult_model(load_adult("train"), seed=0), positive_label=">50K")
    explainer = get_explainer("shap_permutation", seed=0)
    sample, background = features.iloc[:rows].reset_index(drop=True), features.iloc[-100:].reset_index(drop=True)
    times, values = {}, {}
    for workers in (1, 2):
        with DaskExecutor(workers=workers) as executor:
            explain_sharded(
                explainer,
                adapter,
                sample.iloc[: 8 * workers],
                background=background,
                row_ids=np.arange(8 * workers),
                executor=executor,
            )  # warm-up
            started = time.perf_counter()
            result = explain_sharded(
                explainer,
                adapter,
                sample,
                background=background,
                row_ids=np.arange(rows),
                executor=executor,
                shards_per_worker=4,
            )
            times[workers] = time.perf_counter() - started
            assert list(result.row_ids) == list(range(rows))
            values[workers] = result.values
    from audit.exec._executors import InProcessExecutor

    in_process = explain_sharded(
        explainer, adapter, sample.iloc[:60], background=background, row_ids=np.arange(60), executor=InProcessExecutor()
    ).values
    # every random stream comes from (seed, row id): 1 worker, 2 workers and in-process agree exactly
    diff = max(float(np.abs(values[2] - values[1]).max()), float(np.abs(values[1][:60] - in_process).max()))
    return {
        "explain_rows": rows,
        "explain_1_worker_s": times[1],
        "explain_2_workers_s": times[2],
        "efficiency_2_workers": times[1] / (2 * times[2]),
        "max_abs_diff_sharded_sampling": diff,
    }


def fairness_run(rows: int) -> dict:
    import pandas as pd

    from audit import group_metrics
    from audit.exec._executors import DaskExecutor
    from audit.run._from_file import fairness_from_file

    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "decisions.parquet")
        # written by a child process: the writer's buffers, which the allocator keeps, are not this process's
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from benchmarks.scale import write_parquet; "
                f"write_parquet(__import__('pathlib').Path({str(path)!r}), {rows})",
            ],
            check=True,
        )
        with PeakMemory() as memory:
            with DaskExecutor(workers=2) as executor:
                started = time.perf_counter()
                tables = fairness_from_file(
                    path,
                    label="label",
                    prediction="decision",
                    score="score",
                    sensitive=SENSITIVE,
                    executor=executor,
                    n_boot=1000,
                )
                elapsed = time.perf_counter() - started
        frame = pd.read_parquet(path)
        reference = group_metrics(
            y_true=frame["label"],
            y_pred=frame["decision"],
            sensitive=frame[list(SENSITIVE)],
            metrics=tuple(m for m in tables[-1].metrics if m not in ("roc_auc", "ece")),
            n_boot=0,
        )
    diff = max(
        abs(mine.values[m] - theirs.values[m])
        for mine, theirs in zip(tables[-1].groups, reference.groups)
        for m in reference.metrics
        if mine.values[m] is not None
    )
    return {
        "rows": rows,
        "fairness_s": elapsed,
        "peak_rss_mb": memory.peak,
        "max_abs_diff_vs_in_memory": diff,
        "groups": len(tables[-1].groups),
        "roc_auc_binning_bound": tables[-1].bootstrap.get("roc_auc_binning_bound"),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--explain", type=int, default=600)
    args = parser.parse_args(argv)
    # fairness first: the attributions load the explainer stack and the Adult model into this process (about
    # 300 MB that stay), which are not the fairness engine's memory
    report = fairness_run(args.rows)
    print(
        f"fairness on {args.rows:,} Parquet rows: {report['fairness_s']:.1f} s, peak memory "
        f"{report['peak_rss_mb']:.0f} MB (this process and its workers), max diff vs in-memory "
        f"{report['max_abs_diff_vs_in_memory']}",
        flush=True,
    )
    report.update(attribution_times(args.explain))
    print(
        f"attributions: 1 worker {report['explain_1_worker_s']:.1f} s, "
        f"2 workers {report['explain_2_workers_s']:.1f} s,"
        f" efficiency {report['efficiency_2_workers']:.2f}",
        flush=True,
    )
    return report


if __name__ == "__main__":
    print(json.dumps(main()))
