"""The research notebooks: committed without outputs, paired with their percent-format .py, and executable.

Each notebook is executed with nbclient in a fresh kernel (the one of this
interpreter) from the ``notebooks/`` directory, so a broken notebook fails the
suite; each must run in under 60 s on a 2-core machine.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_cohort_overview", "02_adherence_and_improvement", "03_responders", "04_safety_and_load",
            "05_expected_recovery"]


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_the_notebooks_and_their_pairs_exist() -> None:
    assert ids(NOTEBOOKS) == EXPECTED
    for nb in NOTEBOOKS:
        assert nb.with_suffix(".py").is_file(), f"{nb.name} has no paired .py (run: jupytext --sync {nb})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them (jupytext --sync)"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_and_percent_script_are_in_sync(path: Path) -> None:
    ipynb = nbformat.read(path, as_version=4)
    script = jupytext.read(path.with_suffix(".py"))
    as_pairs = [(c.cell_type, c.source.strip()) for c in ipynb.cells]
    from_py = [(c.cell_type, c.source.strip()) for c in script.cells]
    assert as_pairs == from_py, f"{path.name} and its .py differ: run `jupytext --sync {path}`"
    assert ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_starts_with_a_story_and_a_parameters_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    params = nb.cells[1]
    assert params.cell_type == "code" and "parameters" in params.metadata.get("tags", [])
    assert "DATA_DIR" in params.source


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_executes_and_draws(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    # the per-cell timeout only guards against a hang; speed is measured, not asserted (a shared CI machine)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    print(f"\n{path.name}: executed in {time.perf_counter() - start:.0f} s")
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
