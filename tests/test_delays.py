"""Delay, clock and channel models, checked on built networks and in runs (docs/delays.md)."""

import math
import os
import sys

import numpy as np
import pytest

from asyncpc.compile import compile_network
from asyncpc.environment import Schedule
from asyncpc.errors import ScenarioError, SpecError
from asyncpc.model import (Area, Clocks, Messages, Projection, build, from_graphml, layered, positions,
                           to_graphml)
from asyncpc.scenario import parse_scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def edge_delays(net, role):
    return np.array([d["delay"] for *_, d in net.graph.edges(data=True) if d["role"] == role])


def node_xy(net, n):
    a = net.graph.nodes[n]
    return np.array([a["x"], a["y"]])


# -- random per-edge delays ----------------------------------------------------------------

@pytest.mark.parametrize("spec, mean, sd", [
    ({"dist": "lognormal", "mean": 0.5, "sd": 0.2}, 0.5, 0.2),
    ({"dist": "gamma", "mean": 0.8, "sd": 0.3}, 0.8, 0.3),
    ({"dist": "normal", "mean": 1.0, "sd": 0.1}, 1.0, 0.1),
])
def test_random_delays_of_a_built_network_have_the_stated_mean_and_variance(spec, mean, sd):
    net = layered([150, 150], seed=3, delay=spec)  # 22,500 predict edges
    for role in ("predict", "feedback"):
        d = edge_delays(net, role)
        assert len(d) == 150 * 150 and d.min() > 0
        assert abs(d.mean() - mean) < 0.01 * mean
        assert abs(d.var() - sd ** 2) < 0.05 * sd ** 2
    # forward and feedback edges draw from their own streams
    assert not np.array_equal(edge_delays(net, "predict"), edge_delays(net, "feedback"))


def test_uniform_delays_stay_within_their_bounds_and_fill_them():
    net = layered([100, 100], seed=1, delay={"dist": "uniform", "low": 0.2, "high": 0.6})
    d = edge_delays(net, "predict")
    assert d.min() >= 0.2 and d.max() <= 0.6
    assert d.min() < 0.201 and d.max() > 0.599
    assert abs(d.mean() - 0.4) < 0.004 and abs(d.var() - 0.4 ** 2 / 12) < 0.05 * 0.4 ** 2 / 12


def test_feedback_delays_are_set_separately_from_forward_delays():
    fb = {"dist": "lognormal", "mean": 1.5, "sd": 0.5}
    net = build([Area("a", 40, role="sensory"), Area("b", 40)],
                [Projection("a", "b", delay=0.2, feedback_delay=fb)], seed=0)
    assert np.all(edge_delays(net, "predict") == 0.2)
    d = edge_delays(net, "feedback")
    assert abs(d.mean() - 1.5) < 0.05 and d.std() > 0.3
    assert np.all(edge_delays(net, "partner") == 0.1)
    # and from a scenario: delays.feedback overrides the forward default
    s = parse_scenario({"network": {"sizes": [2, 4, 2]}, "data": {"source": "xor"},
                        "delays": {"forward": 0.3, "feedback": 0.7}})
    net = s.build_network()
    assert set(edge_delays(net, "predict")) == {0.3} and set(edge_delays(net, "feedback")) == {0.7}


# -- distance-based delays -----------------------------------------------------------------

def test_grid_and_random_layouts():
    assert positions(Area("a", 1, position=(2.0, -1.0))).tolist() == [[2.0, -1.0]]
    g = positions(Area("img", 6, shape=(2, 3), sheet_size=3.0))
    assert np.allclose(g, [[-1, -0.5], [0, -0.5], [1, -0.5], [-1, 0.5], [0, 0.5], [1, 0.5]])
    r = positions(Area("h", 500, position=(5.0, 5.0), sheet_size=2.0, layout="random"), seed=7)
    assert r.min() >= 4.0 and r.max() <= 6.0 and abs(r.mean() - 5.0) < 0.1
    assert np.array_equal(r, positions(Area("h", 500, position=(5.0, 5.0), sheet_size=2.0, layout="random"), 7))
    assert not np.array_equal(r, positions(Area("h", 500, position=(5.0, 5.0), sheet_size=2.0,
                                                layout="random"), 8))


