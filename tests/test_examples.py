"""The notebooks in examples/ run from top to bottom (their code cells, in order, in one
namespace: what a reader gets from "Run all"), without Jupyter installed."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def code_cells(path):
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert not c.get("outputs"), f"{path.name}: commit notebooks without outputs"
            yield "".join(c["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' temporary run directories
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ns = {"__name__": "__main__"}
    for i, src in enumerate(code_cells(path)):
        try:
            exec(compile(src, f"{path.name}[cell {i}]", "exec"), ns)
        except Exception as exc:
            raise AssertionError(f"{path.name}, code cell {i} failed: {type(exc).__name__}: {exc}") from exc
    plt.close("all")


def test_there_are_two_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"xor.ipynb", "trace_switch.ipynb"}
    assert os.path.exists(ROOT / "examples" / "README.md")
