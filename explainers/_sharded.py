"""Tabular attributions sharded over an executor (in-process or Dask): the model and background are sent once
per worker, rows go out in shards, and the pieces come back merged in the original row order."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from explainers._errors import DataError
from explainers._types import Attribution, pad_rows

__all__ = ["explain_sharded", "explain_texts_sharded", "concat_attributions"]


def _explain_shard(shard, explainer, adapter, background) -> Attribution:
    features, row_ids = shard
    return explainer.explain(adapter, features, background=background, row_ids=row_ids)


def _explain_text_shard(texts, explainer, classifier) -> Attribution:
    return explainer.explain_texts(classifier, texts)


def _concat_tokens(parts: list[Attribution]) -> dict[str, Any]:
    rows = [p.values[i][p.token_mask[i]] for p in parts for i in range(len(p.values))]
    values, mask = pad_rows(rows)
    joined = {name: [x for p in parts for x in getattr(p, name)] for name in ("tokens", "words", "word_values")}
    meta = dict(parts[0].meta)
    for key, value in parts[0].meta.items():
        if isinstance(value, list):
            meta[key] = [x for p in parts for x in p.meta.get(key, [])]
    meta["runtime_s"] = sum(p.meta.get("runtime_s", 0.0) for p in parts)
    return {
        "values": values,
        "token_mask": mask,
        "targets": np.concatenate([p.targets for p in parts]),
        "meta": meta,
        **joined,
    }


def concat_attributions(parts: list[Attribution]) -> Attribution:
    """One attribution from shards, in the order given (dense tabular, or token rows re-padded)."""
    first = parts[0]
    if any(p.granularity != first.granularity or p.feature_names != first.feature_names for p in parts):
        raise DataError("Only attributions of one kind over the same features can be merged.")
    errors = [p.completeness_error for p in parts]
    tokens = (
        _concat_tokens(parts)
        if first.granularity == "token"
        else {"values": np.vstack([p.values for p in parts]), "meta": {**first.meta}}
    )
    return dataclasses.replace(
        first,
        **tokens,
        base_values=np.concatenate([np.asarray(p.base_values, float).reshape(-1) for p in parts]),
        outputs=np.concatenate([np.asarray(p.outputs, float).reshape(-1) for p in parts]),
        row_ids=np.concatenate([p.row_ids for p in parts]),
        completeness_error=None if any(e is None for e in errors) else np.concatenate(errors),
    )


def explain_sharded(
    explainer: Any, adapter: Any, features, *, background, row_ids, executor, shards_per_worker: int = 2
) -> Attribution:
    """``explainer.explain`` over ``features`` split into shards on ``executor``; rows keep their order. In this
    process the rows go as one shard (shards there would only repeat each explainer's set-up)."""
    in_process = getattr(executor, "name", "") == "in-process"
    count = 1 if in_process else max(1, min(len(features), executor.workers * shards_per_worker))
    if count == 1:
        return explainer.explain(adapter, features, background=background, row_ids=row_ids)
    pieces = np.array_split(np.arange(len(features)), count)
    shards = [(features.iloc[p].reset_index(drop=True), np.asarray(row_ids)[p]) for p in pieces]
    # a model on a GPU runs on workers that have one (Dask resource GPU=1), when the cluster has such workers
    on_gpu = str(getattr(adapter, "device", "cpu")).startswith("cuda") and getattr(executor, "gpu_workers", 0)
    parts = executor.map(
        _explain_shard,
        shards,
        explainer,
        executor.share(adapter),
        executor.share(background),
        desc=f"explain {getattr(explainer, 'name', '')}",
        resources={"GPU": 1} if on_gpu else None,
    )
    return concat_attributions(parts)


def explain_texts_sharded(
    explainer: Any, classifier: Any, texts: list[str], *, executor, row_ids=None, shards_per_worker: int = 2
) -> Attribution:
    """``explainer.explain_texts`` over ``texts`` split into shards on ``executor``; texts keep their order and
    the attribution carries ``row_ids`` (the data's own row ids; default 0..n-1)."""
    row_ids = np.arange(len(texts)) if row_ids is None else np.asarray(row_ids)
    if len(row_ids) != len(texts):
        raise DataError(f"row_ids must have one id per text ({len(texts)}). Got {len(row_ids)} instead.")
    count = max(1, min(len(texts), executor.workers * shards_per_worker))
    if count == 1:
        return dataclasses.replace(explainer.explain_texts(classifier, texts), row_ids=row_ids)
    pieces = [[texts[i] for i in piece] for piece in np.array_split(np.arange(len(texts)), count)]
    on_gpu = str(getattr(classifier, "device", "cpu")).startswith("cuda") and getattr(executor, "gpu_workers", 0)
    parts = executor.map(
        _explain_text_shard,
        pieces,
        explainer,
        executor.share(classifier),
        desc=f"explain {getattr(explainer, 'name', '')}",
        resources={"GPU": 1} if on_gpu else None,
    )
    merged = concat_attributions(parts)
    return dataclasses.replace(merged, row_ids=row_ids)
