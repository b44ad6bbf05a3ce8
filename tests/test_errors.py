"""Structured errors (asyncpc.errors): a model or compiler error knows where it arose
(``at``) and which field (``field``), its text is written from them, and a scenario
finds the key of an error from that structure."""

from __future__ import annotations

import os
import pickle

import networkx as nx
import pytest

from asyncpc.compile import compile_network
from asyncpc.errors import GraphError, ScenarioError, SpecError, place
from asyncpc.model import (Area, Clocks, Dynamics, Learning, Messages, Network, Projection, blueprint,
                           from_graphml, layered)
from asyncpc.scenario import load_scenario

HERE = os.path.dirname(__file__)
SCENARIOS = os.path.join(HERE, "..", "scenarios")


def raised(cls, fn):
    with pytest.raises(cls) as e:
        fn()
    return e.value


@pytest.mark.parametrize("at, field, text", [
    (("area", "in"), ("size",), "areas.in.size"),
    (("area", "in"), ("position", 0), "areas.in.position[0]"),
    (("projection", "a", "b"), ("delay", "dist"), "projections.a->b.delay.dist"),
    (("node", "h:0"), ("tau",), "node 'h:0'.tau"),
    (("node", 3), (), "node 3"),
    (("edge", 1, 2), ("jitter",), "edge 1->2.jitter"),
    (("graph", "feedback"), (), "graph attribute 'feedback'"),
    (("section", "neurons.clock"), ("period",), "neurons.clock.period"),
    ("messages", "loss", "messages.loss"),
])
def test_place_writes_the_head_of_a_message(at, field, text):
    assert place(at, field) == text
    e = SpecError.located(at, field, "must be > 0")
    assert str(e) == f"{text}: must be > 0"
    assert e.at == (("section", at) if isinstance(at, str) else at)
    assert e.field == ((field,) if isinstance(field, str) else field)


def test_structure_is_optional_and_survives_pickling():
    e = SpecError("anything")
    assert (str(e), e.at, e.field) == ("anything", None, ())
    g = pickle.loads(pickle.dumps(GraphError.located(("edge", 1, 2), "delay", "must be > 0")))
    assert (type(g), str(g), g.at, g.field) == (GraphError, "edge 1->2.delay: must be > 0", ("edge", 1, 2), ("delay",))


@pytest.mark.parametrize("make, text, at, field", [
    (lambda: Area("a", 0), "areas.a.size: must be an integer >= 1 (an area cannot be empty), got 0",
     ("area", "a"), ("size",)),
    (lambda: Area("a", 1, position=(0, float("inf"))), "areas.a.position[1]: must be a finite number, got inf",
     ("area", "a"), ("position", 1)),
    (lambda: Projection("a", "b", p=2), "projections.a->b.p: must be <= 1, got 2", ("projection", "a", "b"), ("p",)),
    (lambda: Projection("a", "b", delay={"dist": "normal", "mean": 1}),
     "projections.a->b.delay.sd: required for dist='normal'", ("projection", "a", "b"), ("delay", "sd")),
    (lambda: Clocks(jitter=-1), "neurons.clock.jitter: must be >= 0, got -1", ("section", "neurons.clock"),
     ("jitter",)),
    (lambda: Messages(loss=1), "messages.loss: must be < 1 (every message lost), got 1", ("section", "messages"),
     ("loss",)),
    (lambda: Learning(eta=-1), "learning.eta: must be >= 0, got -1", ("section", "learning"), ("eta",)),
    (lambda: Dynamics(gate=-1), None, ("section", "neurons"), ("gate",)),
])
def test_spec_errors_carry_their_place(make, text, at, field):
    e = raised(SpecError, make)
    if text is not None:
        assert str(e) == text
    assert (e.at, e.field) == (at, field)
    assert str(e).startswith(place(at, field) + ": ")


