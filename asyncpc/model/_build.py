"""Builders: from areas and projections to the neuron-level ``networkx.DiGraph``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import zlib

import networkx as nx
import numpy as np

from .._seed import normalize_seed, rng_for
from ..errors import SpecError
from ._distributions import check_dist, is_distance, sample
from ._network import Network
from ._spec import Area, Clocks, Dynamics, Learning, Messages, Projection

__all__ = ["build", "layered", "from_area_graph", "positions"]

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
    if src.shape is None:
        raise SpecError(f"projections.{proj.src}->{proj.dst}.rf: source area {src.name!r} needs a shape")
    rows, cols = src.shape
    k, s = proj.rf, proj.rf_stride
    if k > rows or k > cols:
        raise SpecError(f"projections.{proj.src}->{proj.dst}.rf: patch {k} larger than {rows}x{cols}")
    tops = list(range(0, rows - k + 1, s))
    lefts = list(range(0, cols - k + 1, s))
    positions = [(r, c) for r in tops for c in lefts]
    out = []
    for j in range(n_dst):
        r, c = positions[j % len(positions)]
        idx = [(r + a) * cols + (c + b) for a in range(k) for b in range(k)]
        out.append(np.asarray(idx, dtype=np.int64))
    return out


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

    Examples
    --------
    >>> from asyncpc.model import Area, Projection, build
    >>> net = build([Area("in", 2, role="sensory"), Area("out", 1, role="label")],
    ...             [Projection("in", "out")])
    >>> net.graph.number_of_nodes(), net.n_edges("predict")
    (4, 2)
    """
    seed = normalize_seed(seed)
    check_dist(delay, "delays.forward", positive=True, distance=True)
    if isinstance(partner_delay, bool) or not isinstance(partner_delay, (int, float)) or not partner_delay > 0:
        raise SpecError(f"delays.partner: must be a number of ms > 0, got {partner_delay!r}")
    by_name: dict[str, Area] = {}
    for a in areas:
        if a.name in by_name:
            raise SpecError(f"areas.{a.name}: duplicate area name")
        by_name[a.name] = a
    if not by_name:
        raise SpecError("areas: at least one area is required")
    seen = set()
    for p in projections:
        for end in (p.src, p.dst):
            if end not in by_name:
                raise SpecError(f"projections.{p.src}->{p.dst}: unknown area {end!r}; "
                                f"known: {sorted(by_name)}")
        if (p.src, p.dst) in seen:
            raise SpecError(f"projections.{p.src}->{p.dst}: duplicate projection")
        if p.src == p.dst:
            raise SpecError(f"projections.{p.src}->{p.dst}: an area cannot predict itself")
        seen.add((p.src, p.dst))
    ag = nx.DiGraph()
    ag.add_nodes_from(by_name)
    ag.add_edges_from((p.src, p.dst) for p in projections)
    if not allow_cycles and not nx.is_directed_acyclic_graph(ag):
        cyc = " -> ".join(u for u, _ in nx.find_cycle(ag))
        raise SpecError(f"projections: prediction cycle {cyc} is not supported "
                        "(pass allow_cycles=True to simulate it anyway)")

    g = nx.DiGraph()
    g.graph.update(feedback=learning.feedback, seed=seed)
    value_ids: dict[str, list[int]] = {}
    error_ids: dict[str, list[int]] = {}
    has_parents = {n: ag.in_degree(n) > 0 for n in by_name}
    n_nodes = sum(a.size * (2 if has_parents[a.name] else 1) for a in by_name.values())

    # clocks, per neuron, in node order
    r = rng_for(seed, _S_PERIOD)
    try:
        periods = sample(clocks.period, n_nodes, r)
    except SpecError as exc:
        raise SpecError(f"neurons.clock.period: {exc}") from None
    if np.any(periods <= 0):
        raise SpecError(f"neurons.clock.period: drew a non-positive period (min {periods.min():.3g} ms)")
    r = rng_for(seed, _S_PHASE)
    phases = r.uniform(0.0, 1.0, n_nodes) * periods if clocks.phase == "random" else np.zeros(n_nodes)

    common = dict(send=messages.send, threshold=float(messages.threshold), refresh=float(messages.refresh),
                  clock_jitter=float(clocks.jitter), decay=float(learning.decay))
    dynamics.check_areas(list(by_name))
    pos = {a.name: positions(a, seed) for a in by_name.values()}
    nid = 0
    order = list(nx.topological_sort(ag)) if not allow_cycles or nx.is_directed_acyclic_graph(ag) else list(by_name)
    for name in order:
        a = by_name[name]
        value_ids[name] = []
        for i in range(a.size):
            g.add_node(nid, kind="value", area=name, index=i, activation=a.activation, role=a.role,
                       tau=float(a.tau_x), x0=float(a.x0), period=float(periods[nid]),
                       phase=float(phases[nid]), eta=float(learning.eta),
                       x=float(pos[name][i, 0]), y=float(pos[name][i, 1]), **common,
                       **dynamics.attrs("value", a.role, name))
            value_ids[name].append(nid)
            nid += 1
        if has_parents[name]:
            error_ids[name] = []
            for i in range(a.size):
                g.add_node(nid, kind="error", area=name, index=i, activation=a.activation, role=a.role,
                           tau=float(a.tau_e), bias=0.0, period=float(periods[nid]),
                           phase=float(phases[nid]), eta=float(learning.eta),
                           eta_b=float(learning.bias_rate),
                           x=float(pos[name][i, 0]), y=float(pos[name][i, 1]), **common,
                           **dynamics.attrs("error", a.role, name))
                error_ids[name].append(nid)
                nid += 1
            for v, e in zip(value_ids[name], error_ids[name]):
                g.add_edge(v, e, role="partner", weight=1.0, delay=float(partner_delay), loss=0.0, jitter=0.0)
                g.add_edge(e, v, role="partner", weight=-1.0, delay=float(partner_delay), loss=0.0, jitter=0.0)
        if a.shape is not None:
            g.graph[f"shape:{name}"] = f"{a.shape[0]}x{a.shape[1]}"

    loss, mjit = float(messages.loss), float(messages.jitter)
    for k, p in enumerate(sorted(projections, key=lambda p: (order.index(p.src), order.index(p.dst)))):
        src, dst = by_name[p.src], by_name[p.dst]
        pk = order.index(p.src) * len(order) + order.index(p.dst)  # stable per projection
        if p.rf is not None:
            lists = _rf_sources(src, p, dst.size)
        else:
            lists = [np.arange(src.size)] * dst.size
        rc = rng_for(seed, _S_CONNECT, pk)
        pairs = []
        for j, srcs in enumerate(lists):
            keep = srcs if p.p >= 1.0 else srcs[rc.random(len(srcs)) < p.p]
            pairs.extend((int(i), j) for i in keep)
        if not pairs:
            raise SpecError(f"projections.{p.src}->{p.dst}: no connection survived p={p.p}")
        fan_in = np.bincount([j for _, j in pairs], minlength=dst.size)
        scale = np.array([p.init_scale if p.init_scale is not None else 1.0 / np.sqrt(max(f, 1))
                          for f in fan_in])
        js = np.array([j for _, j in pairs])
        w = rng_for(seed, _S_W, pk).standard_normal(len(pairs)) * scale[js]
        if learning.feedback_init == "transpose":
            v = w.copy()
        else:
            v = rng_for(seed, _S_V, pk).standard_normal(len(pairs)) * scale[js]
        dspec = p.delay if p.delay is not None else delay
        fspec = p.feedback_delay if p.feedback_delay is not None else dspec
        dist = None
        if is_distance(dspec) or is_distance(fspec):  # the same distance both ways
            ii = np.array([i for i, _ in pairs])
            dist = np.hypot(*(pos[p.src][ii] - pos[p.dst][js]).T)
        drawn = {}
        for where, spec, stream in (("delay", dspec, _S_DELAY), ("feedback_delay", fspec, _S_FBDELAY)):
            try:
                drawn[where] = sample(spec, len(pairs), rng_for(seed, stream, pk), distance=dist)
            except SpecError as exc:
                raise SpecError(f"projections.{p.src}->{p.dst}.{where}: {exc}") from None
        d_fwd, d_fb = drawn["delay"], drawn["feedback_delay"]
        for where, arr in (("delay", d_fwd), ("feedback_delay", d_fb)):
            if np.any(arr <= 0):
                raise SpecError(f"projections.{p.src}->{p.dst}.{where}: drew a non-positive delay "
                                f"(min {arr.min():.3g} ms); delays must be > 0")
        eta = float(p.eta) if p.eta is not None else None
        fb = learning.sensory_feedback or src.role != "sensory"
        for n, (i, j) in enumerate(pairs):
            vi, ek = value_ids[p.src][i], error_ids[p.dst][j]
            g.add_edge(vi, ek, role="predict", weight=float(w[n]), delay=float(d_fwd[n]), loss=loss, jitter=mjit)
            if fb:
                g.add_edge(ek, vi, role="feedback", weight=float(v[n]), delay=float(d_fb[n]), loss=loss, jitter=mjit)
        if eta is not None:  # a per-projection rate lives on the synapse owners
            for ek in error_ids[p.dst]:
                g.nodes[ek]["eta"] = eta
            for vi in value_ids[p.src]:
                g.nodes[vi]["eta"] = eta
    return Network(g)


