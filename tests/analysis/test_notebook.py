"""notebooks/analyze_checkpoint.ipynb: stored without outputs, and it runs on real runs."""

import nbformat
import pytest
from helpers import REPO
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

NOTEBOOK = REPO / "notebooks" / "analyze_checkpoint.ipynb"


def parameters_position(notebook) -> int:
    tagged = [
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1, f"one cell must be tagged 'parameters', found {tagged}"
    return tagged[0]


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"cells {dirty} have outputs or execution counts: clear them to commit"
    source = notebook.cells[parameters_position(notebook)].source
    assert 'RUN = ""' in source and "COMPARE = []" in source


@pytest.mark.slow
def test_notebook_analyses_a_run_and_compares_a_sweep(trained_sweep, tmp_path, monkeypatch):
    # a python3 kernel of this interpreter, whatever kernels the machine has installed
    write_kernel_spec(tmp_path / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    injected = nbformat.v4.new_code_cell(
        f"RUN = {str(trained_sweep / '0')!r}\nCOMPARE = [{str(trained_sweep)!r}]\n"
        'DATA = {"num_workers": 0}\nNUM_WORST = 4'
    )
    notebook.cells.insert(parameters_position(notebook) + 1, injected)
    NotebookClient(
        notebook, kernel_name="python3", timeout=600,
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    ).execute()  # raises CellExecutionError, with the cell's traceback, if a cell fails

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert f"sweep/0: {trained_sweep / '0' / 'checkpoints'}" in text  # the run it loaded
    assert "val/PCK@0.05" in text and "right_ankle" in text  # metrics and per-keypoint table
    assert "sweep/1" in text and "heatmap" in text  # the comparison of the sweep's jobs
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    # error distribution, worst cases, SimCC distributions, comparison
    assert len(figures) == 4, [o.get("data", {}).get("text/plain") for o in outputs]