def test_distance_delays_equal_synaptic_plus_distance_over_velocity():
    model = {"dist": "distance", "velocity": 0.5, "synaptic": 0.2}
    net = build([Area("v1", 16, role="sensory", shape=(4, 4), position=(0.0, 0.0)),
                 Area("v2", 9, position=(3.0, 1.0), layout="random")],
                [Projection("v1", "v2", delay=model)], seed=4)
    g = net.graph
    dist, delay = [], []
    for u, v, d in g.edges(data=True):
        if d["role"] == "partner":
            assert d["delay"] == 0.1
            continue
        r = float(np.hypot(*(node_xy(net, u) - node_xy(net, v))))
        assert d["delay"] == pytest.approx(0.2 + r / 0.5, rel=1e-12)
        assert g.edges[v, u]["delay"] == d["delay"]  # feedback takes the same path back
        dist.append(r)
        delay.append(d["delay"])
    order = np.argsort(dist)
    assert np.all(np.diff(np.array(delay)[order]) >= 0)  # monotone in distance
    assert max(dist) - min(dist) > 1.0
    # an error neuron sits with its value partner
    for n, a in g.nodes(data=True):
        if a["kind"] == "error":
            partner = next(m for m in g.successors(n) if g.edges[n, m]["role"] == "partner")
            assert np.array_equal(node_xy(net, n), node_xy(net, partner))


def test_distance_delays_grow_with_the_distance_between_areas():
    model = {"dist": "distance", "velocity": 1.0, "synaptic": 0.1}
    means = []
    for gap in (0.0, 1.0, 2.0, 4.0):
        net = build([Area("a", 9, role="sensory", position=(0.0, 0.0)), Area("b", 9, position=(gap, 0.0))],
                    [Projection("a", "b", delay=model)])
        means.append(edge_delays(net, "predict").mean())
    assert np.all(np.diff(means) > 0)
    assert means[-1] - means[-2] == pytest.approx(2.0, abs=0.1)  # far apart: ~ gap / velocity


def test_distance_forward_with_a_separate_feedback_model():
    net = build([Area("a", 4, role="sensory"), Area("b", 4, position=(1.0, 0.0))],
                [Projection("a", "b", delay={"dist": "distance", "velocity": 2.0, "synaptic": 0.1},
                            feedback_delay={"dist": "distance", "velocity": 0.5, "synaptic": 0.3})])
    g = net.graph
    for u, v, d in g.edges(data=True):
        if d["role"] == "predict":
            r = float(np.hypot(*(node_xy(net, u) - node_xy(net, v))))
            assert d["delay"] == pytest.approx(0.1 + r / 2.0)
            assert g.edges[v, u]["delay"] == pytest.approx(0.3 + r / 0.5)


def test_positions_and_distance_delays_survive_graphml(tmp_path):
    net = layered([9, 4, 2], positions={"hidden1": [1.5, 0.0], "label": [3.0, 0.5]}, layout="random",
                  sheet_size=0.5, delay={"dist": "distance", "velocity": 1.0, "synaptic": 0.1}, seed=2)
    to_graphml(net, tmp_path / "n.graphml")
    back = from_graphml(tmp_path / "n.graphml")
    for n, a in net.graph.nodes(data=True):
        assert back.graph.nodes[n]["x"] == a["x"] and back.graph.nodes[n]["y"] == a["y"]
    assert np.array_equal(edge_delays(back, "predict"), edge_delays(net, "predict"))
    c = compile_network(back)
    assert c.delay.min() >= 1


