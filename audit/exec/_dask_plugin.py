"""The worker plugin that holds a value shared with every Dask worker (imported only when Dask is used)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from audit.exec._worker_store import WORKER_VALUES

__all__ = ["SharedValue"]


class SharedValue(WorkerPlugin):
    """Stores ``value`` under ``key`` on each worker, including workers that join or restart later."""

    def __init__(self, key: str, value: Any) -> None:
        self.key, self.value = key, value
        self.name = f"audit-shared-{key}"

    def setup(self, worker) -> None:
        WORKER_VALUES[self.key] = self.value

    def teardown(self, worker) -> None:
        WORKER_VALUES.pop(self.key, None)
