"""A diverging run: when a chunk's state is not finite or its energy blew up, and the
one-line report naming the neuron, the step, its value and its last inputs."""

from __future__ import annotations

import numpy as np

from ..errors import DivergenceError

__all__ = ["ENERGY_LIMIT", "bad_state", "divergence_report", "area_energy"]

ENERGY_LIMIT = 1e12


def _neuron_name(c, i: int) -> str:
    kind = "" if c.kind[i] == 0 else ":error"
    return f"{c.area_names[c.area[i]]}:{int(c.index[i])}{kind}"


def area_energy(c, s) -> np.ndarray:
    """Per-area energy 0.5 * sum eps^2 of a state (error neurons), as the probes take it."""
    err = np.asarray(c.kind) == 1
    return 0.5 * np.bincount(np.asarray(c.area)[err], weights=np.asarray(s)[err] ** 2,
                             minlength=len(c.area_names))


def bad_state(c, state, energy=None) -> bool:
    """NaN/inf in the state, or an area's energy (probed, or of the state) >= ENERGY_LIMIT."""
    s = np.asarray(state.s)
    if not np.all(np.isfinite(s)):
        return True
    if energy is not None and len(energy) and not np.all(np.abs(np.asarray(energy, float)) < ENERGY_LIMIT):
        return True
    return not np.all(area_energy(c, s) < ENERGY_LIMIT)


def divergence_report(c, state, t: int) -> DivergenceError:
    """The report: which neuron (area, index, kind), when (``t``: the state's step, so the
    last step simulated is ``t - 1``), its value and its last inputs."""
    s = np.asarray(state.s)
    bad = np.flatnonzero(~np.isfinite(s))
    energy = area_energy(c, s)
    if len(bad):
        # prefer a neuron whose own inputs are still finite: where the blow-up started
        origin = [i for i in bad.tolist() if np.all(np.isfinite(state.inbox[c.in_ptr[i]:c.in_ptr[i + 1]]))]
        i = int(origin[0] if origin else bad[0])
    else:
        a = int(np.argmax(energy))
        cand = np.flatnonzero((c.area == a) & (c.kind == 1))
        if len(cand) == 0:
            cand = np.flatnonzero(c.area == a)
        i = int(cand[np.argmax(np.abs(s[cand]))])
    area = c.area_names[c.area[i]]
    kind = "value" if c.kind[i] == 0 else "error"
    lo, hi = int(c.in_ptr[i]), int(c.in_ptr[i + 1])
    inbox = np.asarray(state.inbox[lo:hi])
    shown = ", ".join(f"{_neuron_name(c, int(c.src[e]))}={v:.3g}" for e, v in zip(range(lo, hi), inbox[:6]))
    shown += " ..." if len(inbox) > 6 else ""
    what = f"{kind} neuron {area}:{int(c.index[i])} (area {area}) is {s[i]:.3g}"
    if len(bad) > 1:
        what += f" ({len(bad)} of {len(s)} neurons are not finite)"
    e_area = energy[c.area[i]]
    if not len(bad):
        what += f", the energy of area {area} is {e_area:.3g} (limit {ENERGY_LIMIT:g})"
    return DivergenceError(
        f"run diverged at t = {(t - 1) * c.h:.1f} ms: {what}; its last inputs: [{shown}]; lower learning.eta, "
        "shorten the clock period or lengthen neurons.tau_x")


# ----------------------------------------------------------------------------- one job
