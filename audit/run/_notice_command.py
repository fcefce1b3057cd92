"""``audit explain-decision``: score the config's rows, write a notice for each unfavourable decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from audit._errors import ConfigError
from audit.config._settings import AuditConfig
from audit.data._tables import read_table
from audit.notices import NoticeBatch, NoticeSettings, explain_decisions
from audit.result._provenance import now_iso, package_versions, sha256_file
from audit.run._output import write_atomically
from audit.run._runner import load_inputs

__all__ = ["write_notices"]


def _selected(row_ids: np.ndarray, wanted: list[str]) -> np.ndarray:
    """Positions of the rows asked for by id (as typed on the command line); unknown ids are refused."""
    if not wanted:
        return np.arange(len(row_ids))
    index = {str(r): k for k, r in enumerate(row_ids)}
    missing = [w for w in wanted if w not in index]
    if missing:
        low, high = (row_ids.min(), row_ids.max()) if len(row_ids) else ("-", "-")
        raise ConfigError(
            f"The '--row' option must name rows of the data (ids {low} to {high}, positions in the "
            f"file from 0). Got {', '.join(missing)} instead."
        )
    return np.array(sorted({index[w] for w in wanted}))


def _rows_file(path: str, columns: list[str], encoding: str) -> tuple[Any, np.ndarray]:
    frame = read_table(path, encoding=encoding)
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        raise ConfigError(f"The '--data' file must hold the model's input columns {columns}; it lacks {lacking}.")
    return frame[columns], frame.index.to_numpy()


def _with_recourse(batch: NoticeBatch, config: AuditConfig, dataset, adapter, rows, ids, population) -> NoticeBatch:
    """Each notice with what would change its decision ([recourse]): the same engine as the audit's recourse step,
    against the same population the reasons are stated against; the automatic choices recorded with the batch."""
    import dataclasses

    from audit.recourse import search_recourse
    from audit.run._recourse_step import check_recourse, decision_rule

    check_recourse(config, dataset, adapter)
    found = search_recourse(
        adapter.model,
        rows,
        row_ids=np.asarray(ids),
        reference=population[list(rows.columns)],
        rule=decision_rule(dataset, adapter),
        settings=config.recourse,
        protected=tuple(dataset.sensitive.columns),
    )
    notices = [
        dataclasses.replace(
            notice,
            recourse={
                "status": row.status,
                "cost": row.cost,
                "text": row.text,
                "changes": [dataclasses.asdict(c) for c in row.changes],
            },
        )
        for notice, row in zip(batch.notices, found.rows)
    ]
    summary = {k: v for k, v in found.to_dict().items() if k != "rows"}
    return dataclasses.replace(
        batch,
        notices=notices,
        methods={**batch.methods, "recourse": summary},
        decisions=batch.decisions + found.decisions,
    )


def write_notices(
    config: AuditConfig,
    *,
    config_path: str | None,
    rows: list[str],
    out: str | None,
    reference: str | None,
    settings: NoticeSettings,
    data: str | None = None,
) -> tuple[NoticeBatch, dict[str, Path], list[str]]:
    """Notices for the config's data (or ``rows`` of it; or the rows of the file ``data``, scored by the config's
    model against the config's data as the population), written as DIR/notices.json and DIR/notices.csv together.
    Returns the batch, the paths, and a line for each asked-for row that needs no notice."""
    inputs = load_inputs(config, config_path=config_path)
    dataset, adapter = inputs.dataset, inputs.adapter
    if dataset.task != "binary":
        raise ConfigError(f"Adverse-decision notices explain binary decisions; this audit's task is {dataset.task!r}.")
    if adapter.kind != "sklearn" or adapter.positive_index is None:
        raise ConfigError(
            "`audit explain-decision` needs the model itself (a scikit-learn style tree ensemble with "
            f"predict_proba and classes_): this config gives a {adapter.kind} model. Set model.path."
        )
    hashes = dict(inputs.hashes)
    if data is not None:
        scored, row_ids = _rows_file(data, list(dataset.features.columns), config.data.encoding)
        hashes["rows"] = sha256_file(data)
    else:
        scored, row_ids = dataset.features, dataset.row_ids
    chosen = _selected(row_ids, rows)
    features = scored.iloc[chosen]
    predictions = adapter.predict(features)
    favourable_is_positive = dataset.favourable == "positive"
    unfavourable = np.asarray(predictions.y_pred, dtype=bool) != favourable_is_positive
    others = [v for v in dataset.label_values if str(v) != str(dataset.positive_label)]
    negative = others[0] if len(others) == 1 else f"not {dataset.positive_label}"
    decisions = np.where(predictions.y_pred, dataset.positive_label, negative).astype(object)
    scores = None
    if predictions.scores is not None and predictions.score_kind == "probability":
        scores = predictions.scores if favourable_is_positive else 1.0 - predictions.scores
    favourable_index = adapter.positive_index if favourable_is_positive else 1 - adapter.positive_index
    if reference is not None:
        population = read_table(reference, encoding=config.data.encoding)
        lacking = [c for c in features.columns if c not in population.columns]
        if lacking:
            raise ConfigError(f"The '--reference' file must hold the model's input columns; it lacks {lacking}.")
        hashes["reference"] = sha256_file(reference)
        source = f"the reference file {reference}"
    else:
        population = dataset.features
        source = "the config's data" + (" (all rows scored)" if data is None else "")
    reference_favourable = None
    if settings.baseline == "marginal_approvals":  # the reference rows' own decisions, by the same model
        decided = np.asarray(adapter.predict(population[list(features.columns)]).y_pred, dtype=bool)
        reference_favourable = decided == favourable_is_positive
    batch = explain_decisions(
        adapter.model,
        features,
        row_ids=row_ids[chosen],
        unfavourable=unfavourable,
        favourable_index=favourable_index,
        decisions=decisions,
        scores=scores,
        reference=population,
        reference_source=source,
        reference_favourable=reference_favourable,
        protected=tuple(c for c in dataset.sensitive.columns if c in features.columns),
        settings=settings,
    )
    if config.recourse.active:
        batch = _with_recourse(
            batch, config, dataset, adapter, features[unfavourable], row_ids[chosen][unfavourable], population
        )
    skipped = [
        f"row {row_ids[k]}: decision {decisions[i]} is favourable; no notice"
        for i, k in enumerate(chosen)
        if rows and not unfavourable[i]
    ]
    record: dict[str, Any] = {
        "title": config.title,
        "created": now_iso(),
        "favourable": dataset.favourable,
        "favourable_source": dataset.favourable_source,
        "threshold": adapter.threshold,
        "sha256": hashes,
        "paths": dict(inputs.paths),
        "versions": package_versions(),
        **batch.to_dict(),
    }
    folder = Path(out or config.output.dir)
    paths = {"json": folder / "notices.json", "csv": folder / "notices.csv"}
    write_atomically(
        {
            paths["json"]: json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
            paths["csv"]: batch.table().to_csv(index=False),
        }
    )
    return batch, paths, skipped
