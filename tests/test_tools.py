"""Every script in tools/ runs in CI: a broken benchmark or a stale caller is a bug.

Each ``tools/*.py`` not starting with ``_`` (those are helper modules) runs as
``python tools/X.py --smoke`` in a subprocess, from a temporary working directory: it must
exit 0, print one JSON object as its last line that holds what ``CHECKS`` asks of that tool,
and leave the repository's committed outputs (``docs/img``) and ``runs/`` untouched. A tool
run by a dedicated test elsewhere is listed in ``COVERED`` with that test, which must exist
and run the tool (not only import it). A new tool that is in neither fails here: give it a
``--smoke`` mode (its real code path on tiny sizes, seconds after Numba has compiled) and a
check below.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = sorted(p.stem for p in (ROOT / "tools").glob("*.py") if not p.name.startswith("_"))

#: tool -> (test file, test function) that runs it
COVERED = {
    "api_reference": ("tests/test_api_reference.py", "test_the_reference_builds_and_the_api_section_is_complete"),
    "fuzz_scenarios": ("tests/test_fuzz_scenarios.py", "test_tool_smoke_mode"),
}


def _positive(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)


def _bench_actors(r, out):
    assert r["sizes"] == [10, 10, 3] and r["steps"] == 50
    assert _positive(r["sent"], r["ticks"], r["messages_per_s"], r["seconds"])


def _bench_build(r, out):
    assert [(row["path"], row["sizes"]) for row in r["rows"]] == [
        ("graph", [8, 12, 4]), ("blueprint", [8, 12, 4]), ("blueprint", [20, 30, 5])]
    assert r["rows"][0]["edges"] == r["rows"][1]["edges"] > 0
    assert all(row["compiled_bytes_per_synapse"] <= 40 for row in r["rows"])


def _bench_mpi(r, out):
    (row,) = r["rows"]
    assert row["sizes"] == [64, 16, 10] and _positive(row["threads1_s"], row["threads2_s"])
    if row["ranks2_s"] is None:  # no mpiexec here; .ci/run installs it (ASYNCPC_REQUIRE_MPI)
        assert os.environ.get("ASYNCPC_REQUIRE_MPI") != "1"
        return
    assert _positive(row["ranks2_s"], row["windows"], row["bytes_per_window"], row["exchange_us_per_window"])
    assert row["windows"] == row["steps"] // row["window_steps"] and 0 < row["cut_fraction"] < 1
    assert [m["ranks"] for m in r["model"]["rows"]] == [8, 64, 512]
    assert all(0 < m["efficiency"] <= 1 for m in r["model"]["rows"])


def _streams_study(r, out):
    assert set(r) == {"drift", "incremental", "fewshot"}
    assert set(r["drift"]) == {"labels", "traces"} and set(r["incremental"]) == {"no rehearsal"}
    assert set(r["fewshot"]) == {"1"}
    for name, study in r.items():
        for setting, res in study.items():
            if setting == "traces":
                assert res["labels"]["groups"] and np.asarray(res["labels"]["per_presentation"]).sum() > 0
                continue
            assert res["seeds"] == 1 and res["backprop_lr"] in (0.003, 0.01, 0.03) and res["asyncpc_rate"] == 1.0
            n = {"drift": 8, "incremental": 10, "fewshot": 1}[name]
            assert len(res["asyncpc"][0]["curve"]) == len(res["backprop"][0]["curve"]) == n
    mon = r["drift"]["labels"]["asyncpc"][0]["monitor"]
    assert mon[0] == r["drift"]["labels"]["backprop"][0]["monitor"][0] and len(mon[0]) == 8 * 60 // 120


def _bench_engine(r, out):
    assert _positive(r["learning_ratio_vs_dense"])  # part (d): the engine against the dense numpy oracle


def _bench_threads(r, out):
    assert [row["case"] for row in r] == ["xor", "digits [64, 16, 10]"]
    for row in r:
        assert _positive(row["edges"], row["steps"], row["t1_s"], row["t2_s"], row["speedup_2_threads"],
                         row["default_vs_1_thread"])
        assert row["default_threads"] == 1  # xor by its size, [64, 16, 10] too; and a CPU is busy (--busy 1)


def _bench_trace(r, out):
    assert r["steps"] == 500 and r["calls"] >= 2  # the CLI's chunk loop, more than one call
    assert _positive(r["messages"], r["sends"], r["traced_s"], r["writer_rows_per_s"], r["bytes_per_row"],
                     r["run_untraced_s"], r["run_traced_s"], r["run_rows"])
    assert set(r["targets_met"]) == {"traced_ratio", "hooks_overhead", "writer_rows_per_s"}


def _data_memory(r, out):
    assert (r["source"]["train"], r["source"]["features"]) == (12, 784)
    assert (r["scenario"]["train"], r["scenario"]["test"]) == (60, 20)
    scn = r["scenario"]
    assert _positive(scn["messages"], scn["presentations"], scn["schedule_mb"])
    assert scn["schedule_mb"] * 1e6 < scn["messages"] * 21 / 100  # frames, not every message laid out
    assert scn["presentations"] >= 80  # every training and test sample is presented


def _delay_study(r, out):
    assert r["b_over_a"] == pytest.approx(4.0, rel=1e-3)
    assert [row["loop_delay_ms"] for row in r["rates"]] == pytest.approx([3.0, 5.0, 7.0])
    for row in r["rates"]:  # the engine integrates the discrete recurrence exactly
        assert row["simulated"] == pytest.approx(row["discrete"], abs=2e-4)
    (onset,) = r["onsets"]
    assert onset["simulated_ms"] == pytest.approx(onset["discrete_ms"], abs=0.15)
    assert (out / "delay_loop.csv").stat().st_size and (out / "delay_loop.png").stat().st_size


def _delays_digits(r, out):
    assert r["points"]["delay"] == 1 and sum(r["points"].values()) == 1
    assert Path(r["figure"]).is_relative_to(out) and Path(r["figure"]).stat().st_size


def _slow_wires(r, out):
    assert r["points"] == {"label": 1, **{p: 0 for p in r["points"] if p != "label"}}
    assert {"plain", "echo", "echo_shipped"} <= set(r["points"])
    assert Path(r["figure"]).is_relative_to(out) and Path(r["figure"]).stat().st_size
    rows = list(csv.DictReader(open(out / "label" / "results.csv")))  # the zipped pair, not a product
    assert [(x["delays.forward"], x["data.label_delay"]) for x in rows] == [("0.5", "1.0")]


def _slow_wires_trace(r, out):
    assert (r["D_ms"], r["switches"], r["epochs"]) == (3.0, 1, 1)
    assert Path(r["figure"]) == out / "img" / "slow_wires_switch.png" and Path(r["figure"]).stat().st_size
    late, prompt = r["timings"]["label_delay_6ms"], r["timings"]["label_with_image"]
    for name, run in r["runs"].items():
        assert Path(run) == out / name and (Path(run) / "trace" / "states").is_dir()
    # the clamp reaches the label error neuron one step after it is applied (env delay 0.1 ms, partner 0.1 ms),
    # or 2 D = 6 ms later; the new image's evidence after the two forward delays (>= 2 D) either way
    assert prompt["clamp_seen"] < 1.0 and 6.0 <= late["clamp_seen"] < 7.0
    assert 2 * r["D_ms"] <= prompt["evidence_seen"] < 8.0 and 2 * r["D_ms"] <= late["evidence_seen"] < 8.0
    # while the evidence is on its way the prompt label's errors are large, the late label's small
    assert prompt["label_0_2D"] > 3 * late["label_0_2D"] > 0


def _learning_study(r, out):
    assert r["points"] == {"plain": 1}
    assert r["figures"] and all(Path(f).is_relative_to(out) and Path(f).stat().st_size for f in r["figures"])


def _stream_diagnosis(r, out):
    assert (r["train"], r["seeds"], r["epochs"]) == (100, 1, 1)
    assert list(r["test_accuracy"]) == ["stream", "reset", "late", "gate", "trace_gate", "backprop lr 0.01",
                                        "backprop lr 0.1"]
    assert all(0.0 <= v <= 1.0 for accs in r["test_accuracy"].values() for v in accs)


#: tool -> (extra arguments after --smoke, check of the last line's JSON); ``{out}`` is a
#: fresh temporary folder, also what the check gets
CHECKS = {
    "bench_actors": ([], _bench_actors),
    "bench_build": ([], _bench_build),
    "bench_engine": ([], _bench_engine),
    "bench_mpi": ([], _bench_mpi),
    "streams_study": ([], _streams_study),
    "bench_threads": (["--busy", "1"], _bench_threads),
    "bench_trace": ([], _bench_trace),
    "data_memory": ([], _data_memory),
    "delay_study": (["--out", "{out}"], _delay_study),
    "delays_digits": (["--out", "{out}"], _delays_digits),
    "learning_study": (["--out", "{out}"], _learning_study),
    "slow_wires": (["--out", "{out}"], _slow_wires),
    "slow_wires_trace": (["--out", "{out}"], _slow_wires_trace),
    "stream_diagnosis": ([], _stream_diagnosis),
}


def _snapshot() -> dict:
    """What a smoke run must not touch: the committed figures and the runs/ folder."""
    files = [*(ROOT / "docs" / "img").rglob("*"), *(ROOT / "runs").rglob("*")]
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file()} | {
        "runs/ exists": (ROOT / "runs").exists()}


def test_tools_are_discovered():
    assert {"bench_engine", "delays_digits", "stream_diagnosis"} <= set(TOOLS)
    assert not set(COVERED) & set(CHECKS)
    assert set(COVERED) | set(CHECKS) <= set(TOOLS), "an entry names a tool that no longer exists"


@pytest.mark.parametrize("tool", [t for t in TOOLS if t in COVERED])
def test_tool_covered_by_its_own_test(tool):
    path, name = COVERED[tool]
    tree = ast.parse((ROOT / path).read_text())
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    assert fn is not None, f"{tool}: {path}::{name} is gone; run the tool's --smoke here instead"
    src = ast.unparse(fn)
    assert "--smoke" in src or ".main(" in src, f"{path}::{name} must run tools/{tool}.py, not only import it"


@pytest.mark.parametrize("tool", [t for t in TOOLS if t not in COVERED])
def test_tool_smoke_mode(tool, tmp_path):
    assert tool in CHECKS, (f"tools/{tool}.py is not exercised by CI: give it a --smoke mode (seconds) and an "
                            f"entry in tests/test_tools.py CHECKS (or COVERED, naming the test that runs it)")
    extra, check = CHECKS[tool]
    out = tmp_path / "out"
    cwd = tmp_path / "cwd"  # relative paths a tool writes to land here, not in the repository
    cwd.mkdir()
    before = _snapshot()
    t = time.perf_counter()
    res = subprocess.run([sys.executable, str(ROOT / "tools" / f"{tool}.py"), "--smoke",
                          *(a.format(out=out) for a in extra)],
                         capture_output=True, text=True, timeout=600, cwd=cwd,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"})
    wall = time.perf_counter() - t
    log = f"--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}"
    assert res.returncode == 0, f"tools/{tool}.py --smoke exited {res.returncode} after {wall:.0f} s\n{log}"
    lines = res.stdout.strip().splitlines()
    assert lines, log
    try:
        last = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"tools/{tool}.py --smoke: the last line is not JSON\n{log}")
    check(last, out)
    assert _snapshot() == before, f"tools/{tool}.py --smoke wrote into docs/img or runs/"
    assert not any(cwd.iterdir()), f"tools/{tool}.py --smoke wrote into its working directory: {list(cwd.iterdir())}"
