"""The plasticity rule applied to every synapse at every tick, in plain Python.

The runtimes carry it in closed form (event-driven synapses, docs/model.md); the tests
compare them with this literal statement of it, built on the Python twins of the kernels.
"""

from asyncpc.compile import KIND_VALUE
from asyncpc.kernels import _python as P


def tick(c, prm, i, s, bias, inbox, w, dt, gain=1.0, clamped=False, clamp_value=0.0):
    """Neuron ``i``'s tick with the Python twins: its input sum over ``inbox``/``w`` (lists
    or arrays indexed by edge; ``w`` updated in place, every synapse), ``s`` and ``bias``
    read at ``i``. Returns ``(state, bias)``."""
    lo, hi = int(c.in_ptr[i]), int(c.in_ptr[i + 1])
    sl = lo + int(c.has_partner[i])
    total = 0.0
    for j in range(sl, hi):
        total += w[j] * inbox[j]
    p_in = inbox[lo] if sl > lo else 0.0
    b = bias[i]
    if c.kind[i] == KIND_VALUE:
        x, _, _, a, post, _ = P.value_tick(prm[i], s[i], 0.0, 0.0, dt, p_in, total, gain, clamped, clamp_value, True)
    else:
        x, b, _, a, post, _ = P.error_tick(prm[i], s[i], 0.0, dt, p_in, total, b, gain)
    eta, decay = float(c.eta[i]), float(c.decay[i])
    for j in range(sl, hi):
        w[j] += a * (eta * inbox[j] * post - decay * w[j])
    return x, b
