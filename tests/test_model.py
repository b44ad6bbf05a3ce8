"""asyncpc.model: builders, connectivity, validation, GraphML round trip."""

import networkx as nx
import numpy as np
import pytest

from asyncpc.errors import GraphError, SpecError
from asyncpc.model import (Area, Clocks, Learning, Messages, Network, Projection, build,
                           from_area_graph, from_graphml, layered, sample, to_graphml)


def roles_between(net, a, b):
    g = net.graph
    return {r for u, v, r in g.edges(data="role")
            if g.nodes[u]["area"] == a and g.nodes[v]["area"] == b}


def test_layered_discriminative_structure():
    net = layered([4, 3, 2], activation="relu", seed=3)
    assert [a.name for a in net.areas.values()] == ["input", "hidden1", "label"]
    assert net.areas["input"].role == "sensory" and not net.areas["input"].has_errors
    assert net.areas["label"].role == "label" and net.areas["label"].has_errors
    assert net.n_edges("predict") == 4 * 3 + 3 * 2
    assert net.n_edges("feedback") == net.n_edges("predict")
    assert net.n_edges("partner") == 2 * (3 + 2)
    assert roles_between(net, "input", "hidden1") == {"predict"}
    assert roles_between(net, "hidden1", "input") == {"feedback"}


def test_layered_generative_reverses_prediction():
    net = layered([4, 3, 2], direction="generative")
    assert roles_between(net, "label", "hidden1") == {"predict"}
    assert roles_between(net, "hidden1", "input") == {"predict"}
    assert net.areas["input"].has_errors and not net.areas["label"].has_errors


def test_connection_probability_is_respected():
    net = layered([200, 100], p=0.3, seed=1)
    frac = net.n_edges("predict") / (200 * 100)
    assert abs(frac - 0.3) < 0.02
    again = layered([200, 100], p=0.3, seed=1)
    assert nx.utils.edges_equal(net.graph.edges, again.graph.edges)


