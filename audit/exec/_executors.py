"""Where an audit's parallel work runs: in this process (the default), or on a Dask cluster.

Both run ``fn`` over a list of items and return the results in the order of the items. The Dask executor
starts a LocalCluster bound to 127.0.0.1 (no dashboard) for ``workers=N``, or connects to ``scheduler``
(any Dask deployment: dask-kubernetes, dask-jobqueue ...). A worker that dies mid-run has its tasks run again
on another worker by the scheduler; results are matched to items by position, so none is lost or doubled.
Large objects (a model) are sent once per worker with :meth:`share`: a worker plugin holds them, so a worker
that the nanny restarts after a crash gets them again (scattered data would be lost with the worker).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

from audit._errors import ConfigError, ResourceError

__all__ = ["Executor", "InProcessExecutor", "DaskExecutor", "make_executor"]


class SharedRef:
    """A handle to a value that every worker holds (see :meth:`DaskExecutor.share`)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def resolve(self) -> Any:
        from audit.exec._worker_store import WORKER_VALUES

        return WORKER_VALUES[self.key]


def _with_shared(fn: Callable, item: Any, *args: Any) -> Any:
    """Run ``fn`` on a worker with shared handles replaced by the worker's copies, its native thread pools
    single-threaded (one worker per core: more threads would only compete)."""
    from audit.exec._threads import limited_threads

    with limited_threads(1):
        return fn(item, *(a.resolve() if isinstance(a, SharedRef) else a for a in args))


class Executor(ABC):
    name = "executor"
    workers = 1

    def share(self, value: Any) -> Any:
        """A handle to ``value`` that tasks receive as an argument (sent once per worker on a cluster)."""
        return value

    @abstractmethod
    def map(
        self,
        fn: Callable,
        items: Sequence[Any],
        *args: Any,
        desc: str = "tasks",
        resources: dict[str, float] | None = None,
    ) -> list[Any]:
        """``fn(item, *args)`` for every item, results in the order of the items."""

    def close(self) -> None:
        """Release what the executor started."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InProcessExecutor(Executor):
    name = "in-process"

    def map(self, fn, items, *args, desc="tasks", resources=None):
        return [fn(item, *args) for item in items]


class DaskExecutor(Executor):
    """``workers``: start a LocalCluster of that many single-threaded worker processes on 127.0.0.1;
    ``scheduler``: connect to an existing cluster (``tcp://host:port``), failing within ``timeout`` seconds."""

    name = "dask"

    def __init__(
        self,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        threads_per_worker: int = 1,
        timeout: float = 10.0,
        quiet: bool = True,
        gpus_per_worker: int = 0,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError(
                "Running on Dask needs the 'distributed' package: pip install 'audit-toolkit[dask]'."
            ) from None
        self._cluster = None
        self._plugins: list[str] = []
        self.quiet = quiet
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise ResourceError(
                    f"Could not reach the Dask scheduler at {scheduler!r} within {timeout:g} s "
                    f"({type(err).__name__}: {err}). Check the address and that the scheduler is "
                    "running, or use --workers N for a local cluster."
                ) from None
        else:
            if workers is None or workers < 1:
                raise ConfigError(f"The 'workers' setting must be a positive integer. Got {workers!r} instead.")
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
                resources={"GPU": gpus_per_worker} if gpus_per_worker else None,
            )
            self.client = Client(self._cluster, set_as_default=False)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def share(self, value):
        import uuid

        from audit.exec._dask_plugin import SharedValue

        key = uuid.uuid4().hex
        plugin = SharedValue(key, value)
        self.client.register_plugin(plugin)
        self._plugins.append(plugin.name)
        return SharedRef(key)

    @property
    def gpu_workers(self) -> int:
        """Workers that advertise a ``GPU`` resource (start them with ``--resources GPU=1``)."""
        workers = self.client.scheduler_info().get("workers", {}).values()
        return sum(1 for w in workers if w.get("resources", {}).get("GPU", 0) >= 1)

    def map(self, fn, items, *args, desc="tasks", resources: dict[str, float] | None = None):
        from distributed import as_completed
        from tqdm.auto import tqdm

        futures = [
            self.client.submit(_with_shared, fn, item, *args, pure=False, retries=2, resources=resources)
            for item in items
        ]
        with tqdm(total=len(futures), desc=desc, unit="task", disable=self.quiet, leave=False) as bar:
            for future in as_completed(futures, loop=self.client.loop):
                if future.status == "error":
                    _raise_task_error(future)
                bar.update(1)
        return [future.result() for future in futures]

    def close(self) -> None:
        for name in self._plugins:
            try:
                self.client.unregister_worker_plugin(name)
            except Exception:  # a worker may already be gone; closing must not fail on it
                pass
        self._plugins.clear()
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _raise_task_error(future) -> None:
    error = future.exception()
    if isinstance(error, ModuleNotFoundError):
        raise ResourceError(
            f"A Dask worker lacks the package {error.name!r} the model needs: install it on every worker ({error})."
        ) from error
    raise error


def make_executor(
    *, workers: int | None = None, scheduler: str | None = None, quiet: bool = True, timeout: float = 10.0
) -> Executor:
    """In-process unless ``workers`` or ``scheduler`` asks for Dask; ``timeout``: seconds to reach the scheduler."""
    if scheduler is None and workers is None:
        return InProcessExecutor()
    return DaskExecutor(workers=workers, scheduler=scheduler, quiet=quiet, timeout=timeout)
