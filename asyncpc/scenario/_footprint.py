"""How big a scenario's run is, from its specs alone: counted before any network is built
or any array allocated.

:func:`footprint` counts neurons, edges, the rows of the engine's history ring, steps,
presentations, probes, environment messages, dataset samples and what a trace keeps per
step, each with the scenario key that drives it. :mod:`asyncpc.cli._resources` turns the
counts into bytes and checks them against the machine (memory, disk) before anything is
built; :meth:`Footprint.check_limits` checks what no machine lifts (32-bit neuron and edge
ids, the longest run). Counting never builds, samples or loads anything: arithmetic on
Python integers (which cannot overflow) over areas and projections, and for data files the
header of a ``.npz`` or the line count of a ``.csv``.

Figures are upper bounds where that is cheap (every pair of a receptive field, the far
tail of a delay distribution) and expectations where a bound would mislead (the edges of
a projection with ``p < 1``: the mean plus four standard deviations).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from ..errors import ScenarioError
from ._file_counts import BUILTIN_SAMPLES, count_tokens, source_classes, source_samples
from ._reader import MAX_RUN_STEPS, MAX_STEPS, fmt_int

__all__ = ["BUILTIN_SAMPLES", "MAX_IDS", "Blame", "Footprint", "footprint"]

#: Neuron and edge ids are int32 in compiled arrays (CSR indices, traces).
MAX_IDS = 2**31 - 1
#: Slack of the engine's ring beyond delay + period (asyncpc.engine's WINDOW_CAP + 2).
RING_SLACK = 32 + 2


@dataclass(frozen=True)
class Blame:
    """The scenario key behind a figure, and its value as the file gave it."""

    key: tuple
    value: object = None

    def shown(self) -> str | None:
        """The value as a message shows it (``1e+18``, ``0.5``, a path), or None."""
        v = self.value
        if v is None:
            return None
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, int):
            return fmt_int(v)
        if isinstance(v, float):
            return f"{v:g}"
        return str(v)

    def error(self, scn, message: str, cls=ScenarioError):
        """``cls`` at this key of ``scn``: ``file:line: key = value: message``."""
        return scn.error(self.key, message, value=self.shown(), cls=cls)


@dataclass
class Footprint:
    """Counts of a scenario's run (see the module docstring). ``None``: unknown before
    the input is read (a GraphML network's ring, an unknown data source's samples)."""

    h: float
    neurons: int = 0
    edges: int = 0
    areas: int = 1
    network: Blame = Blame(("network",))
    graphml_bytes: int = 0
    ring: int | None = None
    ring_key: Blame = Blame(("delays", "forward"))
    steps: int = 0
    steps_key: Blame = Blame(("data",))
    probes: int = 0
    probes_key: Blame = Blame(("data",))
    readout: int = 0
    events: int = 0
    explicit_events: int = 0
    targets: int = 0
    samples: int | None = 0
    features: int = 0
    data_file_bytes: int = 0
    data_kind: str = "float64"
    data_key: Blame = Blame(("data", "source"))
    send_rate: float = 0.0
    trace: dict | None = None
    incident: dict | None = None
    area_neurons: dict | None = None
    notes: list = field(default_factory=list)

    def check_limits(self, scn) -> None:
        """Raise :class:`ScenarioError` at the key when the network needs more than 32-bit
        ids or the run is longer than ``MAX_RUN_STEPS`` steps."""
        for what, n in (("neurons", self.neurons), ("edges", self.edges)):
            if n > MAX_IDS:
                raise self.network.error(scn, f"the network would have ~{n:.3g} {what}; at most {MAX_IDS:,} "
                                              f"(compiled {what[:-1]} ids are 32-bit)")
        if self.steps > MAX_RUN_STEPS:
            raise self.steps_key.error(scn, f"the run would last ~{self.steps:.3g} steps ({self.steps * self.h:.3g} "
                                            f"ms at h = {self.h:g} ms); at most {MAX_RUN_STEPS:.0e} steps")


def footprint(scn) -> Footprint:
    """Count what ``scn`` (a :class:`~asyncpc.scenario.Scenario`) will need; never builds
    or loads anything (see the module docstring)."""
    fp = Footprint(h=scn.run.h)
    net = scn.network
    if net.kind == "graphml":
        _graphml(fp, net.path)
    else:
        _network(fp, scn)
    d = scn.data
    if d.protocol == "constant":
        _constant(fp, scn)
    else:
        _stream(fp, scn)
    fp.send_rate = fp.neurons * _rate(scn)
    if scn.trace.enabled:
        fp.trace = _trace(fp, scn)
    return fp


# ----------------------------------------------------------------------------- network
def _kept(p, pairs: int) -> int:
    """Edges a projection keeps of ``pairs`` candidates: all at p = 1; else the mean plus
    four standard deviations (a binomial draw exceeds it with probability ~3e-5)."""
    if p >= 1.0:
        return pairs
    mean = p * pairs
    return min(pairs, int(mean + 4.0 * math.sqrt(mean * (1.0 - p)) + 1.0))


def _size_key(net, name):
    if net.kind == "layered":
        i = net.names.index(name)
        return Blame(("network", "sizes", i), net.sizes[i])
    return Blame(("network", "areas", name, "size"), net.area(name).size)


def _network(fp: Footprint, scn) -> None:
    net = scn.network
    size = {a.name: a.size for a in net.areas}
    has_err = {a.name: False for a in net.areas}
    for p in net.projections:
        has_err[p.dst] = True
    fp.areas = len(net.areas)
    fp.neurons = sum(s * (2 if has_err[a] else 1) for a, s in size.items())
    score = {a: 3 * s * (2 if has_err[a] else 1) for a, s in size.items()}  # a neuron costs ~3 edges
    # edge ends per area and role (an edge between two areas has an end in each; a partner
    # edge both ends in its own area)
    inc = {a: {"predict": 0, "feedback": 0, "partner": 4 * size[a] if has_err[a] else 0} for a in size}
    edges = sum(v["partner"] for v in inc.values()) // 2
    dmax = max(_steps(scn.delays.partner, fp.h), 1)
    ring_key = Blame(("delays", "partner"), scn.delays.partner)
    for i, p in enumerate(net.projections):
        pairs = (p.rf * p.rf if p.rf else size[p.src]) * size[p.dst]
        k = _kept(p.p, pairs)
        # feedback edges into a sensory area exist only with learning.sensory_feedback
        kf = k if scn.learning.plasticity.sensory_feedback or net.area(p.src).role != "sensory" else 0
        edges += k + kf
        for a in (p.src, p.dst):
            score[a] += k + kf
            inc[a]["predict"] += k
            inc[a]["feedback"] += kf
        far = _far(net.area(p.src), net.area(p.dst))
        for which, spec in (("delay", p.delay), ("feedback_delay", p.feedback_delay)):
            steps = _steps(_dist_max(spec, k, far), fp.h)
            if steps > dmax:
                dmax, ring_key = steps, _delay_key(scn, i, which, spec)
    fp.edges = edges
    fp.incident = inc
    fp.area_neurons = {a: s * (2 if has_err[a] else 1) for a, s in size.items()}
    big = max(score, key=score.get)
    fp.network = _size_key(net, big)
    clock = scn.neurons.clock
    pmax = _steps(_dist_max(clock.period, fp.neurons), fp.h) + _steps(clock.jitter, fp.h)
    jit = _steps(scn.messages.jitter, fp.h)
    fp.ring = dmax + jit + pmax + RING_SLACK
    fp.ring_key = ring_key if dmax + jit >= pmax else Blame(("neurons", "clock", "period"), _shown(clock.period))


def _delay_key(scn, i, which, spec) -> Blame:
    """The key a projection's delay comes from (its own, or the [delays] default)."""
    net, dl = scn.network, scn.delays
    if net.kind == "area_graph" and spec is not dl.forward and spec is not dl.feedback:
        return Blame(("network", "projections", i, which), _shown(spec))
    return Blame(("delays", "feedback" if which == "feedback_delay" and spec is dl.feedback else "forward"),
                 _shown(spec))


