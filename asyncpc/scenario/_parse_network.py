"""Reading ``[network]``: a layered chain, an area graph, or a GraphML file."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from types import MappingProxyType
from typing import NamedTuple

import networkx as nx

from ..model import ACTIVATIONS, LAYOUTS, Area, Projection
from ._reader import Table, describe, number_problem
from ._spec import NetworkSpec, NeuronsSpec

__all__ = ["parse_network", "KINDS", "AREA_NAME"]

KINDS = ("layered", "area_graph", "graphml")
ROLES = ("sensory", "label", "hidden")
AREA_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_LAYERED = ("sizes", "names", "direction", "output_activation", "p", "rf", "rf_stride", "shapes",
            "init_scale", "positions", "tau_x", "eta")
_AREA_GRAPH = ("areas", "projections", "allow_cycles")


def _only(kind_keys, kind):
    return {k: f"only used when network.kind = {kind!r}" for k in kind_keys}


def check_tau(t: Table, key, tau, neurons: NeuronsSpec, *, zero_ok=False):
    """Euler needs dt/tau <= 1: a time constant must cover a tick (period + jitter)."""
    if zero_ok and tau == 0:
        return
    period = neurons.clock.period
    if isinstance(period, float):
        tick = period + neurons.clock.jitter
        if tau < tick * (1 - 1e-9):
            t.fail(key, f"must be >= the longest tick, clock period + jitter = {tick:g} ms "
                        f"(Euler needs dt/tau <= 1), got {tau:g}")


def _position(t: Table, key, v):
    if not isinstance(v, list) or len(v) != 2 or any(number_problem(x) == "not a number" for x in v):
        t.fail(key, f"must be [x, y], two finite numbers (mm on the cortical sheet), got {describe(v)}")
    for i, x in enumerate(v):
        why = number_problem(x)
        if why:
            t.fail((key, i), f"must be a usable number (mm on the cortical sheet): {why}")
    return (float(v[0]), float(v[1]))


def _sheet(t: Table):
    """Network-wide sheet defaults: ``sheet_size`` (mm) and ``layout``."""
    size = t.number("sheet_size", 1.0, lo=0, lo_open=True, unit="mm")
    layout = t.string("layout", "grid", choices=LAYOUTS)
    return size, layout


def _shape(t: Table, key, v, size):
    if (not isinstance(v, list) or len(v) != 2
            or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in v)):
        t.fail(key, f"must be [rows, cols], two integers >= 1, got {describe(v)}")
    if v[0] * v[1] != size:
        t.fail(key, f"{v[0]}x{v[1]} = {v[0] * v[1]} neurons but the area has {size}; they must match")
    return (int(v[0]), int(v[1]))


def _rf_check(t: Table, key, rf, name, shape):
    if shape is None:
        t.fail(key, f"a receptive field needs the shape of source area {name!r}; "
                    f"give it a shape [rows, cols]")
    if rf > min(shape):
        t.fail(key, f"patch {rf} is larger than area {name!r} ({shape[0]}x{shape[1]})")


def parse_network(t: Table, *, neurons: NeuronsSpec, delays, image_shape, data_sensory=None,
                  base_dir: str) -> NetworkSpec:
    """Read ``[network]`` into a :class:`NetworkSpec` (layered specs are expanded into areas
    and projections). ``image_shape``: (rows, cols) of a built-in image source, given to
    the sensory area when the file does not set a shape."""
    kind = t.string("kind", "layered", choices=KINDS)
    if kind == "graphml":
        path = t.string("path", required=True)
        full = os.path.normpath(os.path.join(base_dir, os.path.expanduser(path)))
        if not os.path.isfile(full):
            t.fail("path", f"GraphML file not found: {full}")
        t.put("path", full)
        t.done(_only(_LAYERED + ("activation", "sheet_size", "layout"), "layered")
               | _only(_AREA_GRAPH, "area_graph"))
        return NetworkSpec(kind=kind, path=full)
    activation = t.string("activation", "tanh", choices=ACTIVATIONS)
    if kind == "layered":
        spec = _layered(t, activation, neurons, delays, image_shape)
        t.done(_only(_AREA_GRAPH, "area_graph") | {"path": "only used when network.kind = 'graphml'"})
    else:
        spec = _area_graph(t, activation, neurons, delays, image_shape, data_sensory)
        t.done(_only(_LAYERED, "layered") | {"path": "only used when network.kind = 'graphml'"})
    return spec


class _Chain(NamedTuple):
    """A layered network's areas in order, and the (source, target) pairs that predict."""

    names: tuple
    sizes: tuple
    direction: str
    pairs: list

    @property
    def sources(self) -> set:
        return {s for s, _ in self.pairs}


