"""Per-neuron tick kernels: pure functions of one neuron's state and inbox.

Both runtimes call these; see docs/model.md for the equations and decisions.
``inbox`` and ``w`` are the neuron's in-edges in CSR order (partner edge first when it
has one); ``w`` is updated in place (the synapses the neuron owns).
"""

from __future__ import annotations

from ._activations import act, dact
from ._options import jit


@jit
def value_tick(x, aux, dt, tau, code, has_partner, inbox, w, eta, decay, gain, clamped, clamp_value, plastic,
               speedup, lag, fb_gain, gate, gate_tau, s_in, s_m):
    """One tick of a value neuron; returns ``(x, aux)`` (V updated in place if ``plastic``).

    Options (docs/learning.md), each off at its neutral value: ``lag > 0`` rebuilds the
    self term from the neuron's own past (``aux``: its x low-passed over ``lag`` ms);
    ``speedup > 0`` speeds settling up while the neuron's error is large; ``fb_gain``
    scales the feedback drive; ``gate > 0`` damps plasticity while x moves fast, or, with
    ``gate_tau > 0`` (the matched trace gate), each feedback synapse ``j`` learns at
    ``1 / (1 + (s_m[j] / gate)^2)``, ``s_m[j]`` its input's speed low-passed over
    ``gate_tau`` ms and ``s_in[j]`` its input at the previous tick (per-synapse state,
    updated in place; both slices are empty when the option is off).
    """
    fx = act(code, x)
    dfx = dact(code, x)
    start = 1 if has_partner else 0
    drive = 0.0
    for j in range(start, inbox.shape[0]):
        drive += w[j] * inbox[j]
    e_self = inbox[0] if has_partner else 0.0
    auxn = x
    if lag > 0.0:
        e_self += x - aux
        auxn = aux + min(1.0, dt / lag) * (x - aux)
    if clamped:
        xn = clamp_value
    else:
        r = dt / tau
        if speedup > 0.0:
            r = min(1.0, r * (1.0 + abs(e_self) / speedup))
        xn = x + r * (-e_self + fb_gain * dfx * drive)
    if gate_tau > 0.0:
        k = min(1.0, dt / gate_tau)
        for j in range(start, inbox.shape[0]):
            s_m[j] += k * (abs(inbox[j] - s_in[j]) / dt - s_m[j])
            s_in[j] = inbox[j]
    if plastic and gain != 0.0:
        a = dt * gain
        if gate_tau > 0.0:
            for j in range(start, inbox.shape[0]):
                q = s_m[j] / gate
                w[j] += a / (1.0 + q * q) * (eta * inbox[j] * fx - decay * w[j])
            return xn, auxn
        if gate > 0.0:
            q = (xn - x) / gate
            a = a / (1.0 + q * q)
        for j in range(start, inbox.shape[0]):
            w[j] += a * (eta * inbox[j] * fx - decay * w[j])
    return xn, auxn


@jit
def error_tick(eps, aux, dt, tau, inbox, w, bias, eta, eta_b, decay, gain, p_tau, p_speedup, p_window, gate,
               gate_tau):
    """One tick of an error neuron; returns ``(eps, bias, aux)``; W updated in place.

    ``p_tau > 0`` (prospective learning signal): the synapses learn from the top-down
    drive the partner value neuron (time constant ``p_tau``, speed-up ``p_speedup``)
    received, ``eps + p_tau * dx/dt / (1 + |eps|/p_speedup)``, its rate of change
    ``dx/dt`` estimated as ``(x - aux) / max(p_window, dt)`` with ``aux`` the partner's x
    low-passed over ``p_window`` ms (its x at this neuron's previous tick when
    ``p_window <= dt``); ``gate > 0`` damps plasticity while the error changes fast: by
    its change in this tick, or with ``gate_tau > 0`` (matched trace gate; ``aux`` then
    holds the error's speed low-passed over ``gate_tau`` ms, exclusive with ``p_tau``) by
    ``1 / (1 + (aux / gate)^2)``.
    """
    mu = bias
    for j in range(1, inbox.shape[0]):
        mu += w[j] * inbox[j]
    tgt = inbox[0] - mu
    if tau == 0.0:
        en = tgt
    else:
        en = eps + dt / tau * (tgt - eps)
    sig = en
    auxn = inbox[0]
    if p_tau > 0.0:
        win = max(p_window, dt)
        k = p_tau / win
        if p_speedup > 0.0:
            k = k / (1.0 + abs(eps) / p_speedup)
        sig = eps + k * (inbox[0] - aux)
        auxn = aux + dt / win * (inbox[0] - aux)
    bn = bias
    if gate_tau > 0.0:
        auxn = aux + min(1.0, dt / gate_tau) * (abs(en - eps) / dt - aux)
    if gain != 0.0:
        a = dt * gain
        if gate_tau > 0.0:
            q = auxn / gate
            a = a / (1.0 + q * q)
        elif gate > 0.0:
            q = (en - eps) / gate
            a = a / (1.0 + q * q)
        for j in range(1, inbox.shape[0]):
            w[j] += a * (eta * sig * inbox[j] - decay * w[j])
        bn = bias + a * eta_b * sig
    return en, bn, auxn


@jit
def should_send(policy, threshold, s, last_sent, first):
    """Send policy 0 (always) or 1 (on_delta: |s - last_sent| > threshold); first tick always sends."""
    if policy == 0 or first:
        return True
    return abs(s - last_sent) > threshold
