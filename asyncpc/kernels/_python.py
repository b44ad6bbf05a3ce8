"""Plain-Python twins of the kernels, used by the tests as an independent statement."""

from __future__ import annotations

import math

from ._params import column

MASK = (1 << 64) - 1
LEAK = 0.01


def act(code, x):
    return [lambda v: v, math.tanh, lambda v: 1 / (1 + math.exp(-v)),
            lambda v: v if v > 0 else 0.0, lambda v: v if v > 0 else LEAK * v][code](x)


def dact(code, x):
    if code == 1:
        t = math.tanh(x)
        return 1.0 - t * t
    if code == 2:
        s = 1 / (1 + math.exp(-x))
        return s * (1 - s)
    if code == 3:
        return 1.0 if x > 0 else 0.0
    if code == 4:
        return 1.0 if x > 0 else LEAK
    return 1.0


# parameter columns, by name (asyncpc.kernels._params)
TAU, ACT, ETA_B, P_TAU, P_SPEEDUP, SPEEDUP, LAG, FB_GAIN, GATE, GATE_TAU, P_WINDOW, PRECISION = (column(k) for k in (
    "tau", "act", "eta_b", "p_tau", "p_speedup", "speedup", "self_lag", "feedback_gain", "gate", "gate_tau",
    "prospective_window", "precision"))
PLASTICITY_LAG, LEAD, CLAMP_ECHO, CLAMP_ECHO_MAX, HAS_PARTNER = (
    column(k) for k in ("plasticity_lag", "lead", "clamp_echo", "clamp_echo_max", "has_partner"))


def value_tick(prm, x, aux, held_t, dt, p_in, drive, gain, clamped, clamp_value, plastic):
    fx, dfx = act(int(prm[ACT]), x), dact(int(prm[ACT]), x)
    e_self, aux_new = p_in, x
    if prm[LAG] > 0.0:
        e_self += x - aux
        aux_new = aux + min(1.0, dt / prm[LAG]) * (x - aux)
    post = fx
    if prm[PLASTICITY_LAG] > 0.0:
        aux_new = aux + min(1.0, dt / prm[PLASTICITY_LAG]) * (x - aux)
        post = act(int(prm[ACT]), aux_new)
    rate = dt / prm[TAU]
    if prm[SPEEDUP] > 0.0:
        rate = min(1.0, rate * (1.0 + abs(e_self) / prm[SPEEDUP]))
    held, held_new = False, held_t
    if prm[CLAMP_ECHO] > 0.0 and prm[HAS_PARTNER] != 0.0:
        mx = prm[CLAMP_ECHO_MAX]
        held = clamped and x != clamp_value and abs(p_in - aux) <= prm[CLAMP_ECHO] and (mx == 0.0 or held_t < mx)
        aux_new = aux if held else p_in
        held_new = held_t + dt if held else 0.0
    if clamped:
        xn = x if held else clamp_value
    else:
        xn = x + rate * (-e_self + prm[FB_GAIN] * dfx * drive)
    a = 0.0
    if plastic and gain != 0.0:
        a = dt * gain
        if prm[GATE] > 0.0 and prm[GATE_TAU] == 0.0:
            q = (xn - x) / prm[GATE]
            a = a / (1.0 + q * q)  # not q ** 2: libm's pow can differ from q * q by an ulp
    x_sent = xn
    if prm[LEAD] > 0.0 and not clamped and dt > 0.0:
        x_sent = xn + prm[LEAD] * (xn - x) / dt
    return xn, aux_new, held_new, a, post, act(int(prm[ACT]), x_sent)


def error_tick(prm, eps, aux, dt, p_in, pred, bias, gain):
    tgt = prm[PRECISION] * (p_in - (bias + pred))
    en = tgt if prm[TAU] == 0.0 else eps + dt / prm[TAU] * (tgt - eps)
    post, aux_new = en, p_in
    if prm[P_TAU] > 0.0:
        window = max(prm[P_WINDOW], dt)
        k = prm[P_TAU] / window
        if prm[P_SPEEDUP] > 0.0:
            k = k / (1.0 + abs(eps) / prm[P_SPEEDUP])
        post = eps + k * (p_in - aux)
        aux_new = aux + dt / window * (p_in - aux)
    damp = 1.0
    if prm[GATE_TAU] > 0.0:
        aux_new = aux + min(1.0, dt / prm[GATE_TAU]) * (abs(en - eps) / dt - aux)
        damp = 1.0 + (aux_new / prm[GATE]) * (aux_new / prm[GATE])
    elif prm[GATE] > 0.0:
        damp = 1.0 + ((en - eps) / prm[GATE]) * ((en - eps) / prm[GATE])
    signal = en / damp if prm[GATE_TAU] > 0.0 else en
    a = 0.0
    if gain != 0.0:
        a = dt * gain if damp == 1.0 else dt * gain / damp
        bias = bias + a * prm[ETA_B] * post
    return en, bias, aux_new, a, post, signal


# lazy synapses (asyncpc.kernels._synapses), restated
def apply_input(j, v, l, c, held, held_l, T, eta, A, Q):
    v0, l0, c0 = held[j], held_l[j], c[j]
    held[j], held_l[j] = v, l
    if eta == 0.0:
        return A + c0 * (v - v0), Q
    c[j] = c0 + eta * (l0 - l) * T
    A += c[j] * v - c0 * v0
    Q += l * v - l0 * v0
    return A, Q


def lazy_sum(P, T, A, Q, eta):
    return P * (A + eta * T * Q)


def lazy_advance(P, T, a, post, decay):
    P = P * (1.0 - a * decay) if decay != 0.0 else P
    return P, T + a * post / P


def needs_rebase(P, T, eta, n_applied, n_syn):
    return n_applied > 16 * n_syn + 256 or abs(eta * T) > 1.0 or P < 0.5


def rebase(lo, hi, c, held, held_l, P, T, eta):
    A = Q = 0.0
    for j in range(lo, hi):
        c[j] = P * (c[j] + eta * held_l[j] * T)
        A += c[j] * held[j]
        Q += held_l[j] * held[j]
    return A, Q


def should_send(policy, threshold, s, last_sent, sig, last_sig, first, since, refresh):
    if policy == 0 or first or (refresh > 0 and since >= refresh):
        return True
    return abs(s - last_sent) > threshold or abs(sig - last_sig) > threshold


def _mix(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def uniform(seed, stream, ident, t):
    k = _mix(seed & MASK)
    k = _mix(k ^ ((stream * 0xD1B54A32D192ED03) & MASK))
    k = _mix(k ^ ((ident * 0xABC98388FB8FAC03) & MASK))
    k = _mix(k ^ (t & MASK))
    return (k >> 11) / 9007199254740992.0


def randint(seed, stream, ident, t, lo, hi):
    return lo + int(uniform(seed, stream, ident, t) * (hi - lo + 1))