def _layered(t: Table, activation, neurons: NeuronsSpec, delays, image_shape) -> NetworkSpec:
    """A chain of areas, expanded into areas (first sensory, last label) and projections."""
    chain = _chain(t)
    names, sizes, n = chain.names, chain.sizes, len(chain.names)
    out_act = t.string("output_activation", activation, choices=ACTIVATIONS)
    p = t.number("p", 1.0, lo=0, lo_open=True, hi=1)
    init_scale = t.number("init_scale", None, lo=0, lo_open=True)
    per = _per_area_settings(t, chain, neurons, image_shape)
    shapes, rf, stride, positions = per["shapes"], per["rf"], per["rf_stride"], per["positions"]
    areas = []
    for i, (nm, size) in enumerate(zip(names, sizes)):
        role = "sensory" if i == 0 else "label" if i == n - 1 else "hidden"
        areas.append(Area(nm, size, activation=out_act if i == n - 1 else activation, role=role,
                          tau_x=per["tau_x"].get(nm, neurons.tau_x), tau_e=neurons.tau_e, shape=shapes.get(nm),
                          x0=neurons.x0, position=positions.get(nm, (0.0, 0.0)), sheet_size=per["sheet_size"],
                          layout=per["layout"]))
    projections = tuple(Projection(s, d, p, rf.get(s), stride.get(s, 1), delays.forward, delays.feedback,
                                   init_scale, per["eta"].get(s)) for s, d in chain.pairs)
    return NetworkSpec(kind="layered", sizes=sizes, names=names, direction=chain.direction, activation=activation,
                       output_activation=out_act, p=p, rf=MappingProxyType(dict(rf)),
                       rf_stride=MappingProxyType(dict(stride)), shapes=MappingProxyType(dict(shapes)),
                       init_scale=init_scale, positions=MappingProxyType(dict(positions)),
                       sheet_size=per["sheet_size"], layout=per["layout"], areas=tuple(areas),
                       projections=projections)


def _chain(t: Table) -> _Chain:
    """``network.sizes``, ``names`` (unique area names, one per size) and ``direction``."""
    raw = t.array("sizes", required=True, min_len=2)
    sizes = tuple(t.check_int(("sizes", i), v, lo=1) for i, v in enumerate(raw))
    t.put("sizes", list(sizes))
    n = len(sizes)
    default_names = ["input"] + [f"hidden{i}" for i in range(1, n - 1)] + ["label"]
    raw_names = t.array("names", default_names)
    if len(raw_names) != n:
        t.fail("names", f"{len(raw_names)} names for {n} areas (network.sizes); give one name per area")
    names = tuple(t.check_str(("names", i), v) for i, v in enumerate(raw_names))
    for i, nm in enumerate(names):
        if not AREA_NAME.match(nm):
            t.fail(("names", i), f"area names use letters, digits, '_' and '-' only, got {nm!r}")
        if nm in names[:i]:
            t.fail(("names", i), f"duplicate area name {nm!r}")
    t.put("names", list(names))
    direction = t.string("direction", "discriminative", choices=("discriminative", "generative"))
    pairs = [(a, b) if direction == "discriminative" else (b, a) for a, b in zip(names[:-1], names[1:])]
    return _Chain(names, sizes, direction, pairs)


def _per_area(t: Table, key, names, check) -> dict:
    """``network.<key>``: a table of area name -> value, each checked by ``check(table, name, value)``."""
    tt = t.table(key)
    out = {}
    for nm, v in tt.raw.items():
        tt.take(nm)
        if nm not in names:
            tt.fail(nm, f"no area {nm!r}; areas: {list(names)}")
        out[nm] = check(tt, nm, v)
    tt.done()
    t.sub(key, tt)
    return out


