"""Typed, frozen specs of a scenario's sections (see docs/scenarios.md for every key).

Where a section is a model spec, it is parsed straight into the model's class
(:class:`asyncpc.model.Area`, ``Projection``, ``Clocks``, ``Messages``; ``Learning`` is
held by :class:`LearningSpec` beside the environment's settings); the names ``AreaSpec``,
``ProjectionSpec``, ``ClockSpec`` and ``MessagesSpec`` are those classes.

Times are in ms. A *distribution* is a float or a read-only mapping
``{"dist": ..., ...}`` as in :mod:`asyncpc.model._distributions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..model import Area, Clocks, Dynamics, Learning, Messages, Projection

__all__ = ["RunSpec", "AreaSpec", "ProjectionSpec", "NetworkSpec", "ClockSpec", "NeuronsSpec",
           "DelaysSpec", "MessagesSpec", "LearningSpec", "GenerateSpec", "DataSpec", "ReadoutSpec",
           "TraceSpec", "OutputSpec"]

def _empty():
    return MappingProxyType({})


@dataclass(frozen=True)
class RunSpec:
    """``[run]``: identity, seed, runtime and time resolution."""

    name: str
    seed: int = 0
    runtime: str = "engine"
    threads: int = 0
    h: float = 0.1


#: One area (``[network.areas.NAME]``, or derived from a layered spec): the model's own spec.
AreaSpec = Area
#: ``src`` predicts ``dst`` (``[[network.projections]]``, or derived): the model's own spec,
#: its delays resolved by the reader (never ``None`` in a parsed scenario).
ProjectionSpec = Projection
#: ``[neurons.clock]``: the model's own spec.
ClockSpec = Clocks
#: ``[messages]``: the model's own spec.
MessagesSpec = Messages


@dataclass(frozen=True)
class NetworkSpec:
    """``[network]``. ``areas`` and ``projections`` are filled for every kind except
    ``graphml`` (a layered spec is expanded into them)."""

    kind: str = "layered"
    sizes: tuple[int, ...] | None = None
    names: tuple[str, ...] | None = None
    direction: str = "discriminative"
    activation: str = "tanh"
    output_activation: str | None = None
    p: float = 1.0
    rf: Any = field(default_factory=_empty)
    rf_stride: Any = field(default_factory=_empty)
    shapes: Any = field(default_factory=_empty)
    init_scale: float | None = None
    positions: Any = field(default_factory=_empty)
    sheet_size: float = 1.0
    layout: str = "grid"
    allow_cycles: bool = False
    path: str | None = None
    areas: tuple[Area, ...] = ()
    projections: tuple[Projection, ...] = ()

    def area(self, name: str) -> Area | None:
        return next((a for a in self.areas if a.name == name), None)

    def area_with_role(self, role: str) -> list[str]:
        return [a.name for a in self.areas if a.role == role]


@dataclass(frozen=True)
class NeuronsSpec:
    """``[neurons]``: defaults of every area."""

    tau_x: float = 1.0
    tau_e: float = 0.0
    x0: float = 0.0
    clock: Clocks = field(default_factory=Clocks)
    dynamics: Dynamics = field(default_factory=Dynamics)


@dataclass(frozen=True)
class DelaysSpec:
    """``[delays]``, ms."""

    forward: Any = 0.1
    feedback: Any = 0.1
    partner: float = 0.1
    environment: float = 0.1


@dataclass(frozen=True)
class LearningSpec:
    """``[learning]``: the model's plasticity (``eta_b`` resolved: it defaults to ``eta``;
    for a GraphML network the graph carries it and ``plasticity`` is the model's default)
    and what the environment does with it: ``freeze_at_test`` (no plasticity while
    testing) and ``anneal`` (the plasticity gain of training epoch ``e`` is ``anneal ** e``)."""

    plasticity: Learning = field(default_factory=Learning)
    freeze_at_test: bool = True
    anneal: float = 1.0


@dataclass(frozen=True)
class GenerateSpec:
    """``[data.generate]``."""

    present: float
    classes: tuple[int, ...] | None = None


@dataclass(frozen=True)
class DataSpec:
    """``[data]``. ``protocol`` is ``"stream"`` for datasets, ``"constant"`` for clamps.
    ``source`` is a built-in name, an absolute file or folder path, or ``"idx"`` (then
    ``files`` maps ``train_images`` ... ``test_labels`` to absolute paths). ``n_train``,
    ``n_test``, ``per_class`` and ``classes`` are None when not set (every sample, every
    class).
    ``regime``: ``[data.drift]`` or ``[data.incremental]`` (None: a stationary stream)."""

    source: str
    protocol: str = "stream"
    test_fraction: float = 0.2
    normalize: str = "minmax"
    present: float = 20.0
    test_present: float | None = None
    epochs: int = 1
    shuffle: bool = True
    label_on: float = 1.0
    label_off: float = 0.0
    label_delay: float = 0.0
    test_every_epoch: bool = True
    max_train: int = 0
    max_test: int = 0
    train_eval: int = 0
    monitor_every: int = 0  # a monitor round (frozen, labels free) after every n-th training presentation
    monitor_size: int | None = None  # its test samples (None: the whole test split)
    sensory_area: str | None = None
    generate: GenerateSpec | None = None
    n_train: int | None = None
    n_test: int | None = None
    per_class: int | None = None  # a few-shot training set: n samples of each class
    classes: tuple | None = None
    label_column: str | None = None
    files: Any = None
    duration: float | None = None
    probe_every: float | None = None
    clamps: Any = field(default_factory=_empty)
    regime: Any = None  # asyncpc.environment.Drift or Incremental: a stream that changes over time


@dataclass(frozen=True)
class ReadoutSpec:
    """``[readout]``: the label area read out (stream), or the areas read out (constant)."""

    area: str | None = None
    areas: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TraceSpec:
    """``[trace]`` (parsed and validated here; recorded by ``asyncpc.trace``).
    ``from_ms`` / ``to_ms`` are the file's ``from`` / ``to`` (``to_ms=None``: end of run)."""

    enabled: bool = False
    neurons: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("predict", "feedback", "partner", "environment")
    from_ms: float = 0.0
    to_ms: float | None = None
    every: int = 1
    max_rows: int = 10_000_000
    state_every: int = 0


@dataclass(frozen=True)
class OutputSpec:
    """``[output]``."""

    dir: str
    plots: bool = True
    checkpoint_every: int = 0
    target_accuracy: float = 0.9
    plot_format: str = "png"
