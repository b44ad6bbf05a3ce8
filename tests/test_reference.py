"""asyncpc.reference: the dense oracle against closed forms, the per-neuron kernels and backprop."""

import numpy as np
import pytest

from asyncpc.compile import KIND_ERROR, compile_network
from asyncpc.environment import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Schedule
from asyncpc.errors import SpecError
from asyncpc.kernels import _python as P
from asyncpc.kernels import param_rows
from asyncpc.model import Area, Clocks, Learning, Messages, Projection, build, layered
from asyncpc.reference import BackpropMLP, DensePC, backprop_gradients, relax
from asyncpc.state import NetState

import per_tick

TOL = dict(rtol=1e-12, atol=1e-12)


def cosine(a, b):
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------- the literal statement
def literal_run(c, sch, until):
    """The semantics of docs/model.md stated neuron by neuron with the kernels' Python twins:
    deliver what arrives at t, apply the environment, tick every neuron from its own state
    and inbox, queue what it sends for t + delay, observe at probe steps."""
    st = NetState.initial(c)
    s, w, bias, inbox = st.s.copy(), st.w.copy(), st.bias.copy(), st.inbox.copy()
    N = c.n_neurons
    prm = param_rows(c)
    clamped, clamp_val, gain = np.zeros(N, bool), np.zeros(N), np.ones(N)
    carries_rate = c.edge_role() == 0
    in_flight: dict = {}
    sent = delivered = 0
    probe_x, probe_e = [], []
    readout = np.asarray(sch.readout)
    for t in range(until):
        for e, v in in_flight.pop(t, []):
            inbox[e] = v
            delivered += 1
        for k in np.flatnonzero(sch.ev_t + sch.env_delay == t):
            who = range(N) if sch.ev_neuron[k] == -1 else [int(sch.ev_neuron[k])]
            for i in who:
                if sch.ev_kind[k] == EV_CLAMP:
                    clamped[i], clamp_val[i] = True, sch.ev_value[k]
                elif sch.ev_kind[k] == EV_UNCLAMP:
                    clamped[i] = False
                else:
                    gain[i] = sch.ev_value[k]
        new = s.copy()
        for i in range(N):
            new[i], bias[i] = per_tick.tick(c, prm, i, s, bias, inbox, w, c.h, gain[i], bool(clamped[i]),
                                            clamp_val[i])
        s = new
        for i in range(N):
            for e in c.out_edge[c.out_ptr[i]:c.out_ptr[i + 1]]:
                v = P.act(int(c.act[i]), s[i]) if carries_rate[e] else s[i]
                in_flight.setdefault(t + int(c.delay[e]), []).append((int(e), v))
                sent += 1
        if t in sch.probe_t:
            probe_x.append(s[readout])
            en = np.zeros(len(c.area_names))
            for k in range(N):  # increasing neuron id
                if c.kind[k] == KIND_ERROR:
                    en[c.area[k]] += 0.5 * s[k] ** 2
            probe_e.append(en)
    return dict(s=s, w=w, bias=bias, inbox=inbox, sent=sent, delivered=delivered,
                probe_x=np.array(probe_x), probe_energy=np.array(probe_e))


def layered_net():
    net = layered([5, 4, 3], activation="tanh", p=0.6, seed=3,
                  learning=Learning(eta=0.4, eta_b=0.2, decay=0.02))
    return compile_network(net, h=0.1)


def dag_net():
    """Two parents into one area, four activations, leaky errors, per-projection eta,
    one neuron with a different activation and per-neuron tau_x."""
    areas = [Area("a", 3, activation="linear", role="sensory", x0=0.2),
             Area("b", 4, activation="sigmoid"), Area("c", 3, activation="relu", x0=0.3),
             Area("d", 2, activation="leaky_relu", role="label", tau_e=0.3)]
    projs = [Projection("a", "b", p=0.7), Projection("a", "c"), Projection("b", "d", eta=0.3),
             Projection("c", "d", p=0.8)]
    c = compile_network(build(areas, projs, seed=7, learning=Learning(eta=0.2, eta_b=0.1, decay=0.05)), h=0.1)
    b = c.neurons_of("b")
    c.act[b[1]] = 1  # tanh among sigmoids
    c.tau[b] = [0.5, 1.0, 1.5, 2.0]
    return c


