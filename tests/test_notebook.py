"""notebooks/oscillator.ipynb runs clean (nbclient, a real Jupyter kernel) against the golden board."""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "oscillator.ipynb"


def test_notebook_runs_clean_on_the_golden_board(monkeypatch):
    monkeypatch.setenv("OSC_BOARD", "golden")  # the kernel inherits the environment: the bit-exact numpy board
    monkeypatch.setenv("OSC_N", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert "Warning" not in stderr and "Traceback" not in stderr, stderr
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 5  # grid, strip, r(t), timing, float | golden comparison
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "board golden" in text and "images (2, 3, 32, 32)" in text and "decode" in text
    assert os.environ["OSC_BOARD"] == "golden"
