"""Windowed monitoring of a decision log (docs/monitoring.md): each window's selection rate per group, its impact
ratio to a fixed reference group, and an alarm whose false-alarm rate over every look stays under alpha; the
windows are appended to a store, and a re-run appends only the windows it has not stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from audit._errors import ConfigError, DataError
from audit.monitor._alarms import window_alarms

__all__ = ["MonitorRun", "monitor_log", "parse_times", "WINDOWS"]

WINDOWS = {"day": "D", "week": "W-SUN", "month": "M"}
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class MonitorRun:
    """What one ``audit monitor`` run did: the windows it computed (new ones only when a store already held some),
    the alarms among them, and its automatic choices."""

    stream: str
    window: str
    reference: dict[str, str]  # feature -> the reference group (the largest, unless monitor.reference names one)
    reference_source: dict[str, str]
    rows: list[dict[str, Any]]
    alarms: list[dict[str, Any]]
    skipped_windows: list[str] = field(default_factory=list)  # already in the store
    notes: list[str] = field(default_factory=list)


def parse_times(values: pd.Series, column: str) -> tuple[pd.Series, str]:
    """UTC times from a column of datetimes or ISO 8601 strings, one zone for the whole column (or none), in order;
    and which zone that was (to hold the next chunk of the same log to it)."""
    zone = "datetime"
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        times = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_any_dtype(values):
        times = values.dt.tz_localize("UTC")
    else:
        text = values.astype(str).str.strip()
        offsets = text.str.extract(_OFFSET)[0]
        zoned = offsets.notna()
        if zoned.any() and not zoned.all():
            first = text[~zoned].iloc[0]
            raise DataError(
                f"The time column {column!r} mixes times with a zone and without (e.g. {first!r}); write every time "
                "with its UTC offset, or none."
            )
        if zoned.any() and offsets.nunique() > 1:
            shown = ", ".join(map(str, offsets.unique()[:3]))
            raise DataError(
                f"The time column {column!r} mixes time zones ({shown}); convert the log to one zone (UTC) first, so "
                "that each row falls in the window it happened in."
            )
        zone = str(offsets.iloc[0]) if zoned.any() else "no zone"
        times = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
        bad = times.isna() & values.notna()
        if bad.any():
            raise DataError(
                f"The time column {column!r} has {int(bad.sum())} value(s) that are not times (e.g. "
                f"{values[bad].iloc[0]!r}); write ISO 8601 times such as 2026-03-02T14:05:00Z."
            )
    if times.isna().any():
        missing = int(times.isna().sum())
        raise DataError(f"The time column {column!r} has {missing} missing time(s); every row needs one.")
    stamps = times.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype("int64")
    backwards = np.flatnonzero(np.diff(stamps) < 0)
    if len(backwards):
        row = int(backwards[0]) + 1
        raise DataError(
            f"The log's times go backwards at row {row + 2} of the file ({times.iloc[row]} after "
            f"{times.iloc[row - 1]}); a decision log is appended in time order. Sort it by {column!r} first."
        )
    return times, zone


def monitor_log(
    log: pd.DataFrame | Iterable[pd.DataFrame] | _Counts,
    *,
    time: str,
    decision: str,
    sensitive: list[str],
    window: str = "week",
    reference: dict[str, str] | None = None,
    threshold: float = 0.8,
    alpha: float = 0.05,
    horizon: int | None = None,
    stream: str = "decisions",
    store: Any = None,
    include_open_window: bool = False,
    label: str | None = None,
    model: Any = None,
    features: list[str] | None = None,
    explain_rows: int = 200,
    seed: int = 0,
) -> MonitorRun:
    """Monitor a decision log (a DataFrame, or an iterable of its chunks in order, for a log larger than memory): one
    row per window, feature and group. With a ``store``, the windows it already holds for ``stream`` are skipped
    (their looks keep their numbers) and the new ones are appended in one transaction.

    ``label``: the column of true outcomes (1 / true: the person should get the favourable decision; empty where it
    is not known yet). Each closed window then also gets its TPR and FPR by group over the rows labelled so far,
    recomputed on every run (labels arrive late) and replaced in the store; they are descriptive, with 95% intervals
    and no alarm, because a window's labelled rows keep changing after its look.

    ``model`` (with ``features``, the columns it reads): each new window's explanation drift, from a seeded sample
    of ``explain_rows`` of its rows (docs/monitoring.md); descriptive, no alarm."""
    from audit.result._provenance import now_iso

    if window not in WINDOWS:
        raise ConfigError(f"The 'window' of the monitor must be one of {', '.join(WINDOWS)}. Got {window!r} instead.")
    if not 0 < alpha < 0.5 or not 0 < threshold <= 1:
        raise ConfigError(f"The monitor needs 0 < alpha < 0.5 and 0 < threshold <= 1. Got {alpha!r}, {threshold!r}.")
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1):
        raise ConfigError(f"The monitor's 'horizon' must be a positive number of windows or unset. Got {horizon!r}.")
    if model is not None and not features:
        raise ConfigError(
            "Explanation drift needs the model's inputs: pass features= (monitor.features), the columns it reads."
        )
    if isinstance(log, _Counts):  # counted already, in parts (audit monitor --workers)
        if model is not None:
            raise ConfigError(
                "Explanation drift samples rows as the log is read in order; it is not counted in parts. Drop "
                "--workers, or monitor.model."
            )
        counts = log
    else:
        counts = _Counts(time=time, decision=decision, sensitive=list(sensitive), freq=WINDOWS[window], label=label)
        if model is not None:
            from audit.monitor._drift import WindowSamples

            counts.samples = WindowSamples(list(features or ()), explain_rows, seed)
        for chunk in [log] if isinstance(log, pd.DataFrame) else log:
            counts.add(chunk)
    if counts.rows == 0:
        raise DataError("The decision log has no rows: there is nothing to monitor.")
    periods = pd.period_range(
        pd.Period(ordinal=counts.first, freq=WINDOWS[window]),
        pd.Period(ordinal=counts.last, freq=WINDOWS[window]),
        freq=WINDOWS[window],
    )  # empty windows included
    labels = [p.start_time.tz_localize("UTC").isoformat() for p in periods]
    # the window holding the log's last row may still be filling: it is looked at when a later log closes it
    closed = len(periods) if include_open_window else len(periods) - 1
    everything_stored = store.windows(stream) if store is not None else []  # read once: rows of every metric
    stored_rows = [r for r in everything_stored if r["metric"] == "selection_rate"]
    stored = sorted({r["window_start"] for r in stored_rows})
    new = [i for i in range(closed) if labels[i] not in set(stored)]
    if stored and new and labels[new[0]] <= stored[-1]:
        raise DataError(
            f"The log has window {labels[new[0]]}, before the last one this stream stored ({stored[-1]}); a stream "
            "only grows forward. Monitor earlier data as another stream (monitor.stream)."
        )
    stored_refs = {r["feature"]: r["reference_group"] for r in stored_rows}
    rows: list[dict[str, Any]] = []
    alarms: list[dict[str, Any]] = []
    chosen, sources = {}, {}
    recorded_at = now_iso()
    for feature in sensitive:
        table = counts.table(feature)  # (window ordinal, group) -> n, hits
        past = [r for r in stored_rows if r["feature"] == feature]
        names = sorted(set(table.index.get_level_values(1)) | {r["grp"] for r in past})
        ref, source = _reference(feature, names, counts.sizes(feature), reference, stored_refs)
        chosen[feature], sources[feature] = ref, source
        totals = np.zeros((len(periods), len(names)))
        hits = np.zeros((len(periods), len(names)))
        window_at = table.index.get_level_values(0).to_numpy() - counts.first
        group_at = pd.Index(names).get_indexer(table.index.get_level_values(1))
        totals[window_at, group_at] = table["n"].to_numpy()
        hits[window_at, group_at] = table["hits"].to_numpy()
        past_totals, past_hits = _history(past, stored, names)
        result = window_alarms(
            np.concatenate([past_hits, hits[new]]),
            np.concatenate([past_totals, totals[new]]),
            names.index(ref),
            len(stored) + 1,
            alpha=alpha,
            threshold=threshold,
            horizon=horizon,
            history=len(stored),
        )
        for row_index, w in enumerate(new):
            for g, name in enumerate(names):
                n = int(totals[w, g])
                is_ref = name == ref
                record = {
                    "stream": stream,
                    "window_start": labels[w],
                    "window_end": periods[w].end_time.tz_localize("UTC").isoformat(),
                    "look": len(stored) + row_index + 1,
                    "feature": feature,
                    "grp": name,
                    "metric": "selection_rate",
                    "n": n,
                    "successes": int(hits[w, g]),
                    "value": float(hits[w, g] / n) if n else None,
                    "reference_group": ref,
                    "ratio": None if is_ref else _finite(result["ratio"][row_index, g]),
                    "ratio_low": None if is_ref else _finite(result["low"][row_index, g]),
                    "ratio_high": None if is_ref else _finite(result["high"][row_index, g]),
                    "threshold": float(threshold),
                    "level": float(result["level"][row_index, g]),
                    "alarm": bool(result["alarm"][row_index, g]),
                    "alarm_span": int(result["alarm_span"][row_index, g]) or None,
                    "alarm_ratio": _finite(result["alarm_ratio"][row_index, g]),
                    "alarm_high": _finite(result["alarm_high"][row_index, g]),
                    "note": "the reference group" if is_ref else "" if n else "no rows for this group: no evidence",
                    "recorded_at": recorded_at,
                }
                rows.append(record)
                if record["alarm"]:
                    alarms.append(record)
    label_rows = (
        _label_rows(counts, periods, labels, closed, stored, new, chosen, stream=stream, recorded_at=recorded_at)
        if label is not None
        else []
    )
    if model is not None:
        first = {
            r["grp"]: r["value"] for r in everything_stored if r["metric"] == "attribution_share" and r["look"] == 1
        }
        rows += _drift_rows(counts, periods, labels, new, len(stored), model, first or None, stream, recorded_at, seed)
    if store is not None:
        store.append_windows(rows, replacing=label_rows)
    notes = []
    if label is not None:
        notes.append(
            f"TPR and FPR by group over the rows labelled so far ({counts.labelled:,} of {counts.rows:,}), "
            "recomputed for every closed window of the log; descriptive, no alarm"
        )
    if closed < len(periods):
        notes.append(
            f"the last window ({labels[-1]}) holds the log's last row and may still be filling: it is left for a "
            "later run (include_open_window = true looks at it now)"
        )
    already = [labels[i] for i in range(closed) if labels[i] in set(stored)]
    if already:
        notes.append(f"{len(already)} window(s) were already in the store and were not recomputed")
    return MonitorRun(
        stream=stream,
        window=window,
        reference=chosen,
        reference_source=sources,
        rows=rows + label_rows,
        alarms=alarms,
        skipped_windows=already,
        notes=notes,
    )


class _Counts:
    """Rows and favourable decisions per window and group, added chunk by chunk (a log larger than memory is read in
    pieces): each chunk's times are held to the zone and the order of the chunks before it."""

    def __init__(self, *, time: str, decision: str, sensitive: list[str], freq: str, label: str | None) -> None:
        self.time, self.decision, self.sensitive, self.freq, self.label = time, decision, sensitive, freq, label
        self.labelled = 0
        self.earliest: Any = None  # the first time counted (to hold a later part of the log to the order)
        self.samples: Any = None  # explanation drift's sample of rows per window, when a model is given
        self.parts: dict[str, list[pd.DataFrame]] = {name: [] for name in sensitive}
        self.rows, self.zone, self.latest = 0, None, None
        self.first = self.last = 0

    def add(self, chunk: pd.DataFrame) -> None:
        for name, setting in [
            (self.time, "time"),
            (self.decision, "decision"),
            *[(s, "sensitive") for s in self.sensitive],
        ]:
            if name not in chunk.columns:
                raise ConfigError(
                    f"The monitor's '{setting}' column {name!r} is not in the log. Columns: "
                    f"{', '.join(map(str, chunk.columns[:30]))}."
                )
        if chunk.empty:
            return
        times, zone = parse_times(chunk[self.time].reset_index(drop=True), self.time)
        if self.zone is not None and zone != self.zone:
            raise DataError(
                f"The time column {self.time!r} changes zone within the log ({self.zone} before row "
                f"{self.rows + 2}, {zone} from there); convert the log to one zone (UTC) first."
            )
        if self.latest is not None and times.iloc[0] < self.latest:
            raise DataError(
                f"The log's times go backwards at row {self.rows + 2} of the file ({times.iloc[0]} after "
                f"{self.latest}); a decision log is appended in time order. Sort it by {self.time!r} first."
            )
        ordinals = times.dt.tz_localize(None).dt.to_period(self.freq).array.asi8
        decided = _decisions(chunk[self.decision].reset_index(drop=True), self.decision)
        outcome = None
        if self.label is not None:
            outcome = _outcomes(chunk[self.label].reset_index(drop=True), self.label)
            self.labelled += int((outcome >= 0).sum())
        for name in self.sensitive:
            groups = chunk[name].astype("string").fillna("(missing)").to_numpy()
            part = pd.DataFrame({"window": ordinals, "group": groups, "n": 1, "hits": decided})
            if outcome is not None:
                positive, negative = outcome == 1, outcome == 0
                part = part.assign(
                    positives=positive,
                    true_positives=positive & (decided == 1),
                    negatives=negative,
                    false_positives=negative & (decided == 1),
                )
            self.parts[name].append(part.groupby(["window", "group"], sort=False).sum())
        self.first = int(ordinals.min()) if self.rows == 0 else min(self.first, int(ordinals.min()))
        self.last = max(self.last, int(ordinals.max())) if self.rows else int(ordinals.max())
        if self.samples is not None:
            self.samples.add(chunk, ordinals)
        if self.earliest is None:
            self.earliest = times.iloc[0]
        self.rows += len(chunk)
        self.zone, self.latest = zone, times.iloc[-1]

    def merge(self, other: _Counts) -> None:
        """Add the counts of the part of the log that follows (counted elsewhere), checking its zone and order."""
        if other.rows == 0:
            return
        if self.rows:
            if other.zone != self.zone:
                raise DataError(
                    f"The time column {self.time!r} changes zone within the log ({self.zone} before row "
                    f"{self.rows + 2}, {other.zone} from there); convert the log to one zone (UTC) first."
                )
            if other.earliest < self.latest:
                raise DataError(
                    f"The log's times go backwards at row {self.rows + 2} of the file ({other.earliest} after "
                    f"{self.latest}); a decision log is appended in time order. Sort it by {self.time!r} first."
                )
        for name in self.sensitive:
            self.parts[name].extend(other.parts[name])
        self.first = other.first if self.rows == 0 else min(self.first, other.first)
        self.last = other.last if self.rows == 0 else max(self.last, other.last)
        self.earliest = self.earliest if self.rows else other.earliest
        self.rows += other.rows
        self.labelled += other.labelled
        self.zone, self.latest = other.zone, other.latest

    def table(self, name: str) -> pd.DataFrame:
        """(window ordinal, group) -> the counts; the parts are summed once and kept summed."""
        if len(self.parts[name]) != 1:
            self.parts[name] = [pd.concat(self.parts[name]).groupby(level=[0, 1]).sum()]
        return self.parts[name][0]

    def sizes(self, name: str) -> pd.Series:
        return self.table(name)["n"].groupby(level=1).sum()


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _decisions(values: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=float)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or not numeric.isin([0, 1]).all():
        odd = values[numeric.isna() | ~numeric.isin([0, 1])].iloc[0]
        raise DataError(
            f"The decision column {column!r} must hold 0/1 or true/false (1: the favourable decision); e.g. {odd!r}."
        )
    return numeric.to_numpy(dtype=float)


