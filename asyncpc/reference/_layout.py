"""From a ``CompiledNet`` to dense blocks: per-area vectors and per-projection matrices.

An *area block* lists an area's value neurons by index and, if the area has errors, its
error neurons ordered so that ``errors[j]`` is the partner of ``values[j]``. A
*projection block* ``src -> dst`` maps every predict edge to a cell of ``W`` (dst x src)
and every feedback edge to a cell of ``V`` (src x dst); cells without an edge are
masked out (they stay zero and are never learned).

The timing preconditions of the dense oracle (every delay one step, every neuron ticking
every step, nothing lost or jittered, send policy ``always``) are checked here, and so is
the one structural one (an acyclic area graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile import KIND_ERROR, KIND_VALUE, CompiledNet
from ..errors import SpecError
from ..neurons import OPTIONS
from ._act import Activation

__all__ = ["AreaBlock", "ProjectionBlock", "DenseLayout", "dense_layout"]

_ORACLE = "the dense reference"


@dataclass(frozen=True, eq=False)
class AreaBlock:
    """One area: neuron ids and per-neuron parameters as vectors."""

    name: str
    code: int  # the area's index in ``CompiledNet.area_names``
    values: np.ndarray
    errors: np.ndarray  # errors[j] partners values[j]; empty when the area has no parents
    act: Activation
    tau_x: np.ndarray
    eta_v: np.ndarray
    decay_v: np.ndarray
    tau_e: np.ndarray
    eta_e: np.ndarray
    eta_b: np.ndarray
    decay_e: np.ndarray
    err_by_id: np.ndarray  # positions of ``errors`` in increasing neuron id (energy sum order)

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def has_errors(self) -> bool:
        return len(self.errors) > 0


@dataclass(frozen=True, eq=False)
class ProjectionBlock:
    """Area ``src`` predicts area ``dst`` (positions in ``DenseLayout.areas``)."""

    src: int
    dst: int
    name: tuple
    shape_w: tuple
    w_edges: np.ndarray  # predict edge ids; W[w_rows, w_cols] = w[w_edges]
    w_rows: np.ndarray
    w_cols: np.ndarray
    v_edges: np.ndarray  # feedback edge ids; V[v_rows, v_cols] = w[v_edges]
    v_rows: np.ndarray
    v_cols: np.ndarray
    w_mask: np.ndarray | None  # None when every cell has its edge (dense projection)
    v_mask: np.ndarray | None

    def gather_w(self, w: np.ndarray) -> np.ndarray:
        """Dense W (dst x src) from per-edge synapses ``w``."""
        out = np.zeros(self.shape_w)
        out[self.w_rows, self.w_cols] = w[self.w_edges]
        return out

    def gather_v(self, w: np.ndarray) -> np.ndarray:
        """Dense V (src x dst) from per-edge synapses ``w``."""
        out = np.zeros(self.shape_w[::-1])
        out[self.v_rows, self.v_cols] = w[self.v_edges]
        return out

    def scatter(self, W: np.ndarray, V: np.ndarray, w: np.ndarray) -> None:
        """Write dense W and V back into per-edge synapses ``w`` (CSR order)."""
        w[self.w_edges] = W[self.w_rows, self.w_cols]
        w[self.v_edges] = V[self.v_rows, self.v_cols]


@dataclass(frozen=True, eq=False)
class DenseLayout:
    """Areas in topological order, projections, and which edges carry rates."""

    c: CompiledNet
    areas: list
    projections: list
    into: list  # into[a]: projection ids whose dst is area a
    out_of: list  # out_of[a]: projection ids whose src is area a
    reads_rate: np.ndarray  # per edge: carries the sender's f(x) (predict edges)
    partner_edges: np.ndarray  # edge ids of partner edges (their fixed +-1 is never learned)

    def area(self, name: str) -> int:
        """Position of area ``name`` in :attr:`areas`."""
        for i, a in enumerate(self.areas):
            if a.name == name:
                return i
        raise SpecError(f"area: unknown area {name!r}; known: {[a.name for a in self.areas]}")

    def projection(self, src: str, dst: str) -> int:
        """Position of projection ``src -> dst`` in :attr:`projections`."""
        for i, p in enumerate(self.projections):
            if p.name == (src, dst):
                return i
        raise SpecError(f"projection: no projection {src!r} -> {dst!r}; known: "
                        f"{[p.name for p in self.projections]}")


def _edge_name(c: CompiledNet, e: int) -> str:
    return f"edge {c.node_ids[c.src[e]]!r}->{c.node_ids[c.dst[e]]!r}"


def check_timing(c: CompiledNet) -> None:
    """Raise :class:`SpecError` unless every message takes one step and every neuron
    ticks every step, sends always, and nothing is lost or jittered."""
    h = c.h
    bad = np.flatnonzero(c.delay != 1)
    if len(bad):
        e = int(bad[0])
        raise SpecError(f"{_edge_name(c, e)}.delay: {_ORACLE} needs every delay to be exactly one "
                        f"step ({h:g} ms), got {int(c.delay[e])} steps ({c.delay[e] * h:g} ms); "
                        f"set delay and partner_delay to h (or use asyncpc.engine)")
    for arr, what in ((c.jit, "jitter"), (c.loss, "loss")):
        bad = np.flatnonzero(arr != 0)
        if len(bad):
            e = int(bad[0])
            raise SpecError(f"{_edge_name(c, e)}.{what}: {_ORACLE} needs messages without {what}, "
                            f"got {float(arr[e]):g}; set messages.{what} = 0 (or use asyncpc.engine)")
    checks = ((c.period != 1, "period", "a clock period of exactly one step", c.period),
              (c.phase != 0, "phase", "clock phase 0", c.phase),
              (c.cjit != 0, "clock_jitter", "no clock jitter", c.cjit),
              (c.send != 0, "send", "send policy 'always'", c.send))
    for mask, key, need, arr in checks:
        bad = np.flatnonzero(mask)
        if len(bad):
            i = int(bad[0])
            got = ["always", "on_delta"][int(arr[i])] if key == "send" else f"{int(arr[i])} step(s)"
            raise SpecError(f"node {c.node_ids[i]!r}.{key}: {_ORACLE} needs {need} (h = {h:g} ms), "
                            f"got {got}; {int(mask.sum())} neuron(s) differ")
    for o in OPTIONS:  # the dynamics options of docs/learning.md: the oracle has none
        arr = c.p_tau if o.name == "prospective" else getattr(c, o.name)
        bad = np.flatnonzero(arr != (0.0 if o.boolean else o.neutral))
        if len(bad):
            raise SpecError(f"node {c.node_ids[int(bad[0])]!r}.{o.name}: {_ORACLE} simulates the plain equations "
                            f"only (the dynamics options of docs/learning.md are off); use asyncpc.engine")
    if c.transport:
        raise SpecError(f"learning.feedback: {_ORACLE} simulates learned feedback synapses only, "
                        "got 'transport'; use feedback = 'learned'")


def _topological(n: int, pairs: set) -> tuple[list[int], list[int]]:
    """Kahn's order of ``n`` areas under edges ``pairs`` (stable by area code), and the areas
    left out (on or downstream of a cycle)."""
    indeg = [0] * n
    for _, v in pairs:
        indeg[v] += 1
    order, ready = [], sorted(i for i in range(n) if indeg[i] == 0)
    while ready:
        u = ready.pop(0)
        order.append(u)
        for a, b in sorted(pairs):
            if a == u:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
        ready.sort()
    return order, sorted(set(range(n)) - set(order))


def dense_layout(c: CompiledNet, *, timing: bool = True) -> DenseLayout:
    """Dense blocks of ``c``; with ``timing`` also check the oracle's timing preconditions."""
    if timing:
        check_timing(c)
    roles = c.edge_role()
    kind = c.kind
    N = c.n_neurons
    pos = np.full(N, -1, np.int64)  # position of a value neuron in its area / of an error's partner
    blocks_by_code: list[AreaBlock] = []
    for code, name in enumerate(c.area_names):
        vals = c.neurons_of(name, KIND_VALUE)
        errs = c.neurons_of(name, KIND_ERROR)
        pos[vals] = np.arange(len(vals))
        if len(errs):
            partners = c.src[c.in_ptr[errs]]
            ok = (c.has_partner[errs].all() and np.all(kind[partners] == KIND_VALUE)
                  and np.all(c.area[partners] == code) and len(errs) == len(vals)
                  and len(np.unique(partners)) == len(vals))
            if not ok:
                raise SpecError(f"area {name!r}: {_ORACLE} needs every value neuron of an area with "
                                f"error neurons to have exactly one error partner in that area "
                                f"({len(vals)} value, {len(errs)} error neurons)")
            errs = errs[np.argsort(pos[partners], kind="stable")]
            pos[errs] = np.arange(len(errs))
        # a value neuron's partner edge must come from the error neuron that partners it
        own = (c.has_partner[vals].all() and np.array_equal(c.src[c.in_ptr[vals]], errs)
               if len(errs) else not c.has_partner[vals].any())
        if not own:
            raise SpecError(f"area {name!r}: {_ORACLE} needs partner edges in value <-> error pairs "
                            "within the area")
        blocks_by_code.append(AreaBlock(
            name=name, code=code, values=vals, errors=errs, act=Activation(c.act[vals]),
            tau_x=c.tau[vals].copy(), eta_v=c.eta[vals].copy(), decay_v=c.decay[vals].copy(),
            tau_e=c.tau[errs].copy(), eta_e=c.eta[errs].copy(), eta_b=c.eta_b[errs].copy(),
            decay_e=c.decay[errs].copy(), err_by_id=np.argsort(errs, kind="stable")))

    # every non-partner edge joins a value neuron of a parent area and an error neuron of a child
    pred = np.flatnonzero(roles == 0)
    fb = np.flatnonzero(roles == 1)
    if np.any(kind[c.src[pred]] != KIND_VALUE) or np.any(kind[c.src[fb]] != KIND_ERROR):
        raise SpecError(f"edges: {_ORACLE} needs predict edges value -> error and feedback edges "
                        "error -> value")
    parent_w = c.area[c.src[pred]].astype(np.int64)
    child_w = c.area[c.dst[pred]].astype(np.int64)
    parent_v = c.area[c.dst[fb]].astype(np.int64)
    child_v = c.area[c.src[fb]].astype(np.int64)
    pairs = set(zip(parent_w.tolist(), child_w.tolist())) | set(zip(parent_v.tolist(), child_v.tolist()))
    order, left = _topological(len(c.area_names), pairs)
    if left:
        names = [c.area_names[a] for a in left]
        raise SpecError(f"projections: {_ORACLE} needs an acyclic area graph, but areas {names} "
                        "lie on or below a prediction cycle; simulate it with asyncpc.engine")
    at = {code: i for i, code in enumerate(order)}
    areas = [blocks_by_code[code] for code in order]

    projections: list[ProjectionBlock] = []
    for u, v in sorted(pairs, key=lambda p: (at[p[0]], at[p[1]])):
        src, dst = areas[at[u]], areas[at[v]]
        mw = (parent_w == u) & (child_w == v)
        mv = (parent_v == u) & (child_v == v)
        we, ve = pred[mw], fb[mv]
        w_rows, w_cols = pos[c.dst[we]], pos[c.src[we]]
        v_rows, v_cols = pos[c.dst[ve]], pos[c.src[ve]]
        shape = (dst.size, src.size)
        w_mask = np.zeros(shape)
        w_mask[w_rows, w_cols] = 1.0
        v_mask = np.zeros(shape[::-1])
        v_mask[v_rows, v_cols] = 1.0
        projections.append(ProjectionBlock(
            src=at[u], dst=at[v], name=(src.name, dst.name), shape_w=shape,
            w_edges=we, w_rows=w_rows, w_cols=w_cols, v_edges=ve, v_rows=v_rows, v_cols=v_cols,
            w_mask=None if w_mask.all() else w_mask, v_mask=None if v_mask.all() else v_mask))
    into = [[k for k, p in enumerate(projections) if p.dst == a] for a in range(len(areas))]
    out_of = [[k for k, p in enumerate(projections) if p.src == a] for a in range(len(areas))]
    partner_edges = np.flatnonzero(roles == 2)
    return DenseLayout(c=c, areas=areas, projections=projections, into=into, out_of=out_of,
                       reads_rate=roles == 0, partner_edges=partner_edges)
