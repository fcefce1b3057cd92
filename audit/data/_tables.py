"""Reading tables and turning them into a validated :class:`Dataset` (column roles, label, groups)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.config._settings import DataConfig
from audit._errors import DataError
from audit.data._labels import infer_positive_label, positive_mask

__all__ = ["Dataset", "build_dataset", "read_table", "MISSING_GROUP"]

MISSING_GROUP = "(missing)"
# pandas' default missing-value strings, applied to every column but text columns
_NA_STRINGS = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
_READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path, *, text_columns: tuple[str, ...] = (), encoding: str = "utf-8") -> pd.DataFrame:
    """Read a CSV/TSV (optionally gzip-compressed) or Parquet file into a DataFrame.

    ``text_columns`` are read as written: "N/A", "None" or "null" in a text are words, not missing values."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst", ".xz"):
        suffixes = suffixes[:-1]
    kind = _READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise DataError(
            f"Cannot read {str(path)!r}: expected a .csv, .tsv or .parquet file "
            f"(optionally .gz). Got the suffix {''.join(path.suffixes) or '(none)'!r} instead."
        )
    if not path.is_file():
        raise DataError(f"The data file {str(path)!r} does not exist. Check data.path in the config.")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if kind == "tsv" else ","
            names = pd.read_csv(path, sep=sep, header=None, nrows=1, encoding=encoding).iloc[0].astype(str).tolist()
            _refuse_duplicates(names, str(path))
            options: dict = {}
            if text_columns:
                options = {
                    "keep_default_na": False,
                    "dtype": {c: str for c in text_columns if c in names},
                    "na_values": {c: list(_NA_STRINGS) for c in names if c not in text_columns},
                }
            frame = pd.read_csv(path, sep=sep, encoding=encoding, **options)
    except UnicodeDecodeError as err:
        raise DataError(
            f"The data file {str(path)!r} is not valid {encoding}: {err}. Set data.encoding (e.g. "
            '"latin-1") to the file\'s encoding.'
        ) from err
    except Exception as err:  # the readers raise many types; all mean "unreadable"
        if isinstance(err, DataError):
            raise
        raise DataError(
            f"The data file {str(path)!r} could not be read as {kind}: "
            f"{type(err).__name__}: {err}. Check that the file is complete and of that format."
        ) from err
    _refuse_duplicates([str(c) for c in frame.columns], str(path))
    return frame


def _refuse_duplicates(names: list[str], where: str) -> None:
    """Two columns with one name: pandas would rename one ("sex.1") and the wrong one could be audited."""
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise DataError(
            f"The data {where} has more than one column named {', '.join(map(repr, repeated[:5]))}. "
            "Rename or drop the duplicates so that each role names one column."
        )


@dataclass(frozen=True)
class Dataset:
    """The audited rows: model inputs, the binarised label, sensitive groups and stable row ids."""

    features: pd.DataFrame
    y_true: np.ndarray  # binary: bool (True = positive class); regression: float; multiclass: str
    label_name: str
    positive_label: Any
    label_values: list[Any]
    sensitive: pd.DataFrame  # string categories, missing values already mapped or refused
    row_ids: np.ndarray
    text: pd.Series | None = None
    predictions: pd.Series | None = None
    scores: pd.Series | None = None
    missing_sensitive_counts: dict[str, int] | None = None
    task: str = "binary"
    favourable: str = "positive"  # which decision benefits the person: "positive" or "negative"
    favourable_source: str = "default: the positive class"
    positive_source: str | None = None  # how the positive class was decided (binary audits)
    dropped_texts: list[int] | None = None  # row ids of empty texts left out (data.empty_text = "skip")
    inference_inputs: pd.DataFrame | None = None  # the name, place and self-report columns of data.infer

    def __len__(self) -> int:
        return len(self.y_true)

    def summary(self) -> dict[str, Any]:
        numeric = [c for c in self.features if pd.api.types.is_numeric_dtype(self.features[c])]
        return {
            "n_rows": len(self),
            "label": self.label_name,
            "positive_label": _jsonable(self.positive_label),
            "label_values": [_jsonable(v) for v in self.label_values],
            "task": self.task,
            "favourable": self.favourable if self.task == "binary" else None,
            "favourable_source": self.favourable_source if self.task == "binary" else None,
            "positive_rate": float(self.y_true.mean()) if self.task == "binary" else None,
            "label_mean": float(self.y_true.mean()) if self.task == "regression" else None,
            "features": list(self.features.columns),
            "numeric_features": numeric,
            "categorical_features": [c for c in self.features if c not in numeric],
            "sensitive_features": list(self.sensitive.columns),
            "groups": {
                c: {str(k): int(v) for k, v in self.sensitive[c].value_counts().sort_index().items()}
                for c in self.sensitive
            },
            "missing_sensitive": dict(self.missing_sensitive_counts or {}),
            "text_column": None if self.text is None else self.text.name,
            "empty_texts_skipped": list(self.dropped_texts or []),
        }


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _require_columns(frame: pd.DataFrame, names: list[str], role: str) -> None:
    available = [str(c) for c in frame.columns]
    for name in names:
        if name not in frame.columns:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            # close matches only: the whole header of a file is the data's business, not the log's
            raise DataError(
                f"The {role} column {name!r} is not in the data.{hint} The data has {len(available)} "
                "columns; check the name's spelling and case."
            )


