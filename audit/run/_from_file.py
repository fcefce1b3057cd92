"""Fairness tables from files larger than memory: per-partition sufficient statistics, combined.

Each partition (a Parquet row group batch, a CSV block, or a dask.dataframe partition) yields, per group of
each breakdown: the four confusion cells, Poisson-bootstrap cells (a sum of Poisson(1) row weights over a cell
of m rows is Poisson(m), so each partition draws one Poisson per cell and resample, seeded by its index), score
histograms for ROC AUC and sums for calibration. Sums over partitions give the same point estimates as the
in-memory engine (AUC within the binning bound it reports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from audit._errors import DataError
from audit.fairness._counts import as_counts
from audit.fairness._tables import assemble_table
from audit.fairness._types import FairnessTable
from audit.data._labels import positive_mask
from audit.fairness._metrics import METRICS

__all__ = [
    "partition_statistics",
    "combine_statistics",
    "tables_from_statistics",
    "fairness_from_file",
    "iter_partitions",
    "AUC_BINS",
]

AUC_BINS = 2000
_ECE_BINS = 10


def _binary(series: pd.Series, positive: Any) -> np.ndarray:
    if positive is None:
        values = pd.to_numeric(series, errors="coerce")
        if values.isna().any() or not values.isin((0, 1)).all():
            raise DataError(f"Column {series.name!r} must hold 0/1 values, or name its positive value.")
        return values.to_numpy().astype(np.int64)
    return positive_mask(series, positive).astype(np.int64)


def partition_statistics(
    frame: pd.DataFrame,
    *,
    label: str,
    positive_label: Any,
    prediction: str,
    score: str | None,
    groupings: list[tuple[str, ...]],
    n_boot: int,
    seed: int,
    index: int,
    score_range: tuple[float, float] = (0.0, 1.0),
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Sufficient statistics of one partition, per breakdown: {group key: arrays}. ROC AUC histograms bin the
    scores on ``score_range`` (the file's own range), so scores on any scale rank as they do in memory."""
    y_true = _binary(frame[label], positive_label)
    y_pred = _binary(frame[prediction], None if frame[prediction].dropna().isin((0, 1)).all() else positive_label)
    scores = None if score is None else frame[score].to_numpy(float)
    rng = np.random.default_rng([seed, index])  # the same draws wherever the partition runs
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for grouping in groupings:
        codes, keys = _group_codes(frame, grouping)
        k = len(keys)
        cell = codes * 4 + 2 * y_true + y_pred
        cells = np.bincount(cell, minlength=4 * k).reshape(k, 4).astype(float)
        stats: dict[str, Any] = {"keys": keys, "cells": cells}
        if n_boot:
            stats["boot"] = rng.poisson(cells[None, :, :], size=(n_boot, k, 4)).astype(float)
        if scores is not None:
            low, high = score_range
            scaled = (scores - low) / (high - low) if high > low else np.zeros_like(scores)
            bins = np.clip((scaled * AUC_BINS).astype(np.int64), 0, AUC_BINS - 1)
            stats["hist"] = (
                np.bincount((codes * 2 + y_true) * AUC_BINS + bins, minlength=k * 2 * AUC_BINS)
                .reshape(k, 2, AUC_BINS)
                .astype(float)
            )
            ece_bins = np.clip((scores * _ECE_BINS).astype(np.int64), 0, _ECE_BINS - 1)
            flat = codes * _ECE_BINS + ece_bins
            stats["calibration"] = np.stack(
                [
                    np.bincount(flat, weights=w, minlength=k * _ECE_BINS)
                    for w in (np.ones_like(scores), scores, y_true.astype(float))
                ],
                -1,
            ).reshape(k, _ECE_BINS, 3)
        out[grouping] = stats
    return out


