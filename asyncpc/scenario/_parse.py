"""Reading a parsed scenario (a dict) into typed specs, checking every key once."""

from __future__ import annotations

import re

from ..errors import SpecError
from ..model import Clocks, Dynamics, Learning, Messages
from ..neurons import OPTIONS
from ._parse_data import Source, parse_data, step_check
from ._parse_network import check_tau, parse_network
from ._parse_source import parse_source
from ._reader import MAX_RUN_STEPS, MAX_STEPS, Ctx, Table
from ._spec import (DataSpec, DelaysSpec, LearningSpec, NetworkSpec, NeuronsSpec, OutputSpec, ReadoutSpec,
                    RunSpec, TraceSpec)

__all__ = ["parse", "SECTIONS", "TRACE_ROLES", "safe_name"]

SECTIONS = ("run", "network", "neurons", "delays", "messages", "learning", "data", "readout", "trace",
            "output")
TRACE_ROLES = ("predict", "feedback", "partner", "environment")
PLOT_FORMATS = ("png", "svg", "pdf")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SELECTOR = re.compile(r"^([A-Za-z0-9_-]+)(?::(\d+)(?:-(\d+))?)?$")
_GRAPHML_WHY = "not used when network.kind = 'graphml': the graph file carries these attributes"


def safe_name(stem: str) -> str:
    """A run name (and directory name) from a file name."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "scenario"
    return s if _NAME.match(s) else "s_" + s


def parse(raw: dict, ctx: Ctx, *, base_dir: str, default_name: str) -> tuple[dict, dict]:
    """Return ``(specs, resolved)``: one spec per section, and the resolved TOML tree."""
    top = Table(ctx, (), raw)
    sec = {name: top.table(name) for name in SECTIONS}
    top.done()
    run = _run(sec["run"], default_name)
    ctx.h = run.h
    kind = sec["network"].raw.get("kind", "layered")
    graphml = kind == "graphml"
    neurons = _neurons(sec["neurons"], run, graphml)
    delays = _delays(sec["delays"], run, graphml)
    messages = _messages(sec["messages"], graphml, run.h)
    learning = _learning(sec["learning"], graphml)
    d = sec["data"]
    src = Source(*parse_source(d, base_dir))
    data_sensory = d.string("sensory_area", None) if src.protocol == "stream" else None
    network = parse_network(sec["network"], neurons=neurons, delays=delays,
                            image_shape=src.info[2] if src.info else None, data_sensory=data_sensory,
                            base_dir=base_dir)
    data, label = parse_data(d, src, run=run, neurons=neurons, delays=delays, network=network,
                             data_sensory=data_sensory, readout_t=sec["readout"])
    readout = _readout(sec["readout"], network, data, label)
    trace = _trace(sec["trace"], network)
    output = _output(sec["output"], run)
    specs = dict(run=run, network=network, neurons=neurons, delays=delays, messages=messages,
                 learning=learning, data=data, readout=readout, trace=trace, output=output)
    resolved = {name: sec[name].out for name in SECTIONS if sec[name].out}
    return specs, resolved


def _run(t: Table, default_name) -> RunSpec:
    name = t.string("name", safe_name(default_name))
    if not _NAME.match(name):
        t.fail("name", f"must start with a letter or digit and use only letters, digits, '_', '.', '-' "
                       f"(it names the run directory), got {name!r}")
    seed = t.integer("seed", 0, lo=0, hi=2**63 - 1)
    runtime = t.string("runtime", "engine", choices=("engine", "actors"))
    threads = t.integer("threads", 0, lo=0, hi=4096)
    h = t.number("h", 0.1, lo=1e-6, unit="ms", hi=1000.0)
    t.done()
    return RunSpec(name, seed, runtime, threads, h)


def _neurons(t: Table, run: RunSpec, graphml) -> NeuronsSpec:
    if graphml:
        t.done({k: _GRAPHML_WHY for k in t.raw})
        return NeuronsSpec(clock=Clocks(period=run.h))
    tau_x = t.number("tau_x", 1.0, lo=0, lo_open=True, unit="ms")
    tau_e = t.number("tau_e", 0.0, lo=0, unit="ms")
    x0 = t.number("x0", 0.0)
    c = t.table("clock")
    period = c.dist("period", run.h, min_value=run.h)
    phase = c.string("phase", "zero", choices=("zero", "random"))
    jitter = c.number("jitter", 0.0, lo=0, hi=MAX_STEPS * run.h, unit="ms")
    if isinstance(period, float) and round(jitter / run.h) >= round(period / run.h):
        c.fail("jitter", f"must be below the clock period ({period:g} ms), got {jitter:g}")
    c.done()
    t.sub("clock", c)
    args = {o.name: _option(t, o) for o in OPTIONS}
    try:
        dyn = Dynamics(**args)
    except SpecError as exc:  # a combination of options: the error names the option it is about
        t.fail(exc.field, exc.detail)
    spec = NeuronsSpec(tau_x, tau_e, x0, Clocks(period, phase, jitter), dyn)
    check_tau(t, "tau_x", tau_x, spec)
    check_tau(t, "tau_e", tau_e, spec, zero_ok=True)
    t.done()
    return spec


def _option(t: Table, o):
    """A dynamics option (asyncpc.neurons.OPTIONS): a value, or a table area -> value."""
    def one(table, key, default):
        if o.boolean:
            return table.boolean(key, default)
        return table.number(key, default, lo=o.lo, lo_open=o.lo_open, unit=o.unit if o.unit == "ms" else "")

    if isinstance(t.raw.get(o.name), dict):
        sub = t.table(o.name)
        out = {str(area): one(sub, area, None) for area in list(sub.raw)}
        sub.done()
        t.sub(o.name, sub)
        return out
    return one(t, o.name, o.neutral)


def _delays(t: Table, run: RunSpec, graphml) -> DelaysSpec:
    h = run.h
    if graphml:
        env = t.number("environment", h, lo=0, lo_open=True, unit="ms")
        t.done({k: _GRAPHML_WHY for k in ("forward", "feedback", "partner")})
        return DelaysSpec(h, h, h, step_check(t, "environment", env, h))
    fwd = t.dist("forward", h, min_value=h, distance=True)
    fb = t.dist("feedback", fwd, min_value=h, distance=True)
    partner = step_check(t, "partner", t.number("partner", h, lo=0, lo_open=True, unit="ms"), h)
    env = step_check(t, "environment", t.number("environment", h, lo=0, lo_open=True, unit="ms"), h)
    t.done()
    return DelaysSpec(fwd, fb, partner, env)


def _messages(t: Table, graphml, h) -> Messages:
    if graphml:
        t.done({k: _GRAPHML_WHY for k in t.raw})
        return Messages()
    send = t.string("send", "always", choices=("always", "on_delta"))
    threshold = t.number("threshold", 0.0, lo=0)
    loss = t.number("loss", 0.0, lo=0, hi=1, hi_open=True)
    jitter = t.number("jitter", 0.0, lo=0, hi=32767 * h, unit="ms")  # compiled as int16 steps
    refresh = t.number("refresh", 0.0, lo=0, unit="ms")
    t.done()
    return Messages(send, threshold, loss, jitter, refresh)


def _learning(t: Table, graphml) -> LearningSpec:
    if graphml:
        freeze = t.boolean("freeze_at_test", True)
        t.done({k: _GRAPHML_WHY for k in t.raw})
        return LearningSpec(freeze_at_test=freeze)  # the graph file carries the plasticity
    eta = t.number("eta", 0.0, lo=0)
    eta_b = t.number("eta_b", eta, lo=0)
    decay = t.number("decay", 0.0, lo=0)
    feedback = t.string("feedback", "learned", choices=("learned", "transport"))
    init = t.string("feedback_init", "random", choices=("random", "transpose"))
    freeze = t.boolean("freeze_at_test", True)
    anneal = t.number("anneal", 1.0, lo=0, lo_open=True, hi=1)
    sensory = t.boolean("sensory_feedback", True)
    t.done()
    plasticity = Learning(eta, eta_b, decay, feedback, feedback_init=init, sensory_feedback=sensory)
    return LearningSpec(plasticity, freeze_at_test=freeze, anneal=anneal)


def _readout(t: Table, network: NetworkSpec, data: DataSpec, label) -> ReadoutSpec:
    if data.protocol == "stream":
        t.take("area")
        t.done()
        return ReadoutSpec(area=label)
    v = t.take("area", None)
    names = [a.name for a in network.areas]
    if v is None:
        areas = tuple(names) if network.kind != "graphml" else None
    else:
        items = v if isinstance(v, list) else [v]
        if not items:
            t.fail("area", "must name at least one area")
        areas = tuple(t.check_str(("area", i) if isinstance(v, list) else "area", x) for i, x in enumerate(items))
        for i, a in enumerate(areas):
            if network.kind != "graphml" and a not in names:
                t.fail(("area", i) if isinstance(v, list) else "area", f"no area {a!r}; areas: {names}")
    if areas is not None:
        t.put("area", list(areas))
    t.done()
    return ReadoutSpec(areas=areas)


def _trace(t: Table, network: NetworkSpec) -> TraceSpec:
    enabled = t.boolean("enabled", False)
    raw = t.array("neurons", [])
    sizes = {a.name: a.size for a in network.areas}
    sel = []
    for i, s in enumerate(raw):
        s = t.check_str(("neurons", i), s)
        m = _SELECTOR.match(s.strip())
        if not m:
            t.fail(("neurons", i), f"must be 'area', 'area:i' or 'area:a-b', got {s!r}")
        area, a, b = m.group(1), m.group(2), m.group(3)
        if network.kind != "graphml":
            if area not in sizes:
                t.fail(("neurons", i), f"no area {area!r}; areas: {list(sizes)}")
            hi = int(b if b is not None else a if a is not None else 0)
            if a is not None and (hi >= sizes[area] or int(a) > hi):
                t.fail(("neurons", i), f"{s!r}: indices must satisfy 0 <= a <= b < {sizes[area]} "
                                       f"(area {area!r} has {sizes[area]} neurons)")
        elif a is not None and b is not None and int(a) > int(b):
            t.fail(("neurons", i), f"{s!r}: the range a-b needs a <= b")
        sel.append(s.strip())
    t.put("neurons", sel)
    roles = t.array("roles", list(TRACE_ROLES), min_len=1)
    roles = tuple(t.check_str(("roles", i), r, choices=TRACE_ROLES) for i, r in enumerate(roles))
    if len(set(roles)) != len(roles):
        t.fail("roles", f"lists a role twice: {list(roles)}")
    t.put("roles", list(roles))
    t_from = t.number("from", 0.0, lo=0, hi=MAX_RUN_STEPS * t.ctx.h, unit="ms")
    t_to = t.number("to", None, lo=0, hi=MAX_RUN_STEPS * t.ctx.h, unit="ms")
    if t_to is not None and t_to <= t_from:
        t.fail("to", f"must be later than trace.from ({t_from:g} ms), got {t_to:g}")
    every = t.integer("every", 1, lo=1)
    max_rows = t.integer("max_rows", 10_000_000, lo=1)
    state_every = t.integer("state_every", 0, lo=0)
    t.done()
    return TraceSpec(enabled, tuple(sel), roles, t_from, t_to, every, max_rows, state_every)


def _output(t: Table, run: RunSpec) -> OutputSpec:
    out_dir = t.string("dir", f"runs/{run.name}")
    plots = t.boolean("plots", True)
    ck = t.integer("checkpoint_every", 0, lo=0)
    target = t.number("target_accuracy", 0.9, lo=0, lo_open=True, hi=1)
    plot_format = t.string("plot_format", "png", choices=PLOT_FORMATS)
    t.done()
    return OutputSpec(out_dir, plots, ck, target, plot_format)
