"""Writing an audit's outputs all at once: everything is rendered in memory first, then moved into place,
so a failure never leaves a half-written report behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from audit._errors import OutputError
from audit.result._result import AuditResult, Failure

__all__ = ["write_outputs", "write_result", "write_atomically"]


def write_atomically(files: dict[Path, str]) -> None:
    """Write the text files all together or not at all: each goes through a temporary file in its own folder;
    every target is checked before anything moves; if a rename still fails, the files already moved are put
    back as they were, and no temporary file is left on any path."""
    files = {Path(path): text for path, text in files.items()}
    for path in files:
        if path.is_dir():
            raise OutputError(
                f"Cannot write {str(path)!r}: a folder of that name exists. Remove it or choose another output path."
            )
    staged: list[tuple[str, Path]] = []
    moved: list[tuple[Path, str | None]] = []  # (target, backup of what it replaced)
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((temporary, path))
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temporary, 0o644)  # mkstemp makes 0600; reports are meant to be read by others
        for temporary, path in staged:
            backup = None
            if path.exists():
                handle, backup = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".bak")
                os.close(handle)
                os.replace(path, backup)
            try:
                os.replace(temporary, path)
            except OSError:
                if backup is not None:
                    os.replace(backup, path)
                raise
            moved.append((path, backup))
    except OSError as err:
        for path, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        raise OutputError(
            f"Cannot write the outputs: {err}. Check that the output folder is writable; nothing was written."
        ) from err
    for _, backup in moved:
        if backup is not None:
            Path(backup).unlink(missing_ok=True)


def write_outputs(
    result: AuditResult, out_dir: str | Path, *, formats=("html", "json"), extra: dict[Path, str] | None = None
) -> dict[str, Path]:
    """Render ``result`` to ``out_dir`` (``report.html``, ``audit.json``) and write them, with the ``extra``
    files, in one batch; returns the paths by format. A report section that fails to render is shown as failed
    in the report and recorded in ``audit.json``'s failures (``write_result`` also returns that result)."""
    return write_result(result, out_dir, formats=formats, extra=extra)[1]


def write_result(
    result: AuditResult, out_dir: str | Path, *, formats=("html", "json"), extra: dict[Path, str] | None = None
) -> tuple[AuditResult, dict[str, Path]]:
    """``write_outputs``, returning the result as written: with a failure for each report section that could not
    be rendered (and one for the whole report, where even its frame failed: then the JSON is still written)."""
    import dataclasses
    import traceback

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"The output path {str(out_dir)!r} exists and is not a folder. Choose another --out.")
    result = _with_result_folder(result, out_dir)
    rendered: dict[str, tuple[Path, str]] = {}
    if "html" in formats:
        from reports import render_report

        try:
            html, section_failures = render_report(result)
            rendered["html"] = (out_dir / "report.html", html)
        except Exception as err:  # the result is still written, and says the report failed
            section_failures = [
                Failure(
                    step="report",
                    error_type=type(err).__name__,
                    message=f"{err} (no report.html was written; re-render with `audit report audit.json` once fixed)",
                    traceback=traceback.format_exc(),
                )
            ]
        if section_failures:
            result = dataclasses.replace(result, failures=[*result.failures, *section_failures])
    if "json" in formats:
        rendered["json"] = (out_dir / "audit.json", result.to_json())
    write_atomically({**{path: text for path, text in rendered.values()}, **(extra or {})})
    return result, {name: path for name, (path, _) in sorted(rendered.items())}


def _with_result_folder(result: AuditResult, out_dir: Path) -> AuditResult:
    """Record where the inputs' folder lies as seen from the result's own folder (``base_from_result``), so that
    ``audit verify`` of a copied or downloaded audit folder checks the copy's files, not the original's."""
    import dataclasses
    import os

    paths = result.provenance.paths
    base = paths.get("base_dir") if isinstance(paths, dict) else None
    if not base:
        return result
    relative = os.path.relpath(Path(base).resolve(), out_dir.resolve())
    return dataclasses.replace(
        result, provenance=dataclasses.replace(result.provenance, paths={**paths, "base_from_result": relative})
    )
