"""Reading ``[data]``: constant clamps, or a stream of samples with its sensory and label areas.

Keys are read in a fixed order: it is the order of the resolved file and of the keys an
"unknown key" message lists.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

from ..environment import NORMALIZE
from ..errors import SpecError
from ._parse_source import SOURCE_KEYS, unused_source_keys
from ._reader import MAX_RUN_STEPS, MAX_STEPS, Table, describe
from ._spec import DataSpec, GenerateSpec, NetworkSpec

__all__ = ["Source", "parse_data", "step_check"]

_STREAM_KEYS = ("test_fraction", "normalize", "present", "test_present", "epochs", "shuffle", "label_on", "label_off",
                "label_delay", "test_every_epoch", "max_train", "max_test", "train_eval", "sensory_area",
                "generate", "n_train", "n_test", "per_class", "classes", "monitor_every", "monitor_size", "drift", "incremental", *SOURCE_KEYS)
_CONSTANT_KEYS = ("duration", "probe_every", "clamps")


class Source(NamedTuple):
    """What :func:`~asyncpc.scenario._parse_source.parse_source` found: the source, its
    protocol (``"constant"`` or ``"stream"``), ``info`` (features, classes, image shape;
    None when unknown before loading) and the IDX files of ``source = "idx"``."""

    source: str
    protocol: str
    info: tuple | None
    files: dict | None


def step_check(t: Table, key, v, h):
    """``v`` (ms), checked to last between one step and MAX_STEPS steps; returned."""
    t._step_range(key, v, h, "ms")
    return v


def parse_data(d: Table, src: Source, *, run, neurons, delays, network: NetworkSpec, data_sensory,
               readout_t: Table) -> tuple[DataSpec, str | None]:
    """Read ``[data]`` into a :class:`DataSpec`; a stream also takes its label area from
    ``readout_t`` (``[readout]``). Returns ``(spec, label area or None)``."""
    if src.protocol == "constant":
        return _constant(d, src.source, run.h, network), None
    h = run.h
    kw = _presentation(d, h, neurons.tau_x) | _subsets(d, src.source)
    _check_present(d, kw, delays.environment, h)
    n_classes = len(kw["classes"]) if kw["classes"] else src.info[1] if src.info else None
    generate = _generate(d, kw["present"], delays.environment, n_classes, h)
    regime = _regime(d, kw["epochs"], n_classes)
    sensory, label = _io_areas(d, readout_t, network, data_sensory)
    if src.info and network.kind != "graphml":
        _match_source(d, network, src, n_classes, sensory, label)
    d.done({**{k: "only used when data.source = 'constant'" for k in _CONSTANT_KEYS},
            **unused_source_keys(src.source, src.protocol)})
    return DataSpec(source=src.source, protocol="stream", **kw, sensory_area=sensory, generate=generate,
                    files=MappingProxyType(dict(src.files)) if src.files else None, regime=regime), label


# ----------------------------------------------------------------------------- constant
def _constant(d: Table, source, h, network: NetworkSpec) -> DataSpec:
    """``data.source = "constant"``: areas clamped for ``duration``, probed every ``probe_every``."""
    duration = d.number("duration", required=True, lo=h, hi=MAX_RUN_STEPS * h, unit="ms")
    every = step_check(d, "probe_every", d.number("probe_every", h, lo=0, lo_open=True, unit="ms"), h)
    n_probes = round(duration / h) // round(every / h)
    if n_probes > MAX_STEPS:
        d.fail("probe_every", f"{every:g} ms gives {n_probes} probes over data.duration; at most "
                              f"{MAX_STEPS:g}: probe less often")
    clamps = _clamps(d, network)
    d.done({k: "only used by a dataset source (data.source = 'constant' clamps areas instead)"
            for k in _STREAM_KEYS})
    return DataSpec(source=source, protocol="constant", duration=duration, probe_every=every,
                    clamps=MappingProxyType(clamps))


def _clamps(d: Table, network: NetworkSpec) -> dict:
    """``[data.clamps]``: area -> one value, or one value per neuron (a tuple)."""
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
    return clamps


# ----------------------------------------------------------------------------- stream
def _presentation(d: Table, h, tau_x) -> dict:
    """How samples are shown: split, scaling, presentation times, epochs, label values."""
    tf = d.number("test_fraction", 0.2, lo=0, hi=1, hi_open=True)
    normalize = d.string("normalize", "minmax", choices=NORMALIZE)
    present = d.number("present", 20.0 * tau_x, lo=0, lo_open=True, hi=MAX_STEPS * h, unit="ms")
    test_present = d.number("test_present", present, lo=0, lo_open=True, hi=MAX_STEPS * h, unit="ms")
    epochs = d.integer("epochs", 1, lo=1, hi=100_000)
    shuffle = d.boolean("shuffle", True)
    on = d.number("label_on", 1.0)
    off = d.number("label_off", 0.0)
    if on == off:
        d.fail("label_off", f"must differ from label_on ({on:g}), or no class can be told apart")
    label_delay = d.number("label_delay", 0.0, lo=0, hi=MAX_STEPS * h, unit="ms")
    tee = d.boolean("test_every_epoch", True)
    return {"test_fraction": tf, "normalize": normalize, "present": present, "test_present": test_present,
            "epochs": epochs, "shuffle": shuffle, "label_on": on, "label_off": off, "label_delay": label_delay,
            "test_every_epoch": tee}


def _subsets(d: Table, source) -> dict:
    """Which samples are used: caps, subsets, classes, the label column, evaluation and
    monitor rounds."""
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
    if "label_column" not in unused_source_keys(source, "stream"):
        label_column = d.string("label_column", "label")
    train_eval = d.integer("train_eval", 0, lo=0)
    monitor_every = d.integer("monitor_every", 0, lo=0)
    monitor_size = d.integer("monitor_size", None, lo=1)
    return {"max_train": max_train, "max_test": max_test, "n_train": n_train, "n_test": n_test,
            "per_class": per_class, "classes": classes, "label_column": label_column, "train_eval": train_eval,
            "monitor_every": monitor_every, "monitor_size": monitor_size}


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


def _check_present(d: Table, kw: dict, env_delay, h) -> None:
    """A presentation must outlast the environment delay (and, in training, the label delay)."""
    present, test_present = kw["present"], kw["test_present"]
    env_steps = round(env_delay / h)
    P, L = round(present / h), round(kw["label_delay"] / h)
    if P <= env_steps + L:
        d.fail("present", f"{present:g} ms is {P} step(s); it must exceed the environment delay "
                          f"({env_steps} step(s)) plus the label delay ({L} step(s)), or the read-out "
                          "misses the sample")
    if round(test_present / h) <= env_steps:
        d.fail("test_present", f"{test_present:g} ms must exceed the environment delay ({env_delay:g} ms)")


def _generate(d: Table, present, env_delay, n_classes, h) -> GenerateSpec | None:
    """``[data.generate]``: a generation phase (its presentation time, its classes), or None."""
    if not d.has("generate"):
        d.take("generate")
        return None
    g = d.table("generate")
    gp = g.number("present", present, lo=0, lo_open=True, hi=MAX_STEPS * h, unit="ms")
    if round(gp / h) <= round(env_delay / h):
        g.fail("present", f"{gp:g} ms must exceed the environment delay ({env_delay:g} ms)")
    classes = g.array("classes", None, min_len=1)
    if classes is not None:
        hi = n_classes - 1 if n_classes else None
        classes = tuple(g.check_int(("classes", i), c, lo=0, hi=hi) for i, c in enumerate(classes))
        g.put("classes", list(classes))
    g.done()
    d.sub("generate", g)
    return GenerateSpec(gp, classes)


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
            t.fail(*_regime_fault(exc))
        t.done()
        d.sub(key, t)
    return regime


def _regime_fault(exc: SpecError) -> tuple:
    """``(key, message)`` of a regime's error within its table: the key from the field the
    error names (``classes`` for a field ``("classes", 1)``; :mod:`asyncpc.errors`), the
    message without its head."""
    if exc.at in (("section", "drift"), ("section", "incremental")):
        return (exc.field[0] if exc.field else None), exc.detail
    head, msg = str(exc).split(": ", 1)  # an error without structure: its head names the key
    return (head.split(".", 1)[1].split("[", 1)[0] if "." in head else None), msg


# ----------------------------------------------------------------------------- areas
def _io_areas(d: Table, readout_t: Table, network: NetworkSpec, data_sensory) -> tuple:
    """``(sensory, label)``: the area the samples drive (``data.sensory_area``) and the one
    read out (``readout.area``); each defaults to the one area of that role."""
    sensory = _pick_area(d, "sensory_area", data_sensory, network, "sensory")
    raw_label = readout_t.take("area", None)
    if raw_label is not None and not isinstance(raw_label, str):
        readout_t.fail("area", "must be the name of the label area (a string), got "
                               f"{describe(raw_label)}")
    label = _pick_area(readout_t, "area", raw_label, network, "label")
    if sensory is not None and sensory == label:
        d.fail("sensory_area", f"must differ from the read-out (label) area {label!r}")
    return sensory, label


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


def _area_key(network: NetworkSpec, name: str) -> tuple:
    """Key path of an area's size in the file."""
    if network.kind == "layered":
        return ("network", "sizes", network.names.index(name))
    return ("network", "areas", name, "size")


def _match_source(d: Table, network: NetworkSpec, src: Source, n_classes, sensory, label) -> None:
    """The sensory area has one neuron per feature of the source, the label area one per
    class (or one for two classes); blamed on the area's size."""
    n_feat, n_cls = src.info[0], n_classes
    by = {a.name: a for a in network.areas}
    if by[sensory].size != n_feat:
        d.ctx.fail(_area_key(network, sensory), f"sensory area {sensory!r} has {by[sensory].size} neurons "
                                                f"but {src.source} has {n_feat} features; they must match")
    ok = (n_cls,) if n_cls != 2 else (2, 1)
    if n_cls is not None and by[label].size not in ok:
        d.ctx.fail(_area_key(network, label), f"label area {label!r} has {by[label].size} neurons but "
                                              f"{src.source} has {n_cls} classes; it needs "
                                              + " or ".join(map(str, ok)))
