"""The elderly-care notebook runs top to bottom on a small demo."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "elderly_care.ipynb"


@pytest.mark.slow
def test_elderly_care_notebook_runs(demo_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDMAP_NOTEBOOK_DEMO", str(demo_dir))
    monkeypatch.setenv("GRIDMAP_NOTEBOOK_SCALE", "0.02")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "need types" in text and "候选站点" in text