def _per_area_settings(t: Table, chain: _Chain, neurons: NeuronsSpec, image_shape) -> dict:
    """A layered network's tables keyed by area (``shapes``, ``rf``, ``positions``,
    ``rf_stride``, ``tau_x``, ``eta``) and the sheet defaults, in the order they are read."""
    names, sizes, sources = chain.names, chain.sizes, chain.sources
    sizes_of = dict(zip(names, sizes))

    def by_source(tt, nm, key):
        if nm not in sources:
            tt.fail(nm, f"area {nm!r} predicts no other area in a {chain.direction} chain; "
                        f"{key} is keyed by source area: one of {sorted(sources)}")

    def shape_of(tt, nm, v):
        return tt.put(nm, list(_shape(tt, nm, v, sizes_of[nm])))

    shapes = {k: tuple(v) for k, v in _per_area(t, "shapes", names, shape_of).items()}
    if image_shape is not None and names[0] not in shapes and sizes[0] == image_shape[0] * image_shape[1]:
        shapes[names[0]] = tuple(image_shape)
        t.out.setdefault("shapes", {})[names[0]] = list(image_shape)

    def rf_of(tt, nm, v):
        by_source(tt, nm, "rf")
        k = tt.check_int(nm, v, lo=1)
        _rf_check(tt, nm, k, nm, shapes.get(nm))
        return tt.put(nm, k)

    out = {"shapes": shapes, "rf": _per_area(t, "rf", names, rf_of)}
    out["positions"] = {k: tuple(v) for k, v in _per_area(
        t, "positions", names, lambda tt, nm, v: tt.put(nm, list(_position(tt, nm, v)))).items()}
    out["sheet_size"], out["layout"] = _sheet(t)

    def stride_of(tt, nm, v):
        if nm not in out["rf"]:
            tt.fail(nm, f"area {nm!r} has no receptive field (network.rf.{nm})")
        return tt.put(nm, tt.check_int(nm, v, lo=1))

    def tau_of(tt, nm, v):
        tau = tt.check_number(nm, v, lo=0, lo_open=True, unit="ms")
        check_tau(tt, nm, tau, neurons)
        return tt.put(nm, tau)

    def eta_of(tt, nm, v):
        by_source(tt, nm, "eta")
        return tt.put(nm, tt.check_number(nm, v, lo=0))

    for key, check in (("rf_stride", stride_of), ("tau_x", tau_of), ("eta", eta_of)):
        out[key] = _per_area(t, key, names, check)
    return out


def _area_graph(t: Table, activation, neurons: NeuronsSpec, delays, image_shape, data_sensory) -> NetworkSpec:
    """Named area tables and the projections between them (acyclic unless allowed)."""
    sheet_size, layout = _sheet(t)
    areas, written = _graph_areas(t, activation, neurons, (sheet_size, layout))
    _shape_from_image(areas, written, image_shape, data_sensory)
    projections = _graph_projections(t, areas, delays)
    allow_cycles = _allow_cycles(t, projections)
    return NetworkSpec(kind="area_graph", activation=activation, allow_cycles=allow_cycles,
                       sheet_size=sheet_size, layout=layout, areas=tuple(areas), projections=tuple(projections))


def _graph_areas(t: Table, activation, neurons: NeuronsSpec, sheet) -> tuple[list, dict]:
    """``[network.areas.<name>]``: the areas, and their resolved tables (by name)."""
    at = t.table("areas", required=True)
    if not at.raw:
        t.fail("areas", "needs at least one area table, e.g. [network.areas.input] size = 4")
    areas = []
    for nm in list(at.raw):
        raw = at.take(nm)
        if not AREA_NAME.match(nm):
            at.fail(nm, f"area names use letters, digits, '_' and '-' only, got {nm!r}")
        a = Table(t.ctx, at.path + (nm,), raw)
        areas.append(_graph_area(a, nm, activation, neurons, sheet))
        at.out[nm] = a.out
    at.done()
    t.sub("areas", at)
    return areas, at.out


