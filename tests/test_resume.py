"""Runs that survive: checkpoints, ``asyncpc resume`` after SIGKILL (bit-identical to an
uninterrupted run, on either runtime), divergence reports, resource limits."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from asyncpc.cli import main

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"
DIGITS = ROOT / "scenarios" / "digits.toml"
# XOR, 164 presentations; a trace of a few neurons, every 3rd message (the every-k counter
# crosses checkpoints); a checkpoint every 8 presentations
LONG = ["data.epochs=40", "output.checkpoint_every=8", "output.plots=false", "trace.enabled=true", "trace.every=3",
        'trace.neurons=["hidden1:0-3", "label"]', "trace.state_every=500"]
# XOR, 16 short presentations: quick enough for the actor runtime
SHORT = ["data.epochs=3", "data.present=20.0", "output.checkpoint_every=5", "output.plots=false",
         "trace.enabled=true", "trace.every=2", 'trace.neurons=["hidden1:2", "label"]']
WALL = {"wall_seconds", "runtime", "threads", "status"}


def argv(scenario, out, sets, *extra):
    a = ["run", str(scenario), "--out", str(out), "--quiet", *extra]
    for s in sets:
        a += ["--set", s]
    return a


def read(d):
    s = json.loads((d / "summary.json").read_text())
    return s, (d / "metrics.csv").read_text()


def assert_same_run(a, b, *, ignore=WALL):
    """Everything but wall time is identical: summary, metrics.csv, final state, trace."""
    from asyncpc import trace

    sa, ma = read(a)
    sb, mb = read(b)
    assert sb["status"] == "completed"
    assert {k: v for k, v in sa.items() if k not in ignore} == {k: v for k, v in sb.items() if k not in ignore}
    assert ma == mb
    ea, eb = (list(csv.DictReader(open(d / "epochs.csv"))) for d in (a, b))
    assert len(ea) > 0 and [{k: v for k, v in r.items() if k != "wall_seconds"} for r in ea] == \
        [{k: v for k, v in r.items() if k != "wall_seconds"} for r in eb]
    fa, fb = np.load(a / "final_state.npz"), np.load(b / "final_state.npz")
    for k in ("w", "s", "bias", "t", "src", "dst", "node_ids"):
        assert np.array_equal(fa[k], fb[k]), k
    ta, tb = trace.load(a), trace.load(b)
    assert ta.messages.num_rows > 0 and ta.messages.equals(tb.messages)
    assert ta.states.equals(tb.states)
    for k in ("rows", "state_rows", "truncated"):
        assert ta.meta[k] == tb.meta[k]
    assert not (b / "checkpoint").exists()  # a completed run drops its checkpoint


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run of LONG."""
    d = tmp_path_factory.mktemp("ref") / "run"
    assert main(argv(XOR, d, LONG, "--threads", "1")) == 0
    return d


def test_sigkilled_run_resumes_bit_identical(tmp_path, reference):
    d = tmp_path / "killed"
    cmd = [sys.executable, "-m", "asyncpc", *argv(XOR, d, LONG, "--threads", "1")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ck = d / "checkpoint" / "checkpoint.npz"
    deadline = time.time() + 40
    while not ck.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.005)
    time.sleep(0.3)  # let it write past the checkpoint: metrics rows, maybe trace parts
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    man = json.loads((d / "manifest.json").read_text())
    assert man["status"] == "running", "the run ended before it could be killed"
    # what a run killed later would leave too: rows and a trace part after the checkpoint
    with open(d / "metrics.csv", "a") as f:
        f.write("999,train,0,0,0,0,,1,1,half a ro")
    parts_dir = d / "trace" / json.loads((d / "trace" / "meta.json").read_text())["storage"]
    parts = sorted(parts_dir.glob("part-*.parquet"))
    shutil.copy(parts[0], parts_dir / "part-00999.parquet")

    assert main(["resume", str(d), "--quiet", "--threads", "1"]) == 0
    assert_same_run(reference, d)
    man = json.loads((d / "manifest.json").read_text())
    assert man["status"] == "completed" and len(man["resumed"]) == 1
    assert main(["resume", str(d), "--quiet"]) == 2  # completed: nothing to resume


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGUSR1"])
def test_sigterm_checkpoints_and_resumes_bit_identical(tmp_path, reference, sig):
    """What a scheduler sends before it kills a job: the run checkpoints its last finished
    chunk, says interrupted, exits 128 + the signal (143, 138), and resumes to the uninterrupted
    result. SIGUSR1 is what SLURM's --signal sends ahead of the time limit."""
    d = tmp_path / "term"
    cmd = [sys.executable, "-m", "asyncpc", *argv(XOR, d, LONG, "--threads", "1")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ck = d / "checkpoint" / "checkpoint.npz"
    deadline = time.time() + 40
    while not ck.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.005)
    first = np.load(ck)["info"]
    time.sleep(0.2)  # between checkpoints: the run stops at the end of the current chunk
    proc.send_signal(getattr(signal, sig))
    code = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    assert code == 128 + getattr(signal, sig), err
    assert f"interrupted ({sig})" in err and "Traceback" not in err
    man = json.loads((d / "manifest.json").read_text())
    assert man["status"] == "interrupted" and man["interrupted_by"] == sig, "the run ended before the signal"
    assert json.loads((d / "summary.json").read_text())["status"] == "interrupted"
    info = json.loads(str(np.load(ck)["info"]))
    assert info["presentations"] >= json.loads(str(first))["presentations"]
    assert main(["resume", str(d), "--quiet", "--threads", "1"]) == 0
    assert_same_run(reference, d)