def _drift_rows(
    counts, periods, labels, new, stored, model, reference, stream, recorded_at, seed
) -> list[dict[str, Any]]:
    from audit.monitor._drift import attribution_rows

    explained = [
        (periods[i].ordinal, labels[i], periods[i].end_time.tz_localize("UTC").isoformat(), stored + k + 1)
        for k, i in enumerate(new)
    ]
    return attribution_rows(
        counts.samples,
        explained,
        model=model,
        stream=stream,
        recorded_at=recorded_at,
        seed=seed,
        reference_shares=reference,
    )


def _outcomes(values: pd.Series, column: str) -> np.ndarray:
    """1, 0, or -1 where the outcome is not known yet (empty)."""
    known = values.notna() & (values.astype(str).str.strip() != "")
    text = values[known].astype(str).str.strip().str.lower()
    mapped = text.map({"1": 1, "0": 0, "1.0": 1, "0.0": 0, "true": 1, "false": 0})
    if mapped.isna().any():
        raise DataError(
            f"The label column {column!r} must hold 0/1 or true/false, or be empty where the outcome is not known "
            f"yet; e.g. {values[known][mapped.isna()].iloc[0]!r}."
        )
    out = np.full(len(values), -1)
    out[known.to_numpy()] = mapped.to_numpy(dtype=int)
    return out


