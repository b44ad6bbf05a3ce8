"""Relaxation to equilibrium with weights frozen: the inference half of predictive coding.

Tests use it to reach a fixed point of the dense dynamics and compare it with closed
forms (linear networks) or with backprop (Whittington & Bogacz 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DivergenceError, SpecError
from ._dense import DensePC

__all__ = ["Relaxation", "relax"]


@dataclass(frozen=True)
class Relaxation:
    """Outcome of :func:`relax`: steps taken, whether the state stopped changing, and the
    largest change of any ``x`` or ``eps`` in the last step."""

    steps: int
    converged: bool
    change: float


def relax(sim: DensePC, *, tol: float = 1e-12, max_steps: int = 100_000, min_steps: int = 2,
          freeze: bool = True) -> Relaxation:
    """Step ``sim`` under its current clamps until no ``x`` or ``eps`` moves by more than ``tol``.

    Parameters
    ----------
    sim : DensePC
        The network, stepped in place (``sim.t`` advances).
    tol : float
        Convergence threshold on ``max |Δx|, |Δeps|`` over one step.
    max_steps : int
        Give up (``converged=False``) after this many steps.
    min_steps : int
        Always take at least this many steps: a state can look still for one step while
        its errors, which lag the activities by a step, have not caught up.
    freeze : bool
        Set every plasticity gain to 0 while relaxing (restored afterwards), so that only
        inference happens.

    Returns
    -------
    Relaxation

    Raises
    ------
    asyncpc.errors.DivergenceError
        If the activity becomes non-finite.

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.reference import DensePC, relax
    >>> c = compile_network(layered([2, 3], activation="linear", seed=0), h=0.1)
    >>> sim = DensePC.from_compiled(c)
    >>> sim.clamp(c.neurons_of("input"), [1.0, -1.0])
    >>> r = relax(sim, tol=1e-13)
    >>> r.converged, float(sim.energy().sum()) < 1e-20
    (True, True)
    """
    if not (tol > 0 and max_steps >= 1 and min_steps >= 0):
        raise SpecError(f"relax: need tol > 0, max_steps >= 1, min_steps >= 0; got "
                        f"tol={tol!r}, max_steps={max_steps!r}, min_steps={min_steps!r}")
    saved = sim.gain.copy()
    if freeze:
        sim.gain[:] = 0.0
    try:
        change = np.inf
        for n in range(1, max_steps + 1):
            before = [v.copy() for v in (*sim.x.values(), *sim.eps.values())]
            sim.step()
            after = (*sim.x.values(), *sim.eps.values())
            change = max((float(np.max(np.abs(a - b))) for a, b in zip(after, before) if a.size),
                         default=0.0)
            if not np.isfinite(change):
                raise DivergenceError(f"relax: activity became non-finite at step {sim.t - 1}; "
                                      "lower h/tau")
            if change <= tol and n >= min_steps:
                return Relaxation(n, True, change)
        return Relaxation(max_steps, False, change)
    finally:
        if freeze:
            sim.gain[:] = saved