def test_distance_model_from_a_scenario():
    raw = {"network": {"kind": "area_graph", "sheet_size": 2.0,
                       "areas": {"in": {"size": 2, "role": "sensory", "position": [0, 0]},
                                 "h": {"size": 4, "position": [3, 4], "layout": "random"},
                                 "out": {"size": 2, "role": "label", "position": [0, 4], "sheet_size": 0.5}},
                       "projections": [{"src": "in", "dst": "h"},
                                       {"src": "h", "dst": "out", "delay": 0.3}]},
           "delays": {"forward": {"dist": "distance", "velocity": 2.5, "synaptic": 0.2}},
           "data": {"source": "xor", "max_train": 0}}
    s = parse_scenario(raw)
    assert s.resolved()["network"]["areas"]["h"]["position"] == [3.0, 4.0]
    assert s.resolved()["network"]["areas"]["out"]["sheet_size"] == 0.5
    assert s.resolved()["delays"]["forward"] == {"dist": "distance", "velocity": 2.5, "synaptic": 0.2}
    net = s.build_network()
    g = net.graph
    for u, v, d in g.edges(data=True):
        if d["role"] == "predict" and g.nodes[u]["area"] == "in":
            r = float(np.hypot(*(node_xy(net, u) - node_xy(net, v))))
            assert d["delay"] == pytest.approx(0.2 + r / 2.5) and 3.0 < r < 8.0
        elif d["role"] in ("predict", "feedback") and g.nodes[u]["area"] in ("h", "out"):
            if {g.nodes[u]["area"], g.nodes[v]["area"]} == {"h", "out"}:
                assert d["delay"] == 0.3
    s.compile(net)
    # layered: network.positions
    s = parse_scenario({"network": {"sizes": [2, 3, 1], "positions": {"label": [10, 0]}},
                        "delays": {"forward": {"dist": "distance", "velocity": 1.0, "synaptic": 0.1}},
                        "data": {"source": "xor"}})
    net = s.build_network()
    lab = [(u, v, e["delay"]) for u, v, e in net.graph.edges(data=True)
           if e["role"] == "predict" and net.graph.nodes[v]["area"] == "label"]
    assert lab and all(9.0 < dl - 0.1 < 11.0 for *_, dl in lab)


@pytest.mark.parametrize("patch, match", [
    ({"delays": {"forward": {"dist": "distance", "velocity": 0, "synaptic": 0.1}}}, r"delays\.forward\.velocity"),
    ({"delays": {"forward": {"dist": "distance", "velocity": 1.0}}}, r"delays\.forward\.synaptic"),
    ({"delays": {"forward": {"dist": "distance", "velocity": 1.0, "synaptic": 0.01}}},
     r"delays\.forward\.synaptic: must be >= one step"),
    ({"delays": {"forward": {"dist": "distance", "velocity": 1.0, "synaptic": 0.1, "offset": 1}}},
     r"delays\.forward\.offset"),
    ({"neurons": {"clock": {"period": {"dist": "distance", "velocity": 1.0, "synaptic": 0.1}}}},
     r"neurons\.clock\.period\.dist"),
    ({"network": {"sizes": [2, 1], "positions": {"label": [1]}}}, r"network\.positions\.label"),
    ({"network": {"sizes": [2, 1], "positions": {"nope": [1, 2]}}}, r"network\.positions\.nope"),
    ({"network": {"sizes": [2, 1], "layout": "hex"}}, r"network\.layout"),
    ({"network": {"sizes": [2, 1], "sheet_size": 0}}, r"network\.sheet_size"),
])
def test_bad_distance_keys_are_named(patch, match):
    raw = {"network": {"sizes": [2, 1]}, "data": {"source": "xor"}}
    for k, v in patch.items():
        raw[k] = v
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(raw)


def test_model_rejects_bad_distance_specs():
    with pytest.raises(SpecError, match="velocity"):
        Projection("a", "b", delay={"dist": "distance", "velocity": -1, "synaptic": 0.1})
    with pytest.raises(SpecError, match="synaptic"):
        Projection("a", "b", delay={"dist": "distance", "velocity": 1, "synaptic": 0})
    with pytest.raises(SpecError, match="period.dist"):
        Clocks(period={"dist": "distance", "velocity": 1, "synaptic": 0.1})
    with pytest.raises(SpecError, match="position"):
        Area("a", 2, position=(1.0,))
    with pytest.raises(SpecError, match="layout"):
        Area("a", 2, layout="hex")


# -- clocks --------------------------------------------------------------------------------