def _label_rows(counts, periods, labels, closed, stored, new, chosen, *, stream, recorded_at) -> list[dict[str, Any]]:
    """TPR and FPR per closed window and group, with their ratio to the reference group's (95% MOVER-R intervals)."""
    from audit.fairness._stats import ratio_interval

    looks = {label: k + 1 for k, label in enumerate(sorted(set(stored) | {labels[i] for i in new}))}
    out: list[dict[str, Any]] = []
    for feature, ref in chosen.items():
        table = counts.table(feature)
        for metric, hits_column, total_column in (
            ("tpr", "true_positives", "positives"),
            ("fpr", "false_positives", "negatives"),
        ):
            for i in range(closed):
                if labels[i] not in looks:
                    continue
                ordinal = periods[i].ordinal
                here = table[table.index.get_level_values(0) == ordinal].droplevel(0)
                ref_x = float(here[hits_column].get(ref, 0))
                ref_n = float(here[total_column].get(ref, 0))
                for group in here.index:
                    x, n = float(here.at[group, hits_column]), float(here.at[group, total_column])
                    is_ref = group == ref
                    low = high = ratio = None
                    if not is_ref and n > 0 and ref_n > 0 and ref_x > 0:
                        ratio = (x / n) / (ref_x / ref_n)
                        lo, hi = ratio_interval(x, n, ref_x, ref_n, 0.95)
                        low, high = _finite(float(lo)), _finite(float(hi))
                    out.append(
                        {
                            "stream": stream,
                            "window_start": labels[i],
                            "window_end": periods[i].end_time.tz_localize("UTC").isoformat(),
                            "look": looks[labels[i]],
                            "feature": feature,
                            "grp": str(group),
                            "metric": metric,
                            "n": int(n),
                            "successes": int(x),
                            "value": x / n if n else None,
                            "reference_group": ref,
                            "ratio": ratio,
                            "ratio_low": low,
                            "ratio_high": high,
                            "threshold": 0.0,
                            "level": 0.025,
                            "alarm": False,
                            "alarm_span": None,
                            "alarm_ratio": None,
                            "alarm_high": None,
                            "note": f"over the rows labelled so far; {'the reference group' if is_ref else 'no alarm'}"
                            if n
                            else "no labelled row yet",
                            "recorded_at": recorded_at,
                        }
                    )
    return out


