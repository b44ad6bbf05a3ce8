"""The dynamics options of docs/learning.md keep the locality contract.

A neuron's trajectory must be a function of its own parameters, its own state and the
messages it received -- nothing else. The test records, in an engine run with every
option on (heterogeneous clocks, random delays), every message delivered to one neuron
and every tick it made, then replays that neuron alone with the plain-Python twin of
its kernel from those messages only, and asks for the same states, bit for bit.
"""

import numpy as np
import pytest

from asyncpc import engine
from asyncpc.compile import KIND_VALUE, compile_network
from asyncpc.environment import EV_CLAMP, Schedule
from asyncpc.errors import SpecError
from asyncpc.kernels import _python as P
from asyncpc.model import Clocks, Dynamics, Learning, layered
from asyncpc.observe import Observer
from asyncpc.reference import DensePC
from asyncpc.state import NetState

ALL_ON = Dynamics(speedup=0.05, self_lag=0.3, feedback_gain=0.6, prospective=True, gate=0.2)
OPTIONS = {
    "speedup": Dynamics(speedup=0.05),
    "self_lag": Dynamics(self_lag=0.3),
    "feedback_gain": Dynamics(feedback_gain=0.5),
    "prospective": Dynamics(prospective=True),
    "gate": Dynamics(gate=0.2),
    "gate_tau": Dynamics(gate=0.5, gate_tau=1.0),
    "all": ALL_ON,
    "all_traced": Dynamics(speedup=0.05, self_lag=0.3, feedback_gain=0.6, gate=0.5, gate_tau=1.0),
}


class Record(Observer):
    def __init__(self, n):
        self.n, self.events = n, []

    def before_run(self, ctx):
        c = ctx.net
        self.edges = range(int(c.in_ptr[self.n]), int(c.in_ptr[self.n + 1]))

    def message_delivered(self, t, edge, value):
        if edge in self.edges:
            self.events.append((t, 0, edge, value))

    def neuron_ticked(self, t, n, s):
        if n == self.n:
            self.events.append((t, 1, n, s))


def _net(dynamics):
    net = layered([3, 4, 2], activation="tanh", seed=3, tau_x={"input": 1.0, "hidden1": 1.0, "label": 0.5},
                  clocks=Clocks(period={"dist": "uniform", "low": 0.1, "high": 0.3}, phase="random"),
                  learning=Learning(eta=0.05, decay=0.001), dynamics=dynamics,
                  delay={"dist": "uniform", "low": 0.1, "high": 0.6}, partner_delay=0.2)
    c = compile_network(net, h=0.1)
    rng = np.random.default_rng(0)
    ev = []
    for t0 in (0, 100, 200):  # three "samples": input and label clamps only
        ev += [(t0, EV_CLAMP, int(i), float(v)) for i, v in zip(c.neurons_of("input"), rng.normal(size=3))]
        ev += [(t0, EV_CLAMP, int(i), float(v)) for i, v in zip(c.neurons_of("label"), rng.normal(size=2))]
    return c, Schedule.from_events(ev, probe_t=[], readout=c.neurons_of("label"), end=300)