def layered(sizes: Sequence[int], direction: str = "discriminative", *, activation="tanh",
            names: Sequence[str] | None = None, tau_x: float | Mapping[str, float] = 1.0, tau_e: float = 0.0,
            shapes: Mapping[str, tuple[int, int]] | None = None, p: float = 1.0,
            rf: Mapping[str, int] | None = None, output_activation: str | None = None,
            positions: Mapping[str, tuple[float, float]] | None = None, sheet_size: float = 1.0,
            layout: str = "grid", **kwargs) -> Network:
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
    :func:`build`.

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> net = layered([4, 3, 2], activation="relu")
    >>> [a.name for a in net.areas.values()]
    ['input', 'hidden1', 'label']
    """
    if isinstance(sizes, (str, bytes)) or len(sizes) < 2:
        raise SpecError(f"network.sizes: need at least two areas, got {sizes!r}")
    if direction not in ("discriminative", "generative"):
        raise SpecError(f"network.direction: must be 'discriminative' or 'generative', got {direction!r}")
    n = len(sizes)
    if names is None:
        names = ["input"] + [f"hidden{i}" for i in range(1, n - 1)] + ["label"]
    if len(names) != n:
        raise SpecError(f"network.names: {len(names)} names for {n} areas")
    shapes = dict(shapes or {})
    where = dict(positions or {})
    for nm in where:
        if nm not in names:
            raise SpecError(f"network.positions.{nm}: no area {nm!r}; areas: {list(names)}")
    taus = dict(tau_x) if isinstance(tau_x, Mapping) else {nm: tau_x for nm in names}
    for nm in taus:
        if nm not in names:
            raise SpecError(f"network.tau_x.{nm}: no area {nm!r}; areas: {list(names)}")
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
    net = build(areas, projections, **kwargs)
    net.graph.graph["direction"] = direction
    return net


_AREA_KEYS = {"size", "activation", "role", "tau_x", "tau_e", "shape", "x0", "position", "sheet_size",
              "layout"}
_PROJ_KEYS = {"p", "rf", "rf_stride", "delay", "feedback_delay", "init_scale", "eta"}


def from_area_graph(area_graph: nx.DiGraph, **kwargs) -> Network:
    """Build from a ``networkx.DiGraph`` of areas.

    Node attributes are :class:`Area` fields (``size`` required); edge ``u -> v``
    (u predicts v) attributes are :class:`Projection` fields. Other keyword arguments
    go to :func:`build`.

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
            raise SpecError(f"areas.{name}: unknown attribute(s) {sorted(bad)}; expected {sorted(_AREA_KEYS)}")
        if "size" not in attrs:
            raise SpecError(f"areas.{name}.size: required")
        areas.append(Area(str(name), **attrs))
    for u, v, attrs in area_graph.edges(data=True):
        bad = set(attrs) - _PROJ_KEYS
        if bad:
            raise SpecError(f"projections.{u}->{v}: unknown attribute(s) {sorted(bad)}; expected {sorted(_PROJ_KEYS)}")
        projs.append(Projection(str(u), str(v), **attrs))
    return build(areas, projs, **kwargs)