def test_receptive_fields_limit_each_neuron_to_a_patch():
    net = layered([64, 36, 10], shapes={"input": (8, 8)}, rf={"input": 3}, seed=0)
    g = net.graph
    for e in net.areas["hidden1"].error_ids:
        srcs = [g.nodes[u]["index"] for u in g.predecessors(e) if g.edges[u, e]["role"] == "predict"]
        assert len(srcs) == 9
        rows, cols = {s // 8 for s in srcs}, {s % 8 for s in srcs}
        assert max(rows) - min(rows) == 2 and max(cols) - min(cols) == 2
    # 36 hidden neurons tile the 6x6 patch positions exactly once
    tops = set()
    for e in net.areas["hidden1"].error_ids:
        srcs = sorted(g.nodes[u]["index"] for u in g.predecessors(e) if g.edges[u, e]["role"] == "predict")
        tops.add(srcs[0])
    assert len(tops) == 36


def test_weights_initialised_with_fan_in_scale_and_feedback_init():
    net = layered([400, 50], seed=0, learning=Learning(feedback_init="transpose"))
    g = net.graph
    w = [d["weight"] for _, _, d in g.edges(data=True) if d["role"] == "predict"]
    assert abs(np.std(w) - 1 / np.sqrt(400)) < 0.005
    for u, v, d in g.edges(data=True):
        if d["role"] == "predict":
            assert g.edges[v, u]["weight"] == d["weight"]
    rnd = layered([400, 50], seed=0)
    same = sum(rnd.graph.edges[v, u]["weight"] == d["weight"]
               for u, v, d in rnd.graph.edges(data=True) if d["role"] == "predict")
    assert same == 0


def test_delays_and_clocks_are_drawn_per_edge_and_neuron():
    net = layered([30, 30], seed=2, delay={"dist": "uniform", "low": 0.2, "high": 1.0},
                  clocks=Clocks(period={"dist": "uniform", "low": 0.1, "high": 0.3}, phase="random"))
    d = np.array([e["delay"] for *_, e in net.graph.edges(data=True) if e["role"] != "partner"])
    assert d.min() >= 0.2 and d.max() <= 1.0 and d.std() > 0.1
    per = np.array([n["period"] for _, n in net.graph.nodes(data=True)])
    ph = np.array([n["phase"] for _, n in net.graph.nodes(data=True)])
    assert per.std() > 0 and np.all(ph < per)


def test_area_graph_builder_with_per_projection_delays():
    ag = nx.DiGraph()
    ag.add_node("v1", size=6, role="sensory")
    ag.add_node("v2", size=4, activation="relu")
    ag.add_node("pfc", size=2)
    ag.add_edge("v1", "v2", p=0.5, delay=0.3, feedback_delay=0.7)
    ag.add_edge("v2", "pfc")
    ag.add_edge("v1", "pfc", delay={"dist": "gamma", "mean": 0.5, "sd": 0.1})
    net = from_area_graph(ag, seed=4)
    g = net.graph
    for u, v, d in g.edges(data=True):
        a, b = g.nodes[u]["area"], g.nodes[v]["area"]
        if (a, b) == ("v1", "v2") and d["role"] == "predict":
            assert d["delay"] == 0.3
        if (a, b) == ("v2", "v1"):
            assert d["delay"] == 0.7
    assert net.areas["pfc"].has_errors and net.areas["v2"].activation == "relu"


def test_graphml_round_trip_rebuilds_the_same_network(tmp_path):
    net = layered([5, 4, 3], seed=7, p=0.7, shapes={"input": (1, 5)},
                  delay={"dist": "lognormal", "mean": 0.4, "sd": 0.2},
                  clocks=Clocks(period=0.2, phase="random", jitter=0.1),
                  messages=Messages(send="on_delta", threshold=0.01, loss=0.1, jitter=0.1),
                  learning=Learning(eta=0.1, decay=1e-4))
    path = tmp_path / "net.graphml"
    to_graphml(net, path)
    back = from_graphml(path)
    assert nx.utils.graphs_equal(net.graph, back.graph)
    assert list(back.graph.nodes) == list(net.graph.nodes)
    assert back.areas == net.areas

    from asyncpc.compile import compile_network
    a, b = compile_network(net), compile_network(back)
    for name in ("src", "delay", "w", "loss", "jit", "period", "phase", "act", "eta"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("make, match", [
    (lambda: layered([4, 0, 2]), "cannot be empty"),
    (lambda: layered([4, 2], activation="softsign"), "activation"),
    (lambda: layered([4, 2], delay=-0.5), "delay"),
    (lambda: layered([4, 2], delay=0), "delay"),
    (lambda: layered([4]), "at least two areas"),
    (lambda: layered([4, 2], direction="sideways"), "direction"),
    (lambda: layered([4, 2], p=1.5), "p"),
    (lambda: build([Area("a", 2), Area("b", 2)], [Projection("a", "b"), Projection("b", "a")]),
     "prediction cycle"),
    (lambda: build([Area("a", 2)], [Projection("a", "zz")]), "unknown area"),
    (lambda: build([Area("a", 2), Area("a", 3)], []), "duplicate"),
    (lambda: layered([4, 2], rf={"input": 3}), "needs a shape"),
    (lambda: layered([4, 2], messages=Messages(loss=1.0)), "loss"),
    (lambda: layered([4, 2], clocks=Clocks(phase="late")), "phase"),
    (lambda: layered([4, 2], delay={"dist": "lognormal", "mean": -1, "sd": 1}), "mean"),
    (lambda: layered([4, 2], delay={"dist": "uniform", "low": 1}), "high"),
])
def test_builders_reject_bad_specifications(make, match):
    with pytest.raises(SpecError, match=match):
        make()


def test_cycles_allowed_on_request():
    net = build([Area("a", 2), Area("b", 2)], [Projection("a", "b"), Projection("b", "a")],
                allow_cycles=True)
    assert net.areas["a"].has_errors and net.areas["b"].has_errors


def _small():
    return layered([2, 2], seed=0).graph.copy()


@pytest.mark.parametrize("mutate, match", [
    (lambda g: g.remove_edge(*next((u, v) for u, v, r in g.edges(data="role") if r == "partner")),
     "partner"),
    (lambda g: g.nodes[0].update(activation="cubic"), "unknown activation"),
    (lambda g: g.edges[next(iter(g.edges))].update(delay=0.0), "delay"),
    (lambda g: g.edges[next(iter(g.edges))].update(delay=-1.0), "delay"),
    (lambda g: g.nodes[0].update(kind="glia"), "kind"),
    (lambda g: g.edges[next(iter(g.edges))].update(role="lateral"), "role"),
    (lambda g: g.remove_nodes_from([n for n, k in g.nodes(data="kind") if k == "error"][:1]), "partner"),
    (lambda g: g.nodes[1].update(index=0), "also the index"),
    (lambda g: g.graph.update(feedback="telepathy"), "feedback"),
    (lambda g: g.graph.update({"shape:input": "3x4"}), "does not match"),
    (lambda g: g.nodes[0].update(index=2**40), "index"),
])
def test_validation_names_the_culprit(mutate, match):
    g = _small()
    mutate(g)
    with pytest.raises(GraphError, match=match):
        Network(g)


def test_user_graph_with_defaults_is_accepted():
    g = nx.DiGraph()
    g.add_node("s", kind="value", area="s", role="sensory")
    g.add_node("x", kind="value", area="h")
    g.add_node("e", kind="error", area="h")
    g.add_edge("x", "e", role="partner", weight=1.0)
    g.add_edge("e", "x", role="partner", weight=-1.0)
    g.add_edge("s", "e", role="predict", weight=0.5)
    g.add_edge("e", "s", role="feedback", weight=0.5)
    net = Network(g)
    assert net.node("x")["tau"] == 1.0 and net.node("e")["tau"] == 0.0
    assert net.edge("s", "e")["delay"] == 0.1


def test_graphml_errors(tmp_path):
    with pytest.raises(GraphError, match="not found"):
        from_graphml(tmp_path / "missing.graphml")
    bad = tmp_path / "bad.graphml"
    bad.write_text("<graphml><nonsense")
    with pytest.raises(GraphError, match="not a readable GraphML"):
        from_graphml(bad)


@pytest.mark.parametrize("spec", [
    {"dist": "lognormal", "mean": 2.0, "sd": 0.5},
    {"dist": "gamma", "mean": 1.5, "sd": 0.3},
    {"dist": "uniform", "low": 1.0, "high": 3.0},
    {"dist": "normal", "mean": 4.0, "sd": 0.2, "offset": 1.0},
])
def test_delay_distributions_have_their_stated_moments(spec):
    x = sample(spec, 200_000, np.random.default_rng(0))
    mean = spec.get("mean", 2.0) + spec.get("offset", 0.0)
    sd = spec.get("sd", 2.0 / np.sqrt(12))
    assert abs(x.mean() - mean) < 0.01 * mean
    assert abs(x.std() - sd) < 0.02 * sd + 1e-3