def _group_codes(frame: pd.DataFrame, grouping: tuple[str, ...]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Each row's group (0..k-1) and the groups' keys, the values as strings: each column factorised on its own and
    the codes combined, without a string or tuple per row. A missing value is refused, as by the in-memory engine."""
    combined = np.zeros(len(frame), dtype=np.int64)
    labels: list[list[str]] = []
    for column in grouping:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
        if (codes < 0).any():
            raise DataError(
                f"The sensitive column {column!r} has {int((codes < 0).sum())} missing values in this "
                "part of the file. They are not audited as a group: fill them with a value of their own "
                '(e.g. "missing") in the file, or drop those rows.'
            )
        names = [str(u) for u in uniques]
        # two values with one string (1 and "1") are one group, as when the column is read as strings
        distinct, merged = np.unique(np.array(names, dtype=object).astype(str), return_inverse=True)
        combined = combined * len(distinct) + merged[codes]
        labels.append([str(v) for v in distinct])
    present, codes = np.unique(combined, return_inverse=True)
    keys = []
    for value in present:
        key = []
        for names in reversed(labels):
            value, index = divmod(int(value), len(names))
            key.append(names[index])
        keys.append(tuple(reversed(key)))
    return codes.astype(np.int64), keys


def combine_statistics(parts: list[dict]) -> dict[tuple[str, ...], dict[str, Any]]:
    """Sum the statistics of all partitions, aligning groups by key (sorted)."""
    combined: dict[tuple[str, ...], dict[str, Any]] = {}
    for grouping in parts[0]:
        keys = sorted({key for part in parts for key in part[grouping]["keys"]})
        position = {key: i for i, key in enumerate(keys)}
        total: dict[str, Any] = {"keys": keys}
        for part in parts:
            stats = part[grouping]
            where = np.array([position[key] for key in stats["keys"]], dtype=int)
            for name, array in stats.items():
                if name == "keys":
                    continue
                axis = 1 if name == "boot" else 0
                if name not in total:
                    shape = list(array.shape)
                    shape[axis] = len(keys)
                    total[name] = np.zeros(shape)
                if axis == 0:
                    np.add.at(total[name], where, array)
                else:
                    total[name][:, where] += array
        combined[grouping] = total
    return combined


def _auc_from_histograms(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC per row of (rows, 2, bins) histograms (ties within a bin count half) and the binning bound."""
    negatives, positives = hist[:, 0], hist[:, 1]
    below = np.cumsum(negatives, axis=1) - negatives  # negatives in lower bins
    pairs = positives.sum(1) * negatives.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((positives * below).sum(1) + 0.5 * (positives * negatives).sum(1)) / pairs
        bound = 0.5 * (positives * negatives).sum(1) / pairs
    return np.where(pairs > 0, auc, np.nan), np.where(pairs > 0, bound, np.nan)


def tables_from_statistics(
    combined,
    *,
    metrics: tuple[str, ...],
    min_group_size: int,
    ci_level: float,
    n_boot: int,
    seed: int,
    reference: dict[str, str] | None = None,
    score_range: tuple[float, float] = (0.0, 1.0),
) -> list[FairnessTable]:
    """Tables from summed statistics, built exactly as the in-memory engine builds them: the same reference
    comparisons, and calibration undefined (with the reason) for scores outside [0, 1]."""
    tables = []
    _check_reference(combined, reference)
    calibration_reason = None
    if score_range[0] < 0 or score_range[1] > 1:
        calibration_reason = (
            f"calibration needs probabilities in [0, 1]; the scores range over "
            f"[{score_range[0]:.3g}, {score_range[1]:.3g}]"
        )
    for grouping, stats in combined.items():
        specs = [METRICS.get(name) for name in metrics]
        counts = as_counts(stats["cells"])
        overall_counts = as_counts(stats["cells"].sum(0, keepdims=True))
        boot = stats.get("boot")
        boot_counts = None if boot is None else (as_counts(boot), as_counts(boot.sum(1, keepdims=True)))
        computed: dict[str, dict[str, Any]] = {}
        tolerance = None
        for metric in specs:
            if metric.needs_scores:
                if "hist" not in stats:
                    raise DataError(f"The metric {metric.name!r} needs a score column.")
                if metric.name == "roc_auc":
                    values, bound = _auc_from_histograms(stats["hist"])
                    overall, overall_bound = _auc_from_histograms(stats["hist"].sum(0, keepdims=True))
                    tolerance = float(np.nanmax(np.r_[bound, overall_bound]))
                elif calibration_reason is not None:
                    values, overall = np.full(len(stats["keys"]), np.nan), np.array([np.nan])
                else:
                    calibration = stats["calibration"]
                    values, overall = (
                        _calibration(metric.name, calibration),
                        _calibration(metric.name, calibration.sum(0, keepdims=True)),
                    )
                computed[metric.name] = {
                    "values": values,
                    "support": counts["n"],
                    "overall": overall,
                    "boot": None,
                    "boot_overall": None,
                }
                if metric.name != "roc_auc" and calibration_reason is not None:
                    computed[metric.name]["undefined"] = calibration_reason
                continue
            values, support = metric.compute(counts)
            overall, _ = metric.compute(overall_counts)
            boot_values = boot_overall = None
            if boot_counts is not None and metric.name != "count":
                boot_values, _ = metric.compute(boot_counts[0])
                boot_overall, _ = metric.compute(boot_counts[1])
            if metric.name == "count":
                values, support, overall = counts["n"], counts["n"], np.array([counts["n"].sum()])
            computed[metric.name] = {
                "values": values,
                "support": support,
                "overall": overall,
                "boot": boot_values,
                "boot_overall": boot_overall,
            }
        bootstrap = (
            {
                "n_boot": n_boot,
                "level": ci_level,
                "seed": seed,
                "method": "percentile",
                "resampling": "Poisson row weights, drawn per partition and cell",
            }
            if n_boot
            else {"n_boot": 0}
        )
        if tolerance is not None:
            bootstrap["roc_auc_binning_bound"] = tolerance
        tables.append(
            assemble_table(
                columns=list(grouping),
                keys=stats["keys"],
                specs=specs,
                computed=computed,
                group_n=counts["n"].astype(int),
                min_group_size=min_group_size,
                ci_level=ci_level,
                reference=(
                    ", ".join(f"{c}={reference[c]}" for c in grouping)
                    if reference and all(c in reference for c in grouping)
                    else None
                ),
                unweighted=counts,
                bootstrap=bootstrap,
                weighted=False,
            )
        )
    return tables


def _check_reference(combined, reference: dict[str, str] | None) -> None:
    """A reference group must exist: refuse a misspelt one with the groups there are, before any table."""
    from audit._errors import ConfigError

    for feature, value in (reference or {}).items():
        for grouping, stats in combined.items():
            if grouping == (feature,):
                values = sorted({key[0] for key in stats["keys"]})
                if value not in values:
                    raise ConfigError(
                        f"The 'fairness.reference' group {feature}={value!r} does not occur in the data. "
                        f"Groups of {feature!r}: {', '.join(map(repr, values[:20]))}."
                    )


def _calibration(name: str, calibration: np.ndarray) -> np.ndarray:
    mass, score_sum, label_sum = calibration[..., 0], calibration[..., 1], calibration[..., 2]
    total = mass.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "mean_score":
            return np.where(total > 0, score_sum.sum(1) / total, np.nan)
        return np.where(total > 0, np.abs(score_sum - label_sum).sum(1) / total, np.nan)  # ece


def iter_partitions(path: str | Path, columns: list[str], *, rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """Stream a Parquet or CSV file in pieces of about ``rows`` rows (bounded memory, no Dask needed)."""
    path = Path(path)
    if path.suffix == ".parquet" or path.is_dir():
        import pyarrow.dataset as ds

        # no read-ahead: pyarrow's defaults hold many batches at once (855 MB against 435 MB for 1e7 rows of five
        # columns), and one batch at a time is what "bounded memory" promises
        for batch in ds.dataset(str(path), format="parquet").to_batches(
            columns=columns, batch_size=rows, batch_readahead=0, fragment_readahead=0
        ):
            yield batch.to_pandas()
    else:
        yield from pd.read_csv(path, usecols=columns, chunksize=rows)


def fairness_from_file(
    path: str | Path,
    *,
    label: str,
    prediction: str,
    sensitive: tuple[str, ...],
    positive_label: Any = None,
    score: str | None = None,
    intersections: bool = True,
    groupings: list[tuple[str, ...]] | None = None,
    metrics: tuple[str, ...] | None = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    min_group_size: int = 30,
    executor=None,
    partition_rows: int = 1_000_000,
    reference: dict[str, str] | None = None,
) -> list[FairnessTable]:
    """Fairness tables for a Parquet/CSV file of any size: decisions (and scores) are columns of the file.

    With a Dask ``executor`` the partitions are read and reduced on the workers (dask.dataframe); without,
    they are streamed in this process. Either way memory holds one partition per worker at a time.
    """
    from audit.fairness._metrics import DEFAULT_METRICS

    metrics = tuple(metrics or DEFAULT_METRICS) + (("roc_auc", "ece") if score and metrics is None else ())
    if groupings is None:
        groupings = [(c,) for c in sensitive] + ([tuple(sensitive)] if intersections and len(sensitive) > 1 else [])
    groupings = [tuple(g) for g in groupings]
    columns = list(dict.fromkeys([label, prediction, *sensitive] + ([score] if score else [])))
    on_dask = executor is not None and getattr(executor, "name", "") == "dask"
    if not score:
        score_range = (0.0, 1.0)
    elif on_dask:  # read on the workers: this process holds no partition of the file at any time
        score_range = _dask_score_range(path, score, executor)
    else:
        score_range = _score_range(path, score, partition_rows)
    options = dict(
        label=label,
        positive_label=positive_label,
        prediction=prediction,
        score=score,
        groupings=groupings,
        n_boot=n_boot,
        seed=seed,
        score_range=score_range,
    )
    if on_dask:
        parts = _dask_statistics(path, columns, options, executor, partition_rows)
    else:
        parts = [
            partition_statistics(frame, index=i, **options)
            for i, frame in enumerate(iter_partitions(path, columns, rows=partition_rows))
        ]
    if not parts:
        raise DataError(f"The file {str(path)!r} has no rows.")
    return tables_from_statistics(
        combine_statistics(parts),
        metrics=metrics,
        min_group_size=min_group_size,
        ci_level=ci_level,
        n_boot=n_boot,
        seed=seed,
        reference=reference,
        score_range=score_range,
    )


def _score_range(path, score: str, partition_rows: int) -> tuple[float, float]:
    """The smallest and largest score in the file (one streamed pass over that column), refusing non-numbers."""
    bounds = [_partition_score_range(frame, score) for frame in iter_partitions(path, [score], rows=partition_rows)]
    return _joined_range(bounds)


def _partition_score_range(frame: pd.DataFrame, score: str) -> tuple[float, float]:
    values = pd.to_numeric(frame[score], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(values)):
        raise DataError(
            f"The score column {score!r} has missing or non-numeric values. Scores must be numbers for every row."
        )
    return (float(values.min()), float(values.max())) if len(values) else (np.inf, -np.inf)


def _joined_range(bounds: list[tuple[float, float]]) -> tuple[float, float]:
    low = min((b[0] for b in bounds), default=np.inf)
    high = max((b[1] for b in bounds), default=-np.inf)
    return (low, high) if np.isfinite(low) else (0.0, 1.0)


def _dask_frame(path, columns):
    import dask.dataframe as dd

    path = Path(path)
    if path.suffix == ".parquet" or path.is_dir():
        return dd.read_parquet(str(path), columns=columns, split_row_groups=True)
    return dd.read_csv(str(path), usecols=columns, blocksize="64MB")


def _dask_score_range(path, score: str, executor) -> tuple[float, float]:
    import dask

    tasks = [dask.delayed(_partition_score_range)(part, score) for part in _dask_frame(path, [score]).to_delayed()]
    return _joined_range(executor.client.gather(executor.client.compute(tasks)))


def _dask_statistics(path, columns, options, executor, partition_rows) -> list[dict]:
    import dask

    tasks = [
        dask.delayed(partition_statistics)(part, index=i, **options)
        for i, part in enumerate(_dask_frame(path, columns).to_delayed())
    ]
    futures = executor.client.compute(tasks)
    return executor.client.gather(futures)


def run_partitioned(
    config, *, executor, quiet: bool = True, config_path: str | None = None, extra_provenance: dict | None = None
):
    """``run_audit`` for ``data.engine = "partitions"``: the decisions (and scores) are columns of a file of any
    size; fairness tables, four-fifths tables and findings come from per-partition statistics, on the executor."""
    import time

    from audit.result._records import DataRecord, ModelRecord
    from audit.result._sections import Provenance, Regulatory
    from audit.result._provenance import (
        environment,
        git_commit,
        now_iso,
        package_versions,
        recorded_paths,
        sha256_file,
        sha256_text,
    )
    from audit.regulatory._tables import four_fifths
    from audit.result._result import AuditResult, Skipped
    from audit.findings._findings import fairness_findings

    started_at, clock = now_iso(), time.perf_counter()
    data = config.data
    if not Path(data.path).exists():
        raise DataError(f"The data file {data.path!r} does not exist. Check data.path.")
    if data.favourable is not None and data.favourable not in ("positive", data.positive_label):
        from audit._errors import ConfigError

        raise ConfigError(
            "data.favourable naming the negative outcome is not supported with data.engine = "
            '"partitions" in this version; use engine = "memory" for this audit.'
        )
    hashes = {
        "config": sha256_file(config_path) if config_path else sha256_text(repr(config.to_dict())),
        "data": sha256_file(data.path),
    }
    metrics = tuple(config.fairness.metrics) + (
        ("roc_auc", "ece") if data.score and config.fairness.score_metrics else ()
    )
    tables = fairness_from_file(
        data.path,
        label=data.label,
        prediction=data.prediction,
        score=data.score,
        sensitive=data.sensitive,
        positive_label=data.positive_label,
        groupings=list(data.sensitive_groupings),
        metrics=metrics,
        n_boot=config.fairness.n_boot,
        ci_level=config.fairness.ci_level,
        seed=config.seed,
        min_group_size=config.fairness.min_group_size,
        executor=executor,
        reference=config.fairness.reference,
    )
    singles = [t for t in tables if len(t.sensitive_features) == 1]
    n_rows = int(sum(g.n for g in singles[0].groups))
    summary = {
        "n_rows": n_rows,
        "label": data.label,
        "positive_label": data.positive_label,
        "task": "binary",
        "positive_rate": singles[0].overall.get("base_rate"),
        "features": [],
        "numeric_features": [],
        "categorical_features": [],
        "sensitive_features": list(data.sensitive),
        "groups": {t.sensitive_features[0]: {g.key[t.sensitive_features[0]]: g.n for g in t.groups} for t in singles},
        "missing_sensitive": {},
        "text_column": None,
        "engine": "partitions",
    }
    regulatory = {
        "four_fifths": [
            four_fifths(t, threshold=config.fairness.ratio_threshold, alpha=config.fairness.alpha) for t in tables
        ]
    }
    skipped = [
        Skipped(
            "explainers", "The audit reads decisions from the data (data.prediction), so there is no model to explain."
        )
    ]
    if config.fairness.ll144:
        skipped.append(
            Skipped(
                "regulatory: NYC LL144",
                'LL144 tables need the rows in memory; they are not computed with data.engine = "partitions".',
            )
        )
    if config.slices.enabled:
        skipped.append(
            Skipped(
                "slices",
                "The slice search needs the rows in memory; it does not run with "
                'data.engine = "partitions" (set slices.enabled = false to silence this).',
            )
        )
    if config.mitigation.enabled:
        skipped.append(
            Skipped(
                "mitigation",
                'The mitigation frontier needs the rows in memory; it does not run with data.engine = "partitions".',
            )
        )
    if config.gaps.enabled:
        skipped.append(
            Skipped(
                "gap explanations",
                "The audit reads decisions from the data (data.prediction): there "
                "is no model to ask about the hybrid rows a gap explanation needs.",
            )
        )
    provenance = {
        "started_at": started_at,
        "finished_at": now_iso(),
        "duration_s": round(time.perf_counter() - clock, 3),
        "seed": config.seed,
        "sha256": hashes,
        "packages": package_versions(),
        "environment": environment(),
        "device": "cpu",
        "timings_s": {"fairness (partitions)": round(time.perf_counter() - clock, 4)},
        "executor": {"name": executor.name, "workers": executor.workers},
        "paths": recorded_paths({"data": data.path, "model": None, "config": config_path}, config_path),
        "git_commit": git_commit(Path(config_path).parent if config_path else Path.cwd()),
        **(extra_provenance or {}),
    }
    overall = singles[0].overall
    model = {
        "kind": "predictions",
        "type": None,
        "module": None,
        "device": None,
        "capabilities": ["labels"],
        "threshold": config.model.threshold,
        "score_kind": "probability" if data.score else None,
        "task": "binary",
        "accuracy": overall.get("accuracy"),
        "positive_rate_predicted": overall.get("selection_rate"),
    }
    return AuditResult(
        title=config.title,
        data=DataRecord.from_dict({"kind": "rows", **summary}),
        model=ModelRecord.from_dict(model),
        fairness=tables,
        attributions=[],
        findings=fairness_findings(tables, [], config),
        failures=[],
        skipped=skipped,
        provenance=Provenance.build(provenance),
        config=config.to_dict(),
        regulatory=Regulatory(four_fifths=regulatory["four_fifths"]),
    )