def _replay(c, n, events):
    """Neuron ``n`` alone, from its initial state and the messages it received."""
    st = NetState.initial(c)
    lo, hi = int(c.in_ptr[n]), int(c.in_ptr[n + 1])
    inbox, w = list(st.inbox[lo:hi]), list(st.w[lo:hi])
    s_in, s_m = (list(st.syn_in[lo:hi]), list(st.syn_m[lo:hi])) if len(st.syn_in) else ([], [])
    s, aux, bias, last = float(st.s[n]), float(st.aux[n]), float(st.bias[n]), int(st.last_tick[n])
    ticks = 0
    # deliveries of a step come before its ticks (the timing contract)
    for t, is_tick, key, value in sorted(events, key=lambda e: (e[0], e[1])):
        if not is_tick:
            inbox[key - lo] = value
            continue
        dt = (t - last) * c.h
        if c.kind[n] == KIND_VALUE:
            s, aux = P.value_tick(s, aux, dt, float(c.tau[n]), int(c.act[n]), bool(c.has_partner[n]), inbox, w,
                                  float(c.eta[n]), float(c.decay[n]), 1.0, False, 0.0, True, float(c.speedup[n]),
                                  float(c.lag[n]), float(c.fb_gain[n]), float(c.gate[n]), float(c.gate_tau[n]),
                                  s_in, s_m)
        else:
            s, bias, aux = P.error_tick(s, aux, dt, float(c.tau[n]), inbox, w, bias, float(c.eta[n]),
                                        float(c.eta_b[n]), float(c.decay[n]), 1.0, float(c.p_tau[n]),
                                        float(c.p_speedup[n]), float(c.p_window[n]), float(c.gate[n]),
                                        float(c.gate_tau[n]))
        assert s == value, f"tick {ticks} at step {t}"
        last, ticks = t, ticks + 1
    return ticks, w


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("kind", ["value", "error"])
def test_a_tick_reads_only_its_neuron_and_inbox(option, kind):
    c, sch = _net(OPTIONS[option])
    n = int(c.neurons_of("hidden1", 0 if kind == "value" else 1)[2])
    rec = Record(n)
    res = engine.run(c, sch, seed=1, observers=[rec])
    ticks, w = _replay(c, n, rec.events)
    assert ticks > 50
    lo, hi = c.in_ptr[n], c.in_ptr[n + 1]
    assert w == res.state.w[lo:hi].tolist()  # its synapses too


def test_options_change_the_dynamics_and_are_on_the_graph():
    c_off, sch = _net(Dynamics())
    c_on, _ = _net(ALL_ON)
    hid_e = c_on.neurons_of("hidden1", 1)
    lab_e = c_on.neurons_of("label", 1)
    assert (c_on.p_tau[hid_e] == 1.0).all() and (c_on.p_tau[lab_e] == 0).all()  # label errors: not prospective
    assert (c_on.speedup[c_on.kind == KIND_VALUE] == 0.05).all()
    a, b = engine.run(c_off, sch, seed=1), engine.run(c_on, sch, seed=1)
    assert not np.array_equal(a.state.w, b.state.w)


def test_dense_reference_refuses_options_and_matches_with_them_off():
    on = compile_network(layered([3, 2], seed=1, dynamics=Dynamics(gate=0.1)), h=0.1)
    with pytest.raises(SpecError, match="gate"):
        DensePC.from_compiled(on)
    off = compile_network(layered([3, 2], seed=1, learning=Learning(eta=0.05)), h=0.1)
    x_in = off.neurons_of("input")
    sch = Schedule.from_events([(0, EV_CLAMP, int(i), 0.5) for i in x_in], probe_t=[], readout=[], end=50)
    ref, eng = DensePC.from_compiled(off).run(sch), engine.run(off, sch, seed=0)
    for k in ("s", "w", "bias", "aux"):
        np.testing.assert_allclose(getattr(eng.state, k), getattr(ref.state, k), rtol=0, atol=1e-12, err_msg=k)


def test_trace_gate_needs_a_gate_and_excludes_prospective():
    with pytest.raises(SpecError, match="gate_tau"):
        Dynamics(gate_tau=1.0)
    with pytest.raises(SpecError, match="prospective"):
        Dynamics(gate=0.1, gate_tau=1.0, prospective=True)
    c = compile_network(layered([3, 2], seed=1, dynamics=Dynamics(gate=0.1, gate_tau=1.0)), h=0.1)
    st = NetState.initial(c)
    assert st.syn_in.shape == st.syn_m.shape == (c.n_edges,) and not st.syn_m.any()
    assert NetState.initial(compile_network(layered([3, 2], seed=1), h=0.1)).syn_in.shape == (0,)
