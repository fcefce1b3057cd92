"""``audit verify dossier.json``: the audit record it was filled from is unchanged (sha256), every value it cites is
still in the record at its pointer, and the rendered files beside it are as written."""

from __future__ import annotations

import json
from pathlib import Path

from audit._errors import ConfigError
from audit.dossiers._sources import ABSENT, resolve
from audit.result._dossier_sections import Dossier
from audit.result._provenance import sha256_file

__all__ = ["verify_dossier"]


def _record_path(dossier: Dossier, folder: Path, given: str | None) -> Path:
    if given is not None:
        path = Path(given)
    else:
        path = Path(dossier.audit_path)
        if not path.is_absolute() and not path.exists():
            path = folder / path
    if not path.is_file():
        raise ConfigError(
            f"The audit record {str(path)!r} the dossier was filled from does not exist. Pass --audit PATH."
        )
    return path


def verify_dossier(path: str | Path, *, audit: str | None = None) -> tuple[int, list[str], list[str]]:
    """Returns (items checked, lines that match, lines that do not)."""
    path = Path(path)
    try:
        dossier = Dossier.from_json(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"The dossier {str(path)!r} cannot be read: {err}.") from err
    record_path = _record_path(dossier, path.parent, audit)
    good, bad = [], []
    digest = sha256_file(record_path)
    (good if digest == dossier.audit_sha256 else bad).append(
        f"audit record {record_path}: "
        + (
            "sha256 matches"
            if digest == dossier.audit_sha256
            else f"sha256 recorded {dossier.audit_sha256[:16]}..., now {digest[:16]}..."
        )
    )
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"The audit record {str(record_path)!r} is not JSON: {err}.") from err
    cited = 0
    for item in dossier.fields():
        for evidence in item.evidence:
            cited += 1
            checks = [(evidence.pointer, evidence.value)]
            if evidence.interval_pointer:
                checks.append((evidence.interval_pointer, evidence.interval))
            for where, value in checks:
                now = resolve(record, where)
                if now is ABSENT:
                    bad.append(f"field {item.id}: {evidence.label}: the record has nothing at {where}")
                    continue
                if now != value:
                    bad.append(
                        f"field {item.id}: {evidence.label} at {where}: the dossier says {value!r}, the record {now!r}"
                    )
    good.append(f"{cited} cited value(s) checked against the record")
    for name, recorded in dossier.files_sha256.items():
        rendered = path.parent / name
        if not rendered.is_file():
            good.append(f"{name}: not beside the dossier, not checked")
            continue
        now = sha256_file(rendered)
        (good if now == recorded else bad).append(
            f"{name}: " + ("sha256 matches" if now == recorded else "changed since it was written")
        )
    return 1 + cited + len(dossier.files_sha256), good, bad
