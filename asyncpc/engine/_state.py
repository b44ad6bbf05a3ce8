"""The engine's carried-over state, and where a run starts from.

:class:`EngineState` is a :class:`~asyncpc.state.NetState` plus the engine's
:class:`History` (its ring at the end of the run). Passing it back as ``state=``
continues exactly as one long run; its ``in_flight`` property lists the messages in
flight (materialised on first access), so the actor runtime can continue it too. The
engine likewise continues any runtime's state that carries its messages in flight
(the actor runtime's ``CarryState``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from ..compile import CompiledNet
from ..errors import AsyncPCError, SpecError
from ..state import NetState, RunResult
from ._carry import fill_ring, first_foreign_draw, in_flight_columns
from ._env import ENV_COLS
from ._layout import EngineLayout

__all__ = ["EngineState", "History", "LazyInFlight", "Start", "start_from"]

_COLS = ("t_send", "t_arrive", "edge", "value", "signal")


@dataclass(frozen=True, eq=False)
class History:
    """The engine's channel state at step ``t``: the seed of its draws, how many edge
    messages were in flight, the environment messages in flight (``env``: the ``env_*``
    columns), and the edge messages in flight -- as the history ring of a pulling run
    that ended there (``hist``: ``L x 2N`` last-sent states and second outputs,
    ``flag``: ``L x N`` sent-at flags, row ``s % L`` for step ``s``), or as explicit
    columns (``cols``, a pushing run's wheel). Never mutated: a run that continues from
    it copies what it uses."""

    t: int
    seed: int
    n_in_flight: int
    hist: np.ndarray | None
    flag: np.ndarray | None
    layout: EngineLayout
    env: dict
    cols: dict | None = None

    @cached_property
    def columns(self) -> dict:
        """The messages in flight as columns, sorted by ``(t_arrive, t_send, edge)``."""
        if self.cols is not None:
            return self.cols
        cols = in_flight_columns(self.layout.net, self.hist, self.flag, self.seed, self.t, self.n_in_flight)
        order = np.lexsort((cols[2], cols[0], cols[1]))
        return {k: v[order] for k, v in zip(_COLS, cols)}


class LazyInFlight(Mapping):
    """``RunResult.extra["in_flight"]``: the columns of the messages in flight (edge
    messages computed on first access; ``env_*`` the environment's)."""

    def __init__(self, history: History):
        self._h = history

    def __getitem__(self, k: str) -> np.ndarray:
        if k in _COLS:
            return self._h.columns[k]
        return self._h.env[k]

    def __iter__(self) -> Iterator[str]:
        return iter(_COLS + ENV_COLS)

    def __len__(self) -> int:
        return len(_COLS) + len(ENV_COLS)


@dataclass
class EngineState(NetState):
    """A :class:`~asyncpc.state.NetState` plus the engine's :class:`History`.

    This is what :func:`asyncpc.engine.run` returns as ``result.state``; pass it back as
    ``state=`` (with the same seed) to continue.
    """

    history: History | None = None

    @property
    def in_flight(self):
        """Messages in flight at ``t`` (an ``asyncpc.actors.InFlight``), computed on access."""
        from ..observe import (
            InFlight,  # the runtimes' shared record of messages in flight
        )

        if self.history is None:
            return InFlight.empty()
        return InFlight.from_mapping(LazyInFlight(self.history))

    def copy(self) -> "EngineState":
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return EngineState(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()})


def _base_copy(state: NetState, c: CompiledNet) -> NetState:
    base = {f.name: getattr(state, f.name) for f in fields(NetState)}
    st = NetState(**{k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in base.items()})
    for name, n in (("s", c.n_neurons), ("w", c.n_edges), ("inbox", c.n_edges)):
        if np.shape(getattr(st, name)) != (n,):
            raise SpecError(f"state.{name}: shape {np.shape(getattr(st, name))} does not match the network ({n},)")
    return st.with_synapses(c)


def _check_draws(lay: EngineLayout, seed: int, ts, ta, ed) -> None:
    """Messages in flight must be the ones this seed's draws make (the ring re-derives them)."""
    bad = first_foreign_draw(lay.net, seed, ts, ta, ed)
    if bad >= 0:
        raise AsyncPCError(f"state: the message in flight on edge {int(ed[bad])} sent at step {int(ts[bad])} "
                           f"was not drawn with seed={seed}; continue a run with the seed it was started with")


@dataclass
class Start:
    """Where a run starts: a private copy of the state, the ring rebuilt for it (None for a
    pushing run), and the messages in flight (their count; the columns on request)."""

    state: NetState
    hist: np.ndarray | None
    flag: np.ndarray | None
    n_in_flight: int
    columns: Callable[[], dict]
    env: dict | None  # env columns in flight, None: unknown (take them from the schedule)


def _as_columns(fl) -> dict:
    get = (lambda k: fl[k]) if isinstance(fl, Mapping) else (lambda k: getattr(fl, k))
    out = {k: np.asarray(get(k), dt) for k, dt in zip(_COLS[:4], (np.int64, np.int64, np.int64, np.float64))}
    sig = get("signal") if (isinstance(fl, Mapping) and "signal" in fl) or hasattr(fl, "signal") else None
    out["signal"] = out["value"] if sig is None else np.asarray(sig, np.float64)
    return out


def _env_columns(fl) -> dict | None:
    """The env columns a carried in-flight record holds, or None when it does not."""
    if fl is None:
        return None
    get = (lambda k: fl.get(k)) if isinstance(fl, Mapping) else (lambda k: getattr(fl, k, None))
    cols = {k: get(k) for k in ENV_COLS}
    return None if any(v is None for v in cols.values()) else {k: np.asarray(v) for k, v in cols.items()}


def start_from(c: CompiledNet, lay: EngineLayout, state, seed: int, ring: bool = True) -> Start:
    """Start from ``state``: None (``NetState.initial``), an :class:`EngineState` (its
    ring is reused), any other runtime's state carrying ``in_flight`` (the actor
    runtime's ``CarryState``), or a :class:`RunResult` (its ``extra["in_flight"]``).
    ``ring``: build the history ring (a pulling run), else only the columns (pushing)."""
    carried = None
    if isinstance(state, RunResult):
        carried = state.extra.get("in_flight")
        state = state.state
    if state is None:
        st, h = NetState.initial(c), None
    elif isinstance(state, NetState):
        st, h = _base_copy(state, c), getattr(state, "history", None)
    else:
        raise SpecError(f"state: expected a NetState or a RunResult, got {type(state).__name__}")
    L, N, NC = lay.L, lay.net.N, lay.net.NC
    if h is not None:
        if h.t != st.t:
            raise AsyncPCError(f"state: its history is at step {h.t} but the state at step {st.t}")
        if h.seed != seed and lay.noisy:
            raise AsyncPCError(f"state: its messages in flight were drawn with seed={h.seed}, not {seed}; "
                               "continue a run with the seed it was started with")
        if ring and h.hist is not None and h.hist.shape == (L * NC,) and h.flag.shape == (L * N,):
            return Start(st, h.hist.copy(), h.flag.copy(), int(h.n_in_flight), lambda: h.columns, h.env)
        carried = LazyInFlight(h)
    elif state is not None:
        carried = getattr(state, "in_flight", carried)
    pending = int(st.sent - st.delivered - st.dropped)
    if carried is None:
        if pending:
            raise AsyncPCError(f"state: {pending} messages were in flight at step {st.t} but the state "
                               "does not carry them; pass the RunResult (or its .state) returned by the "
                               "run that produced it")
        cols = {k: np.zeros(0, np.float64 if k in ("value", "signal") else np.int64) for k in _COLS}
    else:
        cols = _as_columns(carried)
        n = len(cols["edge"])
        if n != pending:
            raise AsyncPCError(f"state: carries {n} messages in flight, its counters say {pending}")
        if n and cols["t_arrive"].min() < st.t:
            raise AsyncPCError(f"state: a message in flight arrives at step {int(cols['t_arrive'].min())}, "
                               f"before the state's step {st.t}")
        if n and (cols["edge"].min() < 0 or cols["edge"].max() >= c.n_edges):
            raise AsyncPCError("state: a message in flight is on an edge this network does not have")
        _check_draws(lay, seed, cols["t_send"], cols["t_arrive"], cols["edge"])
        order = np.lexsort((cols["edge"], cols["t_send"], cols["t_arrive"]))
        cols = {k: np.ascontiguousarray(v[order]) for k, v in cols.items()}
    if not ring:
        return Start(st, None, None, len(cols["edge"]), lambda: cols, _env_columns(carried))
    hist = np.zeros(L * NC)
    flag = np.zeros(L * N, np.int8)
    inbox = np.ascontiguousarray(st.inbox, np.float64)
    fill_ring(lay.net, int(st.t), inbox, np.ascontiguousarray(st.inbox_sig, np.float64) if c.signals else inbox,
              cols["t_send"], cols["edge"], cols["value"], cols["signal"], hist, flag)
    return Start(st, hist, flag, len(cols["edge"]), lambda: cols, _env_columns(carried))