def _shown(spec):
    """A distribution as a short value for a message."""
    if isinstance(spec, (int, float)):
        return spec
    return "{ " + ", ".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v:g}" for k, v in spec.items()) + " }"


def _far(a, b) -> float:
    """The longest distance (mm) between a neuron of area ``a`` and one of area ``b``: each
    lies in its area's square patch around the area's position."""
    try:
        centre = math.hypot(a.position[0] - b.position[0], a.position[1] - b.position[1])
        return centre + (a.sheet_size + b.sheet_size) * math.sqrt(0.5)
    except OverflowError:
        return math.inf


def _dist_max(spec, n: int, far: float = 0.0) -> float:
    """Largest of ``n`` draws (ms), bounded: exact for constants, uniforms and the distance
    model; for the unbounded ones, the level a draw exceeds with probability ~e^-5 / n.
    Infinite when the parameters overflow a float (delays that long are refused later)."""
    try:
        v = _dist_max_of(spec, n, far)
    except (OverflowError, ZeroDivisionError):
        return math.inf
    return math.inf if math.isnan(v) else v  # inf - inf: no finite bound


def _dist_max_of(spec, n: int, far: float) -> float:
    if isinstance(spec, (int, float)):
        return float(spec)
    off = float(spec.get("offset", 0.0))
    kind = spec["dist"]
    if kind == "distance":
        return spec["synaptic"] + far / spec["velocity"]
    if kind == "constant":
        return spec["value"] + off
    if kind == "uniform":
        return spec["high"] + off
    m, s = float(spec["mean"]), float(spec["sd"])
    t = math.log(max(n, 1)) + 5.0
    if kind == "normal":
        return m + s * math.sqrt(2 * t) + off
    if kind == "lognormal":
        sigma2 = math.log1p((s / m) ** 2)
        return math.exp(min(math.log(m) - 0.5 * sigma2 + math.sqrt(2 * t * sigma2), 700.0)) + off
    theta = s * s / m  # gamma: sub-gamma tail with variance s^2 and scale theta
    return m + s * math.sqrt(2 * t) + theta * t + off


