"""Each Numba kernel equals its plain-Python twin."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncpc import kernels as K
from asyncpc.kernels import _python as P
from asyncpc.kernels._synapses import apply_input, lazy_advance, lazy_sum, lazy_weight, needs_rebase, rebase

finite = st.floats(-5, 5, allow_nan=False)
codes = st.integers(0, 4)


@settings(max_examples=200, deadline=None)
@given(code=codes, x=finite)
def test_activations_match_twins(code, x):
    assert K.act(code, x) == P.act(code, x)
    assert math.isclose(K.dact(code, x), P.dact(code, x), rel_tol=1e-15, abs_tol=1e-15)


def test_derivatives_are_derivatives():
    for code in range(5):
        for x in (-1.3, -0.2, 0.4, 2.1):
            num = (P.act(code, x + 1e-6) - P.act(code, x - 1e-6)) / 2e-6
            assert abs(num - P.dact(code, x)) < 1e-6


#: a parameter row (asyncpc.kernels._params), its columns by name
def _row(code=1, tau=1.3, speedup=0.0, lag=0.0, fb_gain=1.0, gate=0.0, gate_tau=0.0, p_tau=0.0, p_speedup=0.0,
         p_window=0.0):
    from asyncpc.kernels._params import ROW, column

    from asyncpc.neurons import OPTIONS

    row = np.zeros(ROW)
    for o in OPTIONS:  # every option neutral unless set below
        if not o.boolean:
            row[column(o.name)] = o.neutral
    for k, v in dict(tau=tau, act=code, has_partner=1.0, eta=0.05, eta_b=0.02, decay=0.001, speedup=speedup,
                     self_lag=lag, feedback_gain=fb_gain, gate=gate, gate_tau=gate_tau, p_tau=p_tau,
                     p_speedup=p_speedup, prospective_window=p_window).items():
        row[column(k)] = v
    return row


@settings(max_examples=200, deadline=None)
@given(code=codes, x=finite, aux=finite, p_in=finite, drive=finite, clamped=st.booleans(), plastic=st.booleans(),
       gain=st.sampled_from([0.0, 1.0, 0.5]), speedup=st.sampled_from([0.0, 0.02, 0.5]),
       lag=st.sampled_from([0.0, 0.1, 0.35]), fb_gain=st.sampled_from([1.0, 0.6]),
       gate=st.sampled_from([0.0, 0.05]), gate_tau=st.sampled_from([0.0, 1.0]))
def test_value_tick_matches_twin(code, x, aux, p_in, drive, clamped, plastic, gain, speedup, lag, fb_gain, gate,
                                 gate_tau):
    row = _row(code, speedup=speedup, lag=lag, fb_gain=fb_gain, gate=gate, gate_tau=gate_tau)
    args = (x, aux, 0.0, 0.1, p_in, drive, gain, clamped, 0.7, plastic)
    assert K.value_tick(row, *args) == P.value_tick(row, *args)


@settings(max_examples=200, deadline=None)
@given(eps=finite, aux=finite, p_in=finite, pred=finite, tau=st.sampled_from([0.0, 0.3]),
       gain=st.sampled_from([0.0, 1.0]), bias=finite,
       opts=st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 0.02]), st.sampled_from([0.0, 0.3]),
                      st.sampled_from([0.0, 0.05]), st.sampled_from([0.0, 0.0, 1.0])))
def test_error_tick_matches_twin(eps, aux, p_in, pred, tau, gain, bias, opts):
    p_tau, p_speedup, p_window, gate, gate_tau = opts
    if gate_tau > 0:  # the matched trace gate: a gate, no prospective signal
        p_tau, p_speedup, p_window, gate = 0.0, 0.0, 0.0, 0.05
    row = _row(tau=tau, gate=gate, gate_tau=gate_tau, p_tau=p_tau, p_speedup=p_speedup, p_window=p_window)
    args = (eps, aux, 0.1, p_in, pred, bias, gain)
    assert K.error_tick(row, *args) == P.error_tick(row, *args)


def test_gate_twin_squares_like_the_kernel():
    # q = -12.000000000000002: libm's pow(q, 2) is one ulp below q * q (found by hypothesis)
    row = _row(tau=0.3, gate=0.05)
    assert K.error_tick(row, 1.8, 0.0, 0.1, 0.0, 0.0, 0.0, 1.0) == P.error_tick(row, 1.8, 0.0, 0.1, 0.0, 0.0, 0.0, 1.0)


def test_instantaneous_error_is_prediction_error():
    # partner x 0.8; prediction 0.4 * 0.5 + 0.3 * -1.0 from two rates; bias 0.1
    eps = K.error_tick(_row(tau=0.0), 0.0, 0.0, 0.1, 0.8, 0.4 * 0.5 + 0.3 * -1.0, 0.1, 1.0)[0]
    assert eps == 0.8 - (0.1 + (0.4 * 0.5 + 0.3 * -1.0))


def test_matched_gate_sends_its_gated_error():
    row = _row(tau=0.0, gate=0.05, gate_tau=1.0)
    en, _, aux, a, post, signal = K.error_tick(row, 0.0, 0.0, 0.1, 1.0, 0.0, 0.0, 1.0)
    damp = 1.0 + (aux / 0.05) ** 2
    assert en == 1.0 and post == en and math.isclose(signal, en / damp) and math.isclose(a, 0.1 / damp)


@settings(deadline=None)
@given(policy=st.integers(0, 1), th=st.floats(0, 1), s=finite, last=finite, sig=finite, last_sig=finite,
       first=st.booleans(), since=st.integers(0, 50), refresh=st.sampled_from([0, 1, 10]))
def test_should_send_matches_twin(policy, th, s, last, sig, last_sig, first, since, refresh):
    args = (policy, th, s, last, sig, last_sig, first, since, refresh)
    assert K.should_send(*args) == P.should_send(*args)


# -- event-driven synapses ---------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), decay=st.sampled_from([0.0, 0.01]), seed=st.integers(0, 2**16))
def test_synapse_kernels_match_twins(n, decay, seed):
    rng = np.random.default_rng(seed)
    c, held, held_l = (rng.normal(size=n) for _ in range(3))
    events = [(int(rng.integers(0, n)), *rng.normal(size=2), 0.1 * rng.random(), rng.normal()) for _ in range(20)]
    out = []
    for mod, (cc, hh, ll) in ((K, (c.copy(), held.copy(), held_l.copy())), (P, (list(c), list(held), list(held_l)))):
        advance = K._synapses.lazy_advance if mod is K else P.lazy_advance
        Pp, T = 1.0, 0.0
        A, Q = mod.rebase(0, n, cc, hh, ll, 1.0, 0.0, 0.05)
        for j, v, l, a, post in events:
            A, Q = mod.apply_input(j, float(v), float(l), cc, hh, ll, T, 0.05, A, Q)
            Pp, T = advance(Pp, T, float(a), float(post), decay)
        A2, Q2 = mod.rebase(0, n, cc, hh, ll, Pp, T, 0.05)
        out.append((Pp, T, A, Q, mod.lazy_sum(Pp, T, A, Q, 0.05), A2, Q2, list(cc), list(hh), list(ll)))
    assert out[0] == out[1]


def _per_tick(w, held, a_post, eta, decay):
    """The plasticity rule applied to every synapse at every tick (the definition)."""
    for a, post in a_post:
        for j in range(len(w)):
            w[j] += a * (eta * held[j] * post - decay * w[j])
    return w


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 8), decay=st.sampled_from([0.0, 0.002]), seed=st.integers(0, 2**16))
def test_lazy_synapses_equal_the_per_tick_rule(n, decay, seed):
    """Held inputs change now and then; every tick folds its plasticity into the running
    integral. The weights and the input sum equal the rule applied tick by tick."""
    rng = np.random.default_rng(seed)
    eta = 0.05
    w = rng.normal(size=n)
    held = rng.normal(size=n)
    c, hh = w.copy(), held.copy()
    A, Q = K.rebase(0, n, c, hh, hh, 1.0, 0.0, eta)
    Pp, T, count = 1.0, 0.0, 0
    ref = list(w)
    for _ in range(400):
        for j in np.flatnonzero(rng.random(n) < 0.1):
            v = float(rng.normal())
            ref = _per_tick(ref, list(hh), [], eta, decay)
            A, Q = K.apply_input(int(j), v, v, c, hh, hh, T, eta, A, Q)
            count += 1
        if K._synapses.needs_rebase(Pp, T, eta, count, n):
            A, Q = K.rebase(0, n, c, hh, hh, Pp, T, eta)
            Pp, T, count = 1.0, 0.0, 0
        total = K.lazy_sum(Pp, T, A, Q, eta)
        assert math.isclose(total, sum(r * h for r, h in zip(ref, hh)), rel_tol=1e-9, abs_tol=1e-9)
        a, post = 0.02 * float(rng.random()), float(rng.normal())
        ref = _per_tick(ref, list(hh), [(a, post)], eta, decay)
        Pp, T = K._synapses.lazy_advance(Pp, T, a, post, decay)
    got = np.empty(n)
    K.materialize(0, n, c, hh, Pp, T, eta, got)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_running_sums_drift_stays_bounded_over_a_long_run():
    """A million ticks of one neuron with 64 synapses, a new message on a random synapse
    every tick, relu-like postsynaptic terms (the integral grows and is rebased whenever
    |eta T| > 1): the input sum and the weights stay within 1e-9 of the per-tick rule
    applied to every synapse at every tick (docs/model.md, "Lazy plasticity")."""
    from asyncpc.kernels._options import jit

    err_sum, err_w = jit(_drift)(1_000_000, 64, 0.01, 1)
    assert err_sum < 1e-9 and err_w < 1e-9


def _drift(ticks, n, eta, seed):
    np.random.seed(seed)
    w_ref = np.random.normal(0.0, 0.1, n)
    c = w_ref.copy()
    held = np.random.normal(0.0, 1.0, n)
    A, Q = rebase(0, n, c, held, held, 1.0, 0.0, eta)
    Pp, T, count = 1.0, 0.0, 0
    err_sum, err_w = 0.0, 0.0
    for k in range(ticks):
        j = np.random.randint(0, n)
        v = np.random.normal()
        A, Q = apply_input(j, v, v, c, held, held, T, eta, A, Q)
        count += 1
        if needs_rebase(Pp, T, eta, count, n):
            A, Q = rebase(0, n, c, held, held, Pp, T, eta)
            Pp, T, count = 1.0, 0.0, 0
        a, post = 0.01, max(0.0, np.random.normal())
        for i in range(n):
            w_ref[i] += a * (eta * held[i] * post)
        Pp, T = lazy_advance(Pp, T, a, post, 0.0)
        if k % 50_000 == 49_999:
            exact = 0.0
            for i in range(n):
                exact += w_ref[i] * held[i]
                err_w = max(err_w, abs(lazy_weight(c[i], held[i], Pp, T, eta) - w_ref[i]))
            err_sum = max(err_sum, abs(lazy_sum(Pp, T, A, Q, eta) - exact))
    return err_sum, err_w


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), stream=st.integers(0, 7), ident=st.integers(0, 2**31),
       t=st.integers(0, 2**40))
def test_rng_matches_twin(seed, stream, ident, t):
    assert K.uniform(seed, stream, ident, t) == P.uniform(seed, stream, ident, t)
    assert K.randint(seed, stream, ident, t, -3, 5) == P.randint(seed, stream, ident, t, -3, 5)


def test_rng_is_uniform_and_decorrelated():
    u = np.array([P.uniform(7, 1, e, t) for e in range(50) for t in range(200)])
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.03
    ints = [P.randint(1, 2, 0, t, 0, 3) for t in range(4000)]
    assert set(ints) == {0, 1, 2, 3}
