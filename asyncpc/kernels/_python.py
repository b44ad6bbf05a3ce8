"""Plain-Python twins of the kernels, used by the tests as an independent statement."""

from __future__ import annotations

import math

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


def value_tick(x, aux, dt, tau, code, has_partner, inbox, w, eta, decay, gain, clamped, clamp_value, plastic,
               speedup, lag, fb_gain, gate, gate_tau, s_in, s_m):
    s = 1 if has_partner else 0
    fx, dfx = act(code, x), dact(code, x)
    drive = 0.0
    for j in range(s, len(inbox)):
        drive += w[j] * inbox[j]
    e_self = inbox[0] if has_partner else 0.0
    aux_new = x
    if lag > 0.0:
        e_self += x - aux
        aux_new = aux + min(1.0, dt / lag) * (x - aux)
    rate = dt / tau
    if speedup > 0.0:
        rate = min(1.0, rate * (1.0 + abs(e_self) / speedup))
    xn = clamp_value if clamped else x + rate * (-e_self + fb_gain * dfx * drive)
    if gate_tau > 0.0:
        for j in range(s, len(inbox)):
            s_m[j] = s_m[j] + min(1.0, dt / gate_tau) * (abs(inbox[j] - s_in[j]) / dt - s_m[j])
            s_in[j] = inbox[j]
    if plastic and gain != 0.0 and gate_tau > 0.0:
        for j in range(s, len(inbox)):
            q = s_m[j] / gate
            w[j] += dt * gain / (1.0 + q * q) * (eta * inbox[j] * fx - decay * w[j])
    elif plastic and gain != 0.0:
        a = dt * gain
        if gate > 0.0:
            q = (xn - x) / gate
            a = a / (1.0 + q * q)  # not q ** 2: libm's pow can differ from q * q by an ulp
        for j in range(s, len(inbox)):
            w[j] += a * (eta * inbox[j] * fx - decay * w[j])
    return xn, aux_new


def error_tick(eps, aux, dt, tau, inbox, w, bias, eta, eta_b, decay, gain, p_tau, p_speedup, p_window, gate,
               gate_tau):
    mu = bias
    for j in range(1, len(inbox)):
        mu += w[j] * inbox[j]
    tgt = inbox[0] - mu
    en = tgt if tau == 0.0 else eps + dt / tau * (tgt - eps)
    signal, aux_new = en, inbox[0]
    if p_tau > 0.0:
        window = max(p_window, dt)
        k = p_tau / window
        if p_speedup > 0.0:
            k = k / (1.0 + abs(eps) / p_speedup)
        signal = eps + k * (inbox[0] - aux)
        aux_new = aux + dt / window * (inbox[0] - aux)
    if gate_tau > 0.0:
        aux_new = aux + min(1.0, dt / gate_tau) * (abs(en - eps) / dt - aux)
    if gain != 0.0:
        a = dt * gain
        if gate_tau > 0.0:
            q = aux_new / gate
            a = a / (1.0 + q * q)
        elif gate > 0.0:
            q = (en - eps) / gate
            a = a / (1.0 + q * q)
        for j in range(1, len(inbox)):
            w[j] += a * (eta * signal * inbox[j] - decay * w[j])
        bias = bias + a * eta_b * signal
    return en, bias, aux_new


def should_send(policy, threshold, s, last_sent, first):
    return policy == 0 or first or abs(s - last_sent) > threshold


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
