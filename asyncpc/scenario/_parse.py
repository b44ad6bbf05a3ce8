"""Reading a parsed scenario (a dict) into typed specs, checking every key once."""

from __future__ import annotations

import re
from types import MappingProxyType

from ..environment import NORMALIZE
from ..errors import SpecError
from ..model import Dynamics
from ..neurons import OPTIONS
from ._parse_network import check_tau, parse_network
from ._parse_source import SOURCE_KEYS, parse_source, unused_source_keys
from ._reader import MAX_RUN_STEPS, MAX_STEPS, Ctx, Table, describe
from ._spec import (ClockSpec, DataSpec, DelaysSpec, GenerateSpec, LearningSpec, MessagesSpec, NetworkSpec,
                    NeuronsSpec, OutputSpec, ReadoutSpec, RunSpec, TraceSpec)

__all__ = ["parse", "SECTIONS", "TRACE_ROLES", "safe_name"]

SECTIONS = ("run", "network", "neurons", "delays", "messages", "learning", "data", "readout", "trace",
            "output")
TRACE_ROLES = ("predict", "feedback", "partner", "environment")
PLOT_FORMATS = ("png", "svg", "pdf")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SELECTOR = re.compile(r"^([A-Za-z0-9_-]+)(?::(\d+)(?:-(\d+))?)?$")
_STREAM_KEYS = ("test_fraction", "normalize", "present", "test_present", "epochs", "shuffle", "label_on", "label_off",
                "label_delay", "test_every_epoch", "max_train", "max_test", "train_eval", "sensory_area",
                "generate", "n_train", "n_test", "per_class", "classes", "monitor_every", "monitor_size", "drift", "incremental", *SOURCE_KEYS)
_CONSTANT_KEYS = ("duration", "probe_every", "clamps")
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
    source, protocol, info, files = parse_source(d, base_dir)
    data_sensory = d.string("sensory_area", None) if protocol == "stream" else None
    network = parse_network(sec["network"], neurons=neurons, delays=delays,
                            image_shape=info[2] if info else None, data_sensory=data_sensory,
                            base_dir=base_dir)
    data, label = _data(d, ctx, run, neurons, delays, network, source, protocol, info, data_sensory,
                        sec["readout"], files)
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
        return NeuronsSpec(clock=ClockSpec(period=run.h))
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
        t.fail(exc.field, str(exc).split(": ", 1)[-1])
    spec = NeuronsSpec(tau_x, tau_e, x0, ClockSpec(period, phase, jitter), dyn)
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
        return DelaysSpec(h, h, h, _step_check(t, "environment", env, h))
    fwd = t.dist("forward", h, min_value=h, distance=True)
    fb = t.dist("feedback", fwd, min_value=h, distance=True)
    partner = _step_check(t, "partner", t.number("partner", h, lo=0, lo_open=True, unit="ms"), h)
    env = _step_check(t, "environment", t.number("environment", h, lo=0, lo_open=True, unit="ms"), h)
    t.done()
    return DelaysSpec(fwd, fb, partner, env)


def _step_check(t: Table, key, v, h):
    t._step_range(key, v, h, "ms")
    return v


def _messages(t: Table, graphml, h) -> MessagesSpec:
    if graphml:
        t.done({k: _GRAPHML_WHY for k in t.raw})
        return MessagesSpec()
    send = t.string("send", "always", choices=("always", "on_delta"))
    threshold = t.number("threshold", 0.0, lo=0)
    loss = t.number("loss", 0.0, lo=0, hi=1, hi_open=True)
    jitter = t.number("jitter", 0.0, lo=0, hi=32767 * h, unit="ms")  # compiled as int16 steps
    refresh = t.number("refresh", 0.0, lo=0, unit="ms")
    t.done()
    return MessagesSpec(send, threshold, loss, jitter, refresh)


