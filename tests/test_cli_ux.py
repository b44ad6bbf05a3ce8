"""The command line as people use it: progress off a terminal, --version, --format,
export by extension, shipped scenarios, refusals, corrupt traces, figure formats,
the default thread count."""

import csv
import io
import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from asyncpc.cli import main

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"
QUICK = ["--set", "data.epochs=3", "--set", "data.present=20.0", "--set", "data.test_every_epoch=true"]


def one_line_error(capsys, needle, code_seen, code=2):
    assert code_seen == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err
    return err


def test_progress_off_a_terminal_is_one_line_per_epoch_on_stderr(tmp_path):
    cmd = [sys.executable, "-m", "asyncpc", "run", str(XOR), "--out", str(tmp_path / "r"), *QUICK]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)  # stderr is a pipe, not a terminal
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("asyncpc: epoch")]
    assert len(lines) == 3, out.stderr
    for k, ln in enumerate(lines, 1):
        assert ln.startswith(f"asyncpc: epoch {k}/3 done  presentations {8 * k}/24  t {160 * k}/480 ms")
        for part in ("test ", "F ", " msg/s", "elapsed ", "ETA "):
            assert part in ln, ln
    assert "status" in out.stdout and "completed" in out.stdout  # the final table, on stdout
    assert "\x1b[" not in out.stderr + out.stdout  # no terminal control codes in a file
    rows = list(csv.DictReader(open(tmp_path / "r" / "epochs.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and rows[-1]["presentations"] == "24"
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [float(r["test_accuracy"]) for r in rows] == summary["test_accuracy_by_epoch"]
    assert int(rows[-1]["messages_sent"]) == summary["messages_sent"]
    quiet = subprocess.run([*cmd[:-len(QUICK)], *QUICK, "--progress", "none", "--overwrite"], capture_output=True,
                           text=True, cwd=ROOT)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_heartbeat_lines_between_epochs(caplog):
    """Inside a long epoch, a line at most every HEARTBEAT_S seconds (here 0)."""
    from asyncpc.cli._progress import Progress

    class M:  # the little a progress report reads from the metrics accumulator
        epoch = np.zeros(10, int)
        energy = [np.array([0.5, 0.25])]
        _done = 3

        @staticmethod
        def running_accuracy():
            return None

    p = Progress(total_steps=1000, n_samples=10, n_epochs=2, h=0.1, mode="lines", heartbeat=0.0)
    with caplog.at_level(logging.INFO, logger="asyncpc"), p:
        p.update(300, M, 12345)
        p.update(400, M, 23456)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  presentations 3/10  t 30/100 ms  F 0.75")
    p = Progress(total_steps=1000, n_samples=10, n_epochs=2, h=0.1, mode="lines")  # 30 s: no line yet
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="asyncpc"), p:
        p.update(300, M, 12345)
    assert not caplog.records


def test_version_and_exit_status_help(capsys):
    import asyncpc

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"asyncpc {asyncpc.__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "3 the run diverged" in capsys.readouterr().out


def test_formats_of_validate_describe_and_trace(tmp_path, capsys):
    assert main(["validate", str(XOR), "--format", "json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v[0]["ok"] is True and v[0]["edges"] == 130
    assert main(["validate", "xor", "--format", "csv"]) == 0  # a shipped scenario by name
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["neurons"] == "36"
    assert main(["describe", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in d} == {"value", "error"} and any(r["name"] == "tau" for r in d)
    assert main(["describe", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("kind,section,name,")
    run = tmp_path / "t"
    assert main(["run", str(XOR), "--out", str(run), "--quiet", "--set", "data.epochs=1", "--set",
                 "trace.enabled=true", "--set", 'trace.neurons=["hidden1:0", "label"]', "--set",
                 "trace.to=50.0"]) == 0
    assert main(["trace", "info", str(run), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] > 0 and "predict" in info["by_role"]
    assert main(["trace", "info", str(run), "--format", "csv"]) == 0
    assert "by_role" in capsys.readouterr().out
    assert main(["trace", "show", str(run), "--limit", "5", "--format", "json"]) == 0
    msgs = json.loads(capsys.readouterr().out)
    assert len(msgs) == 5 and isinstance(msgs[0]["value"], float)
    assert main(["trace", "show", str(run), "--limit", "5", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 6
    # a table off a terminal is as wide as its content: nothing cut to 80 columns
    assert main(["trace", "show", str(run), "--limit", "40"]) == 0
    text = capsys.readouterr().out
    assert "…" not in text and "hidden1:0ε" in text
    assert main(["trace", "show", str(run), "--neuron", "label:0", "--from", "99999ms"]) == 0
    assert "no messages match" in capsys.readouterr().out


def test_corrupt_or_truncated_trace_files_are_one_line_errors(tmp_path, capsys):
    run = tmp_path / "t"
    assert main(["run", str(XOR), "--out", str(run), "--quiet", "--set", "data.epochs=1", "--set",
                 "trace.enabled=true", "--set", "trace.to=50.0", "--set", "trace.state_every=10"]) == 0
    meta = json.loads((run / "trace" / "meta.json").read_text())
    part = next((run / "trace" / meta["storage"]).glob("part-*.parquet"))
    good = part.read_bytes()
    for damaged in (good[: len(good) // 2], good[:40] + bytes(len(good) - 80) + good[-40:]):
        part.write_bytes(damaged)
        for cmd in (["trace", "info", str(run)], ["trace", "show", str(run)]):
            one_line_error(capsys, "corrupt or truncated trace file", main(cmd))
    part.write_bytes(good)
    st = next((run / "trace" / "states").glob("part-*.parquet"))
    st.write_bytes(st.read_bytes()[:30])
    one_line_error(capsys, str(st), main(["trace", "info", str(run)]))
    (run / "trace" / "meta.json").write_text('{"storage": "sen')
    one_line_error(capsys, "meta.json: corrupt or truncated", main(["trace", "show", str(run)]))


def test_graph_export_by_extension(tmp_path, capsys):
    import networkx as nx

    for ext, read in ((".graphml", nx.read_graphml), (".gexf", nx.read_gexf),
                      (".json", lambda p: nx.node_link_graph(json.load(open(p)), edges="edges"))):
        out = tmp_path / f"net{ext}"
        assert main(["graph", str(XOR), "--export", str(out)]) == 0
        g = read(out)
        assert g.number_of_nodes() == 36 and g.number_of_edges() == 130, ext
    capsys.readouterr()
    one_line_error(capsys, "unknown export format '.dot'", main(["graph", str(XOR), "--export",
                                                                 str(tmp_path / "net.dot")]))
    assert not (tmp_path / "net.dot").exists()


def test_shipped_scenarios_list_and_copy(tmp_path, capsys):
    assert main(["scenarios", "list", "--format", "json"]) == 0
    names = {r["name"]: r["description"] for r in json.loads(capsys.readouterr().out)}
    assert {"xor", "digits", "springs"} <= set(names) and names["xor"].startswith("XOR")
    assert main(["scenarios", "copy", "xor", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "xor.toml").read_text() == XOR.read_text()
    capsys.readouterr()
    one_line_error(capsys, "exists; pass --overwrite", main(["scenarios", "copy", "xor", str(tmp_path / "s")]))
    assert main(["scenarios", "copy", "all", str(tmp_path / "s"), "--overwrite"]) == 0
    assert len(list((tmp_path / "s").glob("*.toml"))) == len(list((ROOT / "scenarios").glob("*.toml")))
    capsys.readouterr()
    one_line_error(capsys, "did you mean 'xor'", main(["scenarios", "copy", "xxor", str(tmp_path)]))
    # the README's command where no scenarios/ directory is: what to do instead
    err = one_line_error(capsys, "asyncpc run digits", main(["validate", str(tmp_path / "nowhere" / "digits.toml")]))
    assert "scenarios copy digits" in err


def test_a_finished_run_is_not_overwritten_without_overwrite(tmp_path, capsys):
    argv = ["run", str(XOR), "--out", str(tmp_path / "r"), "--quiet", "--set", "data.epochs=1",
            "--set", "data.present=10.0"]
    assert main(argv) == 0
    before = (tmp_path / "r" / "summary.json").read_text()
    one_line_error(capsys, "holds a finished run (status completed)", main(argv))
    assert (tmp_path / "r" / "summary.json").read_text() == before
    assert main([*argv, "--overwrite", "--seed", "1"]) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["seed"] == 1


def test_flags_beat_set_beats_the_file(tmp_path):
    """Precedence: defaults < file < --set (in order) < --seed/--runtime/--threads."""
    from asyncpc.cli import _load, _parser

    args = _parser().parse_args(["run", str(XOR), "--set", "run.seed=5", "--set", "run.seed=6", "--seed", "7",
                                 "--set", "run.threads=2", "--threads", "1"])
    scn = _load(args)
    assert scn.run.seed == 7 and scn.run.threads == 1
    args = _parser().parse_args(["run", str(XOR), "--set", "run.seed=5", "--set", "run.seed=6"])
    assert _load(args).run.seed == 6


def test_plot_format(tmp_path):
    assert main(["run", str(ROOT / "scenarios" / "springs.toml"), "--out", str(tmp_path / "s"), "--quiet",
                 "--set", 'output.plot_format="svg"']) == 0
    names = sorted(p.name for p in (tmp_path / "s" / "plots").iterdir())
    assert names == ["cost.svg", "energy.svg", "settling.svg"]
    assert (tmp_path / "s" / "plots" / "settling.svg").read_text().lstrip().startswith("<?xml")


def test_default_threads_follow_affinity_and_network_size(tmp_path):
    import os

    from asyncpc.cli._threads import EDGES_PER_THREAD, default_threads, usable_cpus

    assert usable_cpus() == len(os.sched_getaffinity(0))
    assert default_threads(130, cpus=8) == 1                    # xor: a second thread only costs
    assert default_threads(EDGES_PER_THREAD, cpus=8) == 1
    assert default_threads(19_220, cpus=2) == 2 and default_threads(19_220, cpus=1) == 1
    assert default_threads(10 ** 6, cpus=4) == 4
    assert main(["run", str(XOR), "--out", str(tmp_path / "r"), "--quiet", "--set", "data.epochs=1",
                 "--set", "data.present=10.0"]) == 0
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["threads"] == 1


def test_the_thread_governor_gives_way_to_other_processes():
    from asyncpc.cli._threads import ThreadGovernor, busy_elsewhere

    # snapshots: (CPU-seconds busy on this process's CPUs, own CPU seconds, wall seconds)
    snaps = iter([(0.0, 0.0, 0.0), (2.0, 2.0, 1.0), (3.6, 2.6, 2.0), (3.61, 2.61, 2.01), (5.0, 3.6, 3.0),
                  (6.7, 4.7, 4.0)])
    g = ThreadGovernor(2, first_sample=0, snapshot=lambda: next(snaps))
    g.cpus = [0, 1]
    assert g.threads() == 2      # both CPUs busy, all of it ours
    assert g.threads() == 1      # 1.0 CPU busy elsewhere
    assert g.threads() == 1      # 10 ms: too short to tell, the last choice holds
    assert g.threads() == 2      # 0.4 elsewhere over the second since the last look: rounds to 0
    assert g.threads() == 1      # 0.6
    assert busy_elsewhere(None, (1.0, 0.0, 1.0)) is None
    assert ThreadGovernor(1, snapshot=lambda: None).threads() == 1


def test_a_governed_run_is_the_same_run_whatever_threads_each_chunk_gets(tmp_path, monkeypatch):
    from asyncpc.cli import _threads

    base = ["--quiet", "--set", "data.epochs=2", "--set", "data.present=10.0", "--set", "data.test_every_epoch=true"]
    assert main(["run", str(XOR), "--out", str(tmp_path / "one"), "--threads", "1", *base]) == 0
    picks = iter([2, 1, 2, 1, 2, 2, 1] * 100)
    seen = []
    monkeypatch.setattr(_threads, "default_threads", lambda n_edges, cpus=None: 2)
    monkeypatch.setattr(_threads.ThreadGovernor, "threads", lambda self: seen.append(next(picks)) or seen[-1])
    assert main(["run", str(XOR), "--out", str(tmp_path / "gov"), *base]) == 0
    assert len(set(seen)) == 2, seen  # the run had several chunks, on 1 and on 2 threads
    one, gov = (np.load(tmp_path / d / "final_state.npz") for d in ("one", "gov"))
    assert sorted(one.files) == sorted(gov.files)
    for k in one.files:
        assert np.array_equal(one[k], gov[k]), k
    s1, s2 = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "gov"))
    assert s1["test_accuracy_by_epoch"] == s2["test_accuracy_by_epoch"] and s1["final_energy"] == s2["final_energy"]


def test_sigusr1_and_sigterm_raise_interrupted_once():
    import os
    import signal

    from asyncpc.cli._signals import Interrupted, exit_code, stop_on_signals

    for sig, code in ((signal.SIGUSR1, 128 + signal.SIGUSR1), (signal.SIGTERM, 143)):
        with pytest.raises(Interrupted) as e, stop_on_signals():
            os.kill(os.getpid(), sig)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        assert exit_code(e.value) == code and isinstance(e.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored
    assert exit_code(KeyboardInterrupt()) == 130


def test_logging_is_left_as_found(tmp_path):
    log = logging.getLogger("asyncpc")
    before = (list(log.handlers), log.level, log.propagate)
    assert main(["validate", str(XOR)]) == 0
    assert (list(log.handlers), log.level, log.propagate) == before


def test_no_bare_print_outside_the_command_line_modules():
    """Library code reports through the ``asyncpc`` logger; only the CLI prints its output."""
    allowed = {"cli/__init__.py", "engine/_warmup.py"}  # the engine is owned elsewhere (issue 23)
    offenders = []
    for p in (ROOT / "asyncpc").rglob("*.py"):
        rel = p.relative_to(ROOT / "asyncpc").as_posix()
        if rel in allowed:
            continue
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.match(r"\s*print\(", line):
                offenders.append(f"{rel}:{i}")
    assert not offenders, offenders


def test_shell_completion(capsys):
    import importlib.util

    if importlib.util.find_spec("shtab") is None:
        assert main(["completion", "bash"]) == 2
        assert "pip install 'asyncpc[completion]'" in capsys.readouterr().err
        return
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "complete " in script and "scenarios" in script and "--progress" in script
    out = subprocess.run(["bash", "-c", "source /dev/stdin && complete -p asyncpc"], input=script,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "asyncpc" in out.stdout, out.stderr


def read_tensorboard_scalars(logdir):
    """(tag, step, value) of the scalars in TensorBoard event files (TFRecord framing of
    ``Event`` protobufs), read with tensorboardX's own schema."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    out = []
    for f in sorted(Path(logdir).glob("events.out.tfevents.*")):
        data = f.read_bytes()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            ev = Event.FromString(data[i + 12:i + 12 + n])
            i += 12 + n + 4
            for v in ev.summary.value:
                out.append((v.tag, ev.step, v.simple_value))
    return out


def test_tensorboard_sink(tmp_path, capsys):
    import importlib.util

    argv = ["run", str(XOR), "--out", str(tmp_path / "r"), "--quiet", *QUICK, "--log", f"tensorboard:{tmp_path}/tb"]
    if importlib.util.find_spec("tensorboardX") is None:
        one_line_error(capsys, "pip install 'asyncpc[tensorboard]'", main(argv))
        assert not (tmp_path / "r").exists()  # refused before anything ran
        return
    assert main(argv) == 0
    got = read_tensorboard_scalars(tmp_path / "tb")
    test = sorted((step, v) for tag, step, v in got if tag == "accuracy/test")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [s for s, _ in test] == [1, 2, 3]
    assert [v for _, v in test] == pytest.approx(summary["test_accuracy_by_epoch"])
    assert {tag for tag, _, _ in got} >= {"energy/last_readout", "run/messages_per_second"}
    one_line_error(capsys, "--log: expected KIND:TARGET", main([*argv[:-2], "--log", "wandb"]))


class _FakeWandb:
    """The part of Weights & Biases' public API the sink uses (``wandb.init(project=,
    name=, config=)`` returning a run with ``log(dict, step=)`` and ``finish()``),
    recording the calls; the real package is an optional extra."""

    def __init__(self):
        self.inits, self.logged, self.finished = [], [], 0

    def init(self, **kw):
        self.inits.append(kw)
        return self

    def log(self, data, step):
        self.logged.append((step, dict(data)))

    def finish(self):
        self.finished += 1


def test_wandb_sink(tmp_path, capsys, monkeypatch):
    argv = ["run", str(XOR), "--out", str(tmp_path / "r"), "--quiet", *QUICK, "--log", "wandb:asyncpc-tests"]
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed: refused before anything runs
    one_line_error(capsys, "pip install 'asyncpc[wandb]'", main(argv))
    assert not (tmp_path / "r").exists()
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    assert main(argv) == 0
    (init,) = fake.inits
    assert init["project"] == "asyncpc-tests" and init["name"] == "r"
    assert init["config"]["data"]["epochs"] == 3  # the resolved scenario
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [s for s, _ in fake.logged] == [1, 2, 3] and fake.finished == 1
    assert [d["accuracy/test"] for _, d in fake.logged] == pytest.approx(summary["test_accuracy_by_epoch"])
    assert {"energy/last_readout", "run/messages_per_second"} <= set(fake.logged[-1][1])


def test_a_refused_perfetto_export_names_a_window_that_fits(tmp_path):
    from asyncpc import trace
    from asyncpc.errors import AsyncPCError

    run = tmp_path / "t"
    assert main(["run", str(XOR), "--out", str(run), "--quiet", "--set", "data.epochs=1", "--set",
                 "trace.enabled=true", "--set", "trace.to=100.0"]) == 0
    tr = trace.load(run)
    with pytest.raises(AsyncPCError) as e:
        trace.to_perfetto(tr, tmp_path / "p.json", max_events=30_000)
    m = re.search(r"--from ([0-9.]+)ms --to ([0-9.]+)ms \(~([0-9,]+) messages\)", str(e.value))
    assert m, str(e.value)
    lo, hi = (trace.parse_time(f"{x}ms", tr.h, "x") for x in m.groups()[:2])
    assert hi > lo
    n = trace.to_perfetto(tr, tmp_path / "p.json", t_from=lo, t_to=hi, max_events=30_000)
    assert 0 < n <= 30_000


@pytest.mark.parametrize("var", ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"])
def test_an_mpi_launch_without_mpi4py_is_refused_with_one_line(tmp_path, capsys, monkeypatch, var):
    """``mpiexec -n 2 asyncpc run|sweep ...`` without the ``[mpi]`` extra says what to
    install; each process stops at once with exit 2 and writes nothing."""
    monkeypatch.setenv(var, "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if the extra were not installed
    for argv in (["run", str(XOR), "--out", str(tmp_path / "run")],
                 ["sweep", str(XOR), "--grid", "run.seed=1", "--out", str(tmp_path / "sweep")]):
        one_line_error(capsys, "mpi4py is not installed: pip install 'asyncpc[mpi]'", main(argv))
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()
    monkeypatch.setenv(var, "1")  # one process under the launcher runs as usual
    assert main(["validate", str(XOR)]) == 0


def test_a_rank_waits_on_the_others_only_until_its_deadline_and_never_sums_floats():
    """What keeps a K-rank run from hanging or drifting (asyncpc._mpi): a wait gives up with
    one line naming the rank when nothing comes, and float sums across ranks are refused
    (MPI fixes no order for them; floats are gathered and summed in one fixed order)."""
    from asyncpc._mpi import RankError, Ranks

    class Never:
        def Test(self, *a):
            return False

    r = Ranks(comm=None, rank=1, size=2, timeout=0.05)
    t = time.monotonic()
    with pytest.raises(RankError, match=r"^rank 1: no messages from the other ranks in 0.05 s; a rank died"):
        r.wait(Never(), "messages")
    assert time.monotonic() - t < 5
    with pytest.raises(TypeError, match="integers only"):
        r.sum_ints(np.zeros(3), "the energies")
