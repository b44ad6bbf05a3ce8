"""Networks built without a graph object per synapse (issue 20, item 5).

A :class:`Blueprint` compiled straight into the arrays must give exactly what compiling
its ``networkx`` graph gives -- every array, dtype and option, for the shipped scenarios
and for random area graphs at any chunk size -- and the CLI's run path must never build
the graph.
"""

from dataclasses import fields
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asyncpc.model._build as builder
from asyncpc.cli import main
from asyncpc.compile import compile_network
from asyncpc.errors import SpecError
from asyncpc.model import Blueprint, Clocks, Dynamics, Learning, Messages, build, from_area_graph, layered
from asyncpc.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def differences(a, b) -> list[str]:
    """Fields of two compiled networks that differ (values or dtypes)."""
    bad = []
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "options":
            ok = x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) and x[k].dtype == y[k].dtype for k in x)
        elif isinstance(x, np.ndarray):
            ok = x.dtype == y.dtype and np.array_equal(x, y)
        else:
            ok = x == y
        if not ok:
            bad.append(f.name)
    return bad


SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if p.stem != "mnist")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_compile_the_same_without_a_graph(path):
    scn = load_scenario(path)
    bp = scn.blueprint()
    if bp is None:  # a GraphML network is a graph
        assert scn.network.kind == "graphml"
        return
    assert differences(compile_network(scn.build_network(), scn.run.h), scn.compile()) == []


def test_mnist_sized_network_the_same(tmp_path):
    from asyncpc.environment import write_idx

    rng = np.random.default_rng(0)
    for name, shape in (("train-images-idx3-ubyte", (20, 28, 28)), ("t10k-images-idx3-ubyte", (10, 28, 28))):
        write_idx(tmp_path / name, rng.integers(0, 256, shape, dtype=np.uint8))
    for name, n in (("train-labels-idx1-ubyte", 20), ("t10k-labels-idx1-ubyte", 10)):
        write_idx(tmp_path / name, (np.arange(n) % 10).astype(np.uint8))
    scn = load_scenario(ROOT / "scenarios" / "mnist.toml", overrides=[f"data.source={tmp_path}"])
    assert differences(compile_network(scn.build_network(), scn.run.h), scn.compile()) == []


DELAYS = st.sampled_from([
    0.2,
    {"dist": "uniform", "low": 0.1, "high": 0.6},
    {"dist": "gamma", "mean": 0.5, "sd": 0.2, "offset": 0.1},
    {"dist": "lognormal", "mean": 0.4, "sd": 0.1},
    {"dist": "distance", "velocity": 2.0, "synaptic": 0.1},
])


@st.composite
def area_graphs(draw):
    """A random DAG of 2-4 areas, the first sensory with a shape (receptive fields)."""
    n = draw(st.integers(2, 4))
    ag = nx.DiGraph()
    ag.add_node("a0", size=9, role="sensory", shape=(3, 3), layout=draw(st.sampled_from(["grid", "random"])))
    for k in range(1, n):
        ag.add_node(f"a{k}", size=draw(st.integers(1, 5)), role="label" if k == n - 1 else "hidden",
                    position=(draw(st.floats(0, 2)), 0.0))
    for k in range(1, n):
        for s in range(k):
            if s == k - 1 or draw(st.booleans()):
                attrs = {"p": draw(st.sampled_from([1.0, 0.7, 0.3]))}
                if s == 0 and draw(st.booleans()):
                    attrs["rf"] = 2
                if draw(st.booleans()):
                    attrs["delay"] = draw(DELAYS)
                if draw(st.booleans()):
                    attrs["feedback_delay"] = draw(DELAYS)
                if draw(st.booleans()):
                    attrs["eta"] = 0.02
                if draw(st.booleans()):
                    attrs["init_scale"] = 0.3
                ag.add_edge(f"a{s}", f"a{k}", **attrs)
    return ag


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ag=area_graphs(), seed=st.integers(0, 2**31 - 1), chunk=st.sampled_from([1, 2, 7, 1 << 18]),
       transpose=st.booleans(), sensory_fb=st.booleans(), lossy=st.booleans(), gate=st.booleans())
