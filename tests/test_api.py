"""The Python API: asyncpc.run / resume / load_run -> Run, Dataset.from_arrays, reprs."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import asyncpc
from asyncpc.errors import AsyncPCError, DivergenceError

ROOT = Path(__file__).resolve().parents[1]
XOR = ROOT / "scenarios" / "xor.toml"
QUICK = {"data.epochs": 3, "data.present": 20.0, "data.test_every_epoch": True}


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    events = []
    r = asyncpc.run(XOR, tmp_path_factory.mktemp("api") / "xor", set=QUICK, progress=events.append)
    return r, events


def short_repr(obj, *needles):
    text = repr(obj)
    assert "0x" not in text and "array(" not in text and len(text) < 240 and "\n" not in text, text
    for n in needles:
        assert n in text, text
    return text


def test_run_returns_a_run_with_tables_network_and_plots(xor_run):
    r, events = xor_run
    assert r.status == "completed" and r.summary["presentations"] == 3 * 8
    kinds = [e.kind for e in events]
    assert kinds.count("epoch") == 3 and kinds[-1] == "end" and "update" in kinds
    last_epoch = [e for e in events if e.kind == "epoch"][-1]
    assert last_epoch.epoch == 2 and last_epoch.test_accuracy == r.summary["test_accuracy"]
    assert last_epoch.presentations == last_epoch.n_presentations == 24 and "epoch 3/3 done" in last_epoch.line()
    ep, met = r.epochs, r.metrics
    import pandas as pd

    assert isinstance(ep, pd.DataFrame) and isinstance(met, pd.DataFrame)
    assert list(ep["epoch"]) == [0, 1, 2] and list(ep["presentations"]) == [8, 16, 24]
    assert ep["test_accuracy"].tolist() == r.summary["test_accuracy_by_epoch"]
    assert len(met) == 24 and set(met["split"]) == {"train", "test"}
    assert r.alignment is not None and list(r.alignment.columns)[0] == "t_ms"
    assert r.trace is None  # not traced
    net = r.network
    fs = r.final_state
    c = r.scenario.compile()
    roles = c.edge_role()
    for e in range(0, c.n_edges, 7):  # the final weights sit on the edges the compiler numbered e
        d = net.graph.edges[c.node_ids[c.src[e]], c.node_ids[c.dst[e]]]
        if roles[e] in (0, 1):
            assert d["weight"] == fs["w"][e]
    assert net.graph.graph["t_ms"] == pytest.approx(r.summary["sim_time_ms"])
    import matplotlib

    matplotlib.use("Agg")
    for which in ("accuracy", "energy", "alignment"):
        assert r.plot(which).axes
    with pytest.raises(AsyncPCError, match="expected one of"):
        r.plot("nope")
    short_repr(r, "completed", "24 presentations", "test accuracy")
    assert asyncpc.load_run(r.path).summary == r.summary


def test_tables_are_arrow_without_pandas(xor_run, monkeypatch):
    import importlib.util

    import pyarrow as pa

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a))
    r, _ = xor_run
    assert isinstance(r.epochs, pa.Table) and r.epochs.num_rows == 3
    assert isinstance(r.metrics, pa.Table) and r.metrics.column("correct").null_count == 12  # training rows


def test_scenario_as_dict_or_object_sets_and_flags(tmp_path):
    from asyncpc.scenario import load_scenario

    raw = {"network": {"sizes": [2, 4, 1]}, "data": {"source": "xor", "epochs": 2, "present": 10.0},
           "run": {"name": "tiny"}}
    r = asyncpc.run(raw, tmp_path / "d", set=["data.epochs=1"], seed=3, progress="none")
    assert r.summary["presentations"] == 4 + 4 and r.manifest["seed"] == 3 and r.scenario.data.epochs == 1
    scn = load_scenario(XOR)
    r2 = asyncpc.run(scn, tmp_path / "o", set={"data.epochs": 1, "data.present": 10.0,
                                               "delays.forward": {"dist": "uniform", "low": 0.1, "high": 0.2}},
                     progress="none", threads=1)
    assert r2.scenario.delays.forward["high"] == 0.2 and r2.manifest["threads"] == 1
    # out=None: a fresh temporary directory each time, never refused
    r3 = asyncpc.run(raw, progress="none")
    assert r3.path.exists() and r3.path != r.path and r3.status == "completed"
    with pytest.raises(AsyncPCError, match="holds a finished run"):
        asyncpc.run(raw, tmp_path / "d", progress="none")
    assert asyncpc.run(raw, tmp_path / "d", progress="none", overwrite=True).status == "completed"
    with pytest.raises(AsyncPCError, match="progress: must be one of"):
        asyncpc.run(raw, tmp_path / "p", progress="loud")
    assert not (tmp_path / "p").exists()  # refused before anything was written
    with pytest.raises(AsyncPCError, match="scenario: expected"):
        asyncpc.run(42)


def test_divergence_raises_with_the_run_attached(tmp_path):
    with pytest.raises(DivergenceError) as info:
        asyncpc.run(XOR, tmp_path / "div", set={"learning.eta": 50.0, "data.epochs": 20}, progress="none")
    assert info.value.run.status == "diverged" and str(tmp_path / "div") in str(info.value)


def test_progress_lines_reach_stderr_when_logging_is_not_configured(tmp_path):
    """As in a notebook or script that configured no logging: the lines go to stderr for
    the call, and the handler is removed after it."""
    import subprocess
    import sys

    code = ("import asyncpc, logging; "
            f"asyncpc.run({str(XOR)!r}, {str(tmp_path / 'l')!r}, set={QUICK!r}, progress='auto'); "
            "print(len(logging.getLogger('asyncpc').handlers))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert len(re.findall(r"^asyncpc: epoch \d/3 done  presentations", out.stderr, re.M)) == 3, out.stderr
    assert out.stdout.strip() == "0"


def test_dataset_from_arrays_runs_and_never_prints_the_arrays(tmp_path):
    from asyncpc.environment import Dataset

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) + 123456.789
    y = (X[:, 0] > np.median(X[:, 0])).astype(int) * 7  # labels {0, 7} -> classes {0, 1}
    ds = Dataset.from_arrays(X, y, test_fraction=0.25, seed=1)
    assert (len(ds.y_train), len(ds.y_test), ds.n_classes, ds.class_names) == (45, 15, 2, ("0", "7"))
    short_repr(ds, "45 train / 15 test", "4 features", "2 classes")
    bad = [lambda: Dataset.from_arrays(X, y[:-1]), lambda: Dataset.from_arrays(X[:, :, None, None], y),
           lambda: Dataset.from_arrays(np.where(X > 123457, np.nan, X), y),
           lambda: Dataset.from_arrays(X, y + 0.5), lambda: Dataset.from_arrays(X, np.zeros(60)),
           lambda: Dataset.from_arrays(X.astype(str), y), lambda: Dataset.from_arrays(X, y, X[:5, :3], y[:5]),
           lambda: Dataset.from_arrays(X, y, X[:5]), lambda: Dataset.from_arrays(X, y, test_fraction=1.5)]
    for f in bad:
        with pytest.raises(AsyncPCError) as e:
            f()
        msg = str(e.value)
        assert "\n" not in msg and "12345" not in msg and len(msg) < 200, msg
    raw = {"network": {"sizes": [4, 6, 2], "activation": "tanh"}, "learning": {"eta": 0.01},
           "data": {"source": "xor", "present": 5.0, "epochs": 2}, "run": {"name": "arrays"}}
    r = asyncpc.run(raw, tmp_path / "a", data=ds, progress="none")
    assert r.status == "completed" and (r.path / "data.npz").exists()
    assert r.summary["presentations"] == 2 * (45 + 15)
    assert r.scenario.data.source == str((r.path / "data.npz").resolve())
    # (X, y) without a split: the scenario's data.test_fraction cuts one
    r = asyncpc.run(raw, tmp_path / "b", data=(X, y), set={"data.test_fraction": 0.5}, progress="none")
    assert r.summary["presentations"] == 2 * (30 + 30)
    with pytest.raises(AsyncPCError, match="sensory area 'input' has 4 neurons"):
        asyncpc.run(raw, tmp_path / "c", data=(X[:, :3], y), progress="none")


def test_reprs_are_short():
    from asyncpc.environment import load_dataset
    from asyncpc.scenario import load_scenario

    scn = load_scenario(XOR)
    short_repr(scn, "'xor'", "layered [2, 16, 1]")
    net = scn.build_network()
    short_repr(net, "36 neurons", "130 edges", "hidden1 16")
    short_repr(scn.schedule(scn.compile(net)), "probes", "steps")
    short_repr(load_dataset("sklearn:digits"), "1437 train / 360 test", "images 8x8")


def test_load_run_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(AsyncPCError, match="no such run directory"):
        asyncpc.load_run(tmp_path / "nowhere")
    with pytest.raises(AsyncPCError, match="not a run directory"):
        asyncpc.load_run(tmp_path)


def test_resume_from_python(tmp_path, monkeypatch):
    from asyncpc.cli import _run

    real, calls = _run.pick_runtime, []

    def pick(name):
        fn = real(name)

        def run(*a, **k):
            calls.append(1)
            if len(calls) == 6:
                raise KeyboardInterrupt
            return fn(*a, **k)
        return run

    sets = {**QUICK, "output.checkpoint_every": 4}
    with monkeypatch.context() as m:
        m.setattr(_run, "pick_runtime", pick)
        with pytest.raises(KeyboardInterrupt):
            asyncpc.run(XOR, tmp_path / "i", set=sets, progress="none", threads=1)
    assert asyncpc.load_run(tmp_path / "i").status == "interrupted"
    r = asyncpc.resume(tmp_path / "i", progress="none")
    ref = asyncpc.run(XOR, tmp_path / "ref", set=sets, progress="none", threads=1)
    drop = ["wall_seconds"]
    assert r.epochs.drop(columns=drop).equals(ref.epochs.drop(columns=drop))
    assert json.loads((r.path / "manifest.json").read_text())["status"] == "completed"
