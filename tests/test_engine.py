"""The compiled engine reproduces the actor runtime bit for bit, and the dense oracle.

Equality with :mod:`asyncpc.actors` is exact (``np.array_equal`` on every state array,
counter, probe and message-log column), for random layered networks and random area
DAGs with heterogeneous delays, clocks (periods, phases, clock jitter), message jitter,
loss and on_delta messaging; for one and two threads; across repeats; and across a
checkpoint (run to T/2, continue) -- including continuing in the other runtime.
"""

import subprocess
import sys
from dataclasses import fields

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncpc import actors, engine
from asyncpc.compile import compile_network
from asyncpc.environment import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Schedule
from asyncpc.errors import AsyncPCError, SpecError
from asyncpc.model import ACTIVATIONS, Clocks, Dynamics, Learning, Messages, from_area_graph, layered
from asyncpc.reference import DensePC
from asyncpc.state import NetState

COUNTERS = ("t", "sent", "delivered", "dropped", "applied", "rebased")
FIELDS = tuple(f.name for f in fields(NetState) if f.name not in COUNTERS)


def assert_same_state(a, b):
    for k in FIELDS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    for k in COUNTERS:
        assert getattr(a, k) == getattr(b, k), k


def assert_same_result(a, b):
    assert_same_state(a.state, b.state)
    assert np.array_equal(a.probe_t, b.probe_t)
    assert np.array_equal(a.probe_x, b.probe_x)
    assert np.array_equal(a.probe_energy, b.probe_energy)


def assert_same_table(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k]), k


def concat(*results):
    """Probes of consecutive runs as one run's."""
    return (np.concatenate([r.probe_t for r in results]), np.concatenate([r.probe_x for r in results]),
            np.concatenate([r.probe_energy for r in results]))


# ---------------------------------------------------------------------------- networks
NOISY = dict(clocks=Clocks(period={"dist": "uniform", "low": 0.2, "high": 0.5}, phase="random", jitter=0.1),
             messages=Messages(send="on_delta", threshold=0.01, loss=0.2, jitter=0.2),
             learning=Learning(eta=0.05, decay=0.01), delay={"dist": "uniform", "low": 0.1, "high": 0.8})


def random_schedule(c, rng, end, n_events=8):
    values = np.flatnonzero(c.kind == 0)
    ev = []
    for _ in range(n_events):
        t = int(rng.integers(0, end - 2))
        k = int(rng.integers(0, 3))
        if k == EV_MODULATE:
            ev.append((t, k, -1 if rng.random() < 0.5 else int(rng.choice(values)), float(rng.choice([0.0, 0.5, 1.0]))))
        else:
            ev.append((t, k, int(rng.choice(values)), float(rng.normal())))
    probes = sorted(set(int(x) for x in rng.integers(0, end, 4)))
    readout = rng.choice(values, size=min(3, len(values)), replace=False)
    return Schedule.from_events(ev, probe_t=probes, readout=readout, end=end)