def stream_schedule(c, until):
    rng = np.random.default_rng(11)
    inp, lab = c.neurons_of(c.area_names[0]), c.neurons_of(c.area_names[-1])
    err = c.neurons_of(c.area_names[-1], KIND_ERROR)
    ev = [(0, EV_CLAMP, int(i), v) for i, v in zip(inp, rng.normal(size=len(inp)))]
    ev += [(10, EV_CLAMP, int(i), v) for i, v in zip(lab, rng.normal(size=len(lab)))]
    ev += [(40, EV_CLAMP, int(inp[0]), 0.9), (40, EV_CLAMP, int(inp[0]), -0.4)]  # same step: last wins
    ev += [(40, EV_CLAMP, int(i), v) for i, v in zip(inp[1:], rng.normal(size=len(inp) - 1))]
    ev += [(50, EV_MODULATE, -1, 0.5), (60, EV_MODULATE, int(err[0]), 0.0), (60, EV_CLAMP, int(err[1]), 3.0),
           (70, EV_UNCLAMP, int(lab[0]), 0.0), (90, EV_MODULATE, -1, 1.0), (120, EV_UNCLAMP, -1, 0.0)]
    readout = np.concatenate([c.neurons_of(a) for a in c.area_names[1:]] + [err[:1]])
    return Schedule.from_events(ev, probe_t=range(0, until, 7), readout=readout, end=until)


# ------------------------------------------------------------- (d) oracle = semantics
@pytest.mark.parametrize("make", [layered_net, dag_net])
def test_dense_equals_per_neuron_kernel_loop(make):
    c, until = make(), 150
    sch = stream_schedule(c, until)
    res = DensePC.from_compiled(c).run(sch)
    lit = literal_run(c, sch, until)
    st = res.state
    assert st.t == until and res.runtime == "reference"
    np.testing.assert_allclose(res.probe_x, lit["probe_x"], **TOL)
    np.testing.assert_allclose(res.probe_energy, lit["probe_energy"], **TOL)
    for key in ("s", "w", "bias", "inbox"):
        np.testing.assert_allclose(getattr(st, key), lit[key], **TOL, err_msg=key)
    assert (st.sent, st.delivered, st.dropped) == (lit["sent"], lit["delivered"], 0)
    # the comparison is not vacuous: weights learned, clamps held, sparse cells stayed empty
    assert np.abs(st.w - c.w).max() > 1e-3
    assert np.abs(st.bias).max() > 1e-3
    last = c.neurons_of(c.area_names[-1])
    assert res.probe_x.std(axis=0).min() > 0 and np.all(st.clamped[last] == 0)
    assert np.all(st.ticks == until) and np.all(st.next_tick == until)


def test_missing_synapses_are_never_learned():
    c = layered_net()
    sim = DensePC.from_compiled(c)
    sim.run(stream_schedule(c, 80))
    masks = {p.name: p for p in sim.layout.projections}
    assert any(p.w_mask is not None for p in masks.values())
    for name, W in sim.W.items():
        p = masks[name]
        if p.w_mask is not None:
            assert np.all(W[p.w_mask == 0] == 0) and np.all(sim.V[name][p.v_mask == 0] == 0)


def test_initial_state_round_trips():
    c = dag_net()
    a, b = DensePC.from_compiled(c).state(), NetState.initial(c)
    for key in ("s", "w", "bias", "inbox", "clamped", "clamp_val", "gain", "last_tick",
                "next_tick", "ticks", "last_sent"):
        np.testing.assert_allclose(getattr(a, key), getattr(b, key), rtol=1e-15, atol=0, err_msg=key)
    assert (a.t, a.sent, a.delivered) == (0, 0, 0)


