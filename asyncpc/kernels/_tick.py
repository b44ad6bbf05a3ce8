"""Per-neuron tick kernels: pure functions of one neuron's state, its held inputs and the
running sums of its synapses.

Both runtimes call these; see docs/model.md for the equations and decisions. A tick
is O(1): the synapse-weighted input sum arrives as ``drive`` (value neuron) or ``pred``
(error neuron), kept up to date by :mod:`._synapses` when messages arrive, and the
plasticity of every synapse is carried by the neuron's learning factor ``a`` and its
postsynaptic term (returned), which :func:`._synapses.lazy_advance` folds into the
neuron's running integral.

Everything called per tick takes scalars only (a parameter row is a tuple of floats):
in a compiled loop a call -- even an inlined one -- that passes arrays increments and
decrements their reference counts, atomically, and that was most of a tick's cost.
"""

from __future__ import annotations

from ._activations import act, dact
from ._options import jit
from ._params import ACT, DECAY, ETA_B, HAS_PARTNER, P_SPEEDUP, P_TAU, ROW, TAU, column
from ._synapses import lazy_advance

# the dynamics options' columns (asyncpc.neurons.OPTIONS)
SPEEDUP, SELF_LAG, FEEDBACK_GAIN, GATE, GATE_TAU, PROSPECTIVE_WINDOW, PRECISION, PLASTICITY_LAG, LEAD = (
    column(k) for k in ("speedup", "self_lag", "feedback_gain", "gate", "gate_tau", "prospective_window",
                        "precision", "plasticity_lag", "lead"))
CLAMP_ECHO, CLAMP_ECHO_MAX = column("clamp_echo"), column("clamp_echo_max")


@jit(inline="always")
def value_tick(prm, x, aux, held, dt, p_in, drive, gain, clamped, clamp_value, plastic):
    """One tick of a value neuron (parameters ``prm``, a row of the parameter array).

    ``p_in`` is the error partner's held input (0 without a partner), ``drive`` the
    feedback drive ``sum_k V_ik eps_k`` over its held inputs. Returns ``(x, aux, held, a,
    post, rate)``: the new state, option variable and hold time, the learning factor of this tick
    (``dt * gain``, damped by the neuron's own gate; 0 when it does not learn), the
    postsynaptic term ``f(x)`` (start-of-tick x) of its V synapses -- with
    ``plasticity_lag > 0``, ``f`` of its x low-passed over that many ms (in ``aux``) --
    and the rate it sends on its predict edges, ``f`` of the new x -- with ``lead > 0``
    (prospective messages) of the new x extrapolated ``lead`` ms along this tick's slope.

    Options (docs/learning.md), each off at its neutral value: ``self_lag > 0`` rebuilds the
    self term from the neuron's own past (``aux``: its x low-passed over ``self_lag`` ms);
    ``speedup > 0`` speeds settling up while the neuron's error is large; ``feedback_gain``
    scales the feedback drive; ``gate > 0`` damps plasticity while x moves fast -- unless
    ``gate_tau > 0`` (the matched trace gate), where each V synapse is gated by its
    sender instead (the learning signal it sends, :func:`error_tick`); ``clamp_echo > 0``
    (a neuron with an error partner) holds its previous x when its clamp value changes,
    until the partner's error ``p_in`` has moved by more than ``clamp_echo`` from ``aux``
    (the error it held before the change; tracked in ``aux`` while it does not hold) --
    and, with ``clamp_echo_max > 0``, for at most that many ms (``held``: the time it has
    held, the sum of its ticks' dt; 0 while it does not hold).
    """
    code = int(prm[ACT])
    fx = act(code, x)
    dfx = dact(code, x)
    e_self = p_in
    auxn = x
    lag = prm[SELF_LAG]
    if lag > 0.0:
        e_self += x - aux
        auxn = aux + min(1.0, dt / lag) * (x - aux)
    post = fx
    pl = prm[PLASTICITY_LAG]
    if pl > 0.0:
        auxn = aux + min(1.0, dt / pl) * (x - aux)
        post = act(code, auxn)
    hold = False
    heldn = held
    ce = prm[CLAMP_ECHO]
    if ce > 0.0 and prm[HAS_PARTNER] != 0.0:
        mx = prm[CLAMP_ECHO_MAX]
        if clamped and x != clamp_value and abs(p_in - aux) <= ce and (mx == 0.0 or held < mx):
            hold = True  # the new value waits for its echo: the prediction has not moved yet
            auxn = aux
            heldn = held + dt
        else:
            auxn = p_in
            heldn = 0.0
    if clamped:
        xn = x if hold else clamp_value
    else:
        r = dt / prm[TAU]
        sp = prm[SPEEDUP]
        if sp > 0.0:
            r = min(1.0, r * (1.0 + abs(e_self) / sp))
        xn = x + r * (-e_self + prm[FEEDBACK_GAIN] * dfx * drive)
    a = 0.0
    if plastic and gain != 0.0:
        a = dt * gain
        g = prm[GATE]
        if g > 0.0 and prm[GATE_TAU] == 0.0:
            q = (xn - x) / g
            a = a / (1.0 + q * q)
    ld = prm[LEAD]
    if ld > 0.0 and not clamped and dt > 0.0:
        return xn, auxn, heldn, a, post, act(code, xn + ld * (xn - x) / dt)
    return xn, auxn, heldn, a, post, act(code, xn)