@st.composite
def scenarios(draw):
    """A small random network (layered or an area DAG) with heterogeneous timing, and a schedule."""
    seed = draw(st.integers(0, 2**16))
    jit_clock = draw(st.sampled_from([0.0, 0.1]))
    low = 0.2 if jit_clock else 0.1
    clocks = Clocks(period={"dist": "uniform", "low": low, "high": draw(st.sampled_from([low, 0.5]))},
                    phase=draw(st.sampled_from(["zero", "random"])), jitter=jit_clock)
    messages = Messages(send=draw(st.sampled_from(["always", "on_delta"])), threshold=0.005,
                        loss=draw(st.sampled_from([0.0, 0.25])), jitter=draw(st.sampled_from([0.0, 0.3])))
    learning = Learning(eta=draw(st.sampled_from([0.0, 0.05])), decay=draw(st.sampled_from([0.0, 0.01])))
    delay = {"dist": "uniform", "low": 0.1, "high": draw(st.sampled_from([0.1, 0.4, 1.0]))}
    dynamics = draw(st.sampled_from([Dynamics(), Dynamics(speedup=0.05, self_lag=0.3, feedback_gain=0.6,
                                                           prospective=True, gate=0.1),
                                     Dynamics(speedup=0.05, self_lag=0.3, gate=0.5, gate_tau=1.0)]))
    kw = dict(clocks=clocks, messages=messages, learning=learning, delay=delay, seed=seed,
              partner_delay=draw(st.sampled_from([0.1, 0.2])), dynamics=dynamics)
    tau_e = draw(st.sampled_from([0.0, 1.0]))
    if draw(st.booleans()):
        sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
        net = layered(sizes, activation=draw(st.sampled_from(ACTIVATIONS)), tau_e=tau_e, **kw)
    else:
        n = draw(st.integers(3, 4))
        ag = nx.DiGraph()
        for i in range(n):
            ag.add_node(f"a{i}", size=draw(st.integers(1, 3)), activation=draw(st.sampled_from(ACTIVATIONS)),
                        tau_e=tau_e)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=len(pairs), unique=True))
        ag.add_edges_from((f"a{i}", f"a{j}") for i, j in chosen)
        net = from_area_graph(ag, **kw)
    c = compile_network(net, h=0.1)
    end = draw(st.integers(20, 60))
    return c, random_schedule(c, np.random.default_rng(seed), end), seed


