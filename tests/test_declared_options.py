"""Every declared dynamics option (asyncpc.neurons.OPTIONS), tested from its declaration:
a new option gets these tests by being declared.

- the scenario reads it under its name, checks its bounds and rules with file:line:key,
  and the compiled network holds it on exactly the neurons its kinds and roles say;
- ``asyncpc describe`` lists it under each kind that reads it;
- at its neutral value a run is the plain one, bit for bit; at its example value the
  run changes;
- the compiled kernel equals its plain-Python twin on random states (hypothesis);
- the engine (1 and 2 threads) and the actors runtime give the same state, bit for bit,
  and so does a run continued from the other runtime's state half way (a checkpoint);
- a GraphML round trip keeps it (the locality replay is tests/test_options.py, over the
  same declarations).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncpc import actors, engine
from asyncpc.compile import KIND_ERROR, KIND_VALUE, compile_network
from asyncpc.errors import ScenarioError
from asyncpc.kernels import _python as P
from asyncpc.kernels import _tick as K
from asyncpc.kernels import param_rows
from asyncpc.model import NEURON_KINDS, Dynamics, from_graphml, to_graphml
from asyncpc.neurons import OPTIONS, turned_on
from asyncpc.scenario import load_scenario

from test_options import _net

NAMES = [o.name for o in OPTIONS]
KIND_CODE = {"value": KIND_VALUE, "error": KIND_ERROR}

SCENARIO = """
[run]
name = "opt"
[network]
kind = "layered"
sizes = [3, 4, 2]
activation = "tanh"
[neurons]
{line}
[data]
source = "constant"
duration = 5.0
"""


def _toml(values: dict) -> str:
    return "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items())


def _load(tmp_path, values: dict):
    f = tmp_path / "s.toml"
    f.write_text(SCENARIO.format(line=_toml(values)))
    return load_scenario(f), f


def _compiled_values(c, name):
    return c.p_tau > 0 if name == "prospective" else getattr(c, name)


@pytest.mark.parametrize("name", NAMES)
def test_the_scenario_reads_checks_and_compiles_it(name, tmp_path):
    o = next(x for x in OPTIONS if x.name == name)
    scn, _ = _load(tmp_path, turned_on(name))
    assert getattr(scn.neurons.dynamics, name) == o.example
    c = scn.compile()
    got = _compiled_values(c, name)
    for kind, code in KIND_CODE.items():
        mine = c.kind == code
        if kind not in o.kinds:
            continue
        roles = np.array([("hidden", "sensory", "label")[r] for r in c.role])
        where = mine & (np.isin(roles, o.roles) if o.roles else True)
        if o.name == "prospective_window":
            where &= c.p_tau > 0
        want = (True if o.boolean else o.example)
        assert (got[where] == want).all() and where.any(), (kind, got)
        assert (got[mine & ~where] == (False if o.boolean else o.neutral)).all()
    bad = "1" if o.boolean else (o.lo if o.lo_open else o.lo - 1.0)
    f = tmp_path / "bad.toml"
    f.write_text(SCENARIO.format(line=f"{name} = {bad}"))
    with pytest.raises(ScenarioError, match=rf"bad.toml:\d+: neurons.{name}"):
        load_scenario(f)
    if o.requires:
        f.write_text(SCENARIO.format(line=f"{name} = {str(o.example).lower()}"))
        with pytest.raises(ScenarioError, match=rf"bad.toml:\d+: neurons.{name}.*needs neurons.{o.requires}"):
            load_scenario(f)
    for x in o.excludes:
        f.write_text(SCENARIO.format(line=_toml({**turned_on(name), **turned_on(x)})))
        with pytest.raises(ScenarioError, match=rf"neurons.{name}.*cannot be combined with neurons.{x}"):
            load_scenario(f)


@pytest.mark.parametrize("name", NAMES)
def test_describe_lists_it_under_each_kind_that_reads_it(name):
    o = next(x for x in OPTIONS if x.name == name)
    for kind in ("value", "error"):
        rows = {p[0]: p for p in NEURON_KINDS[kind].parameters}
        assert (name in rows) == (kind in o.kinds)
        if name in rows:
            assert rows[name][1:] == (o.unit, o.neutral, o.doc)


@pytest.mark.parametrize("name", NAMES)
def test_neutral_is_the_plain_run_and_on_changes_it(name):
    o = next(x for x in OPTIONS if x.name == name)
    c0, sch = _net(Dynamics())
    plain = engine.run(c0, sch, seed=1)
    neutral = engine.run(_net(Dynamics(**{name: o.neutral}))[0], sch, seed=1)
    assert np.array_equal(plain.state.s, neutral.state.s) and np.array_equal(plain.state.w, neutral.state.w)
    if o.requires:  # on with what it requires, against what it requires alone
        c0, _ = _net(Dynamics(**turned_on(o.requires)))
        plain = engine.run(c0, sch, seed=1)
    on = engine.run(_net(Dynamics(**turned_on(name)))[0], sch, seed=1)
    assert not np.array_equal(plain.state.s, on.state.s)


_finite = st.floats(-3, 3, allow_nan=False)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None)
@given(x=_finite, aux=_finite, p_in=_finite, drive=_finite, gain=st.sampled_from([0.0, 0.5, 1.0]),
       dt=st.sampled_from([0.1, 0.2, 0.3]), held=st.sampled_from([0.0, 0.4, 3.0]))
def test_the_kernel_equals_its_twin(name, x, aux, p_in, drive, gain, dt, held):
    c, _ = _net(Dynamics(**turned_on(name)))
    prm = param_rows(c)
    for code, kind in ((KIND_VALUE, "value"), (KIND_ERROR, "error")):
        n = int(c.neurons_of("hidden1", code)[1])
        row = tuple(float(v) for v in prm[n])
        if kind == "value":
            for clamped in (False, True):
                args = (row, x, aux, held, dt, p_in, drive, gain, clamped, 0.3, True)
                assert K.value_tick(*args) == P.value_tick(*args), kind
        else:
            args = (row, x, aux, dt, p_in, drive, 0.1, gain)
            assert K.error_tick(*args) == P.error_tick(*args), kind


@pytest.mark.parametrize("name", NAMES)
def test_engine_and_actors_agree_bit_for_bit(name):
    c, sch = _net(Dynamics(**turned_on(name)))
    ref = actors.run(c, sch, seed=2)
    half = sch.end // 2
    resumed = engine.run(c, sch, seed=2, state=actors.run(c, sch, seed=2, until=half).state)  # a checkpoint
    for threads in (1, 2):
        r = engine.run(c, sch, seed=2, threads=threads)
        for k in ("s", "w", "bias", "aux"):
            assert np.array_equal(getattr(r.state, k), getattr(ref.state, k)), (threads, k)
            assert np.array_equal(getattr(resumed.state, k), getattr(ref.state, k)), ("resumed", k)


@pytest.mark.parametrize("name", NAMES)
def test_a_graphml_round_trip_keeps_it(name, tmp_path):
    from asyncpc.model import layered

    net = layered([3, 4, 2], seed=0, dynamics=Dynamics(**turned_on(name)))
    to_graphml(net, tmp_path / "n.graphml")
    back = from_graphml(tmp_path / "n.graphml")
    a, b = compile_network(net, 0.1), compile_network(back, 0.1)
    assert np.array_equal(param_rows(a), param_rows(b))
    assert np.array_equal(_compiled_values(a, name), _compiled_values(b, name))


@pytest.mark.parametrize("name", NAMES)
def test_docs_scenarios_has_its_row(name):
    from pathlib import Path

    o = next(x for x in OPTIONS if x.name == name)
    text = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()
    row = next((ln for ln in text.splitlines() if ln.startswith(f"| `{name}` |")), None)
    assert row is not None, f"docs/scenarios.md [neurons] has no row for {name}"
    default = str(o.neutral).lower() if o.boolean else repr(float(o.neutral))
    assert f"`{default}`" in row and ("ms" in row) == (o.unit == "ms")


@pytest.mark.parametrize("name", NAMES)
def test_it_can_be_given_per_area(name, tmp_path):
    o = next(x for x in OPTIONS if x.name == name)
    others = {k: v for k, v in turned_on(name).items() if k != name}  # what it requires: everywhere
    ex = str(o.example).lower() if o.boolean else o.example
    f = tmp_path / "a.toml"
    f.write_text(SCENARIO.format(line=_toml(others) + f"\n[neurons.{name}]\nhidden1 = {ex}\n"))
    scn = load_scenario(f)
    assert getattr(scn.neurons.dynamics, name) == {"hidden1": o.example}
    c = scn.compile()
    got = _compiled_values(c, name)
    hid = c.area == c.area_names.index("hidden1")
    mine = np.isin(c.kind, [KIND_CODE[k] for k in o.kinds])
    assert (got[mine & hid] == (True if o.boolean else o.example)).all()
    assert (got[mine & ~hid] == (False if o.boolean else o.neutral)).all()
    assert load_scenario(f) == scn
    f.write_text(SCENARIO.format(line=_toml(others) + f"\n[neurons.{name}]\nhiden1 = {ex}\n"))
    with pytest.raises(ScenarioError, match=rf"a.toml:\d+: neurons.{name}.hiden1: no area named 'hiden1'"):
        load_scenario(f).build_network()
    bad = "1" if o.boolean else (o.lo if o.lo_open else o.lo - 1.0)
    f.write_text(SCENARIO.format(line=_toml(others) + f"\n[neurons.{name}]\nlabel = {bad}\n"))
    with pytest.raises(ScenarioError, match=rf"a.toml:\d+: neurons.{name}.label"):
        load_scenario(f)
