"""The dynamics options (docs/learning.md), declared once.

An option is off at its ``neutral`` value, which is its default: the plain equations of
docs/model.md hold exactly. Its ``name`` is the one name it has everywhere: the key in a
scenario's ``[neurons]`` table, the graph attribute of the neurons that read it (GraphML
too), the field of :class:`asyncpc.compile.CompiledNet` and the column of the kernels'
parameter rows (:func:`asyncpc.kernels.column`). Adding an option: declare it here
(append: the kernels' columns keep their places), read it in the kernel and its Python
twin, document it; tests/test_options_declared.py covers it from the declaration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from ..errors import SpecError

__all__ = ["Option", "OPTIONS", "option", "option_names", "check_options", "attrs_for", "turned_on", "resolve"]

KINDS = ("value", "error")


@dataclass(frozen=True)
class Option:
    """One dynamics option of one or both neuron kinds."""

    name: str
    kinds: tuple[str, ...]
    unit: str
    neutral: float | bool
    example: float | bool         # a value that turns it on (tests, docs)
    doc: str
    lo: float = 0.0               # numbers: >= lo (> lo when lo_open)
    lo_open: bool = False
    boolean: bool = False         # true/false (not a kernel column: it is compiled into others)
    requires: str | None = None   # another option that must be on when this one is
    excludes: tuple[str, ...] = ()  # options that must be off when this one is
    roles: tuple[str, ...] | None = None  # area roles whose neurons get it (None: every role)
    aliases: tuple[str, ...] = ()  # older graph attribute names, read from GraphML files

    def is_on(self, value) -> bool:
        """Whether ``value`` turns the option on (differs from its neutral value)."""
        return bool(value) if self.boolean else float(value) != float(self.neutral)

    def bounds(self) -> str:
        """The accepted values, as the error messages state them."""
        return "true or false" if self.boolean else f"{'>' if self.lo_open else '>='} {self.lo:g}"


OPTIONS: tuple[Option, ...] = (
    Option("speedup", ("value",), "-", 0.0, 0.05,
           "surprise-dependent settling: rate min(1, dt/tau_x (1 + |e|/speedup)); 0 = off"),
    Option("self_lag", ("value",), "ms", 0.0, 0.3,
           "self term rebuilt as e + x - xbar (x low-passed over self_lag); 0 = off"),
    Option("feedback_gain", ("value",), "-", 1.0, 0.6,
           "gain on the feedback drive (a precision ratio); 1 = plain", lo_open=True, aliases=("fb_gain",)),
    Option("gate", KINDS, "-", 0.0, 0.2,
           "plasticity x 1/(1 + (change/gate)^2) while the owner's state changes fast; 0 = off"),
    Option("gate_tau", KINDS, "ms", 0.0, 1.0,
           "matched trace gate: the change is a speed (per ms) low-passed over gate_tau, an error neuron's "
           "own, sent to its parents as the learning signal; 0 = off", requires="gate", excludes=("prospective",)),
    Option("prospective", ("error",), "bool", False, True,
           "hidden error neurons learn from the partner's top-down drive, eps + tau_x dx/dt",
           boolean=True, roles=("hidden",)),
    Option("prospective_window", ("error",), "ms", 0.0, 0.5,
           "prospective: window of the dx/dt estimate (0 = since the previous tick)", requires="prospective",
           aliases=("p_window",)),
    Option("precision", ("error",), "-", 1.0, 2.0,
           "precision (inverse variance) of the error: eps settles to precision x (x - mu), so the area's "
           "errors weigh more in inference and learning; 1 = plain", lo_open=True),
    Option("plasticity_lag", ("value",), "ms", 0.0, 0.5,
           "V learns from f of its x low-passed over plasticity_lag ms (the error arriving now was computed "
           "from an older x); 0 = its present f(x)", excludes=("self_lag",)),
    Option("lead", ("value",), "ms", 0.0, 0.5,
           "prospective messages: the rate it sends is f(x + lead dx/dt), dx/dt the slope of its last tick "
           "(a clamped neuron sends f(x)); 0 = f(x)"),
    Option("clamp_echo", ("value",), "-", 0.0, 0.05,
           "a clamped value neuron with an error partner whose clamp value changes keeps its previous value "
           "until the error its partner sends has moved by more than clamp_echo since the change (the echo "
           "of the new input reaching its prediction), then takes the new value; 0 = at once",
           excludes=("self_lag", "plasticity_lag")),
    Option("clamp_echo_max", ("value",), "ms", 0.0, 1.0,
           "clamp_echo: the longest a new clamp value waits for its echo, in ms of the neuron's own ticks "
           "(then it is taken: a prediction that barely moves cannot keep the old value for ever); 0 = no bound",
           requires="clamp_echo"),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    """The declaration of option ``name``."""
    return _BY_NAME[name]


def option_names(kind: str | None = None, *, kernel: bool = False) -> tuple[str, ...]:
    """Names of the options (of neuron ``kind``; only the kernel columns with ``kernel``)."""
    return tuple(o.name for o in OPTIONS
                 if (kind is None or kind in o.kinds) and not (kernel and o.boolean))


def turned_on(name: str) -> dict:
    """Option ``name`` at its example value, with every option it requires on too."""
    o = _BY_NAME[name]
    out = turned_on(o.requires) if o.requires else {}
    out[o.name] = o.example
    return out


def _areas(values: Mapping) -> list:
    """The areas named by per-area values in ``values``, and None: every other area."""
    names = {a for v in values.values() if isinstance(v, Mapping) for a in v}
    return sorted(names) + [None]


def resolve(values: Mapping, name: str, area=None):
    """Option ``name``'s value in ``area`` (a per-area table's entry, its neutral value in
    an area the table does not name; a plain value everywhere)."""
    v = values.get(name, _BY_NAME[name].neutral)
    if isinstance(v, Mapping):
        return v.get(area, _BY_NAME[name].neutral)
    return v


def check_options(values: Mapping, where, *, error=SpecError, prefix: str = "") -> None:
    """Check the options in ``values`` (name -> value, or a table area -> value; missing
    ones are neutral): each within its bounds, and each combination rule in every area,
    in one place. ``where``: where the values are, as an error's ``at`` (a section name,
    ``"neurons"``, or ``("node", n)``; :func:`asyncpc.errors.place` writes it at the head
    of the message); ``prefix`` goes before a name the message mentions (``neurons.``).
    The error raised carries ``at`` and ``field``: the option's name (and area,
    ``("precision", "label")``, for an entry)."""
    def fail(field, msg):
        raise error.located(where, field, msg)

    def check_value(o, v, field):
        if o.boolean:
            if not isinstance(v, bool) and type(v).__name__ != "bool_":
                fail(field, f"must be true or false, got {v!r}")
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            fail(field, f"must be a number, got {v!r}")
        f = float(v)
        if not math.isfinite(f) or f < o.lo or (o.lo_open and f == o.lo):
            fail(field, f"must be {o.bounds()}, got {v!r}")

    for o in OPTIONS:
        if o.name in values:
            v = values[o.name]
            if isinstance(v, Mapping):
                for area, x in v.items():
                    check_value(o, x, (o.name, str(area)))
            else:
                check_value(o, v, (o.name,))
    for area in _areas(values):
        on = {o.name: o.is_on(resolve(values, o.name, area)) for o in OPTIONS}
        where_area = "" if area is None or not any(isinstance(v, Mapping) for v in values.values()) \
            else f" (in area {area!r})"
        for o in OPTIONS:
            if not on[o.name]:
                continue
            if o.requires and not on[o.requires]:
                r = _BY_NAME[o.requires]
                fail((o.name,), f"needs {prefix}{r.name} {'= true' if r.boolean else '> 0'}{where_area}")
            for x in o.excludes:
                if on[x]:
                    fail((o.name,), f"cannot be combined with {prefix}{x}{where_area}")


def attrs_for(kind: str, role: str, values: Mapping, area=None) -> dict:
    """Graph attributes of a neuron of ``kind`` in ``area`` (of ``role``): every option its
    kind reads, at its value in ``values`` for that area (neutral where missing, where the
    option is not for this role, or where an option it requires is off)."""
    out = {}
    for o in OPTIONS:
        if kind in o.kinds:
            v = resolve(values, o.name, area)
            if o.roles is not None and role not in o.roles:
                v = o.neutral
            if o.requires and o.requires in out and not _BY_NAME[o.requires].is_on(out[o.requires]):
                v = o.neutral  # what it needs is off here: so is it
            out[o.name] = bool(v) if o.boolean else float(v)
    return out
