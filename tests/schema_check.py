"""Validation of written results against docs/audit.schema.json (the suite's session hook and tests/test_schema.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "audit.schema.json"


def validator():
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors_of(raw: Any, check=None) -> list[str]:
    """Each schema violation as 'path: message'."""
    check = check or validator()
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:160]}"
        for e in sorted(check.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    ]


def invalid_results(base: Path) -> tuple[list[str], int]:
    """(problems, files checked) for every audit.json under ``base``; a file that is not a result is left alone."""
    check, problems, checked = validator(), [], 0
    for path in sorted(Path(base).rglob("audit.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # tests that write broken files on purpose
        if not isinstance(raw, dict) or not str(raw.get("schema_version", "")).startswith("2."):
            continue  # not a result, or an old one a test wrote to check the converter
        checked += 1
        problems += [f"{path}: {error}" for error in errors_of(raw, check)[:3]]
    return problems, checked
