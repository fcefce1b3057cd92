"""Tabular attributions sharded over an executor (in-process or Dask): the model and background are sent once
per worker, rows go out in shards, and the pieces come back merged in the original row order."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from explainers._types import Attribution

__all__ = ["explain_sharded", "concat_attributions"]


def _explain_shard(shard, explainer, adapter, background) -> Attribution:
    features, row_ids = shard
    return explainer.explain(adapter, features, background=background, row_ids=row_ids)


def concat_attributions(parts: list[Attribution]) -> Attribution:
    """One dense (tabular) attribution from shards, in the order given."""
    first = parts[0]
    if any(p.granularity != "feature" or p.feature_names != first.feature_names for p in parts):
        raise ValueError("Only tabular attributions over the same features can be merged.")
    errors = [p.completeness_error for p in parts]
    return dataclasses.replace(
        first, values=np.vstack([p.values for p in parts]),
        base_values=np.concatenate([np.asarray(p.base_values, float).reshape(-1) for p in parts]),
        outputs=np.concatenate([np.asarray(p.outputs, float).reshape(-1) for p in parts]),
        row_ids=np.concatenate([p.row_ids for p in parts]),
        completeness_error=None if any(e is None for e in errors) else np.concatenate(errors),
        meta={**first.meta, "shards": len(parts)})


def explain_sharded(explainer: Any, adapter: Any, features, *, background, row_ids, executor,
                    shards_per_worker: int = 2) -> Attribution:
    """``explainer.explain`` over ``features`` split into shards on ``executor``; rows keep their order."""
    count = max(1, min(len(features), executor.workers * shards_per_worker))
    if count == 1:
        return explainer.explain(adapter, features, background=background, row_ids=row_ids)
    pieces = np.array_split(np.arange(len(features)), count)
    shards = [(features.iloc[p].reset_index(drop=True), np.asarray(row_ids)[p]) for p in pieces]
    # a model on a GPU runs on workers that have one (Dask resource GPU=1), when the cluster has such workers
    on_gpu = str(getattr(adapter, "device", "cpu")).startswith("cuda") and getattr(executor, "gpu_workers", 0)
    parts = executor.map(_explain_shard, shards, explainer, executor.share(adapter), executor.share(background),
                         desc=f"explain {getattr(explainer, 'name', '')}", resources={"GPU": 1} if on_gpu else None)
    return concat_attributions(parts)
