"""Thread pools sized to the CPUs the process may use, hot loops single-threaded, overrides (issue 24).
Timings live in benchmarks/contention.py; these tests check the sizes."""

from __future__ import annotations

import os

import pytest


def test_available_cpus_follow_the_affinity_mask():
    from audit.exec._threads import available_cpus

    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))


def test_budget_from_the_argument_the_environment_or_the_machine(monkeypatch):
    from audit._errors import ConfigError
    from audit.exec._threads import available_cpus, thread_budget

    monkeypatch.delenv("AUDIT_THREADS", raising=False)
    assert thread_budget() == (available_cpus(), "the CPUs this process may use (affinity and cgroup quota)")
    monkeypatch.setenv("AUDIT_THREADS", "1")
    assert thread_budget() == (1, "AUDIT_THREADS")
    assert thread_budget(3)[0] == 3
    monkeypatch.setenv("AUDIT_THREADS", "many")
    with pytest.raises(ConfigError, match="AUDIT_THREADS must be a positive integer"):
        thread_budget()


def test_limited_threads_caps_native_pools_and_restores_them():
    from threadpoolctl import threadpool_info

    from audit.exec._threads import limited_threads

    before = [p["num_threads"] for p in threadpool_info()]
    with limited_threads(1):
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert [p["num_threads"] for p in threadpool_info()] == before


def test_the_audit_records_its_thread_budget_and_runs_hot_loops_single_threaded(biased_frame, monkeypatch):
    from threadpoolctl import threadpool_info
    from sklearn.linear_model import LogisticRegression

    import audit.quality._checks as quality
    from audit import AuditConfig, DataConfig, run_audit
    from audit.config._settings import ExplainerConfig, FairnessConfig

    seen = []
    real = quality.explanation_quality

    def spy(*args, **kwargs):
        seen.append(max((p["num_threads"] for p in threadpool_info()), default=1))
        return real(*args, **kwargs)

    monkeypatch.setattr(quality, "explanation_quality", spy)
    model = LogisticRegression().fit(biased_frame[["x1", "x2"]], biased_frame["label"])
    config = AuditConfig(
        data=DataConfig(label="label", sensitive=("group",)),
        explainers=ExplainerConfig(sample_size=30),
        fairness=FairnessConfig(n_boot=0),
    )
    result = run_audit(config, data=biased_frame, model=model, threads=2)
    assert result.provenance.threads == {"count": 2, "source": "--threads / run_audit(threads=)"}
    assert seen == [1]


def test_dask_tasks_run_single_threaded():
    pytest.importorskip("distributed")
    from audit.exec._executors import DaskExecutor

    def pool_sizes(_):
        from threadpoolctl import threadpool_info

        return max((p["num_threads"] for p in threadpool_info()), default=1)

    with DaskExecutor(workers=1) as executor:
        assert executor.map(pool_sizes, [0, 1]) == [1, 1]
