"""Network -> flat arrays (struct of arrays, CSR edges, integer steps).

Layout (``N`` neurons in graph-node order, ``E`` edges)
-------------------------------------------------------
Per neuron: ``kind`` (0 value, 1 error), ``area``, ``index``, ``role`` (0 hidden,
1 sensory, 2 label), ``act`` (code into :data:`asyncpc.model.ACTIVATIONS`), ``tau``,
``x0`` (initial state: x0 of a value neuron, 0 for an error neuron), ``bias``,
``period``/``phase``/``cjit`` (steps), ``send`` (0 always, 1 on_delta), ``thresh``,
``refresh`` (steps; 0: off),
``eta``, ``eta_b``, ``decay``, ``has_partner``; every numeric dynamics option declared in
:data:`asyncpc.neurons.OPTIONS` under its own name (``c.gate``, ``c.self_lag``, ...: the
dict ``options``), and for a prospective error neuron its partner's ``p_tau`` and
``p_speedup`` (0 when it is not prospective).

Incoming edges in CSR, one row per receiver: ``in_ptr[i]:in_ptr[i+1]``; a neuron with
an error partner has its partner edge *first*, then its other in-edges by sender id.
Edge ids are CSR positions. Per edge: ``src`` (int32), ``delay`` (int32 steps >= 1),
``w`` (float64 synapse held by the receiver: W, V, or the fixed +-1 of a partner edge),
``loss`` (float32), ``jit`` (int16 steps). Outgoing CSR: ``out_ptr`` and ``out_edge``
(int32 edge ids, by sender then edge id).

What an edge carries follows from its receiver: a predict edge (into an error neuron,
not its partner edge) carries the sender's rate ``f(x)``; every other edge carries the
sender's state (``x`` on value -> error partner edges, ``eps`` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from ..errors import SpecError
from ..model import ACTIVATIONS, Blueprint, Network
from ..neurons import option_names

__all__ = ["CompiledNet", "compile_network", "KIND_VALUE", "KIND_ERROR", "ROLE_CODES"]

KIND_VALUE, KIND_ERROR = 0, 1
ROLE_CODES = {"hidden": 0, "sensory": 1, "label": 2}
EDGE_ROLES = ("predict", "feedback", "partner")


@dataclass(eq=False)
class CompiledNet:
    """Flat arrays of a network at resolution ``h`` ms. See the module docstring."""

    h: float
    node_ids: list
    area_names: list
    kind: np.ndarray
    area: np.ndarray
    index: np.ndarray
    role: np.ndarray
    act: np.ndarray
    tau: np.ndarray
    x0: np.ndarray
    bias: np.ndarray
    period: np.ndarray
    phase: np.ndarray
    cjit: np.ndarray
    send: np.ndarray
    thresh: np.ndarray
    refresh: np.ndarray
    eta: np.ndarray
    eta_b: np.ndarray
    decay: np.ndarray
    has_partner: np.ndarray
    options: dict  # option name -> (N,) float64, every numeric option of asyncpc.neurons.OPTIONS
    p_tau: np.ndarray
    p_speedup: np.ndarray
    in_ptr: np.ndarray
    src: np.ndarray
    delay: np.ndarray
    w: np.ndarray
    loss: np.ndarray
    jit: np.ndarray
    out_ptr: np.ndarray
    out_edge: np.ndarray
    dst: np.ndarray
    mirror: np.ndarray
    transport: bool = False
    area_shapes: dict = field(default_factory=dict)

    def __getattr__(self, name):
        """A dynamics option's per-neuron array by its name (``c.gate``)."""
        opts = self.__dict__.get("options")
        if opts is not None and name in opts:
            return opts[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def n_neurons(self) -> int:
        return len(self.kind)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    @property
    def max_delay(self) -> int:
        return int((self.delay + self.jit).max()) if self.n_edges else 1

    @property
    def min_delay(self) -> int:
        return int(self.delay.min()) if self.n_edges else 1

    def edge_role(self) -> np.ndarray:
        """Role code per edge: 0 predict, 1 feedback, 2 partner (see ``EDGE_ROLES``)."""
        r = np.where(self.kind[self.dst] == KIND_ERROR, 0, 1).astype(np.int8)
        first = self.in_ptr[:-1][self.has_partner.astype(bool)]
        r[first] = 2
        return r

    @property
    def signals(self) -> bool:
        """Whether error neurons send a learning signal apart from their error (the
        matched trace gate, ``gate_tau > 0``): messages then carry two numbers."""
        return bool(np.any(self.gate_tau[self.kind == KIND_ERROR] > 0))

    def edge_codes(self) -> np.ndarray:
        """What each edge carries of its sender's two outputs (state ``s``; second
        output: the rate ``f(x)`` of a value neuron, the learning signal of an error
        neuron), as int8: 0 value ``s`` and signal ``s`` (partner edges; feedback edges
        without signals), 1 value and signal the rate (predict edges), 2 value ``s`` and
        signal the second output (feedback edges when :attr:`signals`)."""
        role = self.edge_role()
        code = np.zeros(self.n_edges, np.int8)
        code[role == 0] = 1
        if self.signals:
            code[role == 1] = 2
        return code

    def hot_nbytes(self) -> int:
        """Bytes of the per-edge arrays a runtime touches (both CSRs, weights, delays)."""
        return sum(a.nbytes for a in (self.src, self.delay, self.w, self.loss, self.jit, self.out_edge))

    def bytes_per_edge(self) -> float:
        """Hot bytes per edge, every synapse's weight included (target <= 40)."""
        return self.hot_nbytes() / max(self.n_edges, 1)

    def neurons_of(self, area: str, kind: int = KIND_VALUE) -> np.ndarray:
        """Neuron ids of one area and kind, ordered by index."""
        a = self.area_names.index(area)
        ids = np.flatnonzero((self.area == a) & (self.kind == kind))
        return ids[np.argsort(self.index[ids], kind="stable")]


MAX_STEPS = 10_000_000


def _steps(ms: float, h: float, at, field, *, minimum: int) -> int:
    """``ms`` as a number of steps of ``h``; an error is at ``at``, ``field``
    (:func:`asyncpc.errors.place`)."""
    if not np.isfinite(ms) or ms / h > MAX_STEPS:
        raise SpecError.located(at, field, f"{ms:g} ms is more than {MAX_STEPS:,} steps of h = {h:g} ms")
    s = int(round(ms / h))
    if s < minimum:
        raise SpecError.located(at, field, f"{ms:g} ms is {'below one step' if minimum else 'negative'} "
                                           f"(h = {h:g} ms); it must be >= {minimum} step(s)")
    return s


def compile_network(net: Network | Blueprint, h: float = 0.1) -> CompiledNet:
    """Flatten ``net`` at resolution ``h`` ms.

    ``net`` is a :class:`~asyncpc.model.Network`, or a :class:`~asyncpc.model.Blueprint`
    (areas and projections, e.g. ``layered(sizes, as_blueprint=True)``): its synapses
    are drawn chunk by chunk straight into the arrays, without a graph object per
    synapse, and the arrays equal those of compiling ``blueprint.network()``, bit for
    bit.

    Raises :class:`SpecError` when a delay or period is below one step, a clock jitter is
    not below its period, or a neuron's step ``dt/tau`` exceeds 1 (Euler would be unstable).

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> c = compile_network(layered([3, 2]), h=0.1)
    >>> c.n_neurons, c.n_edges, c.bytes_per_edge() <= 40
    (7, 16, True)
    >>> d = compile_network(layered([3, 2], as_blueprint=True), h=0.1)
    >>> bool((d.w == c.w).all() and (d.src == c.src).all())
    True
    """
    if not (isinstance(h, (int, float)) and np.isfinite(h) and h > 0):
        raise SpecError.located("run", "h", f"must be a positive number of ms, got {h!r}")
    if isinstance(net, Blueprint):
        from ._direct import compile_blueprint

        return compile_blueprint(net, float(h))
    g = net.graph
    nodes = list(g.nodes)
    attrs = [net.node(n) for n in nodes]
    area_names = list(dict.fromkeys(a["area"] for a in attrs))
    cols = {k: [a[k] for a in attrs] for k in NEURON_COLUMNS}
    cols["index"] = _graph_index(g, nodes, attrs)
    per = neuron_arrays(cols, area_names, h, lambda i: ("node", nodes[i]))
    rows, in_ptr, has_partner = _in_rows(net, nodes)
    edges = _edge_arrays(rows, int(in_ptr[-1]), h)
    p_tau, p_speedup = prospective(cols["prospective"], per, edges["src"], in_ptr, has_partner)
    shapes = {name: tuple(int(x) for x in g.graph[f"shape:{name}"].split("x")) for name in area_names
              if isinstance(g.graph.get(f"shape:{name}"), str)}
    return assemble(h, nodes, area_names, per, has_partner, p_tau, p_speedup, in_ptr, edges,
                    _mirror(edges["src"], edges["dst"], per["kind"], has_partner, in_ptr),
                    transport=g.graph.get("feedback", "learned") == "transport", shapes=shapes)


def assemble(h, nodes, area_names, per, has_partner, p_tau, p_speedup, in_ptr, edges, mirror, *,
             transport, shapes) -> CompiledNet:
    """The :class:`CompiledNet` of the arrays, with the outgoing CSR derived."""
    out_ptr = np.zeros(len(nodes) + 1, np.int64)
    np.cumsum(np.bincount(edges["src"], minlength=len(nodes)), out=out_ptr[1:])
    out_edge = np.empty(len(edges["src"]), np.int32)
    _by_sender(edges["src"], out_ptr, out_edge)
    return CompiledNet(h=float(h), node_ids=nodes, area_names=area_names, **per, has_partner=has_partner,
                       p_tau=p_tau, p_speedup=p_speedup, in_ptr=in_ptr, **edges, out_ptr=out_ptr,
                       out_edge=out_edge, mirror=mirror, transport=transport, area_shapes=shapes)


@numba.njit(cache=True)
def _by_sender(src, out_ptr, out_edge):
    """Edge ids by sender, then edge id (a counting sort: no temporary per edge)."""
    cur = out_ptr[:-1].copy()
    for e in range(len(src)):
        s = src[e]
        out_edge[cur[s]] = e
        cur[s] += 1


# the node attributes a compiled network keeps, besides the declared options
NEURON_COLUMNS = ("kind", "area", "role", "activation", "tau", "x0", "bias", "period", "phase", "clock_jitter",
                  "send", "threshold", "refresh", "eta", "eta_b", "decay", "prospective",
                  *option_names(kernel=True))


def _graph_index(g, nodes, attrs) -> np.ndarray:
    """Each neuron's index in its area and kind: its ``index`` attribute, else its order."""
    counters: dict = {}
    index = np.empty(len(nodes), np.int64)
    for i, a in enumerate(attrs):
        key = (a["area"], a["kind"])
        index[i] = int(a["index"]) if "index" in g.nodes[nodes[i]] else counters.get(key, 0)
        counters[key] = counters.get(key, 0) + 1
    return index


def steps_of(ms, h: float, what: str, name, *, minimum: int, dtype=np.int64) -> np.ndarray:
    """Durations (ms) as integer steps of ``h``, checked as :func:`_steps` does; an error
    is at the first bad one, ``name(i)`` (e.g. ``("node", n)``), field ``what``."""
    ms = np.asarray(ms, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        q = ms / h
        bad = ~np.isfinite(ms) | (q > MAX_STEPS)
        s = np.rint(np.where(bad, 0.0, q))
    bad |= s < minimum
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _steps(float(ms[i]), h, name(i), what, minimum=minimum)  # raises, with the one-line reason
    return s.astype(dtype)


def _codes(col, table) -> np.ndarray:
    """A column of names as codes (its position in a list ``table``, or ``table[value]``);
    any hashable values (a GraphML attribute may be a number); unknown values were refused
    by the model's checks."""
    find = table.index if isinstance(table, list) else table.__getitem__
    memo: dict = {}
    out = np.empty(len(col), np.int64)
    for i, x in enumerate(col):
        code = memo.get(x)
        if code is None:
            code = memo[x] = find(x)
        out[i] = code
    return out


def neuron_arrays(cols: dict, area_names, h, name) -> dict:
    """The per-neuron arrays (in node order) from columns (:data:`NEURON_COLUMNS` and
    ``index``), steps checked: clock jitter below the period, and Euler's ``dt/tau <= 1``
    at the longest tick. ``name(i)``: where an error about neuron ``i`` arose, ``("node", n)``."""

    def floats(key):
        return np.asarray(cols[key], np.float64)

    period = steps_of(cols["period"], h, "period", name, minimum=1, dtype=np.int32)
    cjit = steps_of(cols["clock_jitter"], h, "clock_jitter", name, minimum=0, dtype=np.int32)
    bad = np.flatnonzero(cjit >= period)
    if len(bad):
        raise SpecError.located(name(bad[0]), "clock_jitter", f"{cjit[bad[0]]} steps must be below the period "
                                                              f"({period[bad[0]]} steps)")
    tau = floats("tau")
    dt_max = (period + cjit) * h
    for i in np.flatnonzero((tau > 0) & (dt_max / np.where(tau > 0, tau, 1) > 1.0)):
        raise SpecError.located(name(i), "tau", f"a tick of {dt_max[i]:g} ms exceeds tau = {tau[i]:g} ms; "
                                                "Euler needs dt/tau <= 1: shorten the clock period or lengthen tau")
    kind = (_codes(cols["kind"], {"value": KIND_VALUE, "error": KIND_ERROR})).astype(np.int8)
    return dict(
        kind=kind, area=_codes(cols["area"], list(area_names)).astype(np.int16),
        index=np.asarray(cols["index"]).astype(np.int32),
        role=_codes(cols["role"], ROLE_CODES).astype(np.int8),
        act=_codes(cols["activation"], list(ACTIVATIONS)).astype(np.int8), tau=tau,
        x0=np.where(kind == KIND_VALUE, floats("x0"), 0.0), bias=np.where(kind == KIND_ERROR, floats("bias"), 0.0),
        period=period, phase=steps_of(cols["phase"], h, "phase", name, minimum=0, dtype=np.int32) % period,
        cjit=cjit, send=_codes(cols["send"], {"always": 0, "on_delta": 1}).astype(np.int8),
        thresh=floats("threshold"), refresh=steps_of(cols["refresh"], h, "refresh", name, minimum=0),
        eta=floats("eta"), eta_b=floats("eta_b"), decay=floats("decay"),
        options={k: floats(k) for k in option_names(kernel=True)})


def _in_rows(net, nodes):
    """Each neuron's in-edges (partner first, then by sender position), the incoming CSR
    pointer and whether each neuron has an error partner."""
    pos = {n: i for i, n in enumerate(nodes)}
    rows: list[list] = [[] for _ in nodes]
    for u, v, e in net.graph.edges(data=True):
        rows[pos[v]].append((0 if e["role"] == "partner" else 1, pos[u], net.edge(u, v), (u, v)))
    in_ptr = np.zeros(len(nodes) + 1, np.int64)
    has_partner = np.zeros(len(nodes), np.int8)
    for i, r in enumerate(rows):
        r.sort(key=lambda t: (t[0], t[1]))
        in_ptr[i + 1] = in_ptr[i] + len(r)
        has_partner[i] = 1 if r and r[0][0] == 0 else 0
    return rows, in_ptr, has_partner


def prospective(flags, per, src, in_ptr, has_partner):
    """A prospective error neuron knows its partner's law: its tau_x and speed-up (its
    partner: the sender of its first in-edge)."""
    N = len(per["kind"])
    p_tau, p_speedup = np.zeros(N), np.zeros(N)
    on = np.flatnonzero(np.asarray(flags, bool) & (per["kind"] == KIND_ERROR) & (has_partner == 1))
    p = src[in_ptr[on]]
    p_tau[on], p_speedup[on] = per["tau"][p], per["options"]["speedup"][p]
    return p_tau, p_speedup


def _edge_arrays(rows, E: int, h) -> dict:
    """The per-edge arrays in CSR order (delays and jitters in steps, checked)."""
    out = dict(src=np.empty(E, np.int32), dst=np.empty(E, np.int32), delay=np.empty(E, np.int32),
               w=np.empty(E), loss=np.empty(E, np.float32), jit=np.empty(E, np.int16))
    j = 0
    for i, r in enumerate(rows):
        for _, s, ea, (u, v) in r:
            at = ("edge", u, v)
            out["src"][j], out["dst"][j] = s, i
            out["delay"][j] = _steps(float(ea["delay"]), h, at, "delay", minimum=1)
            out["w"][j] = float(ea.get("weight", 0.0))
            out["loss"][j] = float(ea["loss"])
            out["jit"][j] = jitter_steps(float(ea["jitter"]), h, at)
            j += 1
    return out


def jitter_steps(ms: float, h: float, at) -> int:
    """A message jitter in steps (int16) of the edge ``at`` (``("edge", u, v)``)."""
    js = _steps(ms, h, at, "jitter", minimum=0)
    if js > 32767:
        raise SpecError.located(at, "jitter", f"{js} steps is too large (max 32767)")
    return js


def _mirror(src, dst, kind, has_partner, in_ptr):
    """Feedback edge k->i <-> predict edge i->k (for transport and alignment); -1 else."""
    mirror = np.full(len(src), -1, np.int32)
    key = {(int(s), int(d)): e for e, (s, d) in enumerate(zip(src, dst))}
    for e in range(len(src)):
        m = key.get((int(dst[e]), int(src[e])))
        if m is not None and kind[dst[e]] != kind[src[e]] and not (has_partner[dst[e]] and in_ptr[dst[e]] == e):
            mirror[e] = m
    return mirror