# ---------------------------------------------------------------------------- the oracle
def test_equals_dense_reference_with_learning():
    c = compile_network(layered([5, 4, 3], activation="tanh", tau_e=0.0, seed=4,
                                learning=Learning(eta=0.05, eta_b=0.02, decay=0.01)), h=0.1)
    x_in, lab = c.neurons_of("input"), c.neurons_of("label")
    rng = np.random.default_rng(0)
    ev = [(0, EV_CLAMP, int(i), float(v)) for i, v in zip(x_in, rng.normal(size=5))]
    ev += [(0, EV_CLAMP, int(i), float(v)) for i, v in zip(lab, rng.normal(size=3))]
    ev += [(60, EV_UNCLAMP, int(i), 0.0) for i in lab] + [(80, EV_MODULATE, -1, 0.5)]
    sch = Schedule.from_events(ev, probe_t=[10, 59, 61, 119], readout=lab, end=120)
    ref = DensePC.from_compiled(c).run(sch)
    eng = engine.run(c, sch, seed=0)
    for k in ("s", "w", "bias", "inbox", "last_sent", "aux"):
        np.testing.assert_allclose(getattr(eng.state, k), getattr(ref.state, k), rtol=0, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(eng.probe_x, ref.probe_x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(eng.probe_energy, ref.probe_energy, rtol=0, atol=1e-12)
    assert (eng.sent, eng.delivered, eng.dropped) == (ref.state.sent, ref.state.delivered, ref.state.dropped)
    assert abs(eng.state.w - c.w).max() > 1e-3  # it did learn


# ---------------------------------------------------------------------------- bit for bit
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_engine_equals_actor_runtime(case):
    c, sch, seed = case
    log = actors.MessageLog()
    ref = actors.run(c, sch, seed=seed, observers=[log])
    for delivery in ("push", "pull"):  # event-driven or ring: the same run
        one = engine.run(c, sch, seed=seed, record_messages=True, delivery=delivery)
        two = engine.run(c, sch, seed=seed, threads=2, record_messages=True, delivery=delivery)
        assert one.extra["delivery"] == delivery
        assert_same_result(one, ref)
        assert_same_result(two, ref)
        assert_same_table(one.extra["messages"], log.table())
        assert_same_table(two.extra["messages"], log.table())
        assert_same_table(dict(one.extra["in_flight"]), dict(ref.extra["in_flight"]))
        # resume at T/2 (engine, other thread count, other delivery) == one run
        half = sch.end // 2
        a = engine.run(c, sch, seed=seed, until=half, threads=2, record_messages=True, delivery=delivery)
        b = engine.run(c, sch, seed=seed, state=a.state, record_messages=True,
                       delivery="pull" if delivery == "push" else "push")
        assert_same_state(b.state, ref.state)
        for x, y in zip(concat(a, b), concat(ref)):
            assert np.array_equal(x, y)
        for k, col in log.table().items():
            assert np.array_equal(np.concatenate([a.extra["messages"][k], b.extra["messages"][k]]), col), k


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_checkpoints_cross_runtimes(case):
    c, sch, seed = case
    half = sch.end // 3
    ref = engine.run(c, sch, seed=seed)
    act_half = actors.run(c, sch, seed=seed, until=half)
    for delivery in ("push", "pull"):
        eng_half = engine.run(c, sch, seed=seed, until=half, delivery=delivery)
        assert_same_table(dict(eng_half.extra["in_flight"]), dict(act_half.extra["in_flight"]))
        assert_same_state(engine.run(c, sch, seed=seed, state=act_half.state, threads=2, delivery=delivery).state,
                          ref.state)
        assert_same_state(actors.run(c, sch, seed=seed, state=eng_half.state).state, ref.state)


def test_threads_repeats_and_partitions_are_identical():
    c = compile_network(layered([12, 9, 6, 3], seed=2, **NOISY), h=0.1)
    sch = random_schedule(c, np.random.default_rng(1), 150, n_events=20)
    runs = [engine.run(c, sch, seed=7, threads=t, delivery=d) for t, d in ((1, "push"), (2, "push"), (3, "push"),
                                                                           (2, "pull"), (1, "pull"))]
    for r in runs[1:]:
        assert_same_result(r, runs[0])
    assert runs[2].extra["partition"].max() == 2 and runs[2].extra["window"] >= 1
    # a chain of short runs (as the CLI makes) == one run
    st, parts = None, []
    for until in (1, 2, 30, 31, 90, 150):
        r = engine.run(c, sch, seed=7, state=st, until=until, threads=2)
        st = r.state
        parts.append(r)
    assert_same_state(st, runs[0].state)
    for x, y in zip(concat(*parts), concat(runs[0])):
        assert np.array_equal(x, y)


def test_environment_messages_in_flight_carry_over():
    c = compile_network(layered([3, 2], seed=0), h=0.1)
    ids = c.neurons_of("input")
    first = Schedule.from_events([(9, EV_CLAMP, int(ids[0]), 2.0), (9, EV_MODULATE, -1, 0.0)],
                                 env_delay=3, end=30)
    other = Schedule.from_events([(10, EV_CLAMP, int(ids[1]), -1.0)], env_delay=2, end=30)
    a = engine.run(c, first, until=10)   # both messages of step 9 still in flight
    assert list(a.extra["in_flight"]["env_t_arrive"]) == [12, 12]
    b = engine.run(c, other, state=a.state)  # ... and delivered though `other` lacks them
    assert_same_result(b, actors.run(c, other, state=actors.run(c, first, until=10).state))
    assert b.state.clamped[ids[:2]].tolist() == [1, 1] and b.state.gain.max() == 0.0


def test_message_sent_before_the_first_step_arrives_in_it():
    c = compile_network(layered([2, 1], seed=0), h=0.1)
    ids = c.neurons_of("input")
    sch = Schedule.from_events([(-1, EV_UNCLAMP, int(ids[0]), 0.0), (-1, EV_CLAMP, int(ids[0]), 0.7)], end=3)
    r = engine.run(c, sch)
    assert r.state.clamped[ids[0]] == 1 and r.state.s[ids[0]] == 0.7


def test_transport_mode_matches_actor_runtime():
    c = compile_network(layered([4, 3, 2], seed=1, learning=Learning(eta=0.05, feedback="transport")), h=0.1)
    sch = random_schedule(c, np.random.default_rng(3), 40)
    assert_same_result(engine.run(c, sch, seed=1, threads=2), actors.run(c, sch, seed=1))


# ---------------------------------------------------------------------------- compact schedules
def compact_case(seed=3):
    """A noisy network fed a stream whose presentations are frames (float32 data, a label
    delay, an environment delay of 3 steps: a frame's messages are in flight for 3 steps)."""
    from asyncpc.environment import Dataset, stream_schedule

    c = compile_network(layered([6, 5, 3], seed=seed, **NOISY), h=0.1)
    rng = np.random.default_rng(seed)
    d = Dataset.from_arrays(rng.normal(size=(12, 6)).astype(np.float32), np.arange(12) % 3,
                            rng.normal(size=(4, 6)).astype(np.float32), np.arange(4) % 3)
    sch = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=9, epochs=2, env_delay=3,
                          label_delay_steps=2, train_subset_eval=3, test_present_steps=7, seed=seed)
    assert len(sch.frames) > 0
    return c, sch, sch.expanded()


def test_a_compact_schedule_runs_as_its_explicit_expansion():
    """Frames and the explicit messages they stand for give the same runs, bit for bit, on
    both runtimes: state, probes, message logs, environment messages in flight."""
    c, sch, flat = compact_case()
    log_c, log_f = actors.MessageLog(), actors.MessageLog()
    act = actors.run(c, sch, seed=4, observers=[log_c])
    assert_same_result(act, actors.run(c, flat, seed=4, observers=[log_f]))
    assert log_c.equals(log_f) and len(log_c.table()["t_send"]) > 0
    for threads in (1, 2):
        eng = engine.run(c, sch, seed=4, threads=threads, record_messages=True)
        ref = engine.run(c, flat, seed=4, threads=threads, record_messages=True)
        assert_same_result(eng, ref)
        assert_same_result(eng, act)
        assert_same_table(eng.extra["messages"], ref.extra["messages"])
        assert_same_table(eng.extra["messages"], log_c.table())
    assert "_all" not in sch.__dict__  # no runtime laid the whole schedule out


@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_a_compact_schedule_cut_across_a_frame_resumes_exactly(offset):
    """Cut at a presentation's first step + offset: its frames' messages not yet sent (0),
    in flight (1, 2: the label clamp is sent at +2), or arrived (3); continued on the same
    or the other runtime, with the compact or the explicit schedule."""
    c, sch, flat = compact_case()
    whole = engine.run(c, flat, seed=4)
    cut = int(sch.meta["t0"][5]) + offset
    halves = {}
    for name, rt in (("engine", engine), ("actors", actors)):
        for which, s in (("compact", sch), ("flat", flat)):
            halves[name, which] = rt.run(c, s, seed=4, until=cut)
    for first in halves.values():
        assert_same_table(dict(first.extra["in_flight"]), dict(halves["engine", "flat"].extra["in_flight"]))
        for rt in (engine, actors):
            second = rt.run(c, sch, seed=4, state=first.state)
            assert_same_state(second.state, whole.state)
            for x, y in zip(concat(first, second), concat(whole)):
                assert np.array_equal(x, y)
    if offset in (1, 2):
        assert len(halves["engine", "compact"].extra["in_flight"]["env_t_arrive"]) > 0
    # the CLI's chain of short calls, cut where it lays out at most 20 messages at a time
    st, parts = None, []
    for _, until in sch.windows(0, sch.end, 20):
        r = engine.run(c, sch, seed=4, state=st, until=until)
        st = r.state
        parts.append(r)
    assert len(parts) > 20
    assert_same_state(st, whole.state)
    for x, y in zip(concat(*parts), concat(whole)):
        assert np.array_equal(x, y)


def test_environment_messages_in_flight_are_rederived_from_frames():
    """A state that does not carry its environment messages gets them from the schedule:
    the same from frames as from explicit rows (engine arrays, actor channel)."""
    from asyncpc.actors._environment import EnvChannel
    from asyncpc.engine._env import env_messages

    c, sch, flat = compact_case()

    class Clock:
        def at(self, t):
            pass

    for t0 in [*range(40), int(sch.end) - 2]:
        for stop in (t0, t0 + 5, int(sch.end)):
            (ea, la), (eb, lb) = env_messages(sch, t0, stop, None), env_messages(flat, t0, stop, None)
            for x, y in zip(ea, eb):
                assert np.array_equal(x, y) and x.dtype == y.dtype
            assert_same_table(la, lb)
        chans = [EnvChannel(NetState.initial(c), Clock(), c.n_neurons) for _ in range(2)]
        chans[0].restore_from_schedule(sch, t0)
        chans[1].restore_from_schedule(flat, t0)
        assert_same_table(chans[0].in_flight(), chans[1].in_flight())


def test_dense_reference_reads_frames():
    from asyncpc.environment import Dataset, stream_schedule

    c = compile_network(layered([6, 4, 3], activation="tanh", seed=1, learning=Learning(eta=0.05)), h=0.1)
    rng = np.random.default_rng(1)
    d = Dataset.from_arrays(rng.normal(size=(9, 6)).astype(np.float32), np.arange(9) % 3)
    sch = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=8, epochs=2,
                          label_delay_steps=2, test_present_steps=5, env_delay=2)
    a, b = DensePC.from_compiled(c), DensePC.from_compiled(c)
    for until in (7, 30, int(sch.end)):  # in pieces, across frames
        ra, rb = a.run(sch, until=until), b.run(sch.expanded(), until=until)
        assert np.array_equal(ra.probe_x, rb.probe_x) and np.array_equal(ra.state.s, rb.state.s)
    assert np.array_equal(ra.state.w, rb.state.w)
    assert "_all" not in sch.__dict__