def test_builder_errors_carry_their_place():
    e = raised(SpecError, lambda: blueprint([Area("a", 1), Area("b", 1)], [Projection("a", "b"), Projection("b", "a")]))
    assert (e.at, e.field) == (("section", "projections"), ())
    e = raised(SpecError, lambda: layered([4, 1], rf={"input": 3}, shapes={"input": (2, 2)}))
    assert str(e) == "projections.input->label.rf: patch 3 larger than 2x2"
    assert (e.at, e.field) == (("projection", "input", "label"), ("rf",))
    e = raised(SpecError, lambda: layered([2, 1], delay={"dist": "normal", "mean": 0.1, "sd": 5}))
    assert (e.at, e.field) == (("projection", "input", "label"), ("delay",))
    assert "drew a non-positive delay" in str(e)
    e = raised(SpecError, lambda: layered([2, 1], clocks=Clocks(period={"dist": "normal", "mean": 0.1, "sd": 5})))
    assert (e.at, e.field) == (("section", "neurons.clock"), ("period",))
    e = raised(SpecError, lambda: blueprint([Area("a", 1)], [], dynamics=Dynamics(precision={"zz": 2.0})))
    assert (e.at, e.field) == (("section", "neurons"), ("precision", "zz"))


def test_graph_errors_carry_their_place(tmp_path):
    g = layered([2, 1]).graph
    n = next(iter(g.nodes))
    g.nodes[n]["tau"] = -1
    e = raised(GraphError, lambda: Network(g))
    assert (e.at, e.field, str(e)) == (("node", n), ("tau",), f"node {n!r}.tau: must be > 0, got -1")
    g = layered([2, 1]).graph
    u, v = next(iter(g.edges))
    g.edges[u, v]["delay"] = 0
    e = raised(GraphError, lambda: Network(g))
    assert (e.at, e.field) == (("edge", u, v), ("delay",))
    p = os.path.join(tmp_path, "x.graphml")
    nx.write_graphml(g, p)
    e = raised(GraphError, lambda: from_graphml(p))  # the text adds the file; the place stays in the graph
    assert str(e).startswith(f"{p}: edge {u!r}->{v!r}.delay: ") and (e.at, e.field) == (("edge", u, v), ("delay",))


@pytest.mark.parametrize("as_blueprint", [False, True])
def test_compiler_errors_carry_their_place(as_blueprint):
    e = raised(SpecError, lambda: compile_network(layered([2, 1], as_blueprint=as_blueprint), 0.3))
    assert e.at[0] == "node" and e.field == ("period",) and "below one step" in str(e)
    e = raised(SpecError, lambda: compile_network(layered([2, 1], tau_x=0.05, as_blueprint=as_blueprint), 0.1))
    assert e.at[0] == "node" and e.field == ("tau",) and "Euler needs dt/tau <= 1" in str(e)
    e = raised(SpecError, lambda: compile_network(layered([2, 1], clocks=Clocks(jitter=0.1),
                                                          as_blueprint=as_blueprint), 0.1))
    assert e.at[0] == "node" and e.field == ("clock_jitter",)
    e = raised(SpecError, lambda: compile_network(layered([2, 1], delay=0.04, clocks=Clocks(period=0.2),
                                                          as_blueprint=as_blueprint), 0.1))
    assert e.at[0] == "edge" and e.field == ("delay",)
    assert str(e).startswith(place(e.at, e.field) + ": 0.04 ms is below one step")
    e = raised(SpecError, lambda: compile_network(layered([2, 1], messages=Messages(jitter=1e4),
                                                          as_blueprint=as_blueprint), 0.1))
    assert e.at[0] == "edge" and e.field == ("jitter",)
    e = raised(SpecError, lambda: compile_network(layered([2, 1], as_blueprint=as_blueprint), 0))
    assert (e.at, e.field) == (("section", "run"), ("h",))


AREA_GRAPH = """\
[network]
kind = "area_graph"
[network.areas.a]
size = 16
shape = [4, 4]
role = "sensory"
[network.areas.b]
size = 8
[network.areas.c]
size = 4
role = "label"
[[network.projections]]
src = "a"
dst = "b"
rf = 2
[[network.projections]]
src = "b"
dst = "c"
[data]
source = "constant"
duration = 10.0
probe_every = 1.0
"""


