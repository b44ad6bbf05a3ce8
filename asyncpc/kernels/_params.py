"""The columns of a neuron's parameter row.

Kernels take one row ``prm[n]`` of a per-neuron float64 parameter array instead of a
positional argument per parameter, so a new option adds a column, not an argument to
every call site. The columns: the base parameters every kernel reads (``tau`` is tau_x
or tau_e, ``eta`` the rate of the neuron's learned synapses, ``eta_b`` of an error
neuron's bias; ``p_tau`` / ``p_speedup`` a prospective error neuron's partner's tau_x and
speed-up), then every numeric dynamics option of :data:`asyncpc.neurons.OPTIONS` under
its own name, in declaration order (a new option is appended: the columns before it keep
their places, and with them every compiled kernel's constants). Kernels name a column by
``column("gate")``: a module-level integer, a compile-time constant to Numba.
"""

from __future__ import annotations

from ..neurons import option_names

BASE = ("tau", "act", "has_partner", "eta", "eta_b", "decay", "p_tau", "p_speedup")
TAU, ACT, HAS_PARTNER, ETA, ETA_B, DECAY, P_TAU, P_SPEEDUP = range(len(BASE))
PARAMS = BASE + option_names(kernel=True)
N_PARAMS = len(PARAMS)
#: Width of a parameter row: what the kernels read (``param_row``); unused columns are 0.
ROW = 19
assert N_PARAMS <= ROW, f"{N_PARAMS} parameter columns: widen ROW (and param_row) to hold them"


def column(name: str) -> int:
    """The column of parameter ``name``."""
    return PARAMS.index(name)


def param_rows(c):
    """The ``(N, ROW)`` float64 parameter array of a compiled net (its per-neuron arrays
    as columns, in the order of :data:`PARAMS`)."""
    import numpy as np

    cols = {"act": c.act, "has_partner": c.has_partner}
    out = np.zeros((c.n_neurons, ROW))
    for k, name in enumerate(PARAMS):
        out[:, k] = cols[name] if name in cols else getattr(c, name)
    return out