# ---------------------------------------------------------------------------- observers
class Hooks(actors.Observer):
    def __init__(self):
        self.ticks, self.delivered, self.calls = 0, 0, []

    def before_run(self, ctx):
        self.calls.append(("before", ctx.t0, ctx.until))

    def after_run(self, ctx):
        self.calls.append(("after", ctx.result.state.t))

    def neuron_ticked(self, t, neuron, s):
        self.ticks += 1

    def message_delivered(self, t, edge, value, signal):
        self.delivered += 1


def test_observers_see_what_the_actor_runtime_shows():
    c = compile_network(layered([3, 3, 2], seed=5, **NOISY), h=0.1)
    sch = random_schedule(c, np.random.default_rng(5), 50)
    log_a, log_e, h_a, h_e = actors.MessageLog(), actors.MessageLog(), Hooks(), Hooks()
    ra = actors.run(c, sch, seed=5, until=20, observers=[log_a, h_a])
    actors.run(c, sch, seed=5, state=ra.state, observers=[log_a, h_a])
    re_ = engine.run(c, sch, seed=5, until=20, threads=2, observers=[log_e, h_e])
    r2 = engine.run(c, sch, seed=5, state=re_.state, observers=[log_e, h_e])
    assert log_e.equals(log_a)
    assert (h_e.ticks, h_e.delivered) == (h_a.ticks, h_a.delivered)
    assert h_e.delivered == r2.delivered
    assert h_e.calls == h_a.calls