def _dist_low(spec) -> float:
    """A low value of a distribution (ms): a clock period most neurons do not go below."""
    if isinstance(spec, (int, float)):
        return float(spec)
    off = float(spec.get("offset", 0.0))
    kind = spec["dist"]
    if kind == "constant":
        return spec["value"] + off
    if kind == "uniform":
        return spec["low"] + off
    return max(spec["mean"] - 2 * spec["sd"], 0.0) + off


def _steps(ms, h) -> int:
    """``ms`` as steps, capped at MAX_STEPS (longer delays and periods are refused when
    the network is compiled)."""
    if not math.isfinite(ms) or ms / h >= MAX_STEPS:
        return MAX_STEPS
    return max(round(ms / h), 0)


def _rate(scn) -> float:
    """Messages per step a neuron sends on each of its edges (one per tick)."""
    if scn.network.kind == "graphml":
        return 1.0
    return 1.0 / max(1, _steps(_dist_low(scn.neurons.clock.period), scn.run.h))


def _graphml(fp: Footprint, path) -> None:
    """Nodes and edges of a GraphML file, counted from its text (its elements), not parsed."""
    fp.network = Blame(("network", "path"), path)
    try:
        fp.graphml_bytes = os.path.getsize(path)
        nodes, edges, frac = count_tokens(path, (b"<node", b"<edge"))
    except OSError:
        return
    fp.neurons, fp.edges = int(nodes / frac), int(edges / frac)
    fp.areas = min(max(fp.neurons, 1), 100)  # unknown until read; only the metrics' columns depend on it


# ----------------------------------------------------------------------------- data
def _constant(fp: Footprint, scn) -> None:
    d, h = scn.data, fp.h
    fp.steps = round(d.duration / h)
    every = max(round(d.probe_every / h), 1)
    fp.probes = fp.steps // every
    fp.steps_key = Blame(("data", "duration"), d.duration)
    fp.probes_key = Blame(("data", "probe_every"), d.probe_every)
    if scn.network.kind == "graphml":  # areas unknown before the graph is read: at most every neuron
        fp.readout = fp.events = fp.neurons
    else:
        sizes = {a.name: a.size for a in scn.network.areas}
        fp.readout = sum(sizes.get(a, 0) for a in scn.readout.areas or sizes)
        fp.events = sum(sizes.get(a, 0) for a in d.clamps)
    fp.explicit_events = fp.events  # constant clamps are explicit events
    fp.samples = 0