@jit(inline="always")
def error_tick(prm, eps, aux, dt, p_in, pred, bias, gain):
    """One tick of an error neuron; returns ``(eps, bias, aux, a, post, signal)``.

    ``p_in`` is the partner's held x, ``pred`` the prediction ``sum_i W_ki f(x_i)``
    over its held inputs (the bias is added here). ``a`` is the learning factor of W and
    b this tick, ``post`` their postsynaptic term (the error, or the prospective signal)
    and ``signal`` the learning signal it sends on its feedback edges with its error:
    the error itself, or with the matched trace gate its error times its own gate
    factor, so that the V synapses of its parents learn at the gate its W learns at.

    ``precision`` (1: plain) weighs the error: it settles to ``precision * (x - mu)``.
    ``p_tau > 0`` (prospective learning signal): W and b learn from the top-down drive
    the partner value neuron (time constant ``p_tau``, speed-up ``p_speedup``) received,
    ``eps + p_tau * dx/dt / (1 + |eps|/p_speedup)``, ``dx/dt`` estimated as
    ``(x - aux) / max(prospective_window, dt)`` with ``aux`` the partner's x low-passed
    over ``prospective_window`` ms; ``gate > 0`` damps plasticity while the error changes fast: by its
    change in this tick, or with ``gate_tau > 0`` (``aux`` then holds the error's speed
    low-passed over ``gate_tau`` ms; exclusive with ``p_tau``) by ``1 / (1 + (aux/gate)^2)``.
    """
    mu = bias + pred
    tgt = prm[PRECISION] * (p_in - mu)  # x 1.0 is exact: the plain error when off
    tau = prm[TAU]
    if tau == 0.0:
        en = tgt
    else:
        en = eps + dt / tau * (tgt - eps)
    post = en
    auxn = p_in
    p_tau = prm[P_TAU]
    if p_tau > 0.0:
        win = max(prm[PROSPECTIVE_WINDOW], dt)
        k = p_tau / win
        p_sp = prm[P_SPEEDUP]
        if p_sp > 0.0:
            k = k / (1.0 + abs(eps) / p_sp)
        post = eps + k * (p_in - aux)
        auxn = aux + dt / win * (p_in - aux)
    g = prm[GATE]
    gt = prm[GATE_TAU]
    damp = 1.0
    if gt > 0.0:
        auxn = aux + min(1.0, dt / gt) * (abs(en - eps) / dt - aux)
        q = auxn / g
        damp = 1.0 + q * q
    elif g > 0.0:
        q = (en - eps) / g
        damp = 1.0 + q * q
    signal = en / damp if gt > 0.0 else en
    a = 0.0
    bn = bias
    if gain != 0.0:
        a = dt * gain
        if damp != 1.0:
            a = a / damp
        bn = bias + a * prm[ETA_B] * post
    return en, bn, auxn, a, post, signal


assert ROW == 19, "param_row lists the columns one by one"


@jit(inline="always")
def param_row(prm, n):
    """Neuron ``n``'s parameters as a tuple of ROW floats (:data:`._params.PARAMS` order)."""
    return (prm[n, 0], prm[n, 1], prm[n, 2], prm[n, 3], prm[n, 4], prm[n, 5], prm[n, 6], prm[n, 7], prm[n, 8],
            prm[n, 9], prm[n, 10], prm[n, 11], prm[n, 12], prm[n, 13], prm[n, 14], prm[n, 15], prm[n, 16],
            prm[n, 17], prm[n, 18])


@jit(inline="always")
def tick(row, is_value, has_syn, dt, gain, clamped, clamp_value, plastic, p_in, total, s, aux, bias, P, T):
    """A neuron's whole tick once its input sum ``total`` is known (``lazy_sum`` of its
    running sums, after the changed inputs were applied and a rebase if one was due):
    its kernel, then this tick's plasticity folded into its running integral ``P``, ``T``
    (when it has synapses, ``has_syn``).

    Scalars only, so a compiled loop calls it without touching reference counts.
    Returns ``(s, aux, bias, P, T, out2)``: ``out2`` is its second output -- the rate
    ``f(x)`` it sends on predict edges (value neuron) or its learning signal (error neuron).
    """
    if is_value:
        # a value neuron has no bias: the slot holds its clamp_echo hold time
        xn, an, bn, a, post, out2 = value_tick(row, s, aux, bias, dt, p_in, total, gain, clamped, clamp_value,
                                               plastic)
    else:
        xn, bn, an, a, post, out2 = error_tick(row, s, aux, dt, p_in, total, bias, gain)
    if a != 0.0 and has_syn:
        P, T = lazy_advance(P, T, a, post, row[DECAY])
    return xn, an, bn, P, T, out2


@jit(inline="always")
def should_send(policy, threshold, s, last_sent, sig, last_sig, first, since, refresh):
    """Send policy 0 (always) or 1 (on_delta: the state -- or the learning signal -- moved
    by more than ``threshold`` since the last send); a neuron always sends on its first
    tick, and with ``refresh > 0`` when ``since`` (steps since its last send) reached it."""
    if policy == 0 or first:
        return True
    if refresh > 0 and since >= refresh:
        return True
    return abs(s - last_sent) > threshold or abs(sig - last_sig) > threshold
