"""What both runtimes share with their observers: the hooks, the message log, and the
record of messages in flight that a returned state carries.

Observers: subscribers to a few hooks of a run; they never change the dynamics.

A hook is *subscribed* when an observer's class overrides it (or, for an object that
does not derive from :class:`Observer`, simply has it). The runtime collects the
subscribed bound methods once per run; a hook nobody subscribes to is never called,
so an unobserved run pays nothing for the hooks it does not use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..compile import CompiledNet
    from ..environment import Schedule
    from ..state import NetState, RunResult

__all__ = ["Observer", "MessageLog", "RunContext", "HOOKS", "InFlight", "subscribers"]

HOOKS = ("before_run", "after_run", "message_sent", "message_delivered", "neuron_ticked")


@dataclass
class RunContext:
    """What an observer may look at in ``before_run`` / ``after_run``.

    ``state`` is the live state of the run (read it, never write it); ``result`` is set
    just before ``after_run``.
    """

    net: "CompiledNet"
    schedule: "Schedule"
    seed: int
    t0: int
    until: int
    state: "NetState"
    realtime: float | None = None
    result: "RunResult | None" = None
    extra: dict = field(default_factory=dict)


class Observer:
    """Base class of run observers; every hook is a no-op. Override the ones you need.

    Hooks (``t`` are integer steps, ``edge`` a CSR edge id of the compiled net):

    - ``before_run(ctx)`` / ``after_run(ctx)``: once per run, with a :class:`RunContext`.
    - ``message_sent(t_send, t_arrive, edge, value, dropped, signal)``: every message a
      neuron emits on an edge; ``t_arrive`` is the step it arrives (or would have
      arrived, had it not been dropped); ``signal`` is the learning signal it carries
      (docs/model.md; equal to ``value`` unless error neurons send one apart).
    - ``message_delivered(t, edge, value, signal)``: every message written into an inbox
      at step ``t``, in delivery order (messages on one edge in order of their send step).
    - ``neuron_ticked(t, neuron, s)``: after a neuron's tick at step ``t``; ``s`` is its
      new state (x or eps).

    Examples
    --------
    >>> from asyncpc.actors import Observer
    >>> class CountTicks(Observer):
    ...     n = 0
    ...     def neuron_ticked(self, t, neuron, s):
    ...         self.n += 1
    """

    def before_run(self, ctx: RunContext) -> None:
        pass

    def after_run(self, ctx: RunContext) -> None:
        pass

    def message_sent(self, t_send: int, t_arrive: int, edge: int, value: float, dropped: bool,
                     signal: float) -> None:
        pass

    def message_delivered(self, t: int, edge: int, value: float, signal: float) -> None:
        pass

    def neuron_ticked(self, t: int, neuron: int, s: float) -> None:
        pass


def subscribers(observers, name: str) -> list:
    """Bound methods of the observers that subscribe to hook ``name``."""
    out = []
    base = getattr(Observer, name)
    for o in observers:
        fn = getattr(type(o), name, None)
        if fn is None or fn is base:
            continue
        out.append(getattr(o, name))
    return out


class MessageLog(Observer):
    """Records every message sent: ``(t_send, t_arrive, src, dst, edge, value, dropped, signal)``.

    Rows are kept in the order they were emitted; :meth:`table` and :meth:`rows` return
    them in the canonical order, by ``(t_send, edge)`` (unique: an edge carries at most
    one message per send step). One log may observe several runs (a run and its
    continuation); it then holds the rows of all of them, as one long run would.

    Examples
    --------
    >>> from asyncpc.actors import MessageLog, run
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import Schedule
    >>> from asyncpc.model import layered
    >>> c = compile_network(layered([2, 1]))
    >>> log = MessageLog()
    >>> _ = run(c, Schedule.empty(end=3), observers=[log])
    >>> len(log) == 3 * c.n_edges
    True
    """

    COLUMNS = ("t_send", "t_arrive", "src", "dst", "edge", "value", "dropped", "signal")

    def __init__(self):
        self._cols: list[list] = [[] for _ in self.COLUMNS]
        self._src = self._dst = None

    def before_run(self, ctx: RunContext) -> None:
        self._src = ctx.net.src.tolist()
        self._dst = ctx.net.dst.tolist()

    def message_sent(self, t_send, t_arrive, edge, value, dropped, signal):
        ts, ta, s, d, e, v, x, g = self._cols
        ts.append(t_send)
        ta.append(t_arrive)
        s.append(self._src[edge])
        d.append(self._dst[edge])
        e.append(edge)
        v.append(float(value))
        x.append(bool(dropped))
        g.append(float(signal))

    def __len__(self) -> int:
        return len(self._cols[0])

    def table(self) -> dict[str, np.ndarray]:
        """Columns as numpy arrays, in the canonical order (by ``t_send``, then ``edge``)."""
        dtypes = (np.int64, np.int64, np.int32, np.int32, np.int64, np.float64, np.bool_, np.float64)
        cols = {k: np.asarray(v, dtype=dt) for k, v, dt in zip(self.COLUMNS, self._cols, dtypes)}
        order = np.lexsort((cols["edge"], cols["t_send"]))
        return {k: v[order] for k, v in cols.items()}

    def rows(self) -> list[tuple[Any, ...]]:
        """Rows as tuples of Python scalars, in the canonical order."""
        tab = self.table()
        return list(zip(*(tab[k].tolist() for k in self.COLUMNS)))

    def equals(self, other: "MessageLog") -> bool:
        """True when both logs hold the same rows (values compared exactly)."""
        a, b = self.table(), other.table()
        return all(np.array_equal(a[k], b[k]) for k in self.COLUMNS)


@dataclass(frozen=True)
class InFlight:
    """Messages sent but not yet delivered when a run stopped: part of the carried state.

    Edge messages: ``t_send, t_arrive, edge, value, signal`` (the learning signal it
    carries; ``value`` when not given), sorted by ``(t_arrive, t_send, edge)``. Environment messages: ``env_t_send, env_t_arrive, env_kind, env_neuron,
    env_value`` in arrival order (send order within one arrival step), or all ``None``
    when unknown (a state from a runtime that does not carry them: the actor runtime then
    re-derives them from the schedule).
    """

    t_send: np.ndarray
    t_arrive: np.ndarray
    edge: np.ndarray
    value: np.ndarray
    signal: np.ndarray | None = None
    env_t_send: np.ndarray | None = None
    env_t_arrive: np.ndarray | None = None
    env_kind: np.ndarray | None = None
    env_neuron: np.ndarray | None = None
    env_value: np.ndarray | None = None

    EDGE = ("t_send", "t_arrive", "edge", "value", "signal")

    def __post_init__(self):
        if self.signal is None:
            object.__setattr__(self, "signal", self.value)
    ENV = ("env_t_send", "env_t_arrive", "env_kind", "env_neuron", "env_value")

    @classmethod
    def empty(cls) -> "InFlight":
        z = np.zeros(0, np.int64)
        return cls(z, z, z, np.zeros(0), np.zeros(0), z, z, np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0))

    @classmethod
    def from_mapping(cls, m) -> "InFlight":
        """From an ``InFlight`` or a mapping with its columns (the env ones optional)."""
        if isinstance(m, InFlight):
            return m
        ts, ta, e, v = (np.asarray(m[k]) for k in cls.EDGE[:4])
        g = np.asarray(m["signal"]) if "signal" in m and m["signal"] is not None else v
        env = [None] * 5
        if all(k in m and m[k] is not None for k in cls.ENV):
            env = [np.asarray(m[k]).astype(dt) for k, dt in
                   zip(cls.ENV, (np.int64, np.int64, np.int8, np.int32, np.float64))]
        return cls(ts.astype(np.int64), ta.astype(np.int64), e.astype(np.int64), v.astype(np.float64),
                   g.astype(np.float64), *env)

    @property
    def env_known(self) -> bool:
        return self.env_t_arrive is not None

    def __len__(self) -> int:
        """The number of *edge* messages in flight (what the counters account for)."""
        return len(self.edge)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in self.EDGE + self.ENV}
