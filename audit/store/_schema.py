"""The store's tables (SQLAlchemy Core) and its migrations: each step one function, run in order inside the
transaction that records the new version, so a store is at one version or the one before, never between."""

from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa

__all__ = ["metadata", "meta", "audits", "windows", "MIGRATIONS", "STORE_SCHEMA_VERSION"]

metadata = sa.MetaData()

meta = sa.Table(
    "audit_store_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

audits = sa.Table(
    "audit_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recorded_at", sa.String(40), nullable=False),  # UTC ISO 8601
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("result_schema", sa.String(16), nullable=False),
    sa.Column("model_sha256", sa.String(64)),
    sa.Column("data_sha256", sa.String(64)),
    sa.Column("config_sha256", sa.String(64)),
    sa.Column("gate_passed", sa.Boolean),  # None: no gate ran
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Integer, nullable=False),
    sa.Column("label", sa.Text),  # a release name the user gives (`--release`)
    sa.Column("result_json", sa.Text, nullable=False),
)

windows = sa.Table(
    "monitor_windows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(200), nullable=False),
    sa.Column("window_start", sa.String(40), nullable=False),
    sa.Column("window_end", sa.String(40), nullable=False),
    sa.Column("look", sa.Integer, nullable=False),  # the window's ordinal in its stream, from 1
    sa.Column("feature", sa.String(200), nullable=False),
    sa.Column("grp", sa.String(200), nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("successes", sa.Integer, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("reference_group", sa.String(200), nullable=False),
    sa.Column("ratio", sa.Float),
    sa.Column("ratio_low", sa.Float),
    sa.Column("ratio_high", sa.Float),
    sa.Column("threshold", sa.Float, nullable=False),  # the impact ratio the alarm is about
    sa.Column("level", sa.Float),  # the one-sided level of each of this look's comparisons
    sa.Column("alarm", sa.Boolean, nullable=False),
    sa.Column("alarm_span", sa.Integer),  # the fewest recent windows whose pooled ratio alarmed
    sa.Column("alarm_ratio", sa.Float),
    sa.Column("alarm_high", sa.Float),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("stream", "window_start", "feature", "grp", "metric", name="one_row_per_window_group"),
)


def _create_v1(connection: Any) -> None:
    metadata.create_all(connection, tables=[meta, audits, windows])


MIGRATIONS: list[Callable[[Any], None]] = [_create_v1]  # MIGRATIONS[i] takes a store from version i to i + 1
STORE_SCHEMA_VERSION = len(MIGRATIONS)
