"""The one serialisable audit result: its typed sections, schema, loading, and provenance helpers."""