@pytest.mark.parametrize("name, override, key", [
    # a layered network sets every projection's delays in [delays]
    ("xor.toml", 'delays.forward={dist="normal",mean=0.2,sd=1.0}', "delays.forward"),
    ("xor.toml", 'delays.feedback={dist="normal",mean=0.2,sd=1.0}', "delays.feedback"),
    ("xor.toml", 'neurons.clock.period={dist="normal",mean=0.2,sd=1.0}', "neurons.clock.period"),  # the builder
    ("xor.toml", 'neurons.clock.period={dist="gamma",mean=0.15,sd=0.2}', "neurons.clock.period"),  # the compiler
    ("xor.toml", "neurons.precision={nope=2.0}", "neurons.precision.nope"),
    # an area graph sets them per projection
    (None, 'network.projections[1].delay={dist="normal",mean=0.3,sd=1.0}', "network.projections[1].delay"),
    (None, "network.projections[1].p=1e-9", "network"),  # the projection itself: no field
    (None, 'delays.forward={dist="lognormal",mean=0.12,sd=0.1}', "delays.forward"),  # an edge's delay
])
def test_the_scenario_key_comes_from_the_structure(tmp_path, name, override, key):
    if name is None:
        path = os.path.join(tmp_path, "ag.toml")
        with open(path, "w") as fh:
            fh.write(AREA_GRAPH)
    else:
        path = os.path.join(SCENARIOS, name)
    e = raised(ScenarioError, lambda: load_scenario(path, [override]).compile())
    assert e.key == key


def test_a_message_does_not_repeat_the_key_it_is_reported_at():
    xor = os.path.join(SCENARIOS, "xor.toml")
    e = raised(ScenarioError, lambda: load_scenario(xor, ['neurons.clock.period={dist="normal",mean=0.2,sd=5.0}'])
               .compile())
    assert str(e).count("neurons.clock.period") == 1 and "drew a non-positive period" in str(e)
    # where the error's place says more than the key (which projection drew it), it stays
    e = raised(ScenarioError, lambda: load_scenario(xor, ['delays.forward={dist="normal",mean=0.2,sd=5.0}']).compile())
    assert e.key == "delays.forward" and "delays.forward: projections." in str(e)


def test_an_error_without_structure_is_at_the_network():
    s = load_scenario(os.path.join(SCENARIOS, "xor.toml"))
    assert s._model_key(SpecError("projections.input->hidden1.delay: no structure")) == ("network",)
    assert s._model_key(SpecError.located(("edge", 1, 2), "delay", "x")) == ("delays", "forward")
    assert s._model_key(SpecError.located(("node", 1), "clock_jitter", "x")) == ("neurons", "clock", "jitter")
    assert s._model_key(SpecError.located(("projection", "input", "hidden1"), "rf", "x")) == ("network", "rf", "input")


# -- the environment: its protocols' arguments and a stream's regimes ------------------------
@pytest.fixture(scope="module")
def xor_net():
    from asyncpc.environment import load_dataset

    return load_dataset("xor"), compile_network(layered([2, 4, 1], seed=0), h=0.1)


def _stream(xor_net, **kw):
    from asyncpc.environment import stream_schedule

    d, c = xor_net
    args = dict(sensory_area="input", label_area="label", present_steps=10, epochs=4, seed=0)
    return lambda: stream_schedule(c, d, **{**args, **kw})


@pytest.mark.parametrize("kw, at, field, text", [
    (dict(sensory_area="nope"), ("option", "sensory_area"), (), "sensory_area: no area 'nope' in the network"),
    (dict(label_area="nope"), ("option", "label_area"), (), "label_area: no area 'nope' in the network"),
    (dict(label_area="input"), ("option", "label_area"), (), "label_area: must differ from the sensory area"),
    (dict(present_steps=0), ("option", "present_steps"), (), "present_steps: must be an integer >= 1, got 0"),
    (dict(generate={"present_steps": 1}), ("option", "generate"), ("present_steps",),
     "generate.present_steps: 1 steps must exceed"),
    (dict(generate={"classes": [5]}), ("option", "generate"), ("classes",), "generate.classes: must be class"),
])
def test_stream_errors_carry_their_place(xor_net, kw, at, field, text):
    e = raised(SpecError, _stream(xor_net, **kw))
    assert (e.at, e.field) == (at, field) and str(e).startswith(text)


