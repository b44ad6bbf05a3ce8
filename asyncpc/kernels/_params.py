"""The columns of a neuron's parameter row.

Kernels take one row ``prm[n]`` of a per-neuron float64 parameter array instead of a
positional argument per parameter, so a new option adds a column here, not an argument
to every call site. Module-level integers are compile-time constants to Numba.

Value neurons read ``tau`` (tau_x), ``act``, ``has_partner``, ``eta`` (of V), ``decay``,
``speedup``, ``lag`` (self_lag), ``fb_gain``, ``gate``, ``gate_tau``; error neurons
``tau`` (tau_e), ``has_partner``, ``eta`` (of W), ``eta_b``, ``decay``, ``gate``,
``gate_tau`` and, when prospective, their partner's ``p_tau`` / ``p_speedup`` and their
own ``p_window`` (docs/model.md).
"""

from __future__ import annotations

PARAMS = ("tau", "act", "has_partner", "eta", "eta_b", "decay", "speedup", "lag", "fb_gain", "gate", "gate_tau",
          "p_tau", "p_speedup", "p_window")
(TAU, ACT, HAS_PARTNER, ETA, ETA_B, DECAY, SPEEDUP, LAG, FB_GAIN, GATE, GATE_TAU,
 P_TAU, P_SPEEDUP, P_WINDOW) = range(len(PARAMS))
N_PARAMS = len(PARAMS)


def param_rows(c):
    """The ``(N, N_PARAMS)`` float64 parameter array of a compiled net (its named
    per-neuron arrays as columns, in the order of :data:`PARAMS`)."""
    import numpy as np

    cols = {"lag": c.lag, "act": c.act, "has_partner": c.has_partner}
    out = np.empty((c.n_neurons, N_PARAMS))
    for k, name in enumerate(PARAMS):
        out[:, k] = cols[name] if name in cols else getattr(c, name)
    return out
