"""A scenario: the parsed, validated TOML file, and what it builds."""

from __future__ import annotations

from contextlib import contextmanager

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, GraphError, ScenarioError, SpecError, place
from ._parse import SECTIONS, parse
from ._reader import Ctx
from ..model import Messages
from ._spec import (DataSpec, DelaysSpec, LearningSpec, NetworkSpec, NeuronsSpec, OutputSpec, ReadoutSpec, RunSpec,
                    TraceSpec)
from ._toml import KeyLines, apply_overrides, format_path, override_paths, read_toml

__all__ = ["Scenario", "load_scenario", "parse_scenario"]

#: The scenario key that sets each field of a neuron or an edge (the field of a model or
#: compiler error at ``("node", n)`` or ``("edge", u, v)``).
_NEURON_KEYS = {"period": ("neurons", "clock", "period"), "clock_jitter": ("neurons", "clock", "jitter"),
                "tau": ("neurons", "tau_x"), "delay": ("delays", "forward"), "jitter": ("messages", "jitter")}
#: The sections whose settings the model's specs take as they are (an error at
#: ``("section", "messages")``, field ``("loss",)`` is at key ``messages.loss``).
_SECTION_KEYS = ("neurons", "messages", "learning")
#: The scenario key behind an argument of the environment's protocols (an error of
#: :func:`asyncpc.environment.stream_schedule` or ``clamp_schedule`` at ``("option", name)``)
#: and behind a stream's regime (at ``("section", "drift")`` or ``("section", "incremental")``).
_SCHEDULE_KEYS = {("option", "sensory_area"): ("data", "sensory_area"), ("option", "label_area"): ("readout", "area"),
                  ("option", "clamps"): ("data", "clamps"), ("option", "readout"): ("readout", "area"),
                  ("option", "generate"): ("data", "generate"), ("section", "drift"): ("data", "drift"),
                  ("section", "incremental"): ("data", "incremental")}


def _schedule_key(exc) -> tuple:
    """The scenario key behind an error of the environment's protocols, from where it arose
    (``exc.at``, :mod:`asyncpc.errors`); ``data`` for any other (a :class:`DataError`)."""
    return _SCHEDULE_KEYS.get(getattr(exc, "at", None), ("data",))


