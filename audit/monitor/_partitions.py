"""A decision log counted on a Dask cluster (``audit monitor --workers N``, docs/monitoring.md): the file cut into
parts (CSV at line boundaries, Parquet by row groups), each part counted by a worker, the parts' counts added in
file order after checking that each part starts no earlier than the one before ends, in the same time zone."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from audit._errors import DataError

__all__ = ["partitioned_counts", "csv_parts"]


def csv_parts(path: Path, parts: int) -> tuple[list[str], list[tuple[int, int]]]:
    """The header's column names and ``parts`` byte ranges of the body, each starting at a line."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.readline()
        body = handle.tell()
        cuts = [body]
        for k in range(1, parts):
            handle.seek(max(body, size * k // parts))
            handle.readline()  # to the start of the next line
            cuts.append(max(handle.tell(), cuts[-1]))
    cuts.append(size)
    names = pd.read_csv(io.BytesIO(header), nrows=0).columns.tolist()
    return names, [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _count_part(item: tuple[str, Any], settings: dict[str, Any]) -> Any:
    """One part's counts (run on a worker)."""
    from audit.monitor._log import _Counts

    kind, where = item
    if kind == "csv":
        path, start, end, names = where
        with open(path, "rb") as handle:
            handle.seek(start)
            raw = handle.read(end - start)
        frame = pd.read_csv(io.BytesIO(raw), names=names, header=None, dtype={settings["time"]: str})
    else:
        import pyarrow.parquet as pq

        path, group = where
        frame = pq.ParquetFile(path).read_row_group(group).to_pandas()
    counts = _Counts(**settings)
    try:
        counts.add(frame)
    except DataError as err:
        raise DataError(f"{err} (in the part of the log starting at {kind} offset {where[1]})") from err
    return counts


def partitioned_counts(path: str, executor: Any, settings: dict[str, Any]) -> Any:
    """The log's counts, its parts counted by ``executor`` and added in file order."""
    from audit.monitor._log import _Counts

    source = Path(path)
    if not source.is_file():
        raise DataError(f"The decision log {path!r} does not exist. Check monitor.path.")
    if source.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        items = [("parquet", (str(source), g)) for g in range(pq.ParquetFile(source).num_row_groups)]
    elif source.suffix.lower() == ".csv":
        names, ranges = csv_parts(source, max(2, 4 * executor.workers))
        items = [("csv", (str(source), a, b, names)) for a, b in ranges]
    else:
        raise DataError(f"The log {path!r} must be an uncompressed .csv or a .parquet file to be counted in parts.")
    total = _Counts(**settings)
    for part in executor.map(_count_part, items, settings, desc="log parts"):
        total.merge(part)
    return total