def _graph_area(a: Table, nm, activation, neurons: NeuronsSpec, sheet) -> Area:
    """One area table; unset keys default to ``[neurons]``, ``network.activation`` and the
    network's sheet (``sheet``: its size and layout)."""
    size = a.integer("size", required=True, lo=1)
    role = a.string("role", "hidden", choices=ROLES)
    act = a.string("activation", activation, choices=ACTIVATIONS)
    shape = None
    if a.has("shape"):
        shape = _shape(a, "shape", a.take("shape"), size)
        a.put("shape", list(shape))
    tau_x = a.number("tau_x", neurons.tau_x, lo=0, lo_open=True, unit="ms")
    check_tau(a, "tau_x", tau_x, neurons)
    tau_e = a.number("tau_e", neurons.tau_e, lo=0, unit="ms")
    check_tau(a, "tau_e", tau_e, neurons, zero_ok=True)
    x0 = a.number("x0", neurons.x0)
    position = _position(a, "position", a.take("position", [0.0, 0.0]))
    a.put("position", list(position))
    a_sheet = a.number("sheet_size", sheet[0], lo=0, lo_open=True, unit="mm")
    a_layout = a.string("layout", sheet[1], choices=LAYOUTS)
    a.done()
    return Area(nm, size, activation=act, role=role, tau_x=tau_x, tau_e=tau_e, shape=shape, x0=x0,
                position=position, sheet_size=a_sheet, layout=a_layout)


def _shape_from_image(areas: list, written: dict, image_shape, data_sensory) -> None:
    """A built-in image source shapes the sensory area it feeds (when that area has no
    shape and has one neuron per pixel); ``written``: the resolved area tables."""
    sensory = data_sensory or next(iter([a.name for a in areas if a.role == "sensory"][:1]), None)
    if image_shape is not None and sensory is not None:
        for k, a in enumerate(areas):
            if a.name == sensory and a.shape is None and a.size == image_shape[0] * image_shape[1]:
                areas[k] = replace(a, shape=tuple(image_shape))
                written[a.name]["shape"] = list(image_shape)


def _graph_projections(t: Table, areas: list, delays) -> list:
    """``[[network.projections]]``: src -> dst between known areas, each pair once."""
    by = {a.name: a for a in areas}
    raw_p = t.array("projections", [])
    projections, out, seen = [], [], set()
    for i, raw in enumerate(raw_p):
        pt = Table(t.ctx, t.path + ("projections", i), raw)
        src = pt.string("src", required=True)
        dst = pt.string("dst", required=True)
        for key, end in (("src", src), ("dst", dst)):
            if end not in by:
                pt.fail(key, f"no area {end!r}; areas: {list(by)}")
        if src == dst:
            pt.fail("dst", f"an area cannot predict itself ({src!r} -> {dst!r})")
        if (src, dst) in seen:
            pt.fail("dst", f"duplicate projection {src!r} -> {dst!r}")
        seen.add((src, dst))
        p = pt.number("p", 1.0, lo=0, lo_open=True, hi=1)
        rf = pt.integer("rf", None, lo=1)
        if rf is not None:
            _rf_check(pt, "rf", rf, src, by[src].shape)
        if rf is None:
            if pt.has("rf_stride"):
                pt.fail("rf_stride", "needs a receptive field (rf) on this projection")
            pt.take("rf_stride")
            stride = 1
        else:
            stride = pt.integer("rf_stride", 1, lo=1)
        h = t.ctx.h
        delay = pt.dist("delay", delays.forward, min_value=h, distance=True)
        fb = pt.dist("feedback_delay", delay if pt.has("delay") else delays.feedback, min_value=h,
                     distance=True)
        init_scale = pt.number("init_scale", None, lo=0, lo_open=True)
        eta = pt.number("eta", None, lo=0)
        pt.done()
        out.append(pt.out)
        projections.append(Projection(src, dst, p, rf, stride, delay, fb, init_scale, eta))
    if out:
        t.out["projections"] = out
    return projections


def _allow_cycles(t: Table, projections: list) -> bool:
    """``network.allow_cycles``: without it, a cycle of predictions is refused."""
    allow_cycles = t.boolean("allow_cycles", False)
    if not allow_cycles:
        g = nx.DiGraph([(p.src, p.dst) for p in projections])
        if not nx.is_directed_acyclic_graph(g):
            cyc = " -> ".join(u for u, _ in nx.find_cycle(g)) + " -> " + nx.find_cycle(g)[0][0]
            t.fail("projections", f"prediction cycle {cyc}; set network.allow_cycles = true to simulate it "
                                  "(the dense reference cannot)")
    return allow_cycles
