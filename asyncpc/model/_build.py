"""Builders: from areas and projections to the neuron-level ``networkx.DiGraph``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import zlib

import networkx as nx
import numpy as np

from .._seed import normalize_seed, rng_for
from ..errors import SpecError
from ._distributions import check_dist, is_distance, sample
from ._blueprint import Block, Blueprint
from ._network import Network
from ._spec import Area, Clocks, Dynamics, Learning, Messages, Projection

__all__ = ["Blueprint", "blueprint", "build", "layered", "from_area_graph", "positions"]

# rng streams of the builder (per purpose, so changing one never shifts another)
_S_CONNECT, _S_W, _S_V, _S_DELAY, _S_FBDELAY, _S_PERIOD, _S_PHASE, _S_POS = range(1, 9)


def positions(area: Area, seed=0) -> np.ndarray:
    """``(size, 2)`` positions (mm) of an area's neurons on the cortical sheet.

    ``grid``: square cells of side ``sheet_size / max(rows, cols)`` (rows x cols = the
    area's shape, else ``ceil(sqrt(size))`` columns), neuron ``i`` in row ``i // cols``
    and column ``i % cols``, x growing with the column and y with the row, the grid
    centred on ``position``. ``random``: uniform over the square patch of side
    ``sheet_size`` centred on ``position``, drawn from a stream keyed by the area's name
    (so adding or renaming other areas moves nothing).

    Examples
    --------
    >>> from asyncpc.model import Area
    >>> positions(Area("a", 4, position=(1.0, 0.0), sheet_size=2.0)).tolist()
    [[0.5, -0.5], [1.5, -0.5], [0.5, 0.5], [1.5, 0.5]]
    """
    n, (px, py), side = area.size, area.position, float(area.sheet_size)
    if area.layout == "random":
        r = rng_for(seed, _S_POS, zlib.crc32(area.name.encode()))
        return np.column_stack([px + side * (r.random(n) - 0.5), py + side * (r.random(n) - 0.5)])
    if area.shape is not None:
        rows, cols = area.shape
    else:
        cols = int(np.ceil(np.sqrt(n)))
        rows = -(-n // cols)
    cell = side / max(rows, cols)
    i = np.arange(n)
    return np.column_stack([px + (i % cols - (cols - 1) / 2) * cell, py + (i // cols - (rows - 1) / 2) * cell])


def _rf_sources(src: Area, proj: Projection, n_dst: int) -> list[np.ndarray]:
    """Source indices seen by each dst neuron under a receptive field."""
    at = ("projection", proj.src, proj.dst)
    if src.shape is None:
        raise SpecError.located(at, "rf", f"source area {src.name!r} needs a shape")
    rows, cols = src.shape
    k, s = proj.rf, proj.rf_stride
    if k > rows or k > cols:
        raise SpecError.located(at, "rf", f"patch {k} larger than {rows}x{cols}")
    tops = list(range(0, rows - k + 1, s))
    lefts = list(range(0, cols - k + 1, s))
    positions = [(r, c) for r in tops for c in lefts]
    out = []
    for j in range(n_dst):
        r, c = positions[j % len(positions)]
        idx = [(r + a) * cols + (c + b) for a in range(k) for b in range(k)]
        out.append(np.asarray(idx, dtype=np.int64))
    return out


CHUNK_PAIRS = 1 << 18  # synapse pairs drawn at a time (~20 MB of temporaries, whatever the network's size)


@dataclass(eq=False)
class Pairs:
    """One chunk of a projection's synapse pairs, in the builder's order (by dst neuron,
    then source index): source ``i`` (value neuron of src) predicts ``j`` (error neuron of
    dst) with weight ``w`` and delay ``d_fwd``; the feedback synapse ``j -> i`` has ``v``
    and ``d_fb``."""

    i: np.ndarray
    j: np.ndarray
    w: np.ndarray
    v: np.ndarray
    d_fwd: np.ndarray
    d_fb: np.ndarray


@dataclass(eq=False)
class ProjectionPlan:
    """One projection's synapses, drawn on demand, chunk by chunk, from its own streams
    (connectivity, W, V, delays, feedback delays), so that any chunking draws the same
    values. ``src_start`` / ``dst_start``: the first value neuron of src and the first
    error neuron of dst; ``feedback``: whether feedback synapses exist."""

    proj: Projection
    src: Area
    dst: Area
    pk: int
    seed: int
    src_start: int
    dst_start: int
    feedback: bool
    transpose: bool
    dspec: object
    fspec: object
    pos_src: np.ndarray
    pos_dst: np.ndarray
    loss: float
    jitter: float
    _fan: tuple | None = None

    @property
    def at(self) -> tuple:
        """Where this projection's errors arise (:func:`asyncpc.errors.place`)."""
        return ("projection", self.proj.src, self.proj.dst)

    def _sources(self):
        if self.proj.rf is not None:
            return _rf_sources(self.src, self.proj, self.dst.size)
        return None

    def _rows(self, max_pairs: int):
        """``(j0, j1, i)`` per chunk of dst rows: the kept sources of rows j0..j1-1, concatenated."""
        lists, p = self._sources(), self.proj.p
        full = np.arange(self.src.size)
        rc = rng_for(self.seed, _S_CONNECT, self.pk)
        j, n_dst = 0, self.dst.size
        while j < n_dst:
            j0, parts, n = j, [], 0
            while j < n_dst and (n == 0 or n < max_pairs):
                srcs = full if lists is None else lists[j]
                keep = srcs if p >= 1.0 else srcs[rc.random(len(srcs)) < p]
                parts.append(keep)
                n += len(keep)
                j += 1
            yield j0, j, parts

    def fan(self) -> tuple[np.ndarray, np.ndarray]:
        """``(fan_in, fan_out)``: synapses per dst neuron and per src neuron."""
        if self._fan is None and self.proj.p >= 1.0 and self.proj.rf is None:
            self._fan = (np.full(self.dst.size, self.src.size, np.int64), np.full(self.src.size, self.dst.size, np.int64))
        if self._fan is None:
            fan_in = np.zeros(self.dst.size, np.int64)
            fan_out = np.zeros(self.src.size, np.int64)
            for j0, _, parts in self._rows(CHUNK_PAIRS):
                fan_in[j0:j0 + len(parts)] = [len(q) for q in parts]
                for q in parts:
                    fan_out[q] += 1
            if not fan_in.any():
                raise SpecError.located(self.at, (), f"no connection survived p={self.proj.p}")
            self._fan = (fan_in, fan_out)
        return self._fan

    def pairs(self, max_pairs: int | None = None):
        """The synapse pairs, chunk by chunk (:class:`Pairs`), at most about
        ``max_pairs`` (default :data:`CHUNK_PAIRS`, read at the call) per chunk (whole dst rows)."""
        max_pairs = CHUNK_PAIRS if max_pairs is None else max_pairs
        fan_in = self.fan()[0]
        p = self.proj
        scale = (np.full(self.dst.size, float(p.init_scale)) if p.init_scale is not None
                 else 1.0 / np.sqrt(np.maximum(fan_in, 1)))
        rw, rv = rng_for(self.seed, _S_W, self.pk), rng_for(self.seed, _S_V, self.pk)
        rd, rf = rng_for(self.seed, _S_DELAY, self.pk), rng_for(self.seed, _S_FBDELAY, self.pk)
        far = is_distance(self.dspec) or is_distance(self.fspec)
        for j0, j1, parts in self._rows(max_pairs):
            ii = np.concatenate(parts) if parts else np.zeros(0, np.int64)
            js = np.repeat(np.arange(j0, j1), fan_in[j0:j1])
            w = rw.standard_normal(len(ii)) * scale[js]
            v = w.copy() if self.transpose else rv.standard_normal(len(ii)) * scale[js]
            dist = np.hypot(*(self.pos_src[ii] - self.pos_dst[js]).T) if far else None
            drawn = {}
            for where, spec, r in (("delay", self.dspec, rd), ("feedback_delay", self.fspec, rf)):
                try:
                    arr = sample(spec, len(ii), r, distance=dist)
                except SpecError as exc:
                    raise SpecError.located(self.at, where, str(exc)) from None
                if np.any(arr <= 0):
                    raise SpecError.located(self.at, where, f"drew a non-positive delay "
                                                            f"(min {arr.min():.3g} ms); delays must be > 0")
                drawn[where] = arr
            yield Pairs(ii, js, w, v, drawn["delay"], drawn["feedback_delay"])


@dataclass(frozen=True, eq=False)
class _AreaGraph:
    """The checked areas and who predicts whom (``graph``): areas by name, the order their
    neurons are numbered in (topological unless cycles are allowed and present), and
    which areas have parents (they get error neurons)."""

    by_name: dict
    graph: nx.DiGraph
    order: list
    has_parents: dict


def _area_graph(areas: Sequence[Area], projections: Sequence[Projection], allow_cycles: bool) -> _AreaGraph:
    """Refuse duplicate or unknown areas, duplicate or self projections and (unless
    allowed) prediction cycles; the :class:`_AreaGraph` of the rest."""
    by_name: dict[str, Area] = {}
    for a in areas:
        if a.name in by_name:
            raise SpecError.located(("area", a.name), (), "duplicate area name")
        by_name[a.name] = a
    if not by_name:
        raise SpecError.located("areas", (), "at least one area is required")
    seen = set()
    for p in projections:
        at = ("projection", p.src, p.dst)
        for end in (p.src, p.dst):
            if end not in by_name:
                raise SpecError.located(at, (), f"unknown area {end!r}; known: {sorted(by_name)}")
        if (p.src, p.dst) in seen:
            raise SpecError.located(at, (), "duplicate projection")
        if p.src == p.dst:
            raise SpecError.located(at, (), "an area cannot predict itself")
        seen.add((p.src, p.dst))
    ag = nx.DiGraph()
    ag.add_nodes_from(by_name)
    ag.add_edges_from((p.src, p.dst) for p in projections)
    if not allow_cycles and not nx.is_directed_acyclic_graph(ag):
        cyc = " -> ".join(u for u, _ in nx.find_cycle(ag))
        raise SpecError.located("projections", (), f"prediction cycle {cyc} is not supported "
                                                   "(pass allow_cycles=True to simulate it anyway)")
    order = list(nx.topological_sort(ag)) if not allow_cycles or nx.is_directed_acyclic_graph(ag) else list(by_name)
    return _AreaGraph(by_name, ag, order, {n: ag.in_degree(n) > 0 for n in by_name})


def _clocks(clocks: Clocks, n_nodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(period, phase)`` (ms) per neuron, in node order, each from its own stream."""
    r = rng_for(seed, _S_PERIOD)
    try:
        periods = sample(clocks.period, n_nodes, r)
    except SpecError as exc:
        raise SpecError.located("neurons.clock", "period", str(exc)) from None
    if np.any(periods <= 0):
        raise SpecError.located("neurons.clock", "period",
                                f"drew a non-positive period (min {periods.min():.3g} ms)")
    r = rng_for(seed, _S_PHASE)
    phases = r.uniform(0.0, 1.0, n_nodes) * periods if clocks.phase == "random" else np.zeros(n_nodes)
    return periods, phases


def _blocks(ag: _AreaGraph, common: dict, learning: Learning, dynamics: Dynamics) -> list[Block]:
    """The neuron blocks in node order: per area (in ``ag.order``) its value neurons, then
    its error neurons if it has parents, with their node attributes (``common``: the
    network-wide ones)."""
    blocks, nid = [], 0
    for name in ag.order:
        a = ag.by_name[name]
        kinds = ("value", "error") if ag.has_parents[name] else ("value",)
        for kind in kinds:
            own = (dict(tau=float(a.tau_x), x0=float(a.x0)) if kind == "value"
                   else dict(tau=float(a.tau_e), bias=0.0))
            attrs = dict(kind=kind, area=name, index=0, activation=a.activation, role=a.role, **own,
                         period=0.0, phase=0.0, eta=float(learning.eta))
            if kind == "error":
                attrs["eta_b"] = float(learning.bias_rate)
            attrs.update(x=0.0, y=0.0, **common, **dynamics.attrs(kind, a.role, name))
            blocks.append(Block(name, kind, nid, a.size, attrs))
            nid += a.size
    return blocks


def blueprint(areas: Sequence[Area], projections: Sequence[Projection], *,
              clocks: Clocks = Clocks(), messages: Messages = Messages(),
              learning: Learning = Learning(), dynamics: Dynamics = Dynamics(), delay=0.1,
              partner_delay: float = 0.1, seed=0, allow_cycles: bool = False) -> Blueprint:
    """The :class:`Blueprint` of :func:`build` (same parameters, same checks, same draws)."""
    seed = normalize_seed(seed)
    check_dist(delay, "delays", "forward", positive=True, distance=True)
    if isinstance(partner_delay, bool) or not isinstance(partner_delay, (int, float)) or not partner_delay > 0:
        raise SpecError.located("delays", "partner", f"must be a number of ms > 0, got {partner_delay!r}")
    ag = _area_graph(areas, projections, allow_cycles)
    by_name, order = ag.by_name, ag.order
    n_nodes = sum(a.size * (2 if ag.has_parents[a.name] else 1) for a in by_name.values())
    periods, phases = _clocks(clocks, n_nodes, seed)

    common = dict(send=messages.send, threshold=float(messages.threshold), refresh=float(messages.refresh),
                  clock_jitter=float(clocks.jitter), decay=float(learning.decay))
    dynamics.check_areas(list(by_name))
    pos = {a.name: positions(a, seed) for a in by_name.values()}
    blocks = _blocks(ag, common, learning, dynamics)
    start = {(b.area, b.kind): b.start for b in blocks}

    loss, mjit = float(messages.loss), float(messages.jitter)
    plans = []
    for p in sorted(projections, key=lambda p: (order.index(p.src), order.index(p.dst))):
        src, dst = by_name[p.src], by_name[p.dst]
        dspec = p.delay if p.delay is not None else delay
        plans.append(ProjectionPlan(
            proj=p, src=src, dst=dst, pk=order.index(p.src) * len(order) + order.index(p.dst), seed=seed,
            src_start=start[p.src, "value"], dst_start=start[p.dst, "error"],
            feedback=learning.sensory_feedback or src.role != "sensory",
            transpose=learning.feedback_init == "transpose", dspec=dspec,
            fspec=p.feedback_delay if p.feedback_delay is not None else dspec,
            pos_src=pos[p.src], pos_dst=pos[p.dst], loss=loss, jitter=mjit))
        if p.rf is not None:
            _rf_sources(src, p, 0)  # an impossible patch is refused before anything is drawn
        if p.eta is not None:  # a per-projection rate lives on the synapse owners
            for b in blocks:
                if (b.area, b.kind) in ((p.dst, "error"), (p.src, "value")):
                    b.attrs["eta"] = float(p.eta)
    bp = Blueprint(seed=seed, feedback=learning.feedback, blocks=blocks,
                   index=np.concatenate([np.arange(b.size) for b in blocks]),
                   period=periods, phase=phases, x=np.concatenate([pos[b.area][:, 0] for b in blocks]),
                   y=np.concatenate([pos[b.area][:, 1] for b in blocks]),
                   partner_delay=float(partner_delay), projections=plans,
                   shapes={n: tuple(by_name[n].shape) for n in order if by_name[n].shape is not None})
    for pp in plans:
        pp.fan()  # connectivity checked now (a projection where nothing survived is refused)
    return bp


def build(areas: Sequence[Area], projections: Sequence[Projection], *,
          clocks: Clocks = Clocks(), messages: Messages = Messages(),
          learning: Learning = Learning(), dynamics: Dynamics = Dynamics(), delay=0.1,
          partner_delay: float = 0.1, seed=0, allow_cycles: bool = False) -> Network:
    """Build a neuron-level network from areas and projections.

    Parameters
    ----------
    areas, projections
        The populations and who predicts whom.
    clocks, messages, learning, dynamics
        Network-wide neuron settings (see their classes).
    delay : distribution spec
        Default delay (ms) of predict and feedback edges without their own; may be the
        distance model ``{"dist": "distance", "velocity": v, "synaptic": s}`` (delay =
        ``s + d / v``, ``d`` the distance in mm between the neurons' positions, see
        :func:`positions` and docs/delays.md).
    partner_delay : float
        Delay (ms) between a value neuron and its error partner.
    seed : int
        Seeds connectivity, initial weights, delays and clocks (one stream each).
    allow_cycles : bool
        Accept cycles in the area graph (the runtimes simulate them; the dense
        reference does not).

    Returns
    -------
    Network
        ``blueprint(...).network()`` (:func:`blueprint`): for a network too large for a
        graph object per synapse, compile the blueprint instead.

    Examples
    --------
    >>> from asyncpc.model import Area, Projection, build
    >>> net = build([Area("in", 2, role="sensory"), Area("out", 1, role="label")],
    ...             [Projection("in", "out")])
    >>> net.graph.number_of_nodes(), net.n_edges("predict")
    (4, 2)
    """
    return blueprint(areas, projections, clocks=clocks, messages=messages, learning=learning, dynamics=dynamics,
                     delay=delay, partner_delay=partner_delay, seed=seed, allow_cycles=allow_cycles).network()


def layered(sizes: Sequence[int], direction: str = "discriminative", *, activation="tanh",
            names: Sequence[str] | None = None, tau_x: float | Mapping[str, float] = 1.0, tau_e: float = 0.0,
            shapes: Mapping[str, tuple[int, int]] | None = None, p: float = 1.0,
            rf: Mapping[str, int] | None = None, output_activation: str | None = None,
            positions: Mapping[str, tuple[float, float]] | None = None, sheet_size: float = 1.0,
            layout: str = "grid", as_blueprint: bool = False, **kwargs) -> Network | Blueprint:
    """A chain of areas ``input -> hidden1 -> ... -> label`` (``discriminative``) or the
    same areas with every projection reversed (``generative``: the label predicts the
    hidden area, which predicts the image).

    ``sizes`` always lists the areas from the data side to the label side. The first
    area has role ``sensory``, the last ``label``. ``activation`` applies to every area
    (``output_activation`` overrides the label's). ``rf`` maps a *source* area name to
    a receptive-field patch size. ``positions`` maps an area name to the centre (mm) of
    its patch on the cortical sheet (default ``(0, 0)``: the areas lie on top of each
    other, like the layers of one column); ``sheet_size`` and ``layout`` apply to every
    area (see :class:`Area`). ``tau_x`` is one time constant for every area, or a mapping
    area name -> tau_x (areas not listed take 1.0). Other keyword arguments go to
    :func:`build`. ``as_blueprint``: return the :class:`Blueprint` instead of the
    :class:`Network` (what :func:`asyncpc.compile.compile_network` flattens without a
    graph object per synapse).

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> net = layered([4, 3, 2], activation="relu")
    >>> [a.name for a in net.areas.values()]
    ['input', 'hidden1', 'label']
    """
    if isinstance(sizes, (str, bytes)) or len(sizes) < 2:
        raise SpecError.located("network", "sizes", f"need at least two areas, got {sizes!r}")
    if direction not in ("discriminative", "generative"):
        raise SpecError.located("network", "direction",
                                f"must be 'discriminative' or 'generative', got {direction!r}")
    n = len(sizes)
    if names is None:
        names = ["input"] + [f"hidden{i}" for i in range(1, n - 1)] + ["label"]
    if len(names) != n:
        raise SpecError.located("network", "names", f"{len(names)} names for {n} areas")
    shapes = dict(shapes or {})
    where = dict(positions or {})
    for nm in where:
        if nm not in names:
            raise SpecError.located("network", ("positions", str(nm)), f"no area {nm!r}; areas: {list(names)}")
    taus = dict(tau_x) if isinstance(tau_x, Mapping) else {nm: tau_x for nm in names}
    for nm in taus:
        if nm not in names:
            raise SpecError.located("network", ("tau_x", str(nm)), f"no area {nm!r}; areas: {list(names)}")
    areas = []
    for i, (name, size) in enumerate(zip(names, sizes)):
        role = "sensory" if i == 0 else "label" if i == n - 1 else "hidden"
        act = output_activation if (i == n - 1 and output_activation) else activation
        areas.append(Area(name, size, activation=act, role=role, tau_x=taus.get(name, 1.0), tau_e=tau_e,
                          shape=shapes.get(name), position=tuple(where.get(name, (0.0, 0.0))),
                          sheet_size=sheet_size, layout=layout))
    rf = dict(rf or {})
    projections = []
    for a, b in zip(names[:-1], names[1:]):
        src, dst = (a, b) if direction == "discriminative" else (b, a)
        projections.append(Projection(src, dst, p=p, rf=rf.get(src)))
    bp = blueprint(areas, projections, **kwargs)
    bp.direction = direction
    return bp if as_blueprint else bp.network()


_AREA_KEYS = {"size", "activation", "role", "tau_x", "tau_e", "shape", "x0", "position", "sheet_size",
              "layout"}
_PROJ_KEYS = {"p", "rf", "rf_stride", "delay", "feedback_delay", "init_scale", "eta"}


def from_area_graph(area_graph: nx.DiGraph, *, as_blueprint: bool = False, **kwargs) -> Network | Blueprint:
    """Build from a ``networkx.DiGraph`` of areas.

    Node attributes are :class:`Area` fields (``size`` required); edge ``u -> v``
    (u predicts v) attributes are :class:`Projection` fields. Other keyword arguments
    go to :func:`build`; ``as_blueprint`` as in :func:`layered`.

    Examples
    --------
    >>> import networkx as nx
    >>> from asyncpc.model import from_area_graph
    >>> ag = nx.DiGraph()
    >>> ag.add_node("v1", size=4, role="sensory"); ag.add_node("v2", size=2)
    >>> ag.add_edge("v1", "v2", p=0.5, delay={"dist": "uniform", "low": 0.1, "high": 0.5})
    >>> from_area_graph(ag, seed=1).n_edges("predict") <= 8
    True
    """
    areas, projs = [], []
    for name, attrs in area_graph.nodes(data=True):
        bad = set(attrs) - _AREA_KEYS
        if bad:
            raise SpecError.located(("area", name), (), f"unknown attribute(s) {sorted(bad)}; "
                                                         f"expected {sorted(_AREA_KEYS)}")
        if "size" not in attrs:
            raise SpecError.located(("area", name), "size", "required")
        areas.append(Area(str(name), **attrs))
    for u, v, attrs in area_graph.edges(data=True):
        bad = set(attrs) - _PROJ_KEYS
        if bad:
            raise SpecError.located(("projection", u, v), (), f"unknown attribute(s) {sorted(bad)}; "
                                                              f"expected {sorted(_PROJ_KEYS)}")
        projs.append(Projection(str(u), str(v), **attrs))
    bp = blueprint(areas, projs, **kwargs)
    return bp if as_blueprint else bp.network()