def test_resume_from_state_equals_one_run():
    c = layered_net()
    sch = stream_schedule(c, 120)
    one = DensePC.from_compiled(c).run(sch)
    first = DensePC.from_compiled(c).run(sch, until=57)
    second = DensePC.from_compiled(c, first.state).run(sch)
    np.testing.assert_array_equal(np.concatenate([first.probe_x, second.probe_x]), one.probe_x)
    np.testing.assert_array_equal(second.state.w, one.state.w)
    np.testing.assert_array_equal(second.state.s, one.state.s)
    np.testing.assert_array_equal(second.state.inbox, one.state.inbox)
    assert (second.state.sent, second.state.delivered) == (one.state.sent, one.state.delivered)


def test_resume_rejects_a_state_from_another_clock_regime():
    c = layered_net()
    st = NetState.initial(c)
    st.next_tick[3] += 1
    with pytest.raises(SpecError, match="state.next_tick"):
        DensePC.from_compiled(c, st)


# -------------------------------------------------------------- (a) closed form
def test_linear_free_area_relaxes_to_the_energy_minimum():
    """input (clamped) -> hidden (free) -> label (clamped), linear, V = W^T:
    F = 1/2|h - W1 a - b1|^2 + 1/2|y - W2 h - b2|^2 is minimal at
    (I + W2^T W2) h = W1 a + b1 + W2^T (y - b2)."""
    c = compile_network(layered([3, 4, 2], activation="linear", seed=2,
                                learning=Learning(feedback_init="transpose")), h=0.1)
    rng = np.random.default_rng(0)
    c.bias[c.kind == KIND_ERROR] = rng.normal(scale=0.5, size=int((c.kind == KIND_ERROR).sum()))
    a, y = rng.normal(size=3), rng.normal(size=2)
    sim = DensePC.from_compiled(c)
    sim.clamp(c.neurons_of("input"), a)
    sim.clamp(c.neurons_of("label"), y)
    r = relax(sim, tol=1e-14)
    assert r.converged
    W1, W2 = sim.W[("input", "hidden1")], sim.W[("hidden1", "label")]
    b1, b2 = sim.bias["hidden1"], sim.bias["label"]
    h = np.linalg.solve(np.eye(4) + W2.T @ W2, W1 @ a + b1 + W2.T @ (y - b2))
    np.testing.assert_allclose(sim.x["hidden1"], h, rtol=0, atol=1e-8)
    F = 0.5 * np.sum((h - W1 @ a - b1) ** 2) + 0.5 * np.sum((y - W2 @ h - b2) ** 2)
    assert abs(sim.energy().sum() - F) < 1e-8
    assert F > 1e-3  # a genuinely conflicted equilibrium, not the trivial zero-energy one