def _learning(t: Table, graphml) -> LearningSpec:
    if graphml:
        freeze = t.boolean("freeze_at_test", True)
        t.done({k: _GRAPHML_WHY for k in t.raw})
        return LearningSpec(freeze_at_test=freeze)
    eta = t.number("eta", 0.0, lo=0)
    eta_b = t.number("eta_b", eta, lo=0)
    decay = t.number("decay", 0.0, lo=0)
    feedback = t.string("feedback", "learned", choices=("learned", "transport"))
    init = t.string("feedback_init", "random", choices=("random", "transpose"))
    freeze = t.boolean("freeze_at_test", True)
    anneal = t.number("anneal", 1.0, lo=0, lo_open=True, hi=1)
    sensory = t.boolean("sensory_feedback", True)
    t.done()
    return LearningSpec(eta, eta_b, decay, feedback, init, freeze, anneal, sensory)


def _area_key(network: NetworkSpec, name: str) -> tuple:
    """Key path of an area's size in the file."""
    if network.kind == "layered":
        return ("network", "sizes", network.names.index(name))
    return ("network", "areas", name, "size")


def _pick_area(t: Table, key, given, network: NetworkSpec, role):
    if given is not None:
        given = t.check_str(key, given)
        if network.kind != "graphml" and given not in [a.name for a in network.areas]:
            t.fail(key, f"no area {given!r}; areas: {[a.name for a in network.areas]}")
        return t.put(key, given)
    if network.kind == "graphml":
        return None  # areas are known once the graph is read
    cands = network.area_with_role(role)
    if len(cands) != 1:
        found = f"areas {cands} have" if cands else "no area has"
        t.fail(key, f"cannot tell which area is the {role} area: {found} role = {role!r}; "
                    f"set {'.'.join(t.path + (key,))} to an area name")
    t.put(key, cands[0])
    return cands[0]


def _classes(d: Table):
    """``data.classes``: two or more different class labels (integers, or strings for a table
    whose labels are strings), or None."""
    raw = d.array("classes", None, min_len=2)
    if raw is None:
        return None
    strings = isinstance(raw[0], str)
    vals = []
    for i, v in enumerate(raw):
        if strings:
            v = d.check_str(("classes", i), v, nonempty=False)
        elif isinstance(v, str):
            d.fail(("classes", i), f"must be an integer like the other classes, got {describe(v)}")
        else:
            v = d.check_int(("classes", i), v, lo=0)
        if v in vals:
            d.fail(("classes", i), f"lists class {v!r} twice")
        vals.append(v)
    d.put("classes", list(vals))
    return tuple(vals)


