"""Frozen specifications of areas, projections and network-wide neuron settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..neurons import OPTIONS, attrs_for, check_options, option, option_names
from ._distributions import check_dist

__all__ = ["ACTIVATIONS", "LAYOUTS", "Area", "Projection", "Clocks", "Messages", "Learning"]

#: Activation names in the order of their integer codes in compiled arrays.
ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu", "leaky_relu")
ROLES = ("sensory", "label", "hidden")
SEND_POLICIES = ("always", "on_delta")
#: How an area's neurons are placed on its patch of the cortical sheet.
LAYOUTS = ("grid", "random")


def _finite(v, at, field, *, lo=None, lo_open=False, hi=None):
    """Refuse ``v`` unless a finite number within bounds; the error is at ``at``, ``field``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise SpecError.located(at, field, f"must be a finite number, got {v!r}")
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise SpecError.located(at, field, f"must be {'>' if lo_open else '>='} {lo}, got {v!r}")
    if hi is not None and v > hi:
        raise SpecError.located(at, field, f"must be <= {hi}, got {v!r}")


@dataclass(frozen=True)
class Area:
    """A population of ``size`` value neurons (plus ``size`` error neurons if it has parents).

    Parameters
    ----------
    name : str
        Unique area name.
    size : int
        Number of value neurons (>= 1).
    activation : str
        One of :data:`ACTIVATIONS`.
    role : str
        ``"sensory"`` (clamped to data), ``"label"`` (clamped to targets while training,
        read out) or ``"hidden"``.
    tau_x, tau_e : float
        Time constants in ms of the value and error neurons; ``tau_e = 0`` makes errors
        instantaneous.
    shape : tuple of int, optional
        Grid shape (rows, cols) of the area, needed for receptive fields and image plots.
    x0 : float
        Initial activity of the value neurons.
    position : (float, float)
        Centre (mm) of the area's square patch on the cortical sheet.
    sheet_size : float
        Side (mm) of that patch.
    layout : str
        ``"grid"``: neurons on a grid of square cells (the area's ``shape``, else
        ``ceil(sqrt(size))`` columns) centred on ``position``; ``"random"``: uniform over
        the patch, seeded. Positions are stored on the nodes (``x``, ``y``) and set the
        delays of projections whose delay model is ``{"dist": "distance", ...}``.
    """

    name: str
    size: int
    activation: str = "tanh"
    role: str = "hidden"
    tau_x: float = 1.0
    tau_e: float = 0.0
    shape: tuple[int, int] | None = None
    x0: float = 0.0
    position: tuple[float, float] = (0.0, 0.0)
    sheet_size: float = 1.0
    layout: str = "grid"

    def __post_init__(self):
        w = ("area", self.name)
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"area name: must be a non-empty string, got {self.name!r}", at=w, field="name")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise SpecError.located(w, "size", f"must be an integer >= 1 (an area cannot be empty), got {self.size!r}")
        if self.activation not in ACTIVATIONS:
            raise SpecError.located(w, "activation", f"must be one of {list(ACTIVATIONS)}, got {self.activation!r}")
        if self.role not in ROLES:
            raise SpecError.located(w, "role", f"must be one of {list(ROLES)}, got {self.role!r}")
        _finite(self.tau_x, w, "tau_x", lo=0, lo_open=True)
        _finite(self.tau_e, w, "tau_e", lo=0)
        _finite(self.x0, w, "x0")
        if self.shape is not None:
            shape = tuple(self.shape)
            if len(shape) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
                raise SpecError.located(w, "shape", f"must be two positive integers, got {self.shape!r}")
            if shape[0] * shape[1] != self.size:
                raise SpecError.located(w, "shape", f"{shape[0]}x{shape[1]} != size {self.size}")
            object.__setattr__(self, "shape", shape)
        pos = self.position
        if isinstance(pos, (str, bytes)) or not hasattr(pos, "__len__") or len(pos) != 2:
            raise SpecError.located(w, "position", f"must be two numbers [x, y] (mm), got {pos!r}")
        for k, v in enumerate(pos):
            _finite(v, w, ("position", k))
        object.__setattr__(self, "position", (float(pos[0]), float(pos[1])))
        _finite(self.sheet_size, w, "sheet_size", lo=0, lo_open=True)
        if self.layout not in LAYOUTS:
            raise SpecError.located(w, "layout", f"must be one of {list(LAYOUTS)}, got {self.layout!r}")


