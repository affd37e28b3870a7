"""The tutorial notebook runs from top to bottom without an error.

``docs/tutorial.ipynb`` is executed with nbclient in a fresh kernel (the same engine as
``pytest --nbmake docs/tutorial.ipynb``), from the ``docs/`` directory as a reader would open it.
It runs short scenarios and two batches of six replications: under a minute on two cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("matplotlib")


def test_tutorial_runs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": NOTEBOOK.parent}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    text = "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    assert "baseline_2024 (seed 1)" in text  # the summary was printed
    assert "allowed range" in text  # the out-of-range --set was refused, as the text says