def _data(d: Table, ctx: Ctx, run, neurons, delays, network, source, protocol, info, data_sensory,
          readout_t: Table, files=None):
    h = run.h
    if protocol == "constant":
        duration = d.number("duration", required=True, lo=h, hi=MAX_RUN_STEPS * h, unit="ms")
        every = _step_check(d, "probe_every", d.number("probe_every", h, lo=0, lo_open=True, unit="ms"), h)
        n_probes = round(duration / h) // round(every / h)
        if n_probes > MAX_STEPS:
            d.fail("probe_every", f"{every:g} ms gives {n_probes} probes over data.duration; at most "
                                  f"{MAX_STEPS:g}: probe less often")
        ct = d.table("clamps")
        clamps = {}
        sizes = {a.name: a.size for a in network.areas}
        for nm, v in ct.raw.items():
            ct.take(nm)
            if network.kind != "graphml" and nm not in sizes:
                ct.fail(nm, f"no area {nm!r}; areas: {list(sizes)}")
            if isinstance(v, list):
                vals = [ct.check_number((nm, i), x) for i, x in enumerate(v)]
                if nm in sizes and len(vals) != sizes[nm]:
                    ct.fail(nm, f"{len(vals)} values for area {nm!r} of {sizes[nm]} neurons; "
                                "give one number, or one per neuron")
                clamps[nm] = tuple(vals)
            else:
                clamps[nm] = ct.check_number(nm, v)
            ct.put(nm, list(clamps[nm]) if isinstance(clamps[nm], tuple) else clamps[nm])
        ct.done()
        d.sub("clamps", ct)
        d.done({k: "only used by a dataset source (data.source = 'constant' clamps areas instead)"
                for k in _STREAM_KEYS})
        return DataSpec(source=source, protocol="constant", duration=duration, probe_every=every,
                        clamps=MappingProxyType(clamps)), None
    tf = d.number("test_fraction", 0.2, lo=0, hi=1, hi_open=True)
    normalize = d.string("normalize", "minmax", choices=NORMALIZE)
    present = d.number("present", 20.0 * neurons.tau_x, lo=0, lo_open=True, hi=MAX_STEPS * h, unit="ms")
    test_present = d.number("test_present", present, lo=0, lo_open=True, hi=MAX_STEPS * h, unit="ms")
    epochs = d.integer("epochs", 1, lo=1, hi=100_000)
    shuffle = d.boolean("shuffle", True)
    on = d.number("label_on", 1.0)
    off = d.number("label_off", 0.0)
    if on == off:
        d.fail("label_off", f"must differ from label_on ({on:g}), or no class can be told apart")
    label_delay = d.number("label_delay", 0.0, lo=0, hi=MAX_STEPS * h, unit="ms")
    tee = d.boolean("test_every_epoch", True)
    max_train = d.integer("max_train", 0, lo=0)
    max_test = d.integer("max_test", 0, lo=0)
    n_train = d.integer("n_train", None, lo=1)
    n_test = d.integer("n_test", None, lo=1)
    per_class = d.integer("per_class", None, lo=1)
    if per_class is not None and n_train is not None:
        d.fail("per_class", "a training set is either n samples of each class (per_class) or a stratified "
                            "subset (n_train), not both")
    classes = _classes(d)
    label_column = None
    if "label_column" not in unused_source_keys(source, protocol):
        label_column = d.string("label_column", "label")
    train_eval = d.integer("train_eval", 0, lo=0)
    monitor_every = d.integer("monitor_every", 0, lo=0)
    monitor_size = d.integer("monitor_size", None, lo=1)
    env_steps = round(delays.environment / h)
    P, L = round(present / h), round(label_delay / h)
    if P <= env_steps + L:
        d.fail("present", f"{present:g} ms is {P} step(s); it must exceed the environment delay "
                          f"({env_steps} step(s)) plus the label delay ({L} step(s)), or the read-out "
                          "misses the sample")
    if round(test_present / h) <= env_steps:
        d.fail("test_present", f"{test_present:g} ms must exceed the environment delay ({delays.environment:g} ms)")
    n_classes = len(classes) if classes else info[1] if info else None
    generate = None
    if d.has("generate"):
        g = d.table("generate")
        gp = g.number("present", present, lo=0, lo_open=True, hi=MAX_STEPS * h, unit="ms")
        if round(gp / h) <= env_steps:
            g.fail("present", f"{gp:g} ms must exceed the environment delay ({delays.environment:g} ms)")
        classes = g.array("classes", None, min_len=1)
        if classes is not None:
            hi = n_classes - 1 if n_classes else None
            classes = tuple(g.check_int(("classes", i), c, lo=0, hi=hi) for i, c in enumerate(classes))
            g.put("classes", list(classes))
        g.done()
        d.sub("generate", g)
        generate = GenerateSpec(gp, classes)
    else:
        d.take("generate")
    regime = _regime(d, epochs, n_classes)
    sensory = _pick_area(d, "sensory_area", data_sensory, network, "sensory")
    raw_label = readout_t.take("area", None)
    if raw_label is not None and not isinstance(raw_label, str):
        readout_t.fail("area", "must be the name of the label area (a string), got "
                               f"{describe(raw_label)}")
    label = _pick_area(readout_t, "area", raw_label, network, "label")
    if sensory is not None and sensory == label:
        d.fail("sensory_area", f"must differ from the read-out (label) area {label!r}")
    if info and network.kind != "graphml":
        n_feat, n_cls = info[0], n_classes
        by = {a.name: a for a in network.areas}
        if by[sensory].size != n_feat:
            ctx.fail(_area_key(network, sensory), f"sensory area {sensory!r} has {by[sensory].size} neurons "
                                                 f"but {source} has {n_feat} features; they must match")
        ok = (n_cls,) if n_cls != 2 else (2, 1)
        if n_cls is not None and by[label].size not in ok:
            ctx.fail(_area_key(network, label), f"label area {label!r} has {by[label].size} neurons but "
                                               f"{source} has {n_cls} classes; it needs "
                                               + " or ".join(map(str, ok)))
    d.done({**{k: "only used when data.source = 'constant'" for k in _CONSTANT_KEYS},
            **unused_source_keys(source, protocol)})
    return DataSpec(source=source, protocol="stream", test_fraction=tf, normalize=normalize, present=present,
                    test_present=test_present, epochs=epochs, shuffle=shuffle, label_on=on, label_off=off, label_delay=label_delay,
                    test_every_epoch=tee, max_train=max_train, max_test=max_test, train_eval=train_eval,
                    sensory_area=sensory, generate=generate, n_train=n_train, n_test=n_test, classes=classes,
                    per_class=per_class, monitor_every=monitor_every, monitor_size=monitor_size, label_column=label_column, files=MappingProxyType(dict(files)) if files else None,
                    regime=regime), label