def _stream(fp: Footprint, scn) -> None:
    d, h, net = scn.data, fp.h, scn.network
    fp.data_key = Blame(("data", "source"), d.source)
    got = source_samples(d.source, d.files)
    try:
        fp.data_file_bytes = os.path.getsize(d.source) if os.path.isfile(d.source) else 0
    except OSError:
        fp.data_file_bytes = 0
    if got is None:
        fp.samples = None
        fp.notes.append("the number of samples of data.source is known only once it is loaded")
        return
    n_train, n_test, fp.features = got
    if d.source == "idx" or os.path.isdir(str(d.source)):
        fp.data_kind = "idx"
    fp.samples = n_train + (n_test or 0)
    if n_test is None:
        n_test = 0 if d.test_fraction == 0 else math.ceil(d.test_fraction * n_train)
        n_train = max(n_train - n_test, 0)
    if d.n_train:
        n_train = min(n_train, d.n_train)
    if d.n_test:
        n_test = min(n_test, d.n_test)
    if d.max_train:
        n_train = min(n_train, d.max_train)
    if d.max_test:
        n_test = min(n_test, d.max_test)
    n_eval = min(d.train_eval, n_train)
    P, Pt = round(d.present / h), round((d.test_present or d.present) / h)
    L = round(d.label_delay / h)
    blocks = d.epochs if d.test_every_epoch else 1
    sizes = {a.name: a.size for a in net.areas}
    n_sens = sizes.get(d.sensory_area, fp.features)
    n_lab = sizes.get(scn.readout.area) or source_classes(d.source)
    if d.per_class:  # n of each class (a class short of n is an error when the data load)
        n_train = min(n_train, d.per_class * (len(d.classes) if d.classes else max(n_lab, 2)))
        n_eval = min(d.train_eval, n_train)
    n_gen, Pg = 0, 0
    if d.generate is not None:
        n_gen = len(d.generate.classes) if d.generate.classes else max(n_lab, 2)
        Pg = round(d.generate.present / h)
    rounds = d.epochs * n_train // d.monitor_every if d.monitor_every else 0  # monitor rounds
    n_mon = rounds * min(d.monitor_size or n_test, n_test)
    train, test = d.epochs * n_train, blocks * (n_test + n_eval) + n_mon
    fp.probes = train + test + n_gen
    fp.steps = train * P + test * Pt + n_gen * Pg
    fp.events = (train * (n_sens + n_lab * (2 if L else 1)) + test * (n_sens + n_lab)
                 + n_gen * (n_lab + n_sens) + 2 * (d.epochs + rounds) + 2)
    # the presentations' messages are frames (per presentation: meta and frame steps, see
    # asyncpc.cli._resources.PROBE_META_BYTES); explicit: the modulations, two per epoch
    fp.explicit_events = 2 * (d.epochs + rounds) + 2
    fp.targets = (n_train + n_gen) * n_lab  # the label-target matrices the frames read
    fp.readout = n_lab + (n_sens if d.generate is not None else 0)
    # which key makes the run long: the one furthest from its usual value
    p_default = max(_steps(20 * scn.neurons.tau_x, h), 1)
    cands = [(d.epochs / 10, Blame(("data", "epochs"), d.epochs)),
             (P / p_default * (train * P >= test * Pt), Blame(("data", "present"), d.present)),
             (Pt / p_default * (test * Pt > train * P), Blame(("data", "test_present"), d.test_present or d.present)),
             (fp.samples / 10_000, fp.data_key)]
    if n_gen:
        cands.append((Pg / p_default * (n_gen * Pg > train * P + test * Pt), Blame(("data", "generate", "present"),
                                                                                   d.generate.present)))
    fp.steps_key = max(cands, key=lambda c: c[0])[1]
    fp.probes_key = max(cands[:1] + cands[3:4], key=lambda c: c[0])[1]


# ----------------------------------------------------------------------------- trace
def _selected(scn, fp):
    """Fraction of each area's neurons the trace selects (both kinds), or None for all."""
    sel = scn.trace.neurons
    if not sel or scn.network.kind == "graphml":
        return None
    sizes = {a.name: a.size for a in scn.network.areas}
    frac: dict = {}
    for s in sel:
        area, _, rng = s.partition(":")
        if area not in sizes:
            continue
        if not rng:
            n = sizes[area]
        else:
            a, _, b = rng.partition("-")
            n = int(b or a) - int(a) + 1
        frac[area] = min(1.0, frac.get(area, 0.0) + n / sizes[area])
    return frac


def _trace(fp: Footprint, scn) -> dict:
    """What the trace keeps per step inside its window ``[lo, hi)``: message rows, send
    rows, state rows; an upper bound (every edge of a selected neuron, at its fastest clock)."""
    t, h = scn.trace, fp.h
    lo = round(t.from_ms / h)
    hi = fp.steps if t.to_ms is None else min(fp.steps, round(t.to_ms / h))
    rate = _rate(scn)
    roles = [r for r in t.roles if r != "environment"]
    frac = _selected(scn, fp)
    inc = getattr(fp, "incident", None)
    if inc is None:  # GraphML: roles and areas unknown before reading
        kept, n_sel = float(fp.edges) if roles else 0.0, fp.neurons
    else:
        total = sum(v[r] for v in inc.values() for r in roles) / 2  # each edge has two ends
        if frac is None:
            kept, n_sel = total, fp.neurons
        else:
            kept = min(total, sum(f * sum(inc[a][r] for r in roles) for a, f in frac.items()))
            n_sel = sum(f * fp.area_neurons[a] for a, f in frac.items())
        kept = float(kept)
    return dict(lo=lo, hi=hi, rows_per_step=kept * rate / t.every, sends_per_step=min(fp.neurons, kept) * rate,
                state_rows_per_step=(n_sel / t.state_every) if t.state_every else 0.0,
                max_rows=t.max_rows, key=Blame(("trace", "max_rows"), t.max_rows))
