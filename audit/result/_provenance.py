"""Where an audit came from: versions, hashes, seed, times, machine."""

from __future__ import annotations

import hashlib
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["sha256_file", "package_versions", "now_iso", "environment"]

_PACKAGES = (
    "audit-toolkit",
    "numpy",
    "pandas",
    "scikit-learn",
    "fairlearn",
    "shap",
    "torch",
    "transformers",
    "captum",
    "plotly",
    "jinja2",
)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(folder: str | Path) -> str:
    """One digest for a model directory: its files' relative paths and contents, in sorted order."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder``'s git repository (the audited project), or None."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "python": sys.version.split()[0]}


def recorded_paths(paths: dict[str, str | None], config_path: str | None) -> dict[str, str | None]:
    """Input paths as the record keeps them: relative to the config file's folder (``base_dir``, absolute)
    when they lie inside it, else absolute, so that ``audit verify`` finds them from any working directory."""
    import os

    base = Path(config_path).resolve().parent if config_path else Path.cwd().resolve()
    recorded: dict[str, str | None] = {"base_dir": str(base)}
    for name, path in paths.items():
        if path is None:
            recorded[name] = None
            continue
        absolute = Path(path).resolve()
        inside = os.path.commonpath([str(absolute), str(base)]) == str(base)
        recorded[name] = os.path.relpath(absolute, base) if inside else str(absolute)
    return recorded


def resolve_recorded_path(path: str, paths: dict[str, Any], result_path: str | Path | None = None) -> tuple[Path, str]:
    """A recorded input path and where it was found. A relative path is looked for first from the result's own
    folder (``base_from_result``: an audit folder copied or downloaded as a CI artifact carries its inputs with it),
    then in the record's ``base_dir`` (the config's folder when the audit ran); an absolute one is as recorded."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate, "the absolute path the record holds"
    tried: list[tuple[Path, str]] = []
    if result_path is not None:
        own = Path(result_path).resolve().parent
        if paths.get("base_from_result"):
            tried.append((own / paths["base_from_result"] / candidate, "beside the result, as the record places it"))
        else:
            tried.append((own / candidate, "in the result's own folder"))
    if paths.get("base_dir"):
        tried.append(
            (
                Path(paths["base_dir"]) / candidate,
                "in the folder where the audit ran (not beside the result)"
                if result_path is not None
                else "in the folder where the audit ran",
            )
        )
    else:
        tried.append((candidate, "relative to the working directory"))
    for found, where in tried:
        if found.exists():
            return found, where
    return tried[0]
