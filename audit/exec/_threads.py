"""Thread pools sized to the CPUs this process may use, so audits stay fast on shared machines.

On a busy machine, native thread pools (OpenMP in scikit-learn's boosted trees, BLAS, torch intra-op) that
are sized to every core spin at their barriers while a neighbour holds a core: many small parallel calls then
cost a time slice each. The audit therefore (1) caps every pool at the CPUs the process may actually use
(CPU affinity and the cgroup quota), or at ``--threads`` / ``AUDIT_THREADS``, and (2) runs its hot loops of
small model calls (permutation SHAP, explanation quality, bootstraps) single-threaded: their parallelism
comes from batching, not threads. Dask workers run single-threaded pools (one worker per core).
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from audit._errors import ConfigError

__all__ = ["available_cpus", "thread_budget", "limited_threads"]


def _cgroup_cpus() -> float | None:
    """CPUs granted by a cgroup quota (v2 cpu.max, v1 cfs quota/period), or None without a quota."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def available_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by the cgroup quota (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def thread_budget(threads: int | None = None) -> tuple[int, str]:
    """How many threads the audit uses, and where that number came from (recorded in provenance)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"The 'threads' setting must be a positive integer. Got {threads!r} instead.")
        return threads, "--threads / run_audit(threads=)"
    value = os.environ.get("AUDIT_THREADS")
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ConfigError(f"AUDIT_THREADS must be a positive integer. Got {value!r} instead.")
        return count, "AUDIT_THREADS"
    return available_cpus(), "the CPUs this process may use (affinity and cgroup quota)"


@contextmanager
def limited_threads(count: int) -> Iterator[None]:
    """Native thread pools (OpenMP, BLAS) and torch's intra-op pool capped at ``count`` inside the block; the
    previous sizes come back afterwards."""
    from threadpoolctl import threadpool_limits

    torch = _torch_if_loaded()
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None and previous != count:
        torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        if torch is not None and previous is not None and torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _torch_if_loaded():
    """torch if this process already imported it (an audit of a scikit-learn model never imports torch)."""
    import sys

    return sys.modules.get("torch")