def _class_list(t: Table, key, raw, n_classes) -> tuple:
    hi = n_classes - 1 if n_classes else None
    if not isinstance(raw, list) or not raw:
        t.fail(key, f"must be a non-empty array of class indices, got {describe(raw)}")
    return tuple(t.check_int((*key, i), c, lo=0, hi=hi) for i, c in enumerate(raw))


def _regime(d: Table, epochs: int, n_classes):
    """``[data.drift]`` or ``[data.incremental]``: a stream that changes over time."""
    from ..environment import Drift, Incremental
    from ..environment._regimes import CHANGES

    if d.has("drift") and d.has("incremental"):
        d.fail("incremental", "a stream either drifts ([data.drift]) or arrives in blocks of classes "
                              "([data.incremental]), not both")
    regime, key = None, None
    if d.has("drift"):
        key, t = "drift", d.table("drift")
        at = t.array("at", required=True, min_len=1)
        at = tuple(t.check_int(("at", i), v, lo=1, hi=epochs - 1 if epochs > 1 else 0) for i, v in enumerate(at))
        change = t.string("change", "labels", choices=CHANGES)
        over = t.integer("over", 0, lo=0)
        swap = t.array("swap", None, min_len=1)
        if swap is not None:
            swap = tuple(_class_list(t, ("swap", i), pair, n_classes) for i, pair in enumerate(swap))
        t.put("at", list(at))
        t.put("swap", None if swap is None else [list(p) for p in swap])
        regime = Drift(at=at, swap=swap, change=change, over=over)
    else:
        d.take("drift")
    if d.has("incremental"):
        key, t = "incremental", d.table("incremental")
        blocks = t.array("classes", required=True, min_len=1)
        blocks = tuple(_class_list(t, ("classes", i), b, n_classes) for i, b in enumerate(blocks))
        t.put("classes", [list(b) for b in blocks])
        per = t.integer("epochs", max(1, epochs // len(blocks)), lo=1)
        rehearse = t.number("rehearse", 0.0, lo=0, hi=1)
        regime = Incremental(classes=blocks, epochs=per, rehearse=rehearse)
    else:
        d.take("incremental")
    if regime is not None:
        try:
            regime.check(epochs, n_classes if n_classes else 1 << 30)
        except SpecError as exc:
            head, msg = str(exc).split(": ", 1)
            t.fail(head.split(".", 1)[1].split("[", 1)[0] if "." in head else None, msg)
        t.done()
        d.sub(key, t)
    return regime


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