def _binarise_label(values: pd.Series, positive_label: Any, name: str) -> tuple[np.ndarray, Any, list, str]:
    if values.isna().any():
        raise DataError(
            f"The label column {name!r} has {int(values.isna().sum())} missing values. "
            "Drop those rows or fill them before the audit."
        )
    distinct = sorted(values.unique().tolist(), key=str)
    if positive_label is None:
        positive_label, how = infer_positive_label(distinct, name)
    else:
        how = f"data.positive_label = {positive_label!r}"
    matches = positive_mask(values, positive_label)
    if not matches.any():
        raise DataError(
            f"The positive label {positive_label!r} never occurs in the label column {name!r}. "
            f"Its values are: {', '.join(map(repr, distinct[:10]))}."
        )
    return matches, positive_label, distinct, how


def _task_label(values: pd.Series, task: str, name: str) -> tuple[np.ndarray, None, list]:
    if values.isna().any():
        raise DataError(
            f"The label column {name!r} has {int(values.isna().sum())} missing values. "
            "Drop those rows or fill them before the audit."
        )
    if task == "regression":
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any():
            raise DataError(
                f'task = "regression" needs a numeric label, but {name!r} holds '
                f'{values[numeric.isna()].iloc[0]!r}. Use task = "multiclass" for class labels.'
            )
        return numeric.to_numpy(dtype=float), None, []
    distinct = sorted(values.unique().tolist(), key=str)
    return values.astype(str).to_numpy(), None, distinct


def _bin(column: pd.Series, edges: list[float], name: str) -> pd.Series:
    numeric = pd.to_numeric(column, errors="coerce")
    if (numeric.isna() & column.notna()).any():
        raise DataError(
            f"data.bins.{name} bins a numeric column, but {name!r} holds "
            f"{column[numeric.isna() & column.notna()].iloc[0]!r}."
        )
    labels = [f"[{a:g}, {b:g})" for a, b in zip(edges[:-1], edges[1:])]
    binned = pd.cut(numeric, bins=list(edges), right=False, labels=labels)
    outside = binned.isna() & numeric.notna()
    if outside.any():
        raise DataError(
            f"{int(outside.sum())} values of {name!r} fall outside data.bins.{name} "
            f"[{edges[0]:g}, {edges[-1]:g}) (e.g. {numeric[outside].iloc[0]!r}). Widen the edges."
        )
    return binned.astype(object).where(binned.notna(), np.nan)


def _sensitive_groups(
    frame: pd.DataFrame, names: tuple[str, ...], policy: str, bins: dict | None = None, max_groups: int = 50
):
    groups = {}
    missing_counts = {}
    for name in names:
        column = frame[name]
        if bins and name in bins:
            column = _bin(column, bins[name], name)
        distinct = column.nunique(dropna=True)
        if distinct > max_groups:
            numeric = pd.api.types.is_numeric_dtype(column)
            raise DataError(
                f"The sensitive column {name!r} has {distinct:,} distinct values, too many to be groups "
                f"(data.max_groups = {max_groups})"
                + (
                    f": it looks continuous. Bin it, e.g. data.bins = {{{name} = [0, 25, 40, 65, 120]}}."
                    if numeric
                    else ". Map it to fewer categories, or raise data.max_groups."
                )
            )
        missing = int(column.isna().sum())
        missing_counts[name] = missing
        if missing and policy == "error":
            raise DataError(
                f"The sensitive column {name!r} has {missing} missing values (NaN). They are not "
                f'audited as a group unless you ask: set data.missing_sensitive = "group" to audit '
                f"them as their own {MISSING_GROUP!r} group, or drop those rows first."
            )
        groups[name] = column.astype(object).where(column.notna(), MISSING_GROUP).astype(str)
    return pd.DataFrame(groups, index=frame.index), missing_counts


