"""Streams that change over time (issue 24): concept drift and class-incremental
presentation, laid out by the protocol, read from scenarios, recorded in metrics, and
followed presentation by presentation by the backprop yardstick."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from asyncpc.cli import main
from asyncpc.compile import compile_network
from asyncpc.environment import EV_CLAMP, EV_MODULATE, SPLITS, Drift, Incremental, load_dataset, stream_schedule
from asyncpc.errors import SpecError
from asyncpc.model import layered
from asyncpc.reference import BackpropMLP

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("sklearn:digits", n_train=100, n_test=50)
    return d, compile_network(layered([64, 6, 10], seed=0), h=0.1)


def _sched(digits, **kw):
    d, c = digits
    return stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=10, epochs=4, seed=3, **kw)


def test_per_class_draws_n_of_every_class_seeded():
    a, b = (load_dataset("sklearn:digits", per_class=3, seed=s) for s in (1, 1))
    assert np.bincount(a.y_train).tolist() == [3] * 10 and np.array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, load_dataset("sklearn:digits", per_class=3, seed=2).X_train)
    assert len(a.y_test) == 360  # the test split is untouched


def test_a_drift_is_a_derangement_and_its_regimes_follow_the_epochs():
    d = Drift(at=(1, 3))
    maps = d.mappings(10, seed=0)
    assert [d.regime(e) for e in range(5)] == [0, 1, 1, 2, 2]
    assert maps[0].tolist() == list(range(10))
    for a, b in zip(maps, maps[1:]):
        assert sorted(b.tolist()) == list(range(10)) and np.all(a != b)  # every label moves at every change
    assert Drift(at=(1,), swap=((2, 5),)).mappings(10, 0)[1].tolist() == [0, 1, 5, 3, 4, 2, 6, 7, 8, 9]


def test_drift_targets_follow_the_mapping_in_force(digits):
    d, c = digits
    s = _sched(digits, regime=Drift(at=(2,)))
    m = s.meta
    maps = m["mappings"]
    assert m["regime_kind"] == "drift" and maps.shape == (2, 10)
    assert np.array_equal(m["regime"], (m["epoch"] >= 2).astype(int))
    train, test = m["split"] == 0, m["split"] == 1
    assert np.array_equal(m["target"][train], maps[m["regime"][train], d.y_train[m["sample"][train]]])
    assert np.array_equal(m["target"][test], maps[m["regime"][test], d.y_test[m["sample"][test]]])
    # what the label neurons are clamped to is the mapped class, after the change
    k = np.flatnonzero(train & (m["epoch"] == 3))[5]
    events = s.events(int(m["t0"][k]), int(m["t0"][k]) + s.env_delay + 1)
    lab = c.neurons_of("label")
    want = np.zeros(10)
    want[m["target"][k]] = 1.0
    got = {int(n): float(v) for t, kind, n, v in zip(*events[:4]) if kind == EV_CLAMP and n in set(lab.tolist())}
    assert [got[int(n)] for n in lab] == want.tolist()
    assert m["target"][k] != d.y_train[m["sample"][k]]


def test_an_input_drift_reroutes_the_features_and_keeps_the_labels(digits):
    d, c = digits
    s = _sched(digits, regime=Drift(at=(2,), change="inputs"))
    m = s.meta
    perms = m["input_perms"]
    assert "mappings" not in m and perms.shape == (2, 64) and perms[0].tolist() == list(range(64))
    assert sorted(perms[1].tolist()) == list(range(64)) and (perms[1] != perms[0]).any()
    assert np.array_equal(m["target"][m["split"] == 0], d.y_train[m["sample"][m["split"] == 0]])
    sens = c.neurons_of("input")
    for split, X in ((0, d.X_train), (1, d.X_test)):  # training and test alike, in the regime in force
        k = np.flatnonzero((m["split"] == split) & (m["epoch"] == 3))[3]
        t, kind, n, v = s.events(int(m["t0"][k]), int(m["t0"][k]) + s.env_delay + 1)[:4]
        got = {int(i): float(x) for kk, i, x in zip(kind, n, v) if kk == EV_CLAMP and i in set(sens.tolist())}
        assert [got[int(sens[perms[1][j]])] for j in range(64)] == X[m["sample"][k]].tolist()
    # the backprop yardstick's input i is the feature that reaches sensory neuron i
    inv = np.argsort(perms[1])
    assert np.array_equal(d.X_train[:, inv][:, perms[1]], d.X_train)
    _check_follow(digits, s, lambda e: inv if e >= 2 else None)


@pytest.mark.parametrize("change", ["labels", "inputs"])
def test_a_gradual_drift_mixes_the_tasks_presentation_by_presentation(digits, change):
    d, c = digits
    s = _sched(digits, regime=Drift(at=(1,), over=2, change=change))
    m = s.meta
    train = m["split"] == 0
    rg = [m["regime"][train & (m["epoch"] == e)] for e in range(4)]
    assert not rg[0].any() and rg[3].all()  # before and after the transition: one task
    mix = np.concatenate(rg[1:3])  # the transition: the new task ever more often
    assert 0 < mix[:100].mean() < mix[100:].mean() < 1
    assert np.array_equal(m["regime"][m["split"] == 1], [0] * 50 + [1] * 150)  # tests score the new task
    sens = c.neurons_of("input")
    perms = m.get("input_perms", np.arange(64)[None].repeat(2, 0))
    maps = m.get("mappings", np.arange(10)[None].repeat(2, 0))
    for k in np.flatnonzero(train & (m["epoch"] == 1))[:40]:  # every presentation in its own task
        r = m["regime"][k]
        assert m["target"][k] == maps[r][d.y_train[m["sample"][k]]]
        t, kind, n, v = s.events(int(m["t0"][k]), int(m["t0"][k]) + s.env_delay + 1)[:4]
        got = {int(i): float(x) for kk, i, x in zip(kind, n, v) if kk == EV_CLAMP and i in set(sens.tolist())}
        assert [got[int(sens[perms[r][j]])] for j in range(64)] == d.X_train[m["sample"][k]].tolist()
    if change == "inputs":
        # backprop by hand, presentation by presentation in each one's own task
        a, b = BackpropMLP.from_compiled(c), BackpropMLP.from_compiled(c)
        res = a.follow_stream(s, d, lr=0.05)
        inv = [np.argsort(p) for p in perms]
        for k in np.flatnonzero(train):
            b.fit_rows(d.X_train, None, [m["sample"][k]], 0.05, targets=d.targets(m["target"][k:k + 1], 10),
                       columns=inv[m["regime"][k]])
        assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
        assert [r["regime"] for r in res] == [0, 1, 1, 1]


def test_monitor_rounds_follow_every_nth_training_presentation(digits):
    d, c = digits
    s = _sched(digits, regime=Drift(at=(2,)), monitor_every=30, monitor_size=20)
    m = s.meta
    sp = m["split"]
    mon = sp == SPLITS.index("monitor")
    starts = np.flatnonzero(mon & np.r_[True, ~mon[:-1]])
    assert [int((sp[:i] == 0).sum()) for i in starts] == list(range(30, 401, 30))  # counted across epochs
    rows = m["sample"][mon].reshape(len(starts), 20)
    assert (rows == rows[0]).all() and np.bincount(d.y_test[rows[0]]).tolist() == [2] * 10  # fixed, stratified
    assert np.array_equal(m["regime"][starts], (m["epoch"][starts] >= 2).astype(int))
    assert np.array_equal(m["target"][mon], m["mappings"][m["regime"][mon], d.y_test[m["sample"][mon]]])
    for i in starts:  # frozen, labels free
        t, kind, n, v = s.events(int(m["t0"][i]) - 1, int(m["t0"][i]) + 1)[:4]
        assert EV_MODULATE in kind.tolist() and v[kind == EV_MODULATE][-1] == 0.0
    plain = _sched(digits, regime=Drift(at=(2,))).meta  # the rounds come on top of the same stream
    for k in ("sample", "target", "split", "epoch", "regime"):
        assert np.array_equal(plain[k], m[k][~mon])
    # backprop reports each round at the weights of that moment
    res = BackpropMLP.from_compiled(c).follow_stream(s, d, lr=0.05)
    rounds = [r for e in res for r in e["monitor"]]
    b = BackpropMLP.from_compiled(c)
    tr = np.flatnonzero(sp == 0)
    for rnd in rounds[:5]:
        k = tr[:rnd["presentations"]]
        b = BackpropMLP.from_compiled(c)
        b.fit_rows(d.X_train, None, m["sample"][k], 0.05, targets=d.targets(m["target"][k], 10))
        want = np.mean(b.predict(d.X_test[rows[0]]).argmax(1) == m["mappings"][rnd["regime"]][d.y_test[rows[0]]])
        assert rnd["accuracy"] == want
    assert [r["presentations"] for r in rounds] == list(range(30, 401, 30))


def test_without_a_regime_the_stream_is_unchanged(digits):
    a, b = _sched(digits), _sched(digits, regime=None)
    assert a.meta["regime_kind"] is None and not a.meta["regime"].any()
    assert np.array_equal(a.ev_t, b.ev_t) and np.array_equal(a.ev_value, b.ev_value)


def test_incremental_blocks_rehearsal_and_full_tests(digits):
    d, _ = digits
    inc = Incremental(classes=((0, 1, 2), (3, 4, 5, 6), (7, 8, 9)), epochs=1, rehearse=0.3)
    m = _sched(digits, regime=inc).meta
    train = m["split"] == 0
    for e, seen in ((0, {0, 1, 2}), (1, set(range(7))), (2, set(range(10))), (3, set(range(10)))):
        cls = set(m["target"][train & (m["epoch"] == e)].tolist())
        assert cls <= seen and set(inc.classes[inc.regime(e)]) <= cls
    e1 = train & (m["epoch"] == 1)
    rehearsed = np.isin(m["target"][e1], [0, 1, 2]).sum()
    earlier = np.isin(d.y_train, [0, 1, 2]).sum()
    assert 0 < rehearsed < earlier  # a seeded fraction (0.3) of the earlier classes' samples
    assert np.array_equal(m["regime"][m["epoch"] == 3], np.full((m["epoch"] == 3).sum(), 2))
    assert (m["split"] == 1).sum() == 4 * len(d.y_test)  # every test covers every class
    none = _sched(digits, regime=Incremental(classes=inc.classes, epochs=1)).meta
    assert not np.isin(none["target"][(none["split"] == 0) & (none["epoch"] == 2)], range(7)).any()


@pytest.mark.parametrize("regime, match", [
    (Drift(at=(0,)), r"drift\.at: must be increasing epoch counts in 1\.\.3"),
    (Drift(at=(4,)), r"drift\.at"),
    (Drift(at=(1,), swap=((0, 0),)), r"drift\.swap\[0\]"),
    (Drift(at=(1,), swap=((0, 1), (1, 2))), r"drift\.swap\[1\]: class 1 is in two pairs"),
    (Drift(at=(1, 2), over=2), r"drift\.over: a change over 2 epochs from epoch 1 overlaps the next change"),
    (Drift(at=(3,), over=2), r"drift\.over: .* overlaps the end of the stream \(data\.epochs = 4\)"),
    (Drift(at=(1,), over=-1), r"drift\.over: must be an integer >= 0"),
    (Drift(at=(1,), change="pixels"), r"drift\.change: must be one of \['labels', 'inputs'\]"),
    (Drift(at=(1,), swap=((0, 1),), change="inputs"), r"drift\.swap: exchanges labels"),
    (Incremental(classes=((0,), (0, 1))), r"incremental\.classes\[1\]: class 0 is in an earlier block"),
    (Incremental(classes=((0,), (1,)), epochs=3), r"incremental\.epochs: 2 blocks x 3 epochs"),
    (Incremental(classes=((0,), (1,)), rehearse=1.5), r"incremental\.rehearse"),
])
def test_bad_regimes_are_refused(digits, regime, match):
    with pytest.raises(SpecError, match=match):
        _sched(digits, regime=regime)


def _check_follow(digits, s, columns):
    """``follow_stream`` is online backprop by hand through the schedule's own training
    presentations, epoch by epoch, with inputs ``X[:, columns(epoch)]``."""
    d, c = digits
    a, b = BackpropMLP.from_compiled(c), BackpropMLP.from_compiled(c)
    res = a.follow_stream(s, d, lr=0.05)
    m = s.meta
    for e in range(4):
        cols = columns(e)
        tr = np.flatnonzero((m["split"] == 0) & (m["epoch"] == e))
        b.fit_rows(d.X_train, None, m["sample"][tr], 0.05, targets=d.targets(m["target"][tr], 10), columns=cols)
        te = (m["split"] == 1) & (m["epoch"] == e)
        X = d.X_test[m["sample"][te]]
        acc = float(np.mean(b.predict(X if cols is None else X[:, cols]).argmax(1) == m["target"][te]))
        assert res[e]["epoch"] == e and res[e]["regime"] == int(e >= 2) and res[e]["test_accuracy"] == acc
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))


def test_follow_stream_is_online_backprop_on_the_schedules_own_order(digits):
    _check_follow(digits, _sched(digits, regime=Drift(at=(2,))), lambda e: None)


def test_follow_stream_without_tests_between_epochs_keeps_the_epochs_apart(digits):
    d, c = digits
    res = BackpropMLP.from_compiled(c).follow_stream(_sched(digits, test_every_epoch=False), d, lr=0.05)
    assert [r["epoch"] for r in res] == [0, 1, 2, 3] and [len(r["test_target"]) for r in res] == [0, 0, 0, 50]
    assert np.isnan(res[0]["test_accuracy"]) and 0 <= res[3]["test_accuracy"] <= 1


def test_fit_is_fit_rows_in_its_own_shuffle(digits):
    d, c = digits
    Y = d.targets(d.y_train, 10)
    a, b = BackpropMLP.from_compiled(c), BackpropMLP.from_compiled(c)
    a.fit(d.X_train, Y, epochs=1, lr=0.02, seed=7)
    from asyncpc._seed import rng_for

    b.fit_rows(d.X_train, Y, rng_for(7).permutation(len(Y)), 0.02)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))


def _scenario(tmp_path, extra: str) -> Path:
    p = tmp_path / "s.toml"
    size = "" if extra.startswith("per_class = 200") else "n_train = 60\n"
    p.write_text('[run]\nname = "s"\n[network]\nsizes = [64, 8, 10]\nactivation = "relu"\n'
                 f'[data]\nsource = "sklearn:digits"\n{size}n_test = 30\nepochs = 3\npresent = 4.0\n' + extra)
    return p


@pytest.mark.parametrize("extra, key", [
    ("[data.drift]\nat = [3]\n", "data.drift.at[0]: must be an integer <= 2"),
    ("[data.drift]\nat = [1]\nswap = [[0, 10]]\n", "data.drift.swap[0][1]: must be an integer <= 9"),
    ("[data.drift]\nevery = 1\n", "data.drift.at: required key is missing"),
    ("[data.incremental]\nclasses = [[0], [0]]\n", "data.incremental.classes: class 0 is in an earlier block"),
    ("[data.incremental]\nclasses = [[0], [1]]\nrehearse = 2\n", "data.incremental.rehearse: must be <= 1"),
    ("[data.drift]\nat = [2]\nover = 2\n", "data.drift.over: a change over 2 epochs from epoch 2 overlaps the end"),
    ("[data.drift]\nat = [1]\nchange = \"pixels\"\n", "data.drift.change: must be one of"),
    ("[data.drift]\nat = [1]\nchange = \"inputs\"\nswap = [[0, 1]]\n", "data.drift.swap: exchanges labels"),
    ("per_class = 2\n", "data.per_class: a training set is either"),
    ("per_class = 200\n", "data.per_class: 200 samples of each class, but class"),
    ("[data.drift]\nat = [1]\n[data.incremental]\nclasses = [[0]]\n", "data.incremental: a stream either drifts"),
])
def test_scenario_regimes_refuse_bad_input_with_one_line(tmp_path, capsys, extra, key):
    assert main(["validate", str(_scenario(tmp_path, extra))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and "Traceback" not in err[0], err


def test_a_drifting_run_records_its_regime_and_backprop_follows_it(tmp_path):
    out = tmp_path / "run"
    p = _scenario(tmp_path, "monitor_every = 25\nmonitor_size = 10\n[data.drift]\nat = [2]\nswap = [[0, 1]]\n")
    assert main(["run", str(p), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    mon = [r for r in rows if r["split"] == "monitor"]
    assert len(mon) == 180 // 25 * 10  # rounds of 10 after every 25th of 3 x 60 training presentations
    for e in (0, 1, 2):  # the epochs' test accuracy is their tests' alone
        test = [r for r in rows if r["split"] == "test" and int(r["epoch"]) == e]
        ep = next(r for r in csv.DictReader(open(out / "epochs.csv")) if int(r["epoch"]) == e)
        assert float(ep["test_accuracy"]) == pytest.approx(np.mean([r["correct"] in ("1", "True") for r in test]))
    assert {r["regime"] for r in rows if r["epoch"] == "2"} == {"1"}
    assert {r["regime"] for r in rows if r["epoch"] in ("0", "1")} == {"0"}
    moved = [r for r in rows if r["epoch"] == "2" and r["split"] == "test" and r["target"] in ("0", "1")]
    assert moved  # tested against the swapped labels
    s = json.loads((out / "summary.json").read_text())
    assert len(s["backprop_test_accuracy_by_epoch"]) == 3
    from asyncpc.scenario import load_scenario

    assert load_scenario(out / "scenario.toml").data.regime == Drift(at=(2,), swap=((0, 1),))  # the run dir reproduces it


def test_shipped_stream_scenarios_validate(capsys):
    for name in ("digits_drift", "digits_incremental"):
        assert main(["validate", str(ROOT / "scenarios" / f"{name}.toml")]) == 0
    capsys.readouterr()