def test_clock_periods_and_random_phases():
    net = layered([600, 2], seed=5, clocks=Clocks(period={"dist": "uniform", "low": 0.1, "high": 0.5},
                                                    phase="random"))
    per = np.array([a["period"] for _, a in net.graph.nodes(data=True)])
    ph = np.array([a["phase"] for _, a in net.graph.nodes(data=True)])
    assert per.min() >= 0.1 and per.max() <= 0.5 and abs(per.mean() - 0.3) < 0.01
    assert np.all(ph >= 0) and np.all(ph < per)
    u = np.sort(ph / per)  # uniform in [0, 1): Kolmogorov-Smirnov distance
    ks = np.max(np.abs(u - (np.arange(1, len(u) + 1) - 0.5) / len(u)))
    assert ks < 1.63 / math.sqrt(len(u))  # p ~ 0.01
    zero = layered([3, 3], clocks=Clocks(period=0.2))
    assert {a["phase"] for _, a in zero.graph.nodes(data=True)} == {0.0}
    c = compile_network(net)  # compiled phases lie in 0 .. period - 1 steps
    assert np.all(c.phase >= 0) and np.all(c.phase < c.period)


class Ticks:
    def __init__(self):
        self.t = []

    def neuron_ticked(self, t, neuron, s):
        self.t.append((neuron, t))


def test_clock_jitter_bounds_the_tick_intervals_of_a_run():
    from asyncpc import engine

    net = layered([6, 6], clocks=Clocks(period=0.5, phase="random", jitter=0.2), seed=0)
    c = compile_network(net, h=0.1)
    obs = Ticks()
    engine.run(c, Schedule.empty(end=2000), seed=3, observers=[obs])
    ticks = np.array(obs.t)
    gaps = []
    for n in range(c.n_neurons):
        t = np.sort(ticks[ticks[:, 0] == n, 1])
        assert t[0] == c.phase[n]
        gaps.append(np.diff(t))
    gaps = np.concatenate(gaps)
    assert gaps.min() == 5 - 2 and gaps.max() == 5 + 2  # period 5 steps, jitter 2 steps
    assert set(np.unique(gaps)) == {3, 4, 5, 6, 7}
    assert abs(gaps.mean() - 5) < 0.1


# -- channels ------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [0.1, 0.4])
def test_message_loss_fraction_observed_in_a_run(loss):
    from asyncpc import engine

    net = layered([8, 8, 4], messages=Messages(loss=loss), seed=1)
    c = compile_network(net, h=0.1)
    res = engine.run(c, Schedule.empty(end=400), seed=0, record_messages=True)
    m = res.extra["messages"]
    lossy = c.edge_role()[np.asarray(m["edge"])] != 2  # partner edges never lose messages
    dropped = np.asarray(m["dropped"])
    frac = dropped[lossy].mean()
    n = lossy.sum()
    assert n > 50_000
    assert abs(frac - loss) < 4 * math.sqrt(loss * (1 - loss) / n)
    assert not dropped[~lossy].any()
    assert res.dropped == dropped.sum() and res.sent == len(dropped)


def test_message_jitter_spreads_arrivals_within_its_bound():
    from asyncpc import engine

    net = layered([5, 5], messages=Messages(jitter=0.3), delay=0.2, seed=0)
    c = compile_network(net, h=0.1)
    res = engine.run(c, Schedule.empty(end=300), seed=2, record_messages=True)
    m = res.extra["messages"]
    lossy = c.edge_role()[np.asarray(m["edge"])] != 2
    lag = (np.asarray(m["t_arrive"]) - np.asarray(m["t_send"]))[lossy]
    assert set(np.unique(lag)) == {2, 3, 4, 5}  # delay 2 steps + jitter 0..3 steps


# -- the delayed loop: simulator = exact recurrence, onset near Hayes' boundary --------------

def test_delay_loop_matches_its_recurrence_and_hayes_boundary():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import delay_study as ds
    finally:
        sys.path.pop(0)
    rates = {}
    for D in (44, 52):
        t, x, p = ds.simulate(D, duration=300.0)
        a, b, h = p["a"], p["b"], p["h"]
        rates[D] = ds.growth_rate(t, x, p["x_star"])
        assert rates[D] == pytest.approx(ds.discrete_rate(h / p["tau"], h * b, 2 * p["partner"], D, h),
                                         abs=2e-4)
    assert b / a == pytest.approx(4.0, rel=1e-3)
    dc = ds.hayes_boundary(a, b) + h  # 4.81 ms loop delay
    assert rates[44] < 0 < rates[52] and 4.4 < dc < 5.2
