"""The package boundaries of the design: light imports, one-way dependencies."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_packages_loads_no_heavy_library():
    code = ("import sys, audit, explainers, reports; "
            "print(sorted(m for m in ('torch', 'shap', 'captum', 'transformers', 'lime', 'fairlearn') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _imported_packages(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_reports_read_results_and_never_touch_explainers_or_models():
    imported = _imported_packages("reports")
    assert "explainers" not in imported and "torch" not in imported and "shap" not in imported


def test_explainers_do_not_render():
    assert "reports" not in _imported_packages("explainers")