# ---------------------------------------------------------------------------- contract
def test_counters_balance_and_defaults():
    c = compile_network(layered([3, 2], seed=0, **NOISY), h=0.1)
    r = engine.run(c, Schedule.empty(end=40), seed=3)
    assert r.runtime == "engine" and r.state.t == 40
    assert r.sent == r.delivered + r.dropped + len(r.extra["in_flight"]["edge"])
    assert r.dropped > 0 and len(r.state.in_flight) == len(r.extra["in_flight"]["edge"])
    again = engine.run(c, Schedule.empty(end=40), seed=3, state=r.state, until=40)
    assert_same_state(again.state, r.state)
    copy = r.state.copy()
    assert_same_state(copy, r.state) and copy.history is r.state.history


def test_bad_input_is_refused_clearly():
    c = compile_network(layered([3, 2], seed=0, **NOISY), h=0.1)
    sch = Schedule.empty(end=20)
    with pytest.raises(SpecError, match="threads"):
        engine.run(c, sch, threads=0)
    with pytest.raises(SpecError, match="until"):
        engine.run(c, sch, state=engine.run(c, sch, until=10).state, until=5)
    with pytest.raises(SpecError, match="ev_neuron"):
        engine.run(c, Schedule.from_events([(0, EV_CLAMP, 99, 1.0)], end=3))
    r = engine.run(c, sch, seed=1, until=10)
    with pytest.raises(AsyncPCError, match="seed"):
        engine.run(c, sch, seed=2, state=r.state)
    st = r.state.copy()
    st.history = None
    with pytest.raises(AsyncPCError, match="in flight"):
        engine.run(c, sch, seed=1, state=st)


