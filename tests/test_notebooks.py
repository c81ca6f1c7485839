"""The corpus-exploration notebook runs top to bottom (nbclient, the venv's python3 kernel) and draws its plots."""

from __future__ import annotations

from conftest import REPO

NOTEBOOK = REPO / "notebooks" / "01-corpus-exploration.ipynb"


def test_corpus_exploration_notebook_executes():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    assert sum(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs) >= 5
