"""Reading ``[network]``: a layered chain, an area graph, or a GraphML file."""

from __future__ import annotations

import os
import re
from types import MappingProxyType

import networkx as nx

from ..model import ACTIVATIONS, LAYOUTS
from ._reader import Table, describe, number_problem
from ._spec import AreaSpec, NetworkSpec, NeuronsSpec, ProjectionSpec

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


def _layered(t: Table, activation, neurons: NeuronsSpec, delays, image_shape) -> NetworkSpec:
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
    out_act = t.string("output_activation", activation, choices=ACTIVATIONS)
    p = t.number("p", 1.0, lo=0, lo_open=True, hi=1)
    init_scale = t.number("init_scale", None, lo=0, lo_open=True)

    sizes_of = dict(zip(names, sizes))
    pairs = [(a, b) if direction == "discriminative" else (b, a) for a, b in zip(names[:-1], names[1:])]
    sources = {s for s, _ in pairs}

    def area_table(key, check):
        tt = t.table(key)
        out = {}
        for nm, v in tt.raw.items():
            tt.take(nm)
            if nm not in sizes_of:
                tt.fail(nm, f"no area {nm!r}; areas: {list(names)}")
            out[nm] = check(tt, nm, v)
        tt.done()
        t.sub(key, tt)
        return out

    def shape_of(tt, nm, v):
        return tt.put(nm, list(_shape(tt, nm, v, sizes_of[nm])))

    shapes = {k: tuple(v) for k, v in area_table("shapes", shape_of).items()}
    if image_shape is not None and names[0] not in shapes and sizes[0] == image_shape[0] * image_shape[1]:
        shapes[names[0]] = tuple(image_shape)
        t.out.setdefault("shapes", {})[names[0]] = list(image_shape)

    def rf_of(tt, nm, v):
        if nm not in sources:
            tt.fail(nm, f"area {nm!r} predicts no other area in a {direction} chain; "
                        f"rf is keyed by source area: one of {sorted(sources)}")
        k = tt.check_int(nm, v, lo=1)
        _rf_check(tt, nm, k, nm, shapes.get(nm))
        return tt.put(nm, k)

    rf = area_table("rf", rf_of)
    positions = {k: tuple(v) for k, v in area_table(
        "positions", lambda tt, nm, v: tt.put(nm, list(_position(tt, nm, v)))).items()}
    sheet_size, layout = _sheet(t)

    def stride_of(tt, nm, v):
        if nm not in rf:
            tt.fail(nm, f"area {nm!r} has no receptive field (network.rf.{nm})")
        return tt.put(nm, tt.check_int(nm, v, lo=1))

    stride = area_table("rf_stride", stride_of)

    def tau_of(tt, nm, v):
        tau = tt.check_number(nm, v, lo=0, lo_open=True, unit="ms")
        check_tau(tt, nm, tau, neurons)
        return tt.put(nm, tau)

    taus = area_table("tau_x", tau_of)

    def eta_of(tt, nm, v):
        if nm not in sources:
            tt.fail(nm, f"area {nm!r} predicts no other area in a {direction} chain; "
                        f"eta is keyed by source area: one of {sorted(sources)}")
        return tt.put(nm, tt.check_number(nm, v, lo=0))

    etas = area_table("eta", eta_of)
    areas = []
    for i, (nm, size) in enumerate(zip(names, sizes)):
        role = "sensory" if i == 0 else "label" if i == n - 1 else "hidden"
        areas.append(AreaSpec(nm, size, role, out_act if i == n - 1 else activation, shapes.get(nm),
                              taus.get(nm, neurons.tau_x), neurons.tau_e, neurons.x0, positions.get(nm, (0.0, 0.0)),
                              sheet_size, layout))
    projections = tuple(ProjectionSpec(s, d, p, rf.get(s), stride.get(s, 1), delays.forward, delays.feedback,
                                       init_scale, etas.get(s)) for s, d in pairs)
    return NetworkSpec(kind="layered", sizes=sizes, names=names, direction=direction, activation=activation,
                       output_activation=out_act, p=p, rf=MappingProxyType(dict(rf)),
                       rf_stride=MappingProxyType(dict(stride)), shapes=MappingProxyType(dict(shapes)),
                       init_scale=init_scale, positions=MappingProxyType(dict(positions)),
                       sheet_size=sheet_size, layout=layout, areas=tuple(areas), projections=projections)


def _area_graph(t: Table, activation, neurons: NeuronsSpec, delays, image_shape, data_sensory) -> NetworkSpec:
    sheet_size, layout = _sheet(t)
    at = t.table("areas", required=True)
    if not at.raw:
        t.fail("areas", "needs at least one area table, e.g. [network.areas.input] size = 4")
    areas = []
    for nm in list(at.raw):
        raw = at.take(nm)
        if not AREA_NAME.match(nm):
            at.fail(nm, f"area names use letters, digits, '_' and '-' only, got {nm!r}")
        a = Table(t.ctx, at.path + (nm,), raw)
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
        a_sheet = a.number("sheet_size", sheet_size, lo=0, lo_open=True, unit="mm")
        a_layout = a.string("layout", layout, choices=LAYOUTS)
        a.done()
        at.out[nm] = a.out
        areas.append(AreaSpec(nm, size, role, act, shape, tau_x, tau_e, x0, position, a_sheet, a_layout))
    at.done()
    t.sub("areas", at)
    # a built-in image source shapes the sensory area it feeds
    sensory = data_sensory or next(iter([a.name for a in areas if a.role == "sensory"][:1]), None)
    if image_shape is not None and sensory is not None:
        for k, a in enumerate(areas):
            if a.name == sensory and a.shape is None and a.size == image_shape[0] * image_shape[1]:
                areas[k] = AreaSpec(a.name, a.size, a.role, a.activation, tuple(image_shape), a.tau_x,
                                    a.tau_e, a.x0, a.position, a.sheet_size, a.layout)
                at.out[a.name]["shape"] = list(image_shape)
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
        projections.append(ProjectionSpec(src, dst, p, rf, stride, delay, fb, init_scale, eta))
    if out:
        t.out["projections"] = out
    allow_cycles = t.boolean("allow_cycles", False)
    if not allow_cycles:
        g = nx.DiGraph([(p.src, p.dst) for p in projections])
        if not nx.is_directed_acyclic_graph(g):
            cyc = " -> ".join(u for u, _ in nx.find_cycle(g)) + " -> " + nx.find_cycle(g)[0][0]
            t.fail("projections", f"prediction cycle {cyc}; set network.allow_cycles = true to simulate it "
                                  "(the dense reference cannot)")
    return NetworkSpec(kind="area_graph", activation=activation, allow_cycles=allow_cycles,
                       sheet_size=sheet_size, layout=layout, areas=tuple(areas), projections=tuple(projections))