@pytest.mark.parametrize("regime, at, field, text", [
    (dict(at=(1,), over=5), ("section", "drift"), ("over",), "drift.over: a change over 5 epochs"),
    (dict(at=(1,), swap=((0, 0),)), ("section", "drift"), ("swap", 0), "drift.swap[0]: must be two"),
    (dict(at=(1,), change="no"), ("section", "drift"), ("change",), "drift.change: must be one of"),
    (dict(classes=((0,), (0,))), ("section", "incremental"), ("classes", 1),
     "incremental.classes[1]: class 0 is in an earlier block"),
    (dict(classes=((0,), (1,)), epochs=3), ("section", "incremental"), ("epochs",),
     "incremental.epochs: 2 blocks x 3 epochs is more than data.epochs = 4"),
])
def test_regime_errors_carry_their_place(xor_net, regime, at, field, text):
    from asyncpc.environment import Drift, Incremental

    kind = Incremental if "classes" in regime else Drift
    e = raised(SpecError, _stream(xor_net, regime=kind(**regime)))
    assert (e.at, e.field) == (at, field) and str(e).startswith(text)


def test_a_regime_error_about_the_data_has_no_field():
    from asyncpc.environment import Drift

    e = raised(SpecError, lambda: Drift(at=(1,)).check(4, 1))
    assert (e.at, e.field, str(e)) == (("section", "drift"), (), "drift: needs at least 2 classes, the data have 1")


def test_clamp_errors_carry_their_place(xor_net):
    from asyncpc.environment import clamp_schedule

    c = xor_net[1]
    e = raised(SpecError, lambda: clamp_schedule(c, {"nope": 1.0}, steps=10, probe_every=1))
    assert (e.at, e.field) == (("option", "clamps"), ("nope",)) and str(e).startswith("clamps.nope: no area")
    e = raised(SpecError, lambda: clamp_schedule(c, {"input": [1.0]}, steps=10, probe_every=1))
    assert (e.at, e.field) == (("option", "clamps"), ("input",)) and str(e).startswith("clamps.input: must be")
    e = raised(SpecError, lambda: clamp_schedule(c, {}, steps=10, probe_every=1, readout=["nope"]))
    assert (e.at, e.field) == (("option", "readout"), ()) and str(e).startswith("readout: no area 'nope'")


def test_the_schedule_key_comes_from_the_structure():
    from asyncpc.errors import DataError
    from asyncpc.scenario._scenario import _schedule_key

    assert _schedule_key(SpecError.located(("option", "label_area"), (), "x")) == ("readout", "area")
    assert _schedule_key(SpecError.located(("option", "generate"), "classes", "x")) == ("data", "generate")
    assert _schedule_key(SpecError.located(("section", "incremental"), ("classes", 1), "x")) == ("data", "incremental")
    assert _schedule_key(SpecError.located(("option", "epochs"), (), "x")) == ("data",)
    assert _schedule_key(SpecError("drift.at: no structure")) == ("data",)  # the text is not read
    assert _schedule_key(DataError("generate: a data source's error")) == ("data",)
    # a scenario's schedule for another network: the label area it names is missing
    s = load_scenario(os.path.join(SCENARIOS, "xor.toml"), ["network.sizes=[2,16,1,1]", "readout.area='hidden2'"])
    c = load_scenario(os.path.join(SCENARIOS, "xor.toml")).compile()
    e = raised(ScenarioError, lambda: s.schedule(c))
    assert e.key == "readout.area" and "label_area: no area 'hidden2'" in str(e)


@pytest.mark.parametrize("name, override, key, text", [
    ("digits_drift.toml", "data.drift.over=5", "data.drift.over", "a change over 5 epochs from epoch 4 overlaps"),
    ("digits_drift.toml", "data.drift.swap=[[0,1],[1,2]]", "data.drift.swap", "class 1 is in two pairs"),
    ("digits_incremental.toml", "data.incremental.classes=[[0,1],[1,2]]", "data.incremental.classes",
     "class 1 is in an earlier block"),
    ("digits_incremental.toml", "data.incremental.epochs=3", "data.incremental.epochs", "5 blocks x 3 epochs"),
])
def test_a_regime_error_is_at_its_key(name, override, key, text):
    from asyncpc.scenario._parse_data import _regime_fault

    e = raised(ScenarioError, lambda: load_scenario(os.path.join(SCENARIOS, name), [override]))
    assert e.key == key and text in str(e)
    assert _regime_fault(SpecError.located(("section", "incremental"), ("classes", 1), "m")) == ("classes", "m")
    assert _regime_fault(SpecError("drift.over[2]: m")) == ("over", "m")  # no structure: as before
