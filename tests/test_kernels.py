"""Each Numba kernel equals its plain-Python twin."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncpc import kernels as K
from asyncpc.kernels import _python as P

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


#: the dynamics options (docs/learning.md): off (their neutral values) or on
options = st.tuples(st.sampled_from([0.0, 0.02, 0.5]), st.sampled_from([0.0, 0.1, 0.35]),
                    st.sampled_from([1.0, 0.6]), st.sampled_from([0.0, 0.05]))
#: the matched trace gate (gate_tau, ms; needs gate > 0)
gate_taus = st.sampled_from([0.0, 0.0, 1.0, 0.05])


@settings(max_examples=150, deadline=None)
@given(code=codes, x=finite, aux=finite, n=st.integers(0, 6), has_partner=st.booleans(), clamped=st.booleans(),
       plastic=st.booleans(), gain=st.sampled_from([0.0, 1.0, 0.5]), opts=options, gate_tau=gate_taus,
       data=st.data())
def test_value_tick_matches_twin(code, x, aux, n, has_partner, clamped, plastic, gain, opts, gate_tau, data):
    m = n + (1 if has_partner else 0)
    inbox = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)), dtype=float)
    w = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)), dtype=float)
    w2 = list(w)
    if gate_tau > 0:  # the matched trace gate: needs a gate, keeps per-synapse state
        opts = (*opts[:3], 0.05)
        s_in = np.array(data.draw(st.lists(finite, min_size=m, max_size=m)), dtype=float)
        s_m = np.abs(np.array(data.draw(st.lists(finite, min_size=m, max_size=m)), dtype=float))
    else:
        s_in, s_m = np.zeros(0), np.zeros(0)
    s_in2, s_m2 = list(s_in), list(s_m)
    args = (0.1, 1.3, code, has_partner)
    rest = (0.05, 0.01, gain, clamped, 0.7, plastic, *opts, gate_tau)
    a = K.value_tick(x, aux, *args, inbox, w, *rest, s_in, s_m)
    b = P.value_tick(x, aux, *args, list(inbox), w2, *rest, s_in2, s_m2)
    assert a == b
    assert list(w) == w2 and list(s_in) == s_in2 and list(s_m) == s_m2


@settings(max_examples=150, deadline=None)
@given(eps=finite, aux=finite, n=st.integers(0, 6), tau=st.sampled_from([0.0, 0.3]),
       gain=st.sampled_from([0.0, 1.0]), bias=finite,
       opts=st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 0.02]), st.sampled_from([0.0, 0.3]),
                      st.sampled_from([0.0, 0.05]), st.sampled_from([0.0, 0.0, 1.0])),
       data=st.data())
def test_error_tick_matches_twin(eps, aux, n, tau, gain, bias, opts, data):
    if opts[4] > 0:  # the matched trace gate: a gate, no prospective signal
        opts = (0.0, 0.0, 0.0, 0.05, opts[4])
    _error_tick_pair(eps, aux, n, tau, gain, bias, opts, data.draw)


def test_gate_twin_squares_like_the_kernel():
    # q = -12.000000000000002: libm's pow(q, 2) is one ulp below q * q (found by hypothesis)
    _error_tick_pair(1.8, 0.0, 0, 0.3, 1.0, 0.0, (0.0, 0.0, 0.0, 0.05, 0.0), lambda strategy: [0.0])


def _error_tick_pair(eps, aux, n, tau, gain, bias, opts, draw):
    inbox = np.array(draw(st.lists(finite, min_size=n + 1, max_size=n + 1)), dtype=float)
    w = np.array(draw(st.lists(finite, min_size=n + 1, max_size=n + 1)), dtype=float)
    w2 = list(w)
    a = K.error_tick(eps, aux, 0.1, tau, inbox, w, bias, 0.05, 0.02, 0.001, gain, *opts)
    b = P.error_tick(eps, aux, 0.1, tau, list(inbox), w2, bias, 0.05, 0.02, 0.001, gain, *opts)
    assert a == b and list(w) == w2


def test_instantaneous_error_is_prediction_error():
    inbox = np.array([0.8, 0.5, -1.0])  # partner x, two rates
    w = np.array([1.0, 0.4, 0.3])
    eps, _, _ = K.error_tick(0.0, 0.0, 0.1, 0.0, inbox, w, 0.1, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert eps == 0.8 - (0.1 + 0.4 * 0.5 + 0.3 * -1.0)


@given(policy=st.integers(0, 1), th=st.floats(0, 1), s=finite, last=finite, first=st.booleans())
def test_should_send_matches_twin(policy, th, s, last, first):
    assert K.should_send(policy, th, s, last, first) == P.should_send(policy, th, s, last, first)


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
