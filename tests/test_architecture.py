"""The package boundaries of the design: light imports, one-way dependencies."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_packages_loads_no_heavy_library():
    code = (
        "import sys, audit, explainers, reports; "
        "print(sorted(m for m in ('torch', 'shap', 'captum', 'transformers', 'lime', 'fairlearn') "
        "if m in sys.modules))"
    )
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


def test_explainers_are_the_bottom_layer_and_import_nothing_of_audit():
    """Errors, the registry, the model protocols and the backends live in explainers, which imports nothing of
    audit or reports, not even inside a function."""
    imported = _imported_packages("explainers")
    assert "audit" not in imported and "reports" not in imported


def _module_graph(*, lazy: bool = False) -> dict[str, set[str]]:
    """Imports between our modules: module-level ones, and with ``lazy`` those inside functions too."""
    graph: dict[str, set[str]] = {}
    for package in ("audit", "explainers", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            edges = set()
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree) if lazy else tree.body:
                modules = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules = [node.module]
                edges.update(m for m in modules if m.split(".")[0] in ("audit", "explainers", "reports"))
            graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        if node in done:
            return
        if node in visiting:
            cycles.append(" -> ".join(trail[trail.index(node) :] + [node]))
            return
        visiting.add(node)
        for target in sorted(graph.get(node, ())):
            if target in graph and target != node.rsplit(".", 1)[0]:
                visit(target, trail + [node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    return cycles


def test_no_import_cycles_at_module_level():
    assert not _cycles(_module_graph())


def test_no_import_cycle_hides_inside_a_function():
    """A lazy import may defer a heavy library, never close a loop between our own modules. The one exception is
    documented in pyproject.toml: the result's notebook hooks (``_repr_html_``, ``figures``, ``explore``) render
    through reports, which reads results."""
    graph = _module_graph(lazy=True)
    graph["audit.result._result"] = {m for m in graph["audit.result._result"] if m.split(".")[0] != "reports"}
    assert not _cycles(graph)


def test_no_class_is_built_at_run_time_into_the_module_namespace():
    """Real classes, not ``type(name, bases, namespace)`` or assignments into ``globals()``."""
    built = []
    for package in ("audit", "explainers", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) in ("type", "globals")
                    and (node.func.id == "globals" or len(node.args) == 3)
                ):
                    built.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not built, built


def test_import_contracts_of_the_architecture_hold():
    """The layers of docs/architecture.md, as import-linter contracts in pyproject.toml (module-level and lazy
    imports alike; the only exception, the result's notebook hooks, is listed there)."""
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(linter), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_our_code_raises_the_documented_errors_not_bare_builtins():
    """Errors meant for users come from the tree in explainers/_errors.py (a bare TypeError is left only for
    programming errors); a bare ValueError, KeyError or RuntimeError would bypass the CLI's exit codes."""
    bare = []
    for package in ("audit", "explainers", "reports"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Raise)
                    and isinstance(node.exc, ast.Call)
                    and getattr(node.exc.func, "id", None)
                    in ("ValueError", "KeyError", "RuntimeError", "Exception", "OSError")
                ):
                    bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bare, bare


def test_every_third_party_import_is_a_declared_dependency():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(d for group in project["optional-dependencies"].values() for d in group)]
    names = {
        d.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower().replace("-", "_") for d in declared
    }
    distribution_of = {"sklearn": "scikit_learn", "IPython": "ipython"}  # import names that differ
    standard = set(sys.stdlib_module_names)
    ours = {"audit", "explainers", "reports"}
    undeclared = set()
    for package in ours:
        for module in _imported_packages(package):
            if (
                module not in standard
                and module not in ours
                and distribution_of.get(module, module).lower() not in names
            ):
                undeclared.add(module)
    assert not undeclared, f"imported but not declared in pyproject.toml: {sorted(undeclared)}"


def test_ruff_finds_nothing():
    """Lint (pyflakes and pycodestyle: unused and undefined names, 120-character lines) over everything, notebooks
    included, as configured in pyproject.toml: a bare `ruff check .` from the root runs the same check."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_format_leaves_every_file_as_it_is():
    """One formatting (ruff format, 120 columns, configured in pyproject.toml): `ruff format .` reformats
    nothing. The one-time reformat is listed in .git-blame-ignore-revs."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_mypy_finds_nothing():
    """Strict typing of the result types, the fairness engine and the explainers' public interface, as configured
    in pyproject.toml ([tool.mypy]: a bare `mypy` from the repository root checks the same files)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Success: no issues found" in done.stdout
