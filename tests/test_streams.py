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
from asyncpc.environment import EV_CLAMP, Drift, Incremental, load_dataset, stream_schedule
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
    (Incremental(classes=((0,), (0, 1))), r"incremental\.classes\[1\]: class 0 is in an earlier block"),
    (Incremental(classes=((0,), (1,)), epochs=3), r"incremental\.epochs: 2 blocks x 3 epochs"),
    (Incremental(classes=((0,), (1,)), rehearse=1.5), r"incremental\.rehearse"),
])
def test_bad_regimes_are_refused(digits, regime, match):
    with pytest.raises(SpecError, match=match):
        _sched(digits, regime=regime)


def test_follow_stream_is_online_backprop_on_the_schedules_own_order(digits):
    d, c = digits
    s = _sched(digits, regime=Drift(at=(2,)))
    a, b = BackpropMLP.from_compiled(c), BackpropMLP.from_compiled(c)
    res = a.follow_stream(s, d, lr=0.05)
    m = s.meta
    for e in range(4):
        tr = np.flatnonzero((m["split"] == 0) & (m["epoch"] == e))
        b.fit_rows(d.X_train, None, m["sample"][tr], 0.05, targets=d.targets(m["target"][tr], 10))
        te = (m["split"] == 1) & (m["epoch"] == e)
        acc = float(np.mean(b.predict(d.X_test[m["sample"][te]]).argmax(1) == m["target"][te]))
        assert res[e]["epoch"] == e and res[e]["regime"] == int(e >= 2) and res[e]["test_accuracy"] == acc
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))


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
    p.write_text('[run]\nname = "s"\n[network]\nsizes = [64, 8, 10]\nactivation = "relu"\n'
                 '[data]\nsource = "sklearn:digits"\nn_train = 60\nn_test = 30\nepochs = 3\npresent = 4.0\n' + extra)
    return p


@pytest.mark.parametrize("extra, key", [
    ("[data.drift]\nat = [3]\n", "data.drift.at[0]: must be an integer <= 2"),
    ("[data.drift]\nat = [1]\nswap = [[0, 10]]\n", "data.drift.swap[0][1]: must be an integer <= 9"),
    ("[data.drift]\nevery = 1\n", "data.drift.at: required key is missing"),
    ("[data.incremental]\nclasses = [[0], [0]]\n", "data.incremental.classes: class 0 is in an earlier block"),
    ("[data.incremental]\nclasses = [[0], [1]]\nrehearse = 2\n", "data.incremental.rehearse: must be <= 1"),
    ("[data.drift]\nat = [1]\n[data.incremental]\nclasses = [[0]]\n", "data.incremental: a stream either drifts"),
])
def test_scenario_regimes_refuse_bad_input_with_one_line(tmp_path, capsys, extra, key):
    assert main(["validate", str(_scenario(tmp_path, extra))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and "Traceback" not in err[0], err


def test_a_drifting_run_records_its_regime_and_backprop_follows_it(tmp_path):
    out = tmp_path / "run"
    p = _scenario(tmp_path, "[data.drift]\nat = [2]\nswap = [[0, 1]]\n")
    assert main(["run", str(p), "--out", str(out), "--quiet", "--set", "output.plots=false"]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
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
