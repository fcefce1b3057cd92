"""Writing an audit's outputs all at once: everything is rendered in memory first, then moved into place,
so a failure never leaves a half-written report behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from audit._errors import ConfigError
from audit._result import AuditResult

__all__ = ["write_outputs", "write_atomically"]


def write_atomically(files: dict[Path, str]) -> None:
    """Write each text file through a temporary file in its own folder and an atomic rename."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are meant to be shared
            staged.append((temporary, path))
    except OSError as err:
        for temporary, _ in staged:
            os.unlink(temporary)
        raise ConfigError(f"Cannot write the outputs: {err}. Check that the output folder is writable.") from err
    for temporary, path in staged:
        os.replace(temporary, path)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_outputs(result: AuditResult, out_dir: str | Path, *, formats=("html", "json")) -> dict[str, Path]:
    """Render ``result`` to ``out_dir`` (``report.html``, ``audit.json``); returns the paths by format."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"The output path {str(out_dir)!r} exists and is not a folder. Choose another --out.")
    rendered: dict[str, tuple[Path, str]] = {}
    if "json" in formats:
        rendered["json"] = (out_dir / "audit.json", result.to_json())
    if "html" in formats:
        from reports import render_html

        rendered["html"] = (out_dir / "report.html", render_html(result))
    write_atomically({path: text for path, text in rendered.values()})
    return {name: path for name, (path, _) in rendered.items()}
