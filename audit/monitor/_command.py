"""``audit monitor CONFIG``: the ``[monitor]`` table of a TOML file, validated in one place, then one run."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit._errors import ConfigError

__all__ = ["MonitorConfig", "load_monitor_config", "monitor_command", "read_log_chunks"]


@dataclass(frozen=True)
class MonitorConfig:
    """``path``: the decision log (CSV or Parquet), appended in time order; ``time``, ``decision`` (1 or true: the
    favourable decision) and ``sensitive`` name its columns; ``window``: day, week or month; ``reference``: the
    group each feature's others are compared with (default: the largest); ``threshold``: the impact ratio an alarm
    is about; ``alpha``: the chance of any false alarm over the stream; ``horizon``: the number of windows the
    stream will be looked at (default: unbounded spending); ``stream``: its name in the store; ``store``: the store
    URL (a path: SQLite); ``include_open_window``: look at the window holding the log's last row now;
    ``chunk_rows``: the log is read in pieces of this many rows, so its size is bounded by the disk, not memory."""

    path: str
    time: str
    decision: str
    sensitive: tuple[str, ...]
    window: str = "week"
    reference: dict[str, str] | None = None
    threshold: float = 0.8
    alpha: float = 0.05
    horizon: int | None = None
    stream: str = "decisions"
    store: str = "audit-store.db"
    include_open_window: bool = False
    chunk_rows: int = 1_000_000  # the log is read this many rows at a time: a log larger than memory is fine
    label: str | None = None  # true outcomes, empty until known: TPR and FPR per window, recomputed as they arrive
    model: str | None = None  # a model file (.skops, .joblib, ...): explanation drift per window
    features: tuple[str, ...] | None = None  # the columns the model reads
    explain_rows: int = 200  # rows sampled per window for the drift

    def __post_init__(self) -> None:
        if self.model is not None:
            if not isinstance(self.model, str) or not self.model:
                raise ConfigError(f"'monitor.model' must be the path of a model file. Got {self.model!r}.")
            if not self.features or isinstance(self.features, str):
                raise ConfigError("'monitor.model' needs 'monitor.features': the list of columns the model reads.")
            object.__setattr__(self, "features", tuple(self.features))
        if isinstance(self.explain_rows, bool) or not isinstance(self.explain_rows, int) or self.explain_rows < 10:
            raise ConfigError(f"'monitor.explain_rows' must be an integer of at least 10. Got {self.explain_rows!r}.")
        if self.label is not None and (not isinstance(self.label, str) or not self.label):
            raise ConfigError(f"The 'monitor.label' setting must be a column name. Got {self.label!r} instead.")
        for name in ("path", "time", "decision", "window", "stream", "store"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"The 'monitor.{name}' setting must be a non-empty string. Got {value!r} instead.")
        sensitive = self.sensitive
        if isinstance(sensitive, str) or not sensitive or not all(isinstance(s, str) for s in sensitive):
            raise ConfigError(
                f"The 'monitor.sensitive' setting must be a list of column names, e.g. [\"sex\"]. Got {sensitive!r}."
            )
        object.__setattr__(self, "sensitive", tuple(sensitive))
        if self.reference is not None and not isinstance(self.reference, dict):
            raise ConfigError(
                f"'monitor.reference' must be a table such as {{sex = \"Male\"}}. Got {self.reference!r}."
            )
        if isinstance(self.chunk_rows, bool) or not isinstance(self.chunk_rows, int) or self.chunk_rows < 1000:
            raise ConfigError(f"'monitor.chunk_rows' must be an integer of at least 1000. Got {self.chunk_rows!r}.")
        if not isinstance(self.include_open_window, bool):
            raise ConfigError(f"'monitor.include_open_window' must be true or false. Got {self.include_open_window!r}.")


def load_monitor_config(path: str | Path) -> MonitorConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"The monitor config {str(path)!r} does not exist.") from err
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"The monitor config {str(path)!r} cannot be read as TOML: {err}.") from err
    table = raw.get("monitor")
    if not isinstance(table, dict):
        raise ConfigError(f"{str(path)!r} has no [monitor] table. Add one with path, time, decision and sensitive.")
    allowed = {f.name for f in dataclasses.fields(MonitorConfig)}
    unknown = sorted(set(table) - allowed)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f" Did you mean monitor.{close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown setting monitor.{unknown[0]!r}.{hint} Known: {', '.join(sorted(allowed))}.")
    missing = [
        f.name for f in dataclasses.fields(MonitorConfig) if f.default is dataclasses.MISSING and f.name not in table
    ]
    if missing:
        raise ConfigError(f"The [monitor] table lacks {missing}. Add them (docs/monitoring.md).")
    base = path.resolve().parent
    table = dict(table)
    table["path"] = str(base / table["path"]) if isinstance(table["path"], str) else table["path"]
    if isinstance(table.get("model"), str):
        table["model"] = str(base / table["model"])
    store = table.get("store", "audit-store.db")
    if isinstance(store, str) and "://" not in store:
        table["store"] = str(base / store)
    return MonitorConfig(**table)


def read_log_chunks(path: str, chunk_rows: int, time: str) -> Any:
    """The log in pieces of ``chunk_rows`` rows, in file order: CSV (optionally compressed) or Parquet by batches;
    the time column read as written (its zone is checked, not guessed by the reader)."""
    from audit._errors import DataError

    source = Path(path)
    if not source.is_file():
        raise DataError(f"The decision log {path!r} does not exist. Check monitor.path.")
    suffixes = [s.lower() for s in source.suffixes if s.lower() not in (".gz", ".bz2", ".zst", ".xz")]
    if suffixes and suffixes[-1] == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    if not suffixes or suffixes[-1] not in (".csv", ".tsv"):
        raise DataError(f"Cannot read the decision log {path!r}: expected a .csv, .tsv or .parquet file.")
    import pandas as pd

    sep = "\t" if suffixes[-1] == ".tsv" else ","
    yield from pd.read_csv(source, sep=sep, chunksize=chunk_rows, dtype={time: str})


def monitor_command(args: Any) -> int:
    """Run the monitor; exit 1 when an alarm fires (the outputs are stored first), 0 otherwise."""
    from audit.monitor._log import monitor_log
    from audit.store._store import open_store

    config = load_monitor_config(args.config)
    store_url = args.store or config.store
    model = None
    if config.model is not None:  # the same loader and rules as `audit run` (docs/config.md: pickles run code)
        from audit.models._adapters import load_model_file

        model, _ = load_model_file(config.model)
    store = open_store(store_url)  # an unreachable or newer store fails before any work
    log: Any = None
    if getattr(args, "workers", None) is not None:  # the log's parts counted on a local Dask cluster
        from audit.exec._executors import DaskExecutor
        from audit.monitor._log import WINDOWS
        from audit.monitor._partitions import partitioned_counts

        if args.workers < 1:
            raise ConfigError(f"The '--workers' option must be a positive integer. Got {args.workers} instead.")
        settings = {
            "time": config.time,
            "decision": config.decision,
            "sensitive": list(config.sensitive),
            "freq": WINDOWS.get(config.window, "W-SUN"),
            "label": config.label,
        }
        executor = DaskExecutor(workers=args.workers, quiet=args.quiet)
        try:
            log = partitioned_counts(config.path, executor, settings)
        finally:
            executor.close()
    with store:
        run = monitor_log(
            log if log is not None else read_log_chunks(config.path, config.chunk_rows, config.time),
            time=config.time,
            decision=config.decision,
            sensitive=list(config.sensitive),
            window=config.window,
            reference=config.reference,
            threshold=config.threshold,
            alpha=config.alpha,
            horizon=config.horizon,
            stream=config.stream,
            store=store,
            include_open_window=config.include_open_window,
            label=config.label,
            model=model,
            features=list(config.features or ()),
            explain_rows=config.explain_rows,
        )
    windows = sorted({r["window_start"] for r in run.rows if r["metric"] == "selection_rate"})
    print(
        f"Monitored {config.path}: {len(windows)} new {config.window}(s) of stream {run.stream!r} stored in "
        f"{store_url}."
    )
    for feature, group in run.reference.items():
        print(f"  {feature}: compared with {group} ({run.reference_source[feature]})")
    for note in run.notes:
        print(f"  note: {note}")
    for alarm in run.alarms:
        print(
            f"  ALARM {alarm['window_start'][:10]} {alarm['feature']}={alarm['grp']}: impact ratio "
            f"{alarm['alarm_ratio']:.3f} over the last {alarm['alarm_span']} {config.window}(s), upper bound "
            f"{alarm['alarm_high']:.3f} < {config.threshold} (look {alarm['look']}; false alarms <= {config.alpha} "
            "over the stream)"
        )
    if not run.alarms:
        print(f"  no alarm: no impact ratio is below {config.threshold} beyond the stream's error budget")
    return 1 if run.alarms else 0