# ----------------------------------------------------------- (c) energy descent
@pytest.mark.parametrize("activation", ["linear", "tanh"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_energy_decreases_monotonically_while_relaxing(activation, seed):
    """With one-step messages, x(t) = x(t-1) - (h/tau) grad F(x(t-2)) (a delayed gradient
    descent); with h/tau_x = 0.05 and instantaneous errors its energy never rises."""
    c = compile_network(layered([4, 6, 5, 3], activation=activation, tau_x=2.0, seed=seed,
                                learning=Learning(feedback_init="transpose")), h=0.1)
    rng = np.random.default_rng(seed)
    sim = DensePC.from_compiled(c)
    for area, n in zip(sim.areas, (4, 6, 5, 3)):
        sim.set_x(area, rng.normal(size=n))
    for area in ("input", "label"):
        sim.clamp(c.neurons_of(area), sim.x[area])
    energy = []
    for _ in range(300):
        sim.step()
        energy.append(sim.energy().sum())
    energy = np.array(energy)
    assert np.all(np.diff(energy) <= 0), np.diff(energy).max()
    assert energy[-1] < 0.3 * energy[0]


# --------------------------------------------------------------- (b) PC ~ BP
def pc_vs_bp(gamma, beta=1e-3):
    """Relax free (input clamped), then nudge the label towards the target and relax again;
    return the free state, the MLP's forward pass and cosines of the local W updates with
    -dL/dW. ``gamma`` scales every feedback synapse (V = gamma W^T): the precision ratio
    of hidden to output layers in Whittington & Bogacz (2017)."""
    c = compile_network(layered([4, 8, 6, 3], activation="tanh", seed=5,
                                learning=Learning(feedback_init="transpose")), h=0.1)
    rng = np.random.default_rng(0)
    c.bias[c.kind == KIND_ERROR] = rng.normal(scale=0.3, size=int((c.kind == KIND_ERROR).sum()))
    c.w[c.edge_role() == 1] *= gamma
    mlp = BackpropMLP.from_compiled(c)
    sim = DensePC.from_compiled(c)
    x, y = rng.normal(size=4), np.eye(3)[1]
    sim.clamp(c.neurons_of("input"), x)
    assert relax(sim, tol=1e-14).converged
    free = {a: v.copy() for a, v in sim.x.items()}
    pred = free["label"]
    sim.clamp(c.neurons_of("label"), pred + beta * (y - pred))
    assert relax(sim, tol=1e-16).converged
    _, dW, db = mlp.gradients(x, y)
    cos = [cosine(u, -g) for u, g in zip(sim.local_updates().values(), dW)]
    cos_b = [cosine(sim.eps[a], -g) for a, g in zip(sim.areas[1:], db)]
    return free, mlp.forward(x), cos, cos_b


def test_free_relaxation_is_the_feedforward_pass():
    free, forward, _, _ = pc_vs_bp(1.0)
    for v, f in zip(free.values(), forward):
        np.testing.assert_allclose(v, f, rtol=0, atol=1e-10)


def test_pc_updates_at_equilibrium_match_backprop():
    """With low hidden precision relative to the output (V = 0.1 W^T) the nudged equilibrium's
    local updates point along -dL/dW in every layer. With unit precisions the output error
    spreads into the hidden layers and the cosine is only ~0.92-0.97 for this network;
    it tends to 1 as gamma -> 0."""
    _, _, cos, cos_b = pc_vs_bp(0.1)
    assert min(cos) >= 0.99 and min(cos_b) >= 0.99, (cos, cos_b)
    worse = [1 - min(pc_vs_bp(g)[2]) for g in (1.0, 0.3, 0.03)]
    assert worse[0] > worse[1] > 1 - min(cos) > worse[2]


# ------------------------------------------------------------------ (e) backprop
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
XOR_Y = np.array([0, 1, 1, 0])


def xor_net(seed):
    areas = [Area("in", 2, activation="linear", role="sensory"), Area("hid", 4, activation="tanh"),
             Area("out", 2, activation="linear", role="label")]
    return compile_network(build(areas, [Projection("in", "hid"), Projection("hid", "out")], seed=seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backprop_learns_xor(seed):
    mlp = BackpropMLP.from_compiled(xor_net(seed))
    hist = mlp.fit(XOR_X, np.eye(2)[XOR_Y], epochs=500, lr=0.1, seed=seed)
    assert mlp.accuracy(XOR_X, XOR_Y) == 1.0
    assert hist[-1] < 1e-3 * hist[0]


def test_backprop_gradient_equals_finite_differences():
    c = compile_network(layered([3, 5, 4, 2], activation="tanh", p=0.7, seed=4))
    rng = np.random.default_rng(1)
    c.bias[c.kind == KIND_ERROR] = rng.normal(scale=0.3, size=int((c.kind == KIND_ERROR).sum()))
    mlp = BackpropMLP.from_compiled(c)
    x, y = rng.normal(size=3), np.eye(2)[0]
    _, dW, db = mlp.gradients(x, y)
    assert any(m is not None for m in mlp.masks)  # sparse: some synapses are missing
    for l in range(len(dW)):
        for params, grads, mask in ((mlp.weights, dW, mlp.masks[l]), (mlp.biases, db, None)):
            theta, num = params[l], np.zeros_like(params[l])
            for idx in np.ndindex(theta.shape):
                old = theta[idx]
                theta[idx] = old + 1e-6
                lp = mlp.gradients(x, y)[0]
                theta[idx] = old - 1e-6
                lm = mlp.gradients(x, y)[0]
                theta[idx] = old
                num[idx] = (lp - lm) / 2e-6
            if mask is not None:  # a missing synapse is not a parameter: no gradient
                num *= mask
            np.testing.assert_allclose(grads[l], num, rtol=1e-6, atol=1e-9)
    # the function form agrees with the method
    loss, dW2, _ = backprop_gradients(mlp.weights, mlp.biases, ["tanh"] * 3, x, y, masks=mlp.masks)
    assert all(np.array_equal(a, b) for a, b in zip(dW, dW2))


def test_backprop_mlp_forward_matches_predict_and_needs_a_chain():
    mlp = BackpropMLP.from_compiled(xor_net(3))
    out = mlp.predict(XOR_X)
    for x, o in zip(XOR_X, out):
        np.testing.assert_allclose(mlp.forward(x)[-1], o, rtol=1e-14)
    with pytest.raises(SpecError, match="chain"):
        BackpropMLP.from_compiled(dag_net())


def test_backprop_on_float32_data_needs_no_float64_copy(monkeypatch):
    """float32 data (IDX, Arrow sources) give exactly the numbers of their float64 copy,
    converted a sample (fit) or a block (predict) at a time: never the whole array."""
    import tracemalloc

    from asyncpc.reference import _backprop

    monkeypatch.setattr(_backprop, "PREDICT_ROWS", 512)
    c = compile_network(layered([64, 20, 10], activation="relu", output_activation="linear", seed=2))
    rng = np.random.default_rng(0)
    X = rng.random((3000, 64)).astype(np.float32)
    Y = np.eye(10)[rng.integers(0, 10, 3000)]
    a, b = BackpropMLP.from_compiled(c), BackpropMLP.from_compiled(c)
    X64 = X.astype(np.float64)
    assert np.array_equal(a.fit(X64, Y, epochs=1, seed=3), b.fit(X, Y, epochs=1, seed=3))
    assert all(np.array_equal(u, v) for u, v in zip(a.weights, b.weights))
    assert np.array_equal(a.predict(X64), b.predict(X))  # in blocks of PREDICT_ROWS
    assert len(X) > _backprop.PREDICT_ROWS
    tracemalloc.start()
    b.fit(X, Y, epochs=1)
    fit_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    b.predict(X)
    predict_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fit_peak < X.nbytes / 4 and predict_peak < X64.nbytes, (fit_peak, predict_peak, X64.nbytes)


# ---------------------------------------------------------- (f) preconditions
@pytest.mark.parametrize("kwargs, match", [
    (dict(delay=0.2), "delay: .*exactly one step.*got 2 steps"),
    (dict(partner_delay=0.2), "delay"),
    (dict(clocks=Clocks(period=0.2)), "period"),
    (dict(messages=Messages(loss=0.1)), "loss"),
    (dict(messages=Messages(jitter=0.1)), "jitter"),
    (dict(messages=Messages(send="on_delta", threshold=0.1)), "send"),
    (dict(learning=Learning(feedback="transport")), "transport"),
])
def test_from_compiled_rejects_what_it_cannot_simulate(kwargs, match):
    c = compile_network(layered([3, 2], **kwargs), h=0.1)
    with pytest.raises(SpecError, match=match):
        DensePC.from_compiled(c)


def test_from_compiled_rejects_an_area_cycle():
    net = build([Area("a", 2, role="sensory"), Area("b", 2)], [Projection("a", "b"), Projection("b", "a")],
                allow_cycles=True)
    with pytest.raises(SpecError, match="acyclic"):
        DensePC.from_compiled(compile_network(net))


def test_activations_agree_with_the_kernels():
    from asyncpc.kernels import _activations as K
    from asyncpc.reference import _act as A
    assert A.LEAK == K.LEAK == P.LEAK
    xs = np.linspace(-3, 3, 13)
    for code in range(5):
        np.testing.assert_allclose(A.act(code, xs), [P.act(code, v) for v in xs], rtol=1e-15, atol=0)
        np.testing.assert_allclose(A.dact(code, xs), [P.dact(code, v) for v in xs], rtol=1e-14, atol=0)