def test_random_area_graphs_compile_the_same_at_any_chunk_size(monkeypatch, ag, seed, chunk, transpose,
                                                               sensory_fb, lossy, gate):
    kw = dict(seed=seed, learning=Learning(feedback_init="transpose" if transpose else "random",
                                           sensory_feedback=sensory_fb),
              messages=Messages(loss=0.2 if lossy else 0.0, jitter=0.2 if lossy else 0.0),
              clocks=Clocks(period={"dist": "uniform", "low": 0.1, "high": 0.3}, phase="random", jitter=0.05),
              dynamics=Dynamics(gate=0.01 if gate else 0.0, feedback_gain=0.5))
    try:
        graph = compile_network(from_area_graph(ag, **kw), 0.1)
    except SpecError as exc:  # e.g. no connection survived p: the blueprint refuses the same way
        with pytest.raises(SpecError, match=str(exc).split(":")[0]):
            compile_network(from_area_graph(ag, as_blueprint=True, **kw), 0.1)
        return
    monkeypatch.setattr(builder, "CHUNK_PAIRS", chunk)
    bp = from_area_graph(ag, as_blueprint=True, **kw)
    assert isinstance(bp, Blueprint)
    assert bp.n_edges == graph.n_edges
    assert differences(graph, compile_network(bp, 0.1)) == []


def test_the_graph_of_a_blueprint_is_the_graph_build_makes():
    kw = dict(p=0.5, seed=3, delay={"dist": "uniform", "low": 0.1, "high": 0.5})
    g1, g2 = layered([6, 4, 3], **kw).graph, layered([6, 4, 3], as_blueprint=True, **kw).network().graph
    assert list(g1.nodes(data=True)) == list(g2.nodes(data=True))
    assert list(g1.edges(data=True)) == list(g2.edges(data=True))
    assert g1.graph == g2.graph


@pytest.mark.parametrize("kwargs, h, match", [
    (dict(delay=0.04), 0.1, r"edge \d+->\d+\.delay: 0\.04 ms is below one step"),
    (dict(partner_delay=0.04), 0.1, r"edge \d+->\d+\.delay: 0\.04 ms is below one step"),
    (dict(clocks=Clocks(period=0.04)), 0.1, r"node \d+\.period: .* below one step"),
    (dict(clocks=Clocks(period=0.2, jitter=0.2)), 0.1, r"node \d+\.clock_jitter: .* below the period"),
    (dict(messages=Messages(jitter=1e4)), 0.1, r"edge \d+->\d+\.jitter: .* too large"),
    (dict(tau_x=0.1, clocks=Clocks(period=0.2)), 0.1, r"node \d+\.tau: .* Euler"),
])
def test_the_blueprint_refuses_what_the_graph_path_refuses(kwargs, h, match):
    for bp in (False, True):
        with pytest.raises(SpecError, match=match):
            compile_network(layered([3, 2], as_blueprint=bp, **kwargs), h)


def test_nothing_survived_is_refused_before_anything_is_drawn():
    with pytest.raises(SpecError, match="no connection survived p=1e-09"):
        layered([3, 2], p=1e-9, as_blueprint=True)


def test_build_is_the_blueprints_network():
    from asyncpc.model import Area, Projection

    areas, projs = [Area("in", 3, role="sensory"), Area("out", 2, role="label")], [Projection("in", "out")]
    assert list(build(areas, projs).graph.edges(data=True)) == list(
        builder.blueprint(areas, projs).network().graph.edges(data=True))


def test_run_and_validate_never_build_a_graph(monkeypatch, tmp_path, capsys):
    def refuse(self):
        raise AssertionError("a graph object per synapse was built")

    monkeypatch.setattr(Blueprint, "network", refuse)
    assert main(["validate", str(ROOT / "scenarios" / "xor.toml")]) == 0
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "xor.toml"), "--out", str(out), "--quiet",
                 "--set", "data.epochs=2", "--set", "output.plots=false"]) == 0
    assert (out / "summary.json").exists()
    capsys.readouterr()