def test_import_compiles_nothing():
    code = ("import asyncpc.engine as E, asyncpc.engine._drive as D, asyncpc.engine._step as S; "
            "print(len(D.drive_serial.overloads) + len(D.drive_parallel.overloads) + len(S.advance.overloads))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0" and out.stderr == ""


def test_no_sensory_feedback_changes_nothing_but_the_traffic():
    """Without feedback synapses into a clamped sensory area (learning.sensory_feedback =
    false) every other neuron runs exactly as before: those edges only carried messages."""
    runs = {}
    for sf in (True, False):
        net = layered([4, 3, 2], activation="tanh", seed=3, learning=Learning(eta=0.05, sensory_feedback=sf),
                      clocks=Clocks(period={"dist": "uniform", "low": 0.1, "high": 0.3}, phase="random"),
                      delay={"dist": "uniform", "low": 0.1, "high": 0.5},
                      messages=Messages(send="on_delta", threshold=0.01))
        c = compile_network(net, h=0.1)
        ev = [(0, EV_CLAMP, int(i), float(v)) for i, v in zip(c.neurons_of("input"), (0.5, -1.0, 0.3, 0.8))]
        ev += [(0, EV_CLAMP, int(i), float(v)) for i, v in zip(c.neurons_of("label"), (1.0, 0.0))]
        sch = Schedule.from_events(ev, probe_t=[50, 150], readout=c.neurons_of("label"), end=200)
        runs[sf] = (c, engine.run(c, sch, seed=2))
    (ct, rt), (cf, rf) = runs[True], runs[False]
    assert cf.n_edges == ct.n_edges - 4 * 3  # no hidden error -> input value edges
    assert np.array_equal(rt.state.s, rf.state.s) and np.array_equal(rt.probe_x, rf.probe_x)
    assert rf.sent < rt.sent


def slow_middle(sizes):
    """Four areas in a chain whose middle projection is a 2 ms wire (20 steps) and the others 1-3 steps."""
    ag = nx.DiGraph()
    for n, k in zip("abcd", sizes):
        ag.add_node(n, size=k)
    short = {"dist": "uniform", "low": 0.1, "high": 0.3}
    ag.add_edge("a", "b", delay=short, feedback_delay=short)
    ag.add_edge("b", "c", delay=2.0, feedback_delay=2.0)
    ag.add_edge("c", "d", delay=short, feedback_delay=short)
    return compile_network(from_area_graph(ag, seed=1), h=0.1)


def two_clusters(slow=3.0, **kw):
    """Two chains a0 -> a2 and a1 -> a3 (one-step wires) joined by sparse ``slow`` ms wires
    a0 -> a3 and a1 -> a2: the clusters' neuron ids interleave, so no cut along the id
    order separates them."""
    ag = nx.DiGraph()
    for i in range(4):
        ag.add_node(f"a{i}", size=8, activation="tanh")
    ag.add_edges_from([("a0", "a2"), ("a1", "a3")])
    ag.add_edge("a0", "a3", delay=slow, p=0.25)
    ag.add_edge("a1", "a2", delay=slow, p=0.25)
    return compile_network(from_area_graph(ag, seed=1, **kw), h=0.1)


def test_metis_finds_the_clusters_the_order_cannot_and_keeps_pairs_together(monkeypatch):
    """With pymetis, ``auto`` takes METIS's cut when it is better: on two clusters whose ids
    interleave the order's cut crosses every fast wire (window 1 step), METIS's only the
    slow ones (window 30 steps), at even work; a value neuron and its error partner stay
    on one rank; one-process partitions go back to the pair order."""
    pytest.importorskip("pymetis")
    from asyncpc.engine._layout import RANK_TOLERANCE, EngineLayout
    from asyncpc.errors import AsyncPCError

    c = two_clusters()
    lay = EngineLayout.of(c)
    work = np.diff(c.in_ptr) + 8.0

    def ranks_of(how, threads=1):
        lo, hi, window, owner = lay.rank_partitions(2, threads, how=how)
        return owner[lay.part_of(lo, hi)], window, lay.partitioner

    rk, window, used = ranks_of("order")
    assert (window, used) == (1, "order") and (rk[c.src] != rk[c.dst]).sum() > 200
    for how in ("auto", "metis"):
        rk, window, used = ranks_of(how)
        assert (window, used) == (30, "metis")
        assert set(c.delay[rk[c.src] != rk[c.dst]]) == {30}  # only the slow wires cross
        share = np.bincount(rk, weights=work) / work.sum()
        assert abs(share[0] - 0.5) <= RANK_TOLERANCE / 2
        err = np.flatnonzero(c.has_partner & (c.kind != 0))
        assert np.array_equal(rk[err], rk[c.src[c.in_ptr[err]]])  # partner edge first: with its value neuron
        assert sorted(lay.order) == list(range(c.n_neurons)) and np.array_equal(lay.net.pos[lay.order],
                                                                                 np.arange(c.n_neurons))
    assert ranks_of("auto", threads=2)[2] == "metis"
    lay.partitions(2)
    assert np.array_equal(lay.order, lay.base_order) and lay.partitioner == "order"
    # on the digits shapes (a layered net) the order's cut along the slow wires stays
    d = EngineLayout.of(slow_middle((8, 10, 6, 8)))
    assert d.rank_partitions(2, 1, how="auto")[2] == 20
    monkeypatch.setattr("asyncpc.engine._layout.metis_available", lambda: False)
    monkeypatch.setattr("asyncpc.engine._layout.metis_ranks", lambda *a: None)
    assert ranks_of("auto")[2] == "metis"  # the choice is kept per layout (METIS runs once)
    lay = EngineLayout(c)
    assert ranks_of("auto")[2] == "order"  # without pymetis: the order's cut
    with pytest.raises(AsyncPCError, match="pymetis is not installed"):
        ranks_of("metis")
    monkeypatch.setenv("ASYNCPC_PARTITIONER", "best")
    from asyncpc.engine._partition import partitioner
    with pytest.raises(AsyncPCError, match="ASYNCPC_PARTITIONER: expected one of auto, order, metis"):
        partitioner()


@pytest.mark.parametrize("sizes", [(8, 10, 6, 8), (10, 10, 8, 8), (6, 10, 10, 6)])
def test_ranks_are_cut_where_the_wires_are_slow_within_the_balance_tolerance(sizes):
    """The threads' balanced cut falls inside a fast projection (window 1 step); the ranks'
    boundary moves, within 10% of an even share of the work, to the 20-step wire, so the
    ranks exchange every 20 steps; inside each rank the threads are balanced as before."""
    from asyncpc.engine._layout import RANK_TOLERANCE, EngineLayout

    c = slow_middle(sizes)
    lay = EngineLayout.of(c)
    assert lay.partitions(2)[2] == 1
    lo, hi, window, owner = lay.rank_partitions(2, 1)
    assert window == 20 and owner.tolist() == [0, 1]
    cum, _ = lay._cut_costs()
    assert abs(cum[lo[1]] - cum[-1] / 2) <= RANK_TOLERANCE * cum[-1] / 2
    lo2, hi2, _, owner2 = lay.rank_partitions(2, 2)
    assert owner2.tolist() == [0, 0, 1, 1] and lo2[2] == lo[1]  # the same rank boundary, then halves
    assert lay.rank_partitions(2, 1, tolerance=0.0)[2] == 1  # no room: the balanced cut
