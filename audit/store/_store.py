"""A store of audits and monitoring windows (docs/monitoring.md): SQLite by default (a file, nothing to start),
PostgreSQL by URL; every write one transaction, so a process killed mid-write leaves no partial rows.

URLs: a path or ``sqlite:///path.db`` (SQLite), ``postgresql://user:password@host:port/database`` (PostgreSQL,
through psycopg). The schema is versioned: a store written by a newer version of the toolkit is refused, never
altered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from audit._errors import CapabilityError, ConfigError, ResourceError

__all__ = ["AuditStore", "open_store"]


def _engine_url(url: str | Path) -> str:
    if isinstance(url, Path):
        url = str(url)
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            "The store URL must be a path (SQLite) or a URL such as sqlite:///audits.db or "
            f"postgresql://user@host/database. Got {url!r} instead."
        )
    if url.startswith(("postgresql://", "postgres://")):
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    if url.startswith(("postgresql+", "sqlite://")):
        return url
    if "://" in url:
        raise ConfigError(
            f"The store URL {url!r} names an unsupported database; use a path or sqlite:///FILE (SQLite), or "
            "postgresql://user@host/database (PostgreSQL)."
        )
    return f"sqlite:///{Path(url).resolve()}"


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class AuditStore:
    """An open store. Build it with :func:`open_store`."""

    def __init__(self, engine: Any, url: str) -> None:
        self.engine, self.url = engine, url

    # ----- audits ---------------------------------------------------------------------------------------------
    def record_audit(self, result: Any, *, label: str | None = None) -> int:
        """Record one audit result (its JSON, hashes and verdict) in one transaction; returns its id."""
        from audit.result._provenance import now_iso
        from audit.store._schema import audits

        hashes = result.provenance.sha256 or {}
        row = {
            "recorded_at": now_iso(),
            "title": result.title,
            "result_schema": result.schema_version,
            "model_sha256": hashes.get("model"),
            "data_sha256": hashes.get("data"),
            "config_sha256": hashes.get("config"),
            "gate_passed": None if result.gate is None else bool(result.gate.passed),
            "failures": len(result.failures),
            "warnings": sum(f.severity == "warning" for f in result.findings),
            "label": label,
            "result_json": result.to_json(indent=None),
        }
        with self._writing() as connection:
            return int(connection.execute(audits.insert().values(**row)).inserted_primary_key[0])

    def audits(self) -> list[dict[str, Any]]:
        """Every recorded audit, oldest first, without its JSON (``load_audit`` reads one)."""
        from audit.store._schema import audits

        columns = [c for c in audits.c if c.name != "result_json"]
        with self.engine.connect() as connection:
            rows = connection.execute(audits.select().with_only_columns(*columns).order_by(audits.c.id))
            return [dict(r._mapping) for r in rows]

    def load_audit(self, audit_id: int) -> Any:
        from audit.result._result import AuditResult
        from audit.store._schema import audits

        with self.engine.connect() as connection:
            text = connection.execute(audits.select().where(audits.c.id == audit_id)).first()
        if text is None:
            raise ConfigError(f"The store {_shown(self.url)} has no audit {audit_id}.")
        return AuditResult.from_json(text._mapping["result_json"])

    # ----- monitoring windows -----------------------------------------------------------------------------------
    def known_windows(self, stream: str) -> list[str]:
        """The window starts already stored for ``stream``, in order."""
        from audit.store._schema import windows

        with self.engine.connect() as connection:
            rows = connection.execute(
                windows.select()
                .with_only_columns(windows.c.window_start)
                .where(windows.c.stream == stream)
                .distinct()
                .order_by(windows.c.window_start)
            )
            return [r[0] for r in rows]

    def append_windows(self, rows: list[dict[str, Any]], *, replacing: list[dict[str, Any]] | None = None) -> int:
        """Append window rows, and put ``replacing`` rows in place of the stored rows of the same stream, window,
        feature, group and metric (label metrics, recomputed as labels arrive), all in one transaction."""
        import sqlalchemy as sa

        from audit.store._schema import windows

        replacing = replacing or []
        if not rows and not replacing:
            return 0
        with self._writing() as connection:
            for row in replacing:
                connection.execute(
                    windows.delete().where(
                        sa.and_(
                            *(windows.c[k] == row[k] for k in ("stream", "window_start", "feature", "grp", "metric"))
                        )
                    )
                )
            if rows or replacing:
                connection.execute(windows.insert(), rows + replacing)
        return len(rows) + len(replacing)

    def windows(self, stream: str | None = None) -> list[dict[str, Any]]:
        from audit.store._schema import windows

        query = windows.select().order_by(windows.c.stream, windows.c.window_start, windows.c.feature, windows.c.grp)
        if stream is not None:
            query = query.where(windows.c.stream == stream)
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    def monitoring_summary(self) -> Any:
        """Every monitored stream and feature: windows, alarms, and the groups alarming at the last look."""
        from audit.result._monitor_sections import MonitorAlarm, MonitoredStream, MonitoringSummary
        from audit.result._provenance import now_iso

        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in self.windows():
            if row["metric"] == "selection_rate":  # the alarmed metric; label metrics are descriptive
                grouped.setdefault((row["stream"], row["feature"]), []).append(row)
        streams = []
        for (stream, feature), rows in grouped.items():
            last = max(r["look"] for r in rows)
            alarms = [
                MonitorAlarm(r["window_start"], r["look"], r["grp"], r["alarm_span"], r["alarm_ratio"], r["alarm_high"])
                for r in rows
                if r["alarm"]
            ]
            streams.append(
                MonitoredStream(
                    stream=stream,
                    feature=feature,
                    reference_group=rows[-1]["reference_group"],
                    threshold=rows[-1]["threshold"],
                    windows=len({r["window_start"] for r in rows}),
                    first_window=min(r["window_start"] for r in rows),
                    last_window=max(r["window_start"] for r in rows),
                    alarms=alarms,
                    open_alarms=sorted(a.group for a in alarms if a.look == last),
                )
            )
        return MonitoringSummary(store=_shown(self.url), read_at=now_iso(), streams=streams)

    def _writing(self):
        return self.engine.begin()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str | Path) -> AuditStore:
    """Open (and create or migrate) the store at ``url``. An unreachable server is a ResourceError; a store of a
    newer schema a ConfigError; nothing is written to either."""
    try:
        import sqlalchemy as sa
        from sqlalchemy import event
    except ImportError as err:
        raise CapabilityError(
            "The store needs SQLAlchemy (and psycopg for PostgreSQL). Install them with: "
            "pip install 'audit-toolkit[store]'"
        ) from err

    engine_url = _engine_url(url)
    url = str(url)
    if engine_url.startswith("sqlite"):
        folder = Path(engine_url.removeprefix("sqlite:///")).parent
        if not folder.is_dir():
            raise ConfigError(f"The store {url!r} is in a folder that does not exist ({folder}); create it first.")
        engine = sa.create_engine(engine_url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions begin below, holding the write lock from the start

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # two writers queue; neither reads a version then loses

    else:
        engine = sa.create_engine(engine_url, pool_pre_ping=True)
    try:
        _migrate(engine)
    except sa.exc.OperationalError as err:
        engine.dispose()
        raise ResourceError(
            f"Cannot reach the store {_shown(url)}: {str(err.orig).strip().splitlines()[0] if err.orig else err}. "
            "Check that the server runs and the URL (host, port, database, user) is right."
        ) from err
    return AuditStore(engine, url)


def _migrate(engine: Any) -> None:
    """Bring the store to this version in one transaction (serialised between processes), or refuse a newer one."""
    import sqlalchemy as sa

    from audit.store._schema import MIGRATIONS, STORE_SCHEMA_VERSION, meta

    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(724400)"))  # one migrating process at a time
        version = 0
        if sa.inspect(connection).has_table(meta.name):
            found = connection.execute(meta.select().where(meta.c.key == "schema_version")).first()
            version = int(found._mapping["value"]) if found else 0
        if version > STORE_SCHEMA_VERSION:
            raise ConfigError(
                f"The store was written by a newer audit-toolkit (store schema {version}; this version reads up to "
                f"{STORE_SCHEMA_VERSION}). Upgrade audit-toolkit to use it; nothing was changed."
            )
        for step in MIGRATIONS[version:]:
            step(connection)
        if version < STORE_SCHEMA_VERSION:
            connection.execute(meta.delete().where(meta.c.key == "schema_version"))
            connection.execute(meta.insert().values(key="schema_version", value=str(STORE_SCHEMA_VERSION)))
