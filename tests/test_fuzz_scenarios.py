"""The scenario schema under extremes (issue 25): the CI subset of tools/fuzz_scenarios.py,
and the tool itself in its --smoke mode.

Every shipped scenario is a base; each case pushes keys to extreme numbers or swaps their
types; ``asyncpc validate`` (and a tiny ``asyncpc run`` where cheap) must exit 0, or 2 with
one line, and nothing may escape the CLI. The long run (>= 10,000 cases) is the tool's:
``python tools/fuzz_scenarios.py --cases 10000`` (docs/robustness.md has its figures).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "fuzz_scenarios.py"


@pytest.fixture(scope="module")
def fz():
    sys.path.insert(0, str(TOOL.parent))
    try:
        import fuzz_scenarios
    finally:
        sys.path.pop(0)
    return fuzz_scenarios


def test_ci_subset_of_extreme_scenarios_never_tracebacks(fz, tmp_path, monkeypatch):
    """~25 s: systematic single-key extremes and random combinations, validate and tiny runs."""
    monkeypatch.setenv("ASYNCPC_MAX_MEMORY", "2GB")
    monkeypatch.setenv("ASYNCPC_MAX_DISK", "1GB")
    rep = fz.fuzz(400, seed=25, time_limit=25, progress=False, work=tmp_path)
    assert rep["findings"] == {}, rep["findings"]
    assert rep["cases"] >= 40, rep  # a slow machine still tries a fair number
    assert rep["outcomes"].get("validate 0", 0) > 0 and rep["outcomes"].get("validate 2", 0) > 0, rep


def test_generator_covers_every_key_and_every_extreme(fz, tmp_path):
    bases = fz.load_bases(tmp_path)
    names = {b.name for b in bases}
    shipped = {f.stem for f in (ROOT / "scenarios").glob("*.toml")}
    assert shipped <= names and {s + "+resolved" for s in shipped} <= names and "xor_graphml" in names
    pool = fz.systematic_cases(bases)
    resolved = next(b for b in bases if b.name == "digits+resolved")
    keys = {fz._path(p) for p in fz.leaves(resolved.raw)}
    hit = {fz._path(c.mutations[0][1]) for c in pool if c.base == "digits+resolved"}
    assert keys == hit  # every key of the resolved scenario (every default filled in) is changed
    values = {repr(c.mutations[0][2]) for c in pool if fz._path(c.mutations[0][1]) == "data.epochs"}
    for v in (float("nan"), float("inf"), -0.0, 5e-324, 2**31, 2**63, fz._HUGE, "text", True, [], {}):
        assert repr(v) in values


def test_toml_text_of_extremes_reads_back(fz):
    import tomllib

    for v in fz.EXTREMES + fz.SWAPS:
        if v == fz._HUGE:
            continue
        back = tomllib.loads("v = " + fz.toml_value(v))["v"]
        assert back == v or (math.isnan(v) and math.isnan(back)), v


def test_tool_smoke_mode():
    """``tools/fuzz_scenarios.py --smoke``: a few dozen cases end to end, exit 0, a report."""
    res = subprocess.run([sys.executable, str(TOOL), "--smoke"], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 cases in" in res.stdout and "0 distinct findings" in res.stdout, res.stdout
