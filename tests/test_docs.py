"""The README and the docs run as written: every Python block executes in a fresh interpreter, every TOML
block validates as a config or a policy, every `audit` command parses with the real CLI, and the result schema
documents every field a real result has (issue 24)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


PYTHON = [(path.name, i, block) for path in DOCS for i, block in enumerate(_blocks(path, "python"))]
TOML = [(path.name, i, block) for path in DOCS for i, block in enumerate(_blocks(path, "toml"))]
SHELL = [
    (path.name, line.split("#")[0].strip())
    for path in DOCS
    for block in _blocks(path, "sh")
    for line in block.splitlines()
    if line.strip().startswith("audit ")
]


@pytest.mark.parametrize("name, index, code", PYTHON, ids=[f"{n}-{i}" for n, i, _ in PYTHON])
def test_python_blocks_run_in_a_fresh_interpreter(name, index, code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, f"{name} block {index} failed:\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("name, index, text", TOML, ids=[f"{n}-{i}" for n, i, _ in TOML])
def test_toml_blocks_validate(name, index, text):
    from audit.config._settings import AuditConfig
    from audit.gate._policy import _parse_policy

    raw = tomllib.loads(text)
    if "data" in raw or "probes" in raw:
        AuditConfig.from_dict(raw)
    elif set(raw) & {
        "gaps",
        "slices",
        "mitigation",
        "quality",
        "explainers",
        "fairness",
        "ranking",
        "swaps",
        "recourse",
    }:
        AuditConfig.from_dict({"data": {"label": "y", "sensitive": ["s"]}, **raw})
    elif "rules" in raw:
        _parse_policy(raw, name=name, sha256="", source=name)
    elif "tool" in raw:
        _parse_policy(raw["tool"]["audit"], name=name, sha256="", source=name)
    elif "monitor" in raw:  # a monitor config (docs/monitoring.md)
        from audit.monitor._command import MonitorConfig

        MonitorConfig(**raw["monitor"])
    elif "sections" in raw:  # a dossier template (docs/dossiers.md)
        from audit.dossiers._build import _check

        _check(raw, f"{name} block {index}")
    elif set(raw) <= {"allow_failures", "diff_tolerance"}:  # a policy's top-level setting on its own
        _parse_policy(
            {**raw, "rules": [{"metric": "accuracy", "where": "overall", "compare": ">=", "threshold": 0}]},
            name=name,
            sha256="",
            source=name,
        )
    else:  # a fragment of a rule (docs/policy.md shows one rule's keys)
        _parse_policy({"rules": raw.get("rules") or [raw]}, name=name, sha256="", source=name)


@pytest.mark.parametrize("name, command", SHELL, ids=[c for _, c in SHELL])
def test_every_documented_command_parses(name, command):
    from audit.cli import _parser

    words = [w for w in shlex.split(command)[1:] if w != "|"]
    words = words[: words.index("head")] if "head" in words else words
    _parser().parse_args(words)


def test_the_result_schema_documents_every_field(tmp_path):
    import pandas as pd

    from audit import AuditConfig, DataConfig, run_audit

    frame = pd.DataFrame({"g": ["a", "b"] * 50, "y": [0, 1, 1, 0] * 25, "d": [0, 1] * 50})
    result = run_audit(AuditConfig(data=DataConfig(label="y", sensitive=("g",), prediction="d")), data=frame)
    schema = (ROOT / "docs" / "result-schema.md").read_text(encoding="utf-8")
    record = result.to_dict()
    missing = [
        f"{section}.{key}"
        for section in ("data", "model", "provenance")
        for key in record[section]
        if f"`{key}`" not in schema
    ]
    missing += [key for key in record if f"`{key}`" not in schema]
    assert not missing, f"fields a result has that docs/result-schema.md does not mention: {missing}"


PUBLIC_MODULES = ("audit", "audit.datasets", "explainers", "reports")
OURS = ("audit", "explainers", "reports")


def _documented_api() -> dict[str, list[str]]:
    """docs/api.md: module -> the names in the first column of its table."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    parts = re.split(r"^## `([a-z_.]+)`[ \t]*$", text, flags=re.M)
    return {
        parts[i]: re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", parts[i + 1], flags=re.M)
        for i in range(1, len(parts), 2)
    }


def test_the_api_page_lists_exactly_what_each_public_module_exports():
    import importlib

    documented = _documented_api()
    assert list(documented) == list(PUBLIC_MODULES)
    for name, listed in documented.items():
        module = importlib.import_module(name)
        assert len(listed) == len(set(listed)), f"{name}: listed twice in docs/api.md"
        assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ repeats a name"
        missing = sorted(set(module.__all__) - set(listed))
        extra = sorted(set(listed) - set(module.__all__))
        assert not missing and not extra, (
            f"{name}: exported but not in docs/api.md {missing}; documented but not exported {extra}"
        )
        assert all(hasattr(module, n) for n in module.__all__)


def _python_sources() -> list[tuple[str, str]]:
    import json

    sources = [(f"{path.name}#{i}", block) for path in DOCS for i, block in enumerate(_blocks(path, "python"))]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources += [(f"{path.name}#{i}", "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    return sources


def test_readme_docs_and_notebooks_use_the_public_api_only():
    import ast
    import importlib

    private = re.compile(r"\b(audit|explainers|reports)\._[a-z]")
    offenders = []
    for path in [*DOCS, *sorted((ROOT / "notebooks").glob("*.ipynb"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if private.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()[:80]}")
    for where, code in _python_sources():
        code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("!", "%")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                modules = [(alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [(node.module, [alias.name for alias in node.names])]
            else:
                continue
            for module, names in modules:
                if module.split(".")[0] not in OURS:
                    continue
                if module not in PUBLIC_MODULES:
                    offenders.append(f"{where}: imports {module}, not a public module (docs/api.md)")
                    continue
                exported = set(importlib.import_module(module).__all__)
                offenders += [
                    f"{where}: {module}.{n} is not public (docs/api.md)"
                    for n in names
                    if n != "*" and n not in exported
                ]
    assert not offenders, offenders
