"""A store of audits and monitoring windows: SQLite by default, PostgreSQL by URL (docs/monitoring.md)."""