def build_dataset(frame: pd.DataFrame, config: DataConfig, *, seed: int = 0) -> Dataset:
    """Validate ``frame`` against the column roles in ``config`` and build the :class:`Dataset`."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"The data must be a pandas DataFrame. Got {type(frame).__name__} instead.")
    if len(frame) == 0:
        raise DataError("The data is empty (0 rows). An audit needs rows with labels and sensitive features.")
    _refuse_duplicates([str(c) for c in frame.columns], "frame")
    _require_columns(frame, [config.label], "label")
    _require_columns(frame, list(config.sensitive), "sensitive")
    for role in ("text", "prediction", "score"):
        if getattr(config, role) is not None:
            _require_columns(frame, [getattr(config, role)], role)
    inference_columns = list(dict.fromkeys(c for spec in config.infer or () for c in spec.columns))
    _require_columns(frame, inference_columns, "data.infer")
    # names and self-reports are never model inputs by default; list a place column in data.features if it is one
    role_columns = {config.label, config.prediction, config.score, config.text, *inference_columns} - {None}
    if config.features is not None:
        _require_columns(frame, list(config.features), "feature")
        feature_names = list(config.features)
    else:
        feature_names = [c for c in frame.columns if c not in role_columns]
    frame = frame.reset_index(drop=True)
    dropped_texts: list[int] = []
    if config.text is not None:
        frame, dropped_texts = _drop_empty_texts(frame, config.text, config.empty_text)
    if config.sample is not None and config.sample < len(frame):
        frame = frame.sample(n=config.sample, random_state=seed).sort_index()
    row_ids = frame.index.to_numpy()  # positions in the file, kept through sampling and dropped texts
    frame = frame.reset_index(drop=True)

    if config.task == "binary":
        y_true, positive_label, label_values, positive_source = _binarise_label(
            frame[config.label], config.positive_label, config.label
        )
    else:
        y_true, positive_label, label_values = _task_label(frame[config.label], config.task, config.label)
        positive_source = None
    favourable, favourable_source = _favourable(config.favourable, positive_label, label_values, config.label)
    sensitive, missing_counts = _sensitive_groups(
        frame, config.sensitive, config.missing_sensitive, config.bins, config.max_groups
    )
    scores = None
    if config.score is not None:
        scores = pd.to_numeric(frame[config.score], errors="coerce")
        if scores.isna().any():
            raise DataError(
                f"The score column {config.score!r} has missing or non-numeric values. "
                "Scores must be numbers for every row."
            )
    predictions = None
    if config.prediction is not None:
        predictions = frame[config.prediction]
        if predictions.isna().any():
            raise DataError(
                f"The prediction column {config.prediction!r} has "
                f"{int(predictions.isna().sum())} missing values. Every row needs a decision."
            )
    return Dataset(
        features=frame[feature_names],
        y_true=y_true,
        label_name=config.label,
        positive_label=positive_label,
        label_values=label_values,
        sensitive=sensitive,
        row_ids=row_ids,
        text=frame[config.text] if config.text is not None else None,
        predictions=predictions,
        scores=scores,
        missing_sensitive_counts=missing_counts,
        task=config.task,
        favourable=favourable,
        favourable_source=favourable_source,
        positive_source=positive_source,
        dropped_texts=dropped_texts,
        inference_inputs=frame[inference_columns] if inference_columns else None,
    )


_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _drop_empty_texts(frame: pd.DataFrame, column: str, policy: str) -> tuple[pd.DataFrame, list[int]]:
    """Rows whose text is missing, empty, or only spaces and invisible characters (a zero-width space) carry
    no tokens: refused (``error``) or left out and recorded (``skip``), before any model is loaded."""
    values = frame[column]
    text = values.astype(str)
    empty = (
        values.isna()
        | ~values.map(lambda v: isinstance(v, str))
        | (text.map(lambda t: t.translate({ord(c): None for c in _INVISIBLE}).strip()) == "")
    )
    if not empty.any():
        return frame, []
    rows = [int(i) for i in np.flatnonzero(empty.to_numpy())]
    lines = ", ".join(str(r + 2) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
    if policy == "error":
        raise DataError(
            f"{len(rows)} text(s) in {column!r} are empty or missing (CSV lines {lines}, counting the "
            'header as line 1). Drop or fill them, or set data.empty_text = "skip" to leave them out.'
        )
    return frame[~empty.to_numpy()], rows


def _favourable(setting: Any, positive_label: Any, label_values: list, label: str) -> tuple[str, str]:
    """Which decision benefits the person ("positive" or "negative"), and how that was decided."""
    if setting is None:
        return "positive", "default: the positive class (set data.favourable when a positive decision harms)"
    if str(setting) == str(positive_label):
        return "positive", f"data.favourable = {setting!r}, the positive class"
    if any(str(setting) == str(v) for v in label_values):
        return "negative", f"data.favourable = {setting!r}, a value of the negative class"
    if setting in ("positive", "negative"):
        return setting, f"data.favourable = {setting!r}"
    shown = ", ".join(map(repr, label_values[:10]))
    raise DataError(
        f"The 'data.favourable' setting must be a value of the label column {label!r} ({shown}) or "
        f'"positive" / "negative". Got {setting!r} instead.'
    )