def _plain(v):
    """Specs -> plain TOML values (read-only mappings to dicts, tuples to lists)."""
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file as typed, frozen specs (one per section).

    Two scenarios are equal when every resolved setting is; where they came from
    (``path``) does not count. Build with :func:`load_scenario`.
    """

    run: RunSpec
    network: NetworkSpec
    neurons: NeuronsSpec
    delays: DelaysSpec
    messages: Messages
    learning: LearningSpec
    data: DataSpec
    readout: ReadoutSpec
    trace: TraceSpec
    output: OutputSpec
    path: str | None = field(default=None, compare=False)
    _resolved: dict = field(default_factory=dict, compare=False, repr=False)
    _ctx: Ctx | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        n, d = self.network, self.data
        net = n.kind + (f" {list(n.sizes)}" if n.kind == "layered" else "")
        data = d.source if d.protocol != "stream" else f"{d.source}, {d.epochs} epoch{'s' * (d.epochs != 1)}"
        where = f", from {self.path!r}" if self.path else ""
        return f"Scenario({self.run.name!r}: {net} network, data {data}, seed {self.run.seed}{where})"

    def __hash__(self):
        return int(self.hash()[:16], 16)

    # -- errors ------------------------------------------------------------------------
    def error(self, key: tuple | str, message: str, *, value: str | None = None, cls=ScenarioError):
        """A :class:`ScenarioError` (or ``cls``, e.g. :class:`ResourceError`) at a key path of
        this scenario, with its line; ``value`` shows the key's value (``key = value: ...``)."""
        path = tuple(key.split(".")) if isinstance(key, str) else tuple(key)
        try:
            (self._ctx or Ctx(self.path, None)).fail(path, message, value=value, cls=cls)
        except cls as exc:
            return exc
        raise AssertionError("unreachable")  # pragma: no cover

    def footprint(self):
        """How big this scenario's run is, counted from its settings alone (nothing is
        built or loaded): :class:`asyncpc.scenario.Footprint`.

        Examples
        --------
        >>> from asyncpc.scenario import parse_scenario
        >>> s = parse_scenario({"network": {"sizes": [2, 3, 1]}, "data": {"source": "xor", "epochs": 2}})
        >>> fp = s.footprint()
        >>> fp.neurons, fp.edges, fp.probes, fp.steps
        (10, 26, 16, 3200)
        """
        from ._footprint import footprint

        fp = self.__dict__.get("_footprint")  # counted once (a data file's header is read)
        if fp is None:
            fp = footprint(self)
            object.__setattr__(self, "_footprint", fp)
        return fp

    def steps(self, ms: float) -> int:
        """A duration in ms as an integer number of steps of ``run.h``."""
        return int(round(ms / self.run.h))

    # -- building ----------------------------------------------------------------------
    def build_network(self):
        """The neuron-level :class:`asyncpc.model.Network` (seeded with ``run.seed``).

        Raises :class:`ScenarioError` if the model rejects it (e.g. a receptive field
        larger than its area, or a delay distribution drawing values <= 0).
        """
        from ..model import from_graphml

        if self.network.kind == "graphml":
            self.footprint().check_limits(self)
            with self._model_errors():
                return from_graphml(self.network.path)
        bp = self.blueprint()
        with self._model_errors():
            return bp.network()

    def blueprint(self):
        """The network as a :class:`asyncpc.model.Blueprint` (areas and projections, every
        draw made, no graph object per synapse); ``None`` for a GraphML network."""
        from ..model import blueprint

        n = self.network
        self.footprint().check_limits(self)  # 32-bit ids, the longest run: before building anything
        if n.kind == "graphml":
            return None
        with self._model_errors():  # the specs are the model's own: parsed straight into its classes
            bp = blueprint(list(n.areas), list(n.projections), clocks=self.neurons.clock, messages=self.messages,
                           learning=self.learning.plasticity, dynamics=self.neurons.dynamics,
                           delay=_plain(self.delays.forward), partner_delay=self.delays.partner,
                           seed=self.run.seed, allow_cycles=n.allow_cycles)
        if n.kind == "layered":
            bp.direction = n.direction
        return bp

    @contextmanager
    def _model_errors(self):
        """The model's and the compiler's complaints as :class:`ScenarioError` naming the key."""
        try:
            yield
        except (SpecError, GraphError) as exc:
            key = self._model_key(exc)
            # the error's own place is dropped where the scenario key already says it (a dynamics
            # option, neurons.clock.period, ...), kept where it says more (which projection drew a delay)
            said = exc.at is not None and (exc.at == ("section", "neurons") or place(exc.at, exc.field) == format_path(key))
            raise self.error(key, exc.detail if said else str(exc)) from None

    def compile(self, net=None):
        """``compile_network(net, run.h)``: by default the scenario's blueprint (no graph
        object per synapse; a GraphML network is read as a graph), with the compiler's
        complaints (a delay or period below one step, an unstable Euler step) reported
        as :class:`ScenarioError`."""
        from ..compile import compile_network

        if net is None:
            net = self.blueprint() if self.network.kind != "graphml" else self.build_network()
        with self._model_errors():
            return compile_network(net, self.run.h)

    def _model_key(self, exc) -> tuple:
        """The scenario key behind a model or compiler error, from where it arose
        (``exc.at``) and which field (``exc.field``) (:mod:`asyncpc.errors`): an area's or a
        projection's field is its table's key in an area graph (a layered network names
        its delays and receptive fields once for every projection), a neuron's or an
        edge's field the ``[neurons]``, ``[delays]`` or ``[messages]`` key that sets it, a
        section's field that key; anything else ``network``."""
        n, at, field = self.network, exc.at, exc.field
        if n.kind == "graphml":
            return ("network", "path")
        kind = at[0] if at else None
        if kind == "projection" and field:
            if n.kind == "area_graph":
                i = next((k for k, p in enumerate(n.projections) if (p.src, p.dst) == at[1:]), None)
                if i is not None:
                    return ("network", "projections", i, *field)
            return {"delay": ("delays", "forward"), "feedback_delay": ("delays", "feedback"),
                    "rf": ("network", "rf", at[1])}.get(field[0], ("network",))
        if kind == "area" and field and n.kind == "area_graph":
            return ("network", "areas", at[1], *field)
        if kind in ("node", "edge") and field:
            return _NEURON_KEYS.get(field[0], ("network",))
        if kind == "section" and at[1].split(".")[0] in _SECTION_KEYS:
            return (*at[1].split("."), *field)
        return ("network",)

    # -- data and protocol -------------------------------------------------------------
    def load_data(self):
        """The :class:`asyncpc.environment.Dataset` of ``[data]`` (``None`` for the
        constant protocol), checked against the network's sensory and label areas."""
        from ..environment import load_dataset

        d = self.data
        if d.protocol == "constant":
            return None
        try:
            ds = load_dataset(d.source, test_fraction=d.test_fraction, normalize=d.normalize, seed=self.run.seed,
                              max_train=d.max_train or None, max_test=d.max_test or None, n_train=d.n_train,
                              n_test=d.n_test, per_class=d.per_class, classes=d.classes, label_column=d.label_column or "label",
                              files=dict(d.files) if d.files else None)
        except DataError as exc:
            raise self._data_error(exc) from None
        n = self.network
        if n.kind != "graphml":
            sizes = {a.name: a.size for a in n.areas}
            key = (lambda a: ("network", "sizes", n.names.index(a)) if n.kind == "layered"
                   else ("network", "areas", a, "size"))
            s, lab = d.sensory_area, self.readout.area
            if sizes[s] != ds.n_features:
                raise self.error(key(s), f"sensory area {s!r} has {sizes[s]} neurons but {ds.name} has "
                                         f"{ds.n_features} features; they must match")
            ok = (ds.n_classes, 1) if ds.n_classes == 2 else (ds.n_classes,)
            if sizes[lab] not in ok:
                raise self.error(key(lab), f"label area {lab!r} has {sizes[lab]} neurons but {ds.name} has "
                                           f"{ds.n_classes} classes; it needs " + " or ".join(map(str, ok)))
        g = d.generate
        if g is not None and g.classes and max(g.classes) >= ds.n_classes:
            raise self.error(("data", "generate", "classes"),
                             f"class {max(g.classes)} does not exist; {ds.name} has classes 0..{ds.n_classes - 1}")
        return ds

    def _data_error(self, exc: DataError) -> ScenarioError:
        """A data source's error at the ``[data]`` key it is about (``data.source`` unless the
        error names another), without repeating the key's name."""
        key = exc.key if exc.key is not None else "source"
        key = key if isinstance(key, tuple) else (key,)
        msg = str(exc)
        head = key[0] if len(key) == 1 else None
        if head and msg.startswith(f"{head}: "):
            msg = msg[len(head) + 2:]
        elif len(key) > 1 and msg.startswith(f"{key[0]}: "):
            msg = msg[len(key[0]) + 2:]
        return self.error(("data", *key), msg)

    def schedule(self, c, dataset=None):
        """The environment's :class:`asyncpc.environment.Schedule` for compiled network ``c``
        (``dataset`` defaults to :meth:`load_data`)."""
        from ..environment import clamp_schedule, stream_schedule

        d = self.data
        env = self.steps(self.delays.environment)
        try:
            if d.protocol == "constant":
                return clamp_schedule(c, {k: _plain(v) for k, v in d.clamps.items()}, self.steps(d.duration),
                                      self.steps(d.probe_every), readout=self.readout.areas, env_delay=env)
            if dataset is None:
                dataset = self.load_data()
            sensory = d.sensory_area or self._area_by_role(c, "sensory", ("data", "sensory_area"))
            label = self.readout.area or self._area_by_role(c, "label", ("readout", "area"))
            gen = None
            if d.generate is not None:
                gen = {"present_steps": self.steps(d.generate.present)}
                if d.generate.classes is not None:
                    gen["classes"] = list(d.generate.classes)
            return stream_schedule(c, dataset, sensory_area=sensory, label_area=label,
                                   present_steps=self.steps(d.present), epochs=d.epochs, shuffle=d.shuffle,
                                   test_present_steps=self.steps(d.test_present or d.present),
                                   seed=self.run.seed, label_on=d.label_on, label_off=d.label_off,
                                   freeze_at_test=self.learning.freeze_at_test,
                                   anneal=self.learning.anneal,
                                   test_every_epoch=d.test_every_epoch, env_delay=env,
                                   label_delay_steps=self.steps(d.label_delay),
                                   train_subset_eval=d.train_eval or None, generate=gen, regime=d.regime,
                                   monitor_every=d.monitor_every, monitor_size=d.monitor_size)
        except (SpecError, DataError) as exc:
            raise self.error(_schedule_key(exc), str(exc)) from None

    def _area_by_role(self, c, role, key):
        from ..compile import ROLE_CODES

        code = ROLE_CODES[role]
        names = [a for k, a in enumerate(c.area_names) if np.any((c.area == k) & (c.role == code))]
        if len(names) != 1:
            found = f"areas {names} have" if names else "no area has"
            raise self.error(key, f"cannot tell which area is the {role} area: {found} role {role!r} in "
                                  f"the graph; set {'.'.join(key)}")
        return names[0]

    # -- the resolved file -------------------------------------------------------------
    def resolved(self) -> dict:
        """Every setting with its default filled in, as plain TOML values (file paths
        absolute). :meth:`to_toml` writes it; loading that file gives an equal scenario."""
        return {k: _plain(self._resolved[k]) for k in SECTIONS if k in self._resolved}

    def to_toml(self, path=None) -> str:
        """The resolved scenario as TOML text; also written to ``path`` if given."""
        import tomli_w

        text = tomli_w.dumps(self.resolved())
        if path is not None:
            with open(os.fspath(path), "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def hash(self) -> str:
        """Stable sha256 (hex) of the resolved TOML (keys sorted): equal scenarios hash equally."""
        import tomli_w

        def canonical(v):  # key order never changes the hash
            if isinstance(v, dict):
                return {k: canonical(v[k]) for k in sorted(v)}
            return [canonical(x) for x in v] if isinstance(v, list) else v

        return hashlib.sha256(tomli_w.dumps(canonical(self.resolved())).encode("utf-8")).hexdigest()


def _make(raw: dict, *, file, text, base_dir, name, overrides) -> Scenario:
    overrides = (overrides,) if isinstance(overrides, str) else tuple(overrides)
    paths = override_paths(overrides)
    raw = apply_overrides(raw, overrides) if overrides else raw
    ctx = Ctx(file, KeyLines(text) if text is not None else None, paths)
    specs, resolved = parse(raw, ctx, base_dir=base_dir, default_name=name)
    return Scenario(**specs, path=file, _resolved=resolved, _ctx=ctx)


def load_scenario(path, overrides=()) -> Scenario:
    """Read, check and resolve a scenario file.

    Parameters
    ----------
    path : str or path
        The TOML file. Data and GraphML paths in it are relative to its directory.
    overrides : sequence of str
        ``"key.path=value"`` settings applied before checking (the CLI's ``--set``);
        values are read as TOML values, or as bare strings.

    Raises
    ------
    ScenarioError
        Naming the file, the key path, its line and what was expected, e.g.
        ``scenarios/x.toml:12: delays.forward.mean: must be > 0 ms, got -1``.

    Examples
    --------
    >>> import os, tempfile
    >>> from asyncpc.scenario import load_scenario
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "xor.toml")
    >>> _ = open(f, "w").write('[network]\\nsizes = [2, 3, 1]\\n[data]\\nsource = "xor"\\n')
    >>> s = load_scenario(f, ["data.epochs=5"])
    >>> s.run.name, s.data.epochs, s.readout.area, s.delays.forward
    ('xor', 5, 'label', 0.1)
    """
    file = os.fspath(path)
    raw, text = read_toml(file)
    base = os.path.dirname(os.path.abspath(file))
    stem = os.path.splitext(os.path.basename(file))[0]
    return _make(raw, file=file, text=text, base_dir=base, name=stem, overrides=overrides)


def parse_scenario(raw: dict, *, base_dir=".", name: str = "scenario", overrides=()) -> Scenario:
    """Like :func:`load_scenario` for an already parsed TOML document (no file, no lines)."""
    return _make(raw, file=None, text=None, base_dir=os.path.abspath(os.fspath(base_dir)), name=name,
                 overrides=overrides)
