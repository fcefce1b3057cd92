"""The notebooks stay runnable: their code cells run in order (plain Python; outputs are stripped in git)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_and_is_stripped(path, tmp_path, monkeypatch):
    notebook = json.loads(path.read_text())
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells and all(not c["outputs"] and c["execution_count"] is None for c in code_cells)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for cell in code_cells:
        exec(compile("".join(cell["source"]), f"{path.name}:{cell['id']}", "exec"), namespace)
