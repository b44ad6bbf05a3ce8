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
from asyncpc.kernels import param_rows
from asyncpc.model import Clocks, Dynamics, Learning, layered
from asyncpc.neurons import OPTIONS as DECLARED
from asyncpc.neurons import turned_on
from asyncpc.observe import MessageLog, Observer
from asyncpc.reference import DensePC
from asyncpc.state import NetState

ALL_ON = Dynamics(speedup=0.05, self_lag=0.3, feedback_gain=0.6, prospective=True, gate=0.2)
OPTIONS = {  # each declared option alone (asyncpc.neurons.OPTIONS), and combinations
    **{o.name: Dynamics(**turned_on(o.name)) for o in DECLARED},
    "all": ALL_ON,
    "all_traced": Dynamics(speedup=0.05, self_lag=0.3, feedback_gain=0.6, gate=0.5, gate_tau=1.0),
}


class Record(Observer):
    def __init__(self, n):
        self.n, self.events = n, []

    def before_run(self, ctx):
        c = ctx.net
        self.edges = range(int(c.in_ptr[self.n]), int(c.in_ptr[self.n + 1]))

    def message_delivered(self, t, edge, value, signal):
        if edge in self.edges:
            self.events.append((t, 0, edge, value, signal))

    def neuron_ticked(self, t, n, s):
        if n == self.n:
            self.events.append((t, 1, n, s, None))


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


def _clamps(sch, n):
    """The environment's clamps neuron ``n`` receives: ``(arrival step, value)``."""
    t_ev, _, neuron, value = sch.events(0, sch.end)
    return [(int(t) + sch.env_delay, float(v)) for t, m, v in zip(t_ev, neuron, value) if m == n]


def _replay(c, n, events, clamps=()):
    """Neuron ``n`` alone, from its initial state and the messages it received (and the
    environment's clamps ``(arrival step, value)`` it received), with the plain-Python twins
    of the kernels (the event-driven synapses of docs/model.md)."""
    st = NetState.initial(c)
    lo, hi = int(c.in_ptr[n]), int(c.in_ptr[n + 1])
    sl = lo + int(c.has_partner[n])
    prm = param_rows(c)[n]
    eta = float(c.eta[n])
    sig = len(st.held_sig) > 0
    inbox, syn_c, held = list(st.inbox), list(st.syn_c), list(st.held)
    # without learning signals the signal of an edge is its value: the same lists
    inbox_l, held_l = (list(st.inbox_sig), list(st.held_sig)) if sig else (inbox, held)
    Pp, T, A, Q, count = 1.0, 0.0, float(st.lz_a[n]), float(st.lz_q[n]), 0
    s, aux, bias, last = float(st.s[n]), float(st.aux[n]), float(st.bias[n]), int(st.last_tick[n])
    ticks, clamped, clamp_value = 0, False, 0.0
    events = [*events, *((t, 0, None, v, None) for t, v in clamps)]
    # deliveries of a step come before its ticks (the timing contract)
    for t, is_tick, key, value, signal in sorted(events, key=lambda e: (e[0], e[1])):
        if key is None:  # the environment's clamp
            clamped, clamp_value = True, value
            continue
        if not is_tick:
            inbox[key] = value
            inbox_l[key] = signal  # the same list as inbox without signals (signal == value)
            continue
        for j in range(sl, hi):  # the held inputs that changed, in edge order
            if inbox[j] != held[j] or inbox_l[j] != held_l[j]:
                A, Q = P.apply_input(j, inbox[j], inbox_l[j], syn_c, held, held_l, T, eta, A, Q)
                count += 1
        if hi > sl and P.needs_rebase(Pp, T, eta, count, hi - sl):
            A, Q = P.rebase(sl, hi, syn_c, held, held_l, Pp, T, eta)
            Pp, T, count = 1.0, 0.0, 0
        total = P.lazy_sum(Pp, T, A, Q, eta)
        dt = (t - last) * c.h
        p_in = inbox[lo] if sl > lo else 0.0
        if c.kind[n] == KIND_VALUE:
            s, aux, bias, a, post, _ = P.value_tick(prm, s, aux, bias, dt, p_in, total, 1.0, clamped, clamp_value, True)
        else:
            s, bias, aux, a, post, _ = P.error_tick(prm, s, aux, dt, p_in, total, bias, 1.0)
        if a != 0.0 and hi > sl:
            Pp, T = P.lazy_advance(Pp, T, a, post, float(c.decay[n]))
        assert s == value, f"tick {ticks} at step {t}"
        last, ticks = t, ticks + 1
    return ticks, [Pp * (syn_c[j] + eta * held_l[j] * T) for j in range(sl, hi)]


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("kind", ["value", "error", "label"])
def test_a_tick_reads_only_its_neuron_and_inbox(option, kind):
    """``label``: a clamped value neuron with an error partner (what ``clamp_echo`` acts on)."""
    c, sch = _net(OPTIONS[option])
    area, code = ("label", 0) if kind == "label" else ("hidden1", 0 if kind == "value" else 1)
    n = int(c.neurons_of(area, code)[1 if kind == "label" else 2])
    clamps = _clamps(sch, n)
    assert len(clamps) == (3 if kind == "label" else 0)
    rec = Record(n)
    res = engine.run(c, sch, seed=1, observers=[rec])
    ticks, w = _replay(c, n, rec.events, clamps)
    assert ticks > 50
    lo, hi = c.in_ptr[n] + c.has_partner[n], c.in_ptr[n + 1]
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
    assert abs(eng.state.w - off.w).max() > 1e-3  # it did learn


