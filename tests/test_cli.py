"""End to end: the shipped scenarios, the commands, and bad input (exit 2, one line)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from asyncpc.cli import main

ROOT = Path(__file__).resolve().parents[1]
SC = ROOT / "scenarios"
SUMMARY_KEYS = {"test_accuracy", "train_accuracy", "final_energy", "messages_sent", "messages_delivered",
                "messages_dropped", "sim_time_ms", "wall_seconds", "runtime", "threads", "seed"}


def run(tmp_path, name, *sets, out="run", extra=()):
    argv = ["run", str(SC / name), "--out", str(tmp_path / out), "--quiet", *extra]
    for s in sets:
        argv += ["--set", s]
    return main(argv), tmp_path / out


def summary(d):
    return json.loads((d / "summary.json").read_text())


def test_springs_settles_at_the_closed_form_equilibrium(tmp_path):
    code, d = run(tmp_path, "springs.toml")
    assert code == 0
    assert (d / "plots" / "settling.png").exists() and (d / "plots" / "energy.png").exists()
    from asyncpc.scenario import load_scenario

    c = load_scenario(SC / "springs.toml").compile()
    w = {}
    for e in range(c.n_edges):
        if c.kind[c.dst[e]] == 1 and c.in_ptr[c.dst[e]] != e:  # predict edges
            w[c.area_names[c.area[c.dst[e]]]] = c.w[e]
    w1, w2 = w["x"], w["obs"]
    x_star = (w1 * 1.0 + w2 * 2.0) / (1 + w2 ** 2)
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    assert len(rows) == 150
    s = summary(d)
    F_star = 0.5 * (x_star - w1) ** 2 + 0.5 * (2.0 - w2 * x_star) ** 2
    assert s["final_energy"] == pytest.approx(F_star, rel=1e-6)


def test_xor_learns_all_four_patterns_and_runtimes_agree(tmp_path):
    code, d = run(tmp_path, "xor.toml", "data.epochs=120", extra=["--threads", "2"])
    assert code == 0
    s = summary(d)
    assert SUMMARY_KEYS <= set(s) and s["status"] == "completed"
    assert s["test_accuracy"] == 1.0
    # time to the default target (0.9): the training stream up to the end of the first
    # epoch whose test pass reached it, from metrics.csv's rows
    import tomllib
    present = tomllib.loads((d / "scenario.toml").read_text())["data"]["present"]
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    acc = {}
    for r in rows:
        if r["split"] == "test":
            acc.setdefault(int(r["epoch"]), []).append(r["correct"] == "1")
    first = min(e for e, v in acc.items() if np.mean(v) >= 0.9)
    n_train = sum(r["split"] == "train" and int(r["epoch"]) <= first for r in rows)
    assert s["time_to_accuracy_ms"] == pytest.approx(n_train * present)
    assert s["messages_sent"] == s["messages_delivered"] + s["messages_dropped"] + \
        (s["messages_sent"] - s["messages_delivered"] - s["messages_dropped"])
    for f in ("scenario.toml", "manifest.json", "metrics.csv", "plots/energy.png", "plots/accuracy.png"):
        assert (d / f).exists(), f
    man = json.loads((d / "manifest.json").read_text())
    assert man["runtime"] == "engine" and man["threads"] == 2 and man["ended"]
    # the resolved scenario reproduces the run
    code, d2 = run(tmp_path, "xor.toml", "data.epochs=3", out="e")
    code2, d3 = run(tmp_path, "xor.toml", "data.epochs=3", out="a", extra=["--runtime", "actors"])
    assert code == code2 == 0
    assert (d2 / "metrics.csv").read_text() == (d3 / "metrics.csv").read_text()
    s2, s3 = summary(d2), summary(d3)
    for k in ("messages_sent", "messages_delivered", "messages_dropped", "final_energy"):
        assert s2[k] == s3[k]


def test_digits_short_run_writes_everything(tmp_path):
    code, d = run(tmp_path, "digits.toml", "data.max_train=120", "data.max_test=40", "data.train_eval=20",
                  "data.epochs=1", "data.present=5.0", "output.target_accuracy=0.01")
    assert code == 0
    s = summary(d)
    assert SUMMARY_KEYS <= set(s)
    # the training stream up to the end of the first epoch that reached the target
    assert s["target_accuracy"] == 0.01 and s["time_to_accuracy_ms"] == pytest.approx(120 * 5.0)
    assert 0.0 <= s["test_accuracy"] <= 1.0 and s["train_accuracy"] is not None
    assert "backprop_test_accuracy" in s
    # the learned W as a plain feedforward net, recomputed from final_state.npz edge by edge
    from asyncpc.compile import KIND_ERROR, KIND_VALUE
    from asyncpc.scenario import load_scenario

    scn = load_scenario(d / "scenario.toml")
    c, data = scn.compile(), scn.load_data()
    st = np.load(d / "final_state.npz")
    h = data.X_test.T
    for a, b in zip(c.area_names[:-1], c.area_names[1:]):
        src, dst = c.neurons_of(a, KIND_VALUE), c.neurons_of(b, KIND_ERROR)
        W = np.zeros((len(dst), len(src)))
        for e in np.flatnonzero(c.edge_role() == 0):
            if c.src[e] in src and c.dst[e] in dst:
                W[np.flatnonzero(dst == c.dst[e])[0], np.flatnonzero(src == c.src[e])[0]] = st["w"][e]
        h = W @ (np.maximum(h, 0) if a != c.area_names[0] else h) + st["bias"][dst][:, None]
    assert s["feedforward_test_accuracy"] == pytest.approx(np.mean(h.argmax(0) == data.y_test))
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    assert len(rows) == 120 + 40 + 20
    assert {"t_ms", "split", "correct", "energy_hidden1", "energy_label"} <= set(rows[0])
    assert (d / "plots" / "alignment.png").exists()


def test_generate_scenario_draws_digits(tmp_path):
    code, d = run(tmp_path, "digits_generate.toml", "data.max_train=200", "data.max_test=20",
                  "data.epochs=1", "data.present=5.0")
    assert code == 0
    assert (d / "plots" / "generated.png").exists()


def test_alignment_angle_is_exact_at_the_ends():
    from asyncpc.cli._metrics import _angle_deg

    x = np.random.default_rng(0).normal(size=1000)
    assert _angle_deg(x, x) == 0.0
    assert _angle_deg(x, 3 * x) < 1e-12  # arccos of the cosine: ~1e-6 degrees when rounded below 1
    assert _angle_deg(x, -x) == 180.0
    assert _angle_deg(np.array([1.0, 0]), np.array([0, 2.0])) == pytest.approx(90.0)
    assert _angle_deg(np.array([1.0, 0]), np.array([0.5, np.sqrt(3) / 2])) == pytest.approx(60.0)


def test_weight_transport_scenario_plots_alignment(tmp_path):
    code, d = run(tmp_path, "weight_transport.toml", "data.max_train=100", "data.max_test=20",
                  "data.epochs=1", "data.present=5.0", "data.train_eval=0")
    assert code == 0
    assert (d / "plots" / "alignment.png").exists()
    s = summary(d)
    assert set(s["w_v_angle_deg"]) == {"input->hidden1", "hidden1->label"}
    assert all(a > 30 for a in s["w_v_angle_deg_start"].values())  # random V: far from W^T
    # under transport the feedback the dynamics use is W itself
    code, d = run(tmp_path, "weight_transport.toml", "data.max_train=20", "data.max_test=5", "data.epochs=1",
                  "data.present=2.0", "data.train_eval=0", "learning.feedback=\"transport\"", out="tr")
    assert code == 0
    assert summary(d)["w_v_angle_deg"] == {"input->hidden1": 0.0, "hidden1->label": 0.0}


def test_plain_baseline_is_the_main_jobs_stream_with_every_option_off():
    """scenarios/digits_plain.toml: the main job's network, delays, clocks and data, with the
    plain equations (every dynamics option at its neutral value, one learning rate)."""
    from asyncpc.scenario import load_scenario

    plain, main_job = load_scenario(SC / "digits_plain.toml"), load_scenario(SC / "digits.toml")
    assert plain.delays == main_job.delays and plain.neurons.clock == main_job.neurons.clock
    assert plain.network.sizes == main_job.network.sizes and plain.data.source == main_job.data.source
    assert all(p.eta is None for p in plain.network.projections)
    c = plain.compile()
    from asyncpc.neurons import OPTIONS

    for o in OPTIONS:  # every option at its neutral value
        arr = c.p_tau if o.name == "prospective" else getattr(c, o.name)
        assert (arr == (0.0 if o.boolean else o.neutral)).all(), o.name


# -- MNIST (scenarios/mnist.toml) on small IDX files made here: the repository ships no MNIST --

MNIST_QUICK = ("data.n_train=20", "data.n_test=10", "data.present=1.0", "data.test_present=1.0",
               "data.train_eval=0", "data.epochs=1", "network.sizes=[784, 32, 10]")


def test_mnist_scenario_runs_on_idx_files_and_states_the_input_scaling(tmp_path, idx_folder, monkeypatch):
    folder = idx_folder(n_train=60, n_test=30)
    monkeypatch.chdir(folder.parent)  # a path given with --set is relative to the working directory
    code, d = run(tmp_path, "mnist.toml", f"data.source={folder.name}", *MNIST_QUICK)
    assert code == 0
    s = summary(d)
    assert s["status"] == "completed" and s["presentations"] == 30 and 0 <= s["test_accuracy"] <= 1
    man = json.loads((d / "manifest.json").read_text())
    data = man["data"]
    assert data["source"] == str(folder) and (data["n_train"], data["n_test"]) == (20, 10)
    assert data["image_shape"] == [28, 28] and data["dtype"] == "float32" and data["n_classes"] == 10
    sc = data["input_scaling"]
    assert sc["normalize"] == "minmax" and sc["raw_dtype"] == "uint8" and sc["train_range"] == [0.0, 1.0]
    assert sc["formula"] == "x = (raw - 0) / 255"
    import tomllib

    res = tomllib.loads((d / "scenario.toml").read_text())
    assert res["data"]["source"] == str(folder) and res["network"]["shapes"]["input"] == [28, 28]
    # the stratified subset: two of each class in training, one in test
    rows = list(csv.DictReader(open(d / "metrics.csv")))
    train = [int(r["target"]) for r in rows if r["split"] == "train"]
    assert sorted(train) == sorted(list(range(10)) * 2)
    # the resolved scenario (absolute paths) loads from anywhere and reads the same data
    monkeypatch.chdir("/")
    from asyncpc.scenario import load_scenario

    again = load_scenario(d / "scenario.toml").load_data()
    assert again.describe() == data


def test_mnist_without_its_files_says_which_files_where(tmp_path, capsys, idx_folder):
    import shutil

    scn = tmp_path / "mnist.toml"  # a copy: its data/mnist folder does not exist
    shutil.copy(SC / "mnist.toml", scn)
    assert main(["run", str(scn), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{scn}:" in err and "data.source: data folder not found: " + str(tmp_path / "data" / "mnist") in err
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        assert name in err
    assert "--set data.source=" in err
    assert not (tmp_path / "r").exists()
    # a folder missing one file names it
    folder = idx_folder()
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert main(["run", str(scn), "--set", f"data.source={folder}", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no t10k-labels-idx1-ubyte (plain or .gz) in this folder" in err


def test_a_truncated_idx_file_stops_the_run_with_one_line(tmp_path, capsys, idx_folder):
    folder = idx_folder(name="cut")
    f = folder / "train-images-idx3-ubyte.gz"
    import gzip

    data = gzip.decompress(f.read_bytes())
    f.write_bytes(gzip.compress(data[:-1000]))  # header intact: found when the data are read
    code, d = run(tmp_path, "mnist.toml", f"data.source={folder}", *MNIST_QUICK)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data.source" in err and str(f) in err
    assert "truncated: holds 58 of the 60 images its header announces" in err


def test_validate_graph_describe(tmp_path, capsys):
    assert main(["validate", str(SC / "digits.toml")]) == 0
    assert main(["validate", str(SC / "digits_plain.toml")]) == 0
    assert main(["validate", str(SC / "mnist.toml"), "--set", "data.source=sklearn:digits",
                 "--set", "network.sizes=[64, 256, 10]"]) == 0
    assert "ok" in capsys.readouterr().out
    out = tmp_path / "net.graphml"
    assert main(["graph", str(SC / "xor.toml"), "--export", str(out)]) == 0
    from asyncpc.model import from_graphml

    assert from_graphml(out).n_edges("predict") == 2 * 16 + 16
    assert main(["describe"]) == 0
    text = capsys.readouterr().out
    assert "value neuron" in text and "error neuron" in text and "tau" in text


@pytest.mark.parametrize("body, sets, needle", [
    ("[run]\nseed = -1\n", [], "run.seed"),
    ("[data]\nsource = 'xor'\n[banana]\nx = 1\n", [], "banana"),
    ("[network]\nsizes = [2, 4, 1]\n[data]\nsource = 'xor'\n[delays]\nforward = -0.5\n", [], "delays.forward"),
    ("[network]\nsizes = [2, 4, 1]\n[data]\nsource = 'missing.csv'\n", [], "missing.csv"),
    ("[network\nsizes = [2]\n", [], "bad.toml"),
    ("[network]\nsizes = [2, 4, 1]\n[data]\nsource = 'xor'\n", ["data.epochs=zero"], "data.epochs"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, body, sets, needle):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    argv = ["run", str(f), "--out", str(tmp_path / "r"), "--quiet"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err
    assert "bad.toml" in err


def test_diverging_run_stops_with_exit_3_and_keeps_files(tmp_path, capsys):
    code, d = run(tmp_path, "xor.toml", "learning.eta=50.0", "data.epochs=20")
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert "diverged" in err and len(err.splitlines()) == 1
    s = summary(d)
    assert s["status"] == "diverged"
    assert (d / "metrics.csv").exists() and (d / "manifest.json").exists()


def test_trace_commands(tmp_path, capsys):
    code, d = run(tmp_path, "xor.toml", "data.epochs=2", "trace.enabled=true",
                  'trace.neurons=["hidden1:0", "label"]', "trace.state_every=50", "trace.to=100.0")
    assert code == 0
    assert main(["trace", "info", str(d)]) == 0
    assert "by_role" in capsys.readouterr().out
    assert main(["trace", "show", str(d), "--neuron", "hidden1:0", "--role", "feedback",
                 "--from", "10ms", "--to", "12ms", "--limit", "5"]) == 0
    assert "feedback" in capsys.readouterr().out
    out = tmp_path / "p.json"
    assert main(["trace", "export", str(d), "--perfetto", str(out)]) == 0
    assert json.loads(out.read_text())["traceEvents"]
    assert main(["trace", "plot", str(d), "--neuron", "hidden1:0"]) == 0
    from asyncpc import trace

    tr = trace.load(d)
    ts = tr.messages.column("t_send").to_numpy()
    assert ts.max() < 1000 and np.all(np.diff(ts) >= 0)
    assert main(["trace", "show", str(d), "--neuron", "nowhere:1"]) == 2


def test_sweep_is_resumable(tmp_path, capsys):
    argv = ["sweep", str(SC / "xor.toml"), "--grid", "learning.eta=0.01,0.02", "--seeds", "1",
            "--jobs", "1", "--out", str(tmp_path / "sw"), "--set", "data.epochs=2", "--quiet"]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(tmp_path / "sw" / "results.csv")))
    assert len(rows) == 2 and all(r["status"] == "completed" for r in rows)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "sw" / "points").glob("*/summary.json")}
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (tmp_path / "sw" / "plots" / "test_accuracy_vs_learning_eta.png").exists()
    assert main(["sweep", str(SC / "xor.toml"), "--grid", "nope.key=1", "--out", str(tmp_path / "x")]) == 2


def test_sweep_zip_links_keys_and_a_folder_holds_one_sweep(tmp_path, capsys):
    out = tmp_path / "zz"
    argv = ["sweep", str(SC / "xor.toml"), "--zip", "learning.eta=0.01,0.02", "--zip", "data.epochs=1,2",
            "--grid", "run.h=0.1", "--seeds", "1", "--jobs", "1", "--out", str(out), "--quiet",
            "--set", "output.plots=false"]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert sorted((r["learning.eta"], r["data.epochs"], r["run.h"]) for r in rows) == [
        ("0.01", "1", "0.1"), ("0.02", "2", "0.1")]  # the i-th values together, not their product
    for r in rows:  # each point ran with its own pair
        m = list(csv.DictReader(open(out / "points" / r["point"] / "metrics.csv")))
        assert len({row["epoch"] for row in m if row.get("epoch")}) == int(r["data.epochs"])
    capsys.readouterr()
    assert main([*argv[:-1], "output.plots=true"]) == 2  # other --set into the same folder: refused
    err = capsys.readouterr().err
    assert "--out" in err and "--set" in err and "Traceback" not in err
    bad = {("--zip", "learning.eta=0.01,0.02", "--zip", "data.epochs=1"): "same number of values",
           ("--zip", "learning.eta=0.01", "--grid", "learning.eta=0.02"): "both --grid and --zip",
           ("--zip", "learning.eta=0.01", "--zip", "learning.eta=0.02"): "given twice",
           ("--zip", "learning.eta"): "--zip: expected key=v1,v2"}
    for extra, why in bad.items():
        assert main(["sweep", str(SC / "xor.toml"), *extra, "--out", str(tmp_path / "b")]) == 2
        assert why in capsys.readouterr().err
    # no --grid, no --zip: the scenario itself, once per seed
    assert main(["sweep", str(SC / "xor.toml"), "--seeds", "2", "--jobs", "1", "--out", str(tmp_path / "s"),
                 "--set", "data.epochs=1", "--set", "output.plots=false", "--quiet"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "s" / "results.csv")))
    assert sorted(r["seed"] for r in rows) == ["0", "1"] and all(r["status"] == "completed" for r in rows)