@dataclass(frozen=True)
class Projection:
    """Area ``src`` predicts area ``dst``.

    Parameters
    ----------
    p : float
        Connection probability of each (src neuron, dst neuron) pair.
    rf : int, optional
        Receptive-field patch side: each dst neuron sees only a ``rf x rf`` patch of the
        src area (which needs a ``shape``); patch positions tile the image with
        ``rf_stride`` and repeat across dst neurons (feature maps).
    delay, feedback_delay : distribution spec, optional
        Delays (ms) of predict edges and of feedback edges; ``None`` takes the network
        default, and ``feedback_delay=None`` takes ``delay``. Either may be the distance
        model ``{"dist": "distance", "velocity": v, "synaptic": s}``: ``s + d / v`` with
        ``d`` the distance (mm) between the two neurons (docs/delays.md).
    init_scale : float, optional
        Standard deviation of initial weights; default ``1/sqrt(fan_in)``.
    eta : float, optional
        Learning rate (per ms) of the synapses owned by this projection's neurons: W of the
        dst area's error neurons and V of the src area's value neurons. Rates live on the
        owning neuron, so an area fed by several projections takes the last one's.
    """

    src: str
    dst: str
    p: float = 1.0
    rf: int | None = None
    rf_stride: int = 1
    delay: Any = None
    feedback_delay: Any = None
    init_scale: float | None = None
    eta: float | None = None

    def __post_init__(self):
        w = ("projection", self.src, self.dst)
        _finite(self.p, w, "p", lo=0, lo_open=True, hi=1)
        if self.rf is not None and (isinstance(self.rf, bool) or not isinstance(self.rf, int) or self.rf < 1):
            raise SpecError.located(w, "rf", f"must be an integer >= 1, got {self.rf!r}")
        if isinstance(self.rf_stride, bool) or not isinstance(self.rf_stride, int) or self.rf_stride < 1:
            raise SpecError.located(w, "rf_stride", f"must be an integer >= 1, got {self.rf_stride!r}")
        for key in ("delay", "feedback_delay"):
            v = getattr(self, key)
            if v is not None:
                check_dist(v, w, key, positive=True, distance=True)
        if self.init_scale is not None:
            _finite(self.init_scale, w, "init_scale", lo=0)
        if self.eta is not None:
            _finite(self.eta, w, "eta", lo=0)


@dataclass(frozen=True)
class Clocks:
    """Per-neuron clocks: ``period`` (ms, number or distribution), ``phase`` (``"zero"``
    or ``"random"``: uniform over the period) and ``jitter`` (ms, max absolute change
    of each tick interval)."""

    period: Any = 0.1
    phase: str = "zero"
    jitter: float = 0.0

    def __post_init__(self):
        w = ("section", "neurons.clock")
        check_dist(self.period, w, "period", positive=True)
        if self.phase not in ("zero", "random"):
            raise SpecError.located(w, "phase", f"must be 'zero' or 'random', got {self.phase!r}")
        _finite(self.jitter, w, "jitter", lo=0)


@dataclass(frozen=True)
class Messages:
    """Send policy and channel reliability: ``send`` (``"always"`` / ``"on_delta"``),
    ``threshold`` for on_delta, ``refresh`` (ms: an on_delta neuron sends at least this
    often; 0 = never forced), ``loss`` probability per message, arrival ``jitter`` (ms)."""

    send: str = "always"
    threshold: float = 0.0
    loss: float = 0.0
    jitter: float = 0.0
    refresh: float = 0.0

    def __post_init__(self):
        w = ("section", "messages")
        if self.send not in SEND_POLICIES:
            raise SpecError.located(w, "send", f"must be one of {list(SEND_POLICIES)}, got {self.send!r}")
        _finite(self.threshold, w, "threshold", lo=0)
        _finite(self.loss, w, "loss", lo=0, hi=1)
        if self.loss >= 1:
            raise SpecError.located(w, "loss", f"must be < 1 (every message lost), got {self.loss}")
        _finite(self.jitter, w, "jitter", lo=0)
        _finite(self.refresh, w, "refresh", lo=0)


