"""PDF export: the HTML report printed by headless Chromium (the charts are drawn first, then printed).

Chromium is found on the PATH (``chromium``, ``chromium-browser``, ``google-chrome``) or named by the
``AUDIT_CHROMIUM`` environment variable; it is never downloaded. It reads only the local file, and the
report's Content-Security-Policy forbids any request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from audit._errors import OutputError, ResourceError
from audit.result._result import AuditResult

__all__ = ["find_chromium", "print_html", "render_pdf"]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium executable to use, or None."""
    named = os.environ.get("AUDIT_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return next((path for name in _NAMES if (path := shutil.which(name))), None)


def render_pdf(result: AuditResult, path: str | Path, *, chromium: str | None = None, timeout: float = 180) -> Path:
    """Write the report of ``result`` as a PDF at ``path`` (written whole or not at all)."""
    from reports._html import render_html

    return print_html(render_html(result, for_print=True), path, chromium=chromium, timeout=timeout)


def print_html(document: str, path: str | Path, *, chromium: str | None = None, timeout: float = 180) -> Path:
    """Print an HTML document to a PDF at ``path`` with headless Chromium (written whole or not at all)."""
    executable = chromium or find_chromium()
    if executable is None:
        raise ResourceError(
            "PDF export needs Chromium and none was found (looked for "
            f"{', '.join(_NAMES)} on the PATH). Install it (Debian: apt-get install chromium) or set "
            "AUDIT_CHROMIUM to its path."
        )
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise OutputError(f"The folder of the PDF {str(path)!r} does not exist. Create it first.")
    with tempfile.TemporaryDirectory(prefix="audit-pdf-") as work:
        html = Path(work, "report.html")
        html.write_text(document, encoding="utf-8")
        pdf = Path(work, "report.pdf")
        command = [
            executable,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={Path(work, 'profile')}",
            "--no-pdf-header-footer",
            "--virtual-time-budget=20000",
            "--run-all-compositor-stages-before-draw",
            f"--print-to-pdf={pdf}",
            html.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ResourceError(f"Chromium did not finish printing the PDF within {timeout:g} s.") from None
        if completed.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
            raise ResourceError(
                f"Chromium could not print the PDF (exit {completed.returncode}): {completed.stderr.strip()[-500:]}"
            )
        staged = path.with_name(f".{path.name}.partial")
        shutil.copyfile(pdf, staged)
        os.replace(staged, path)
    return path
