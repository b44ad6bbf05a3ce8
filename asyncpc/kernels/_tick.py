"""Per-neuron tick kernels: pure functions of one neuron's state and inbox.

Both runtimes call these; see docs/model.md for the equations and decisions.
``inbox`` and ``w`` are the neuron's in-edges in CSR order (partner edge first when it
has one); ``w`` is updated in place (the synapses the neuron owns).
"""

from __future__ import annotations

from ._activations import act, dact
from ._options import jit


@jit
def value_tick(x, dt, tau, code, has_partner, inbox, w, eta, decay, gain, clamped, clamp_value, plastic):
    """One Euler tick of a value neuron; returns the new x (V updated in place if ``plastic``)."""
    fx = act(code, x)
    dfx = dact(code, x)
    start = 1 if has_partner else 0
    drive = 0.0
    for j in range(start, inbox.shape[0]):
        drive += w[j] * inbox[j]
    e_self = inbox[0] if has_partner else 0.0
    if clamped:
        xn = clamp_value
    else:
        xn = x + dt / tau * (-e_self + dfx * drive)
    if plastic and gain != 0.0:
        a = dt * gain
        for j in range(start, inbox.shape[0]):
            w[j] += a * (eta * inbox[j] * fx - decay * w[j])
    return xn


@jit
def error_tick(eps, dt, tau, inbox, w, bias, eta, eta_b, decay, gain):
    """One tick of an error neuron; returns (new eps, new bias); W updated in place."""
    mu = bias
    for j in range(1, inbox.shape[0]):
        mu += w[j] * inbox[j]
    tgt = inbox[0] - mu
    if tau == 0.0:
        en = tgt
    else:
        en = eps + dt / tau * (tgt - eps)
    bn = bias
    if gain != 0.0:
        a = dt * gain
        for j in range(1, inbox.shape[0]):
            w[j] += a * (eta * en * inbox[j] - decay * w[j])
        bn = bias + a * eta_b * en
    return en, bn


@jit
def should_send(policy, threshold, s, last_sent, first):
    """Send policy 0 (always) or 1 (on_delta: |s - last_sent| > threshold); first tick always sends."""
    if policy == 0 or first:
        return True
    return abs(s - last_sent) > threshold