def _history(past: list[dict[str, Any]], stored: list[str], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The stored windows' counts, (windows, groups), in the stream's order."""
    totals = np.zeros((len(stored), len(names)))
    hits = np.zeros((len(stored), len(names)))
    where = {label: i for i, label in enumerate(stored)}
    for row in past:
        totals[where[row["window_start"]], names.index(row["grp"])] = row["n"]
        hits[where[row["window_start"]], names.index(row["grp"])] = row["successes"]
    return totals, hits


def _reference(feature, names, sizes: pd.Series, reference, stored) -> tuple[str, str]:
    """The group every other is compared with: as set, as the stream already used, else the largest."""
    wanted = (reference or {}).get(feature)
    if wanted is not None:
        if wanted not in names:
            raise ConfigError(
                f"monitor.reference names group {wanted!r} of {feature!r}, which the log does not have. Groups: "
                f"{', '.join(names)}."
            )
        if feature in stored and stored[feature] != wanted:
            raise ConfigError(
                f"This stream compared {feature!r} with {stored[feature]!r} before; changing the reference mid-stream "
                "would break its alarm guarantee. Keep it, or start a new stream (monitor.stream)."
            )
        return wanted, "monitor.reference"
    if feature in stored:
        return stored[feature], "the reference this stream already used"
    largest = sizes.sort_index().idxmax()  # ties: the first name
    return str(largest), "the largest group in the first log monitored (set monitor.reference to choose)"
