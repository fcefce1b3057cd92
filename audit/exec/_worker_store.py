"""On each Dask worker: the values shared with it by worker plugins, by key (read by SharedRef.resolve)."""

from __future__ import annotations

from typing import Any

__all__ = ["WORKER_VALUES"]

WORKER_VALUES: dict[str, Any] = {}