def test_a_signal_that_numba_wraps_still_stops_the_run_cleanly(tmp_path, monkeypatch, short_ref):
    """A signal arriving while Numba loads a cached function at its first call reaches the
    run as a SystemError whose cause is the signal's exception (seen once in CI): it still
    stops the run with a checkpoint and the signal's exit status, and the run resumes."""
    import asyncpc.engine as eng
    from asyncpc.cli._signals import Interrupted

    real, calls = eng.run, []

    def run(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            try:
                raise Interrupted(signal.SIGTERM)
            except Interrupted as exc:
                raise SystemError("CPUDispatcher(<function f>) returned a result with an exception set") from exc
        return real(*a, **k)

    d = tmp_path / "w"
    with monkeypatch.context() as m:
        m.setattr(eng, "run", run)
        assert main(argv(XOR, d, SHORT, "--threads", "1", "--runtime", "engine")) == 128 + signal.SIGTERM
    man = json.loads((d / "manifest.json").read_text())
    assert man["status"] == "interrupted" and man["interrupted_by"] == "SIGTERM"
    assert main(["resume", str(d), "--quiet", "--threads", "1"]) == 0
    assert_same_run(short_ref, d)
    with monkeypatch.context() as m:  # a SystemError that is not a signal is a bug: it propagates
        m.setattr(eng, "run", lambda *a, **k: (_ for _ in ()).throw(SystemError("a bug")))
        with pytest.raises(SystemError, match="a bug"):
            main(argv(XOR, tmp_path / "b", SHORT, "--threads", "1", "--runtime", "engine"))


class Crash(BaseException):
    """A crash right after a checkpoint (as if the machine went down)."""


def crash_after_checkpoint(monkeypatch, n=1):
    from asyncpc.cli import _run

    real, calls = _run._write_checkpoint, []

    def write(*a, **k):
        real(*a, **k)
        calls.append(1)
        if len(calls) == n:
            raise Crash

    monkeypatch.setattr(_run, "_write_checkpoint", write)


@pytest.fixture(scope="module")
def short_ref(tmp_path_factory):
    """The uninterrupted run of SHORT (engine)."""
    d = tmp_path_factory.mktemp("short") / "run"
    assert main(argv(XOR, d, SHORT, "--threads", "1", "--runtime", "engine")) == 0
    return d


def test_a_checkpoint_in_rank_parts_resumes_as_the_whole_one(tmp_path, capsys, monkeypatch, short_ref):
    """What MPI ranks write (tests/test_mpi.py runs it for real): each rank's rows in a part
    of its own, rank 0's file the rest. Read back whole, it resumes the same run; a missing
    or overlapping part is refused in one line; the old parts go when a new checkpoint is in place."""
    from asyncpc.cli import _checkpoint as ckm
    from asyncpc.cli._checkpoint import read_checkpoint, write_checkpoint, write_part

    # every array of the state is a neuron's or a synapse's row: a new one must say which
    assert set(ckm._NEURON_ROWS + ckm._EDGE_ROWS) == {f for f in ckm._NET_FIELDS if f not in ckm._SCALARS}

    d = tmp_path / "r"
    with monkeypatch.context() as m:
        crash_after_checkpoint(m)
        with pytest.raises(Crash):
            main(argv(XOR, d, SHORT, "--threads", "1", "--runtime", "engine"))
    whole = read_checkpoint(d)
    c = __import__("asyncpc.scenario", fromlist=["x"]).load_scenario(d / "scenario.toml").compile()
    state = whole.runtime_state(c)
    ids = [np.arange(c.n_neurons)[r::2] for r in range(2)]  # any split of the neurons, their in-edges with them
    row = np.repeat(np.arange(c.n_neurons), np.diff(c.in_ptr))
    chunk = int(whole.info["chunk"])
    for r in range(2):
        write_part(d, chunk, r, state, ids[r], np.flatnonzero(np.isin(row, ids[r])))
    info = {k: v for k, v in whole.info.items() if k not in ("format", "state", "metrics")}
    write_part(d, chunk - 1, 0, state, ids[0], np.zeros(0, np.int64))  # an older checkpoint's part
    write_checkpoint(d, state=state, metrics=(whole.metrics, whole.info["metrics"]), info=info, parts=2)
    ck = d / "checkpoint"
    assert sorted(p.name for p in ck.glob("part-*")) == [f"part-{chunk:08d}-0.npz", f"part-{chunk:08d}-1.npz"]
    with np.load(ck / "checkpoint.npz") as z:
        assert "state.w" not in z.files and "state.s" not in z.files
    again = read_checkpoint(d)
    assert sorted(again.state) == sorted(whole.state)
    for k, v in whole.state.items():
        assert np.array_equal(again.state[k], v) and again.state[k].dtype == v.dtype, k
    part1 = (ck / f"part-{chunk:08d}-1.npz").read_bytes()
    (ck / f"part-{chunk:08d}-1.npz").unlink()
    assert main(["resume", str(d), "--quiet"]) == 2
    assert "part-" in capsys.readouterr().err
    write_part(d, chunk, 1, state, ids[0], np.zeros(0, np.int64))  # rank 0's neurons twice, rank 1's never
    assert main(["resume", str(d), "--quiet"]) == 2
    assert "every neuron once" in capsys.readouterr().err
    (ck / f"part-{chunk:08d}-1.npz").write_bytes(part1)
    assert main(["resume", str(d), "--quiet", "--threads", "1"]) == 0
    assert_same_run(short_ref, d)


@pytest.mark.parametrize("first, then", [("engine", "actors"), ("actors", "engine")])
def test_resume_on_the_other_runtime_gives_the_same_run(tmp_path, monkeypatch, short_ref, first, then):
    ref = short_ref
    d = tmp_path / "crashed"
    with monkeypatch.context() as m:
        crash_after_checkpoint(m, n=2)
        with pytest.raises(Crash):
            main(argv(XOR, d, SHORT, "--threads", "1", "--runtime", first))
    s = json.loads((d / "summary.json").read_text())
    assert s["status"] == "failed" and 0 < s["presentations"] < 16
    assert main(["resume", str(d), "--quiet", "--runtime", then]) == 0
    assert_same_run(ref, d)
    assert json.loads((d / "summary.json").read_text())["runtime"] == then


def test_ctrl_c_leaves_a_checkpoint_at_the_last_finished_chunk(tmp_path, monkeypatch, short_ref):
    from asyncpc.cli import _run

    real, calls = _run.pick_runtime, []

    def pick(name):
        fn = real(name)

        def run(*a, **k):
            calls.append(1)
            if len(calls) == 8:  # Ctrl-C inside the 8th chunk: 7 presentations are done
                raise KeyboardInterrupt
            return fn(*a, **k)
        return run

    d = tmp_path / "int"
    with monkeypatch.context() as m:
        m.setattr(_run, "pick_runtime", pick)
        assert main(argv(XOR, d, SHORT, "--threads", "1")) == 130
    assert json.loads((d / "summary.json").read_text())["status"] == "interrupted"
    from asyncpc.cli._checkpoint import read_checkpoint

    assert read_checkpoint(d).info["presentations"] == 7  # not a multiple of checkpoint_every
    assert main(["resume", str(d), "--quiet", "--threads", "1"]) == 0
    assert_same_run(short_ref, d)


def test_recording_in_pieces_changes_nothing(tmp_path, monkeypatch, short_ref):
    from asyncpc.cli import _resources, _run

    monkeypatch.setattr(_resources, "RECORD_ROWS", 1_300)  # sends: ~50 steps per call, 4 per chunk
    real, calls = _run.pick_runtime, []
    monkeypatch.setattr(_run, "pick_runtime", lambda name: lambda *a, **k: calls.append(1) or real(name)(*a, **k))
    d = tmp_path / "pieces"
    assert main(argv(XOR, d, SHORT, "--threads", "1")) == 0
    assert len(calls) > 3 * 16
    assert_same_run(short_ref, d)


def test_laying_out_the_environment_in_pieces_changes_nothing(tmp_path, monkeypatch):
    """Chunks cut where a call would lay out more than ENV_ROWS environment messages (XOR:
    3 per presentation): more runtime calls, the same run."""
    from asyncpc.cli import _plan, _resources, _run

    monkeypatch.setattr(_plan, "N_CHUNKS", 2)  # chunks of several presentations (checkpoints, epochs cut too)
    real, calls = _run.pick_runtime, []
    monkeypatch.setattr(_run, "pick_runtime", lambda name: lambda *a, **k: calls.append(1) or real(name)(*a, **k))
    runs = []
    for rows in (_resources.ENV_ROWS, 4):
        monkeypatch.setattr(_resources, "ENV_ROWS", rows)
        calls.clear()
        d = tmp_path / f"env-{rows}"
        assert main(argv(XOR, d, SHORT, "--threads", "1")) == 0
        runs.append((d, len(calls)))
    (whole, n_whole), (cut, n_cut) = runs
    assert n_whole < 16 <= n_cut  # at most one presentation's messages per call
    assert_same_run(whole, cut)


def test_resume_refuses_clearly(tmp_path, capsys, reference, monkeypatch):
    def refused(path, needle):
        assert main(["resume", str(path), "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err

    refused(tmp_path / "nowhere", "no such run directory")
    refused(reference, "already completed")
    d = tmp_path / "r"
    with monkeypatch.context() as m:
        crash_after_checkpoint(m)
        with pytest.raises(Crash):
            main(argv(XOR, d, SHORT, "--threads", "1"))
    ck = d / "checkpoint" / "checkpoint.npz"
    good = ck.read_bytes()
    ck.write_bytes(good[: len(good) // 2])
    refused(d, "corrupt checkpoint")
    ck.write_bytes(good[:100] + bytes(200) + good[300:])
    refused(d, "corrupt checkpoint")
    ck.unlink()
    refused(d, "no checkpoint")
    ck.write_bytes(good)
    toml = (d / "scenario.toml").read_text()
    (d / "scenario.toml").write_text(toml.replace("eta = 0.02", "eta = 0.03"))
    refused(d, "changed since the checkpoint")
    (d / "scenario.toml").write_text(toml)
    assert main(["resume", str(d), "--quiet"]) == 0


def test_divergence_names_neuron_area_time_inputs_and_keeps_what_was_written(tmp_path, capsys):
    d = tmp_path / "div"
    assert main(argv(XOR, d, ["learning.eta=50.0", "data.epochs=20", "trace.enabled=true",
                              "output.checkpoint_every=2"], "--threads", "1")) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "diverged at t = " in err and " ms" in err and "neuron" in err and "(area " in err
    inputs = err.split("last inputs: [")[1].split("]")[0]
    assert "=" in inputs and "nan" not in inputs  # the first bad step: its inputs were still finite
    s = json.loads((d / "summary.json").read_text())
    assert s["status"] == "diverged"
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    assert len(rows) == s["presentations"] > 0
    from asyncpc import trace

    assert trace.load(d).messages.num_rows > 0
    assert main(["resume", str(d), "--quiet"]) == 2
    assert "diverged" in capsys.readouterr().err


def test_a_huge_trace_is_refused_up_front_with_the_estimate(tmp_path, capsys):
    d = tmp_path / "huge"
    # every message of digits: ~1.2e10 messages, stored as ~2e8 sends (~4 GB)
    code = main(argv(DIGITS, d, ["trace.enabled=true", "trace.max_rows=1000000000000"], "--max-disk", "2GB"))
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "this trace would write ~" in err and "GB" in err, err
    assert "trace.neurons" in err and "trace.max_rows" in err and "2 GB" in err
    assert not d.exists()  # refused before anything was written
    # the default max_rows keeps the same trace small: no refusal on that account
    assert main(argv(DIGITS, d, ["trace.enabled=true"], "--max-memory", "1MB")) == 2
    err = capsys.readouterr().err.strip()
    assert "of memory" in err and "1 MB" in err, err


def test_resource_estimates_and_sizes():
    from asyncpc.cli._resources import parse_size
    from asyncpc.errors import AsyncPCError

    assert parse_size("20GB", "x") == 20 * 10 ** 9 and parse_size("1.5GiB", "x") == int(1.5 * 2 ** 30)
    assert parse_size("123", "x") == 123 and parse_size(None, "x") is None
    with pytest.raises(AsyncPCError, match="--max-disk"):
        parse_size("lots", "--max-disk")
