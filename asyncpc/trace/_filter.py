"""Which messages and neurons a trace keeps: selectors resolved once to masks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..compile import EDGE_ROLES
from ..errors import SpecError

__all__ = ["TraceFilter", "select_neurons"]

_SEL = re.compile(r"^(?P<area>[^:]+)(?::(?P<a>\d+)(?:-(?P<b>\d+))?)?$")


def select_neurons(c, selectors, *, kinds=("value", "error")) -> np.ndarray:
    """Boolean mask over neurons for selectors ``"area"``, ``"area:i"``, ``"area:a-b"``
    (both kinds of the area, or ``kinds``). ``None`` or ``[]`` selects every neuron."""
    if not selectors:
        return np.ones(c.n_neurons, bool)
    kind_codes = [0 if k == "value" else 1 for k in kinds]
    mask = np.zeros(c.n_neurons, bool)
    for sel in selectors:
        m = _SEL.match(str(sel).strip())
        if not m or m["area"] not in c.area_names:
            raise SpecError(f"trace.neurons: {sel!r} is not 'area', 'area:i' or 'area:a-b' with an area in "
                            f"{c.area_names}")
        sel_mask = (c.area == c.area_names.index(m["area"])) & np.isin(c.kind, kind_codes)
        if m["a"] is not None:
            a = int(m["a"])
            b = int(m["b"]) if m["b"] is not None else a
            sel_mask &= (c.index >= a) & (c.index <= b)
        mask |= sel_mask
    return mask


@dataclass
class TraceFilter:
    """Which messages a trace keeps: an edge mask (sender or receiver selected, role
    listed), the window ``[t_from, t_to)`` of send steps, every ``every``-th of those in
    the canonical order (counted across the run), at most ``max_rows`` rows."""

    edge_mask: np.ndarray
    t_from: int
    t_to: int
    every: int = 1
    max_rows: int | None = None

    @classmethod
    def build(cls, c, *, neurons=None, roles=None, t_from_ms=None, t_to_ms=None, every=1, max_rows=None):
        """A message is kept when its sender or receiver is selected, its role is listed,
        it was sent in ``[t_from, t_to)``, and it is every ``every``-th of those."""
        sel = select_neurons(c, neurons)
        role = c.edge_role()
        if roles:
            bad = [r for r in roles if r not in EDGE_ROLES]
            if bad:
                raise SpecError(f"trace.roles: unknown role(s) {bad}; expected {list(EDGE_ROLES)}")
            role_ok = np.isin(role, [EDGE_ROLES.index(r) for r in roles])
        else:
            role_ok = np.ones(c.n_edges, bool)
        mask = (sel[c.src] | sel[c.dst]) & role_ok
        t0 = 0 if t_from_ms is None else int(round(t_from_ms / c.h))
        t1 = np.iinfo(np.int64).max if t_to_ms is None else int(round(t_to_ms / c.h))
        if every < 1:
            raise SpecError(f"trace.every: must be >= 1, got {every}")
        return cls(mask, t0, t1, int(every), max_rows)