@dataclass(frozen=True)
class Learning:
    """Plasticity: ``eta`` (W and V, per ms), ``eta_b`` (biases), ``decay`` (lambda, per
    ms), ``feedback`` (``"learned"`` V synapses, or ``"transport"``: value neurons read W,
    non-local, for comparison only), ``feedback_init`` (``"random"``: V independent
    of W, or ``"transpose"``: V starts equal to W transposed) and ``sensory_feedback``
    (``False``: no feedback synapses into sensory areas -- a sensory neuron that is
    always clamped ignores the error from above and its V never acts, so those edges
    only carry traffic; the dense PC formulations have none either)."""

    eta: float = 0.0
    eta_b: float | None = None
    decay: float = 0.0
    feedback: str = "learned"
    feedback_init: str = "random"
    sensory_feedback: bool = True

    def __post_init__(self):
        w = ("section", "learning")
        _finite(self.eta, w, "eta", lo=0)
        if self.eta_b is not None:
            _finite(self.eta_b, w, "eta_b", lo=0)
        _finite(self.decay, w, "decay", lo=0)
        if self.feedback not in ("learned", "transport"):
            raise SpecError.located(w, "feedback", f"must be 'learned' or 'transport', got {self.feedback!r}")
        if self.feedback_init not in ("random", "transpose"):
            raise SpecError.located(w, "feedback_init", f"must be 'random' or 'transpose', got {self.feedback_init!r}")
        if not isinstance(self.sensory_feedback, bool):
            raise SpecError.located(w, "sensory_feedback", f"must be true or false, got {self.sensory_feedback!r}")

    @property
    def bias_rate(self) -> float:
        return self.eta if self.eta_b is None else self.eta_b




class Dynamics:
    """The dynamics options for learning from a stream (docs/learning.md), each declared
    once in :data:`asyncpc.neurons.OPTIONS` (its meaning, unit, bounds and rules are
    there); each is off at its neutral value, which gives the plain equations of
    docs/model.md. ``Dynamics(gate=0.1, gate_tau=1.0)``; any option may be given per
    area instead, ``Dynamics(precision={"label": 2.0})`` (areas it does not name keep
    the neutral value); read as attributes (``dyn.gate``); equal when their values are."""

    __slots__ = ("_values",)

    def __init__(self, **values):
        unknown = sorted(set(values) - set(option_names()))
        if unknown:
            raise SpecError.located(("section", "neurons"), unknown[0],
                                    f"unknown option; expected one of {list(option_names())}")
        check_options(values, ("section", "neurons"), prefix="neurons.")
        full = {o.name: values.get(o.name, o.neutral) for o in OPTIONS}
        object.__setattr__(self, "_values", {k: _plain(option(k), v) for k, v in full.items()})

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "_values")[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Dynamics is immutable")

    def __eq__(self, other):
        return isinstance(other, Dynamics) and self._values == other._values

    def __hash__(self):
        return hash(tuple((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                          for k, v in sorted(self._values.items())))

    def __repr__(self):
        on = {o.name: v for o in OPTIONS if isinstance(v := self._values[o.name], dict) or o.is_on(v)}
        return "Dynamics(" + ", ".join(f"{k}={v!r}" for k, v in on.items()) + ")"

    def as_dict(self) -> dict:
        """Every option's value, by name."""
        return dict(self._values)

    def attrs(self, kind: str, role: str, area: str | None = None) -> dict:
        """Graph attributes of a neuron of ``kind`` in ``area`` (of ``role``)."""
        return attrs_for(kind, role, self._values, area)

    def check_areas(self, names) -> None:
        """Refuse a per-area value for an area the network does not have."""
        for k, v in self._values.items():
            if isinstance(v, dict):
                for a in v:
                    if a not in names:
                        raise SpecError.located(("section", "neurons"), (k, a),
                                                f"no area named {a!r} (areas: {', '.join(names)})")


def _plain(o, v):
    """An option's value as stored: bool or float, or a table area -> that (an empty
    table is the neutral value)."""
    if isinstance(v, dict):
        return {str(a): _plain(o, x) for a, x in v.items()} if v else _plain(o, o.neutral)
    return bool(v) if o.boolean else float(v)