def test_trace_gate_needs_a_gate_and_excludes_prospective():
    with pytest.raises(SpecError, match="gate_tau"):
        Dynamics(gate_tau=1.0)
    with pytest.raises(SpecError, match="prospective"):
        Dynamics(gate=0.1, gate_tau=1.0, prospective=True)
    c = compile_network(layered([3, 2], seed=1, dynamics=Dynamics(gate=0.1, gate_tau=1.0)), h=0.1)
    st = NetState.initial(c)
    assert c.signals and st.inbox_sig.shape == st.held_sig.shape == (c.n_edges,)
    plain = compile_network(layered([3, 2], seed=1), h=0.1)
    assert not plain.signals and NetState.initial(plain).inbox_sig.shape == (0,)


def test_matched_gate_gates_v_and_w_by_the_same_factor():
    """With the matched trace gate an error neuron learns its W at rate a = dt g and sends
    its error times g as the learning signal, so the V synapse of its parent learns from
    the same gated error (docs/model.md)."""
    c, sch = _net(OPTIONS["gate_tau"])
    log = MessageLog()
    engine.run(c, sch, seed=1, record_messages=True, observers=[log])
    tab = log.table()
    fb = c.edge_codes()[tab["edge"]] == 2
    assert fb.any() and np.all(np.abs(tab["signal"][fb]) <= np.abs(tab["value"][fb]))
    assert np.any(tab["signal"][fb] != tab["value"][fb])
    other = ~fb
    assert np.array_equal(tab["signal"][other], tab["value"][other])


def test_clamp_echo_holds_the_label_until_its_prediction_moves():
    """A label neuron whose clamp value changes keeps its value until the error its partner
    sent has moved by more than clamp_echo from the one it held before (docs/model.md),
    then takes the new value; a clamp_echo too large to be reached never takes it."""
    held = released = 0
    for ce in (0.05, 1e6):
        c, sch = _net(Dynamics(clamp_echo=ce))
        st0 = NetState.initial(c)
        for n in (int(m) for m in c.neurons_of("label", 0)):
            clamps = [(t, 0, None, v, None) for t, v in _clamps(sch, n)]
            rec = Record(n)
            engine.run(c, sch, seed=1, observers=[rec])
            p_in, ref, cv, x = float(st0.inbox[c.in_ptr[n]]), float(st0.aux[n]), None, float(st0.s[n])
            for t, is_tick, edge, v, _ in sorted(rec.events + clamps, key=lambda e: (e[0], e[1])):
                if not is_tick:
                    if edge is None:
                        cv = v
                    elif edge == c.in_ptr[n]:  # the partner edge
                        p_in = v
                    continue
                hold = x != cv and abs(p_in - ref) <= ce
                assert v == (x if hold else cv), (ce, n, t)
                if ce > 1.0:
                    assert v == st0.s[n]  # never released
                elif x != cv:
                    held, released = held + hold, released + (not hold)
                ref, x = (ref if hold else p_in), v
    assert held > 10 and released == 6  # 2 label neurons x 3 samples: each clamp taken once, after holding


def test_clamp_echo_max_bounds_the_hold():
    """An echo that never comes (clamp_echo far above any move of the error) holds a new
    clamp value for at most clamp_echo_max ms of the neuron's own ticks, then takes it."""
    c, sch = _net(Dynamics(clamp_echo=1e6, clamp_echo_max=0.5))
    period = int(np.max(c.period))  # steps
    taken = 0
    for n in (int(m) for m in c.neurons_of("label", 0)):
        rec = Record(n)
        engine.run(c, sch, seed=1, observers=[rec])
        ticks = [(t, s) for t, is_tick, _, s, _ in rec.events if is_tick]
        for t0, v in _clamps(sch, n):
            first = next(t for t, s in ticks if t >= t0 and s == v)
            assert first - t0 <= round(0.5 / c.h) + 2 * period  # held <= 0.5 ms, counted from its first tick
            assert first - t0 > round(0.5 / c.h) - 2 * period  # and it did hold (the echo never came)
            taken += 1
    assert taken == 6
