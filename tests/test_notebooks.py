"""The notebooks run top to bottom with nbclient on this project's own kernel (the Python running the tests),
and are kept stripped of outputs in git."""

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs every notebook in a kernel: left out of `make test-fast`

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_the_five_walkthroughs():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05"]


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory):
    """A kernel spec pointing at this interpreter, so the notebooks import this checkout's packages."""
    from jupyter_client.kernelspec import KernelSpecManager

    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / "kernels" / "audit-toolkit"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "audit-toolkit",
                "language": "python",
            }
        )
    )
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_and_is_stripped(path, tmp_path, kernel_specs):
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells and all(not c.outputs and c.execution_count is None for c in code_cells)
    # an IPC transport: the kernel talks over local sockets, no TCP port at all
    manager = KernelManager(
        kernel_name="audit-toolkit",
        kernel_spec_manager=kernel_specs,
        transport="ipc",
        connection_file=str(tmp_path / "kernel.json"),
    )
    client = NotebookClient(notebook, km=manager, timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert all(c.execution_count for c in notebook.cells if c.cell_type == "code")
