"""What the environment actor sends and when the read-out observes.

The environment is deterministic given its data, protocol and seed, so its message
stream can be laid out in advance. A :class:`Schedule` holds it in two forms:

- **explicit events** (``ex_t``, ``ex_kind``, ``ex_neuron``, ``ex_value``): one row per
  message, for whatever is irregular (modulations, a custom protocol's messages);
- **frames** (:class:`Frames`): at each of the steps ``t[k]``, one message to each of a
  fixed set of neurons, the values one row of a value matrix -- a dataset's features or
  its label targets, referenced, not copied. An MNIST training presentation is two frames
  (784 pixel clamps, 10 label clamps) held in 16 bytes instead of 794 messages in 17 kB.

Runtimes never lay the whole stream out: they ask for the messages sent in a window of
steps (:meth:`Schedule.events`), the engine per call, the actor runtime's environment
task window by window (:meth:`Schedule.windows`). Whatever form a message is held in,
each arrives ``env_delay`` steps after it is sent, and the messages sent at one step are
applied in *schedule order*: that step's explicit events in their order, then each
:class:`Frames` in ``frames`` order, each frame's neurons in their order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["EV_CLAMP", "EV_MODULATE", "EV_UNCLAMP", "Frames", "Schedule"]

EV_CLAMP, EV_UNCLAMP, EV_MODULATE = 0, 1, 2

#: Column dtypes of expanded events: send step, kind, receiver, value.
EVENT_DTYPES = (np.int64, np.int8, np.int32, np.float64)


def _span(t: np.ndarray, lo, hi) -> tuple[int, int]:
    """Indices ``[a, b)`` of the sorted steps ``t`` in ``[lo, hi)`` (None: unbounded)."""
    a = 0 if lo is None else int(np.searchsorted(t, lo, side="left"))
    b = len(t) if hi is None else int(np.searchsorted(t, hi, side="left"))
    return a, max(a, b)


def _as(a, dtype, what: str) -> np.ndarray:
    """``a`` as a 1-D array of ``dtype`` (no copy when it already is one)."""
    from ..errors import SpecError

    out = np.asarray(a, dtype)
    if out.ndim != 1:
        raise SpecError(f"{what}: expected a 1-D array, got shape {out.shape}")
    return out


@dataclass(frozen=True, eq=False)
class Frames:
    """A run of frames: at send step ``t[k]`` the environment sends one ``kind`` message to
    each of ``neurons`` (in their order), the ``j``-th carrying ``values[rows[k], j]``.

    Parameters
    ----------
    t : array of int
        Send step of each frame, sorted (non-decreasing).
    neurons : array of int
        The receivers of every frame (-1: every neuron, as for a neuromodulator).
    kind : int
        :data:`EV_CLAMP`, :data:`EV_UNCLAMP` or :data:`EV_MODULATE`.
    values : 2-D array, optional
        ``(rows, len(neurons))``, any float dtype (read as float64: float32 data are
        exact); referenced, not copied. None: every message carries 0.0 (an unclamp).
    rows : array of int, optional
        The row of ``values`` of each frame (default: frame ``k`` reads row ``k``).

    Examples
    --------
    >>> import numpy as np
    >>> from asyncpc.environment import EV_CLAMP, Frames, Schedule
    >>> X = np.array([[0.1, 0.2], [0.3, 0.4]])
    >>> s = Schedule.from_events([], frames=[Frames([0, 10, 20], [5, 6], EV_CLAMP, X, rows=[1, 0, 1])], end=30)
    >>> s.n_events, s.events(5, 15)[3].tolist()
    (6, [0.1, 0.2])
    """

    t: np.ndarray
    neurons: np.ndarray
    kind: int = EV_CLAMP
    values: np.ndarray | None = None
    rows: np.ndarray | None = None

    def __post_init__(self):
        from ..errors import SpecError

        def set_(k, v):  # frozen: normalise once
            object.__setattr__(self, k, v)

        set_("t", _as(self.t, np.int64, "frames.t"))
        set_("neurons", _as(self.neurons, np.int32, "frames.neurons"))
        set_("kind", int(self.kind))
        if self.values is not None:
            v = np.asarray(self.values)
            if v.ndim != 2 or v.shape[1] != len(self.neurons):
                raise SpecError(f"frames.values: expected shape (rows, {len(self.neurons)}) (one column per "
                                f"neuron), got {v.shape}")
            set_("values", v)
        if self.rows is not None:
            r = np.asarray(self.rows)
            if r.ndim != 1 or len(r) != len(self.t) or (len(r) and r.dtype.kind not in "iu"):
                raise SpecError(f"frames.rows: expected {len(self.t)} integer row indices (one per frame), "
                                f"got shape {r.shape} of {r.dtype}")
            if self.values is None:
                raise SpecError("frames.rows: given without frames.values")
            set_("rows", r)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def n_events(self) -> int:
        """Messages the frames stand for."""
        return len(self.t) * len(self.neurons)

    def expand(self, a: int, b: int) -> tuple:
        """Frames ``a .. b-1`` as explicit ``(t, kind, neuron, value)`` columns."""
        m, n = len(self.neurons), b - a
        t = np.repeat(self.t[a:b], m)
        kind = np.full(n * m, self.kind, np.int8)
        neuron = np.tile(self.neurons, n)
        if self.values is None:
            value = np.zeros(n * m)
        else:
            rows = np.arange(a, b) if self.rows is None else self.rows[a:b]
            value = np.asarray(self.values[rows], np.float64).ravel()
        return t, kind, neuron, value


def _empty_columns() -> tuple:
    return tuple(np.zeros(0, dt) for dt in EVENT_DTYPES)


@dataclass(frozen=True)
class Schedule:
    """Environment messages and read-out probes.

    ``ex_t`` (int64, sorted), ``ex_kind`` (int8), ``ex_neuron`` (int32), ``ex_value``
    (float64): the **explicit** messages, one per row: send step (it arrives at
    ``ex_t + env_delay``), kind (:data:`EV_CLAMP`: hold ``value``; :data:`EV_UNCLAMP`;
    :data:`EV_MODULATE`: set the plasticity gain to ``value``) and receiver (-1 for every
    neuron: a neuromodulator). ``frames``: :class:`Frames`, the regular messages
    (presentations) in compact form. ``probe_t`` (int64, sorted, unique): steps at whose end
    the read-out observes ``readout`` neurons' activity and every area's energy. ``meta``:
    per-probe information for metrics (sample index, split, target class).

    Every message, explicit or in a frame: :meth:`events` (a window of send steps, in
    schedule order, see the module docstring), :meth:`windows`, :meth:`count`,
    :attr:`n_events`. ``ev_t``, ``ev_kind``, ``ev_neuron``, ``ev_value`` are every message
    of the run laid out at once (expanded on first use and kept): convenient for small
    schedules, tests and inspection; runtimes never use them.
    """

    ex_t: np.ndarray
    ex_kind: np.ndarray
    ex_neuron: np.ndarray
    ex_value: np.ndarray
    probe_t: np.ndarray
    readout: np.ndarray
    env_delay: int = 1
    end: int = 0
    meta: dict = field(default_factory=dict)
    frames: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "frames", tuple(self.frames))

    def __repr__(self) -> str:
        return (f"Schedule({len(self.probe_t):,} probes, {int(self.end):,} steps, {self.n_events:,} environment "
                f"messages, {self.meta.get('protocol', 'custom')} protocol)")

    @classmethod
    def empty(cls, end: int = 0, readout=()) -> Schedule:
        return cls(*_empty_columns(), np.zeros(0, np.int64), np.asarray(readout, np.int32), 1, end)

    @classmethod
    def from_events(cls, events, *, frames=(), probe_t=(), readout=(), env_delay=1, end=None,
                    meta=None) -> Schedule:
        """Build from ``(t_send, kind, neuron, value)`` tuples (any order; sorted stably by
        time) and :class:`Frames`. ``end`` defaults to one step after the last arrival or probe."""
        ev = sorted(events, key=lambda e: e[0])
        t = np.array([e[0] for e in ev], np.int64)
        frames = tuple(frames)
        pt = np.unique(np.asarray(probe_t, np.int64))
        if end is None:
            last = [int(t.max())] if len(t) else []
            last += [int(f.t[-1]) for f in frames if len(f.t)]
            end = int(max(max(last) + env_delay + 1 if last else 0, pt.max() + 1 if len(pt) else 0))
        return cls(t, np.array([e[1] for e in ev], np.int8), np.array([e[2] for e in ev], np.int32),
                   np.array([e[3] for e in ev], np.float64), pt, np.asarray(readout, np.int32),
                   int(env_delay), int(end), dict(meta or {}), frames)

    # ------------------------------------------------------------------ messages
    @property
    def n_events(self) -> int:
        """Every message of the schedule, explicit or in a frame (nothing is expanded)."""
        return len(self.ex_t) + sum(f.n_events for f in self.frames)

    def count(self, lo=None, hi=None) -> int:
        """Messages sent in steps ``[lo, hi)`` (None: unbounded); nothing is expanded."""
        a, b = _span(self.ex_t, lo, hi)
        n = b - a
        for f in self.frames:
            a, b = _span(f.t, lo, hi)
            n += (b - a) * len(f.neurons)
        return n

    def events(self, lo=None, hi=None) -> tuple:
        """The messages sent in steps ``[lo, hi)`` (None: unbounded), expanded, in schedule
        order: ``(t, kind, neuron, value)`` arrays (int64, int8, int32, float64). Only the
        window is laid out; explicit events may be views of the schedule's own arrays."""
        a, b = _span(self.ex_t, lo, hi)
        parts = [(self.ex_t[a:b], self.ex_kind[a:b], self.ex_neuron[a:b], self.ex_value[a:b])]
        for f in self.frames:
            a, b = _span(f.t, lo, hi)
            if b > a and len(f.neurons):
                parts.append(f.expand(a, b))
        if len(parts) == 1:
            return parts[0]
        cols = [np.concatenate([p[k] for p in parts]).astype(dt, copy=False) for k, dt in enumerate(EVENT_DTYPES)]
        t = cols[0]
        if len(t) > 1 and np.any(t[1:] < t[:-1]):
            # parts in schedule order, each sorted: a stable sort by step keeps it within a step
            order = np.argsort(t, kind="stable")
            cols = [c[order] for c in cols]
        return tuple(cols)

    def windows(self, lo: int, hi: int, max_events: int) -> list:
        """Consecutive step windows ``[(lo, b1), (b1, b2), ..., (bk, hi)]`` covering ``[lo, hi)``,
        each holding at most ``max_events`` messages (a step that alone holds more is a window
        of its own): how a runtime expands a long stretch a piece at a time. Nothing is
        expanded; the cost is one entry per frame in the stretch."""
        lo, hi = int(lo), int(hi)
        if hi <= lo:
            return []
        if self.count(lo, hi) <= max_events:
            return [(lo, hi)]
        ts, ws = [], []
        a, b = _span(self.ex_t, lo, hi)
        ts.append(self.ex_t[a:b])
        ws.append(np.ones(b - a, np.int64))
        for f in self.frames:
            a, b = _span(f.t, lo, hi)
            ts.append(f.t[a:b])
            ws.append(np.full(b - a, len(f.neurons), np.int64))
        t = np.concatenate(ts)
        order = np.argsort(t, kind="stable")
        t, w = t[order], np.concatenate(ws)[order]
        steps, first = np.unique(t, return_index=True)
        cum = np.cumsum(w)[np.append(first[1:], len(t)) - 1]  # messages sent up to each step's end
        out, start, done = [], lo, 0
        j = 0
        while j < len(steps):
            k = int(np.searchsorted(cum, done + max_events, side="right")) - 1  # last step that fits
            k = max(k, j)  # a step alone over the limit is a window of its own
            if k + 1 >= len(steps):
                break
            out.append((start, int(steps[k + 1])))
            start, done, j = int(steps[k + 1]), int(cum[k]), k + 1
        out.append((start, hi))
        return out

    def expanded(self) -> Schedule:
        """The same schedule with every frame laid out as explicit events (same messages,
        same order; for tests and for tools that want plain arrays)."""
        t, k, n, v = (np.array(c, dt) for c, dt in zip(self.events(), EVENT_DTYPES))
        return Schedule(t, k, n, v, self.probe_t, self.readout, self.env_delay, self.end, self.meta)

    @cached_property
    def _all(self) -> tuple:
        return self.events()

    @property
    def ev_t(self) -> np.ndarray:
        """Send step of every message, sorted (all of them: see the class docstring)."""
        return self._all[0]

    @property
    def ev_kind(self) -> np.ndarray:
        """Kind of every message, in schedule order."""
        return self._all[1]

    @property
    def ev_neuron(self) -> np.ndarray:
        """Receiver of every message, in schedule order."""
        return self._all[2]

    @property
    def ev_value(self) -> np.ndarray:
        """Value of every message, in schedule order."""
        return self._all[3]

    @property
    def arrival(self) -> np.ndarray:
        return self.ev_t + self.env_delay

    def receivers(self) -> np.ndarray:
        """Every receiver id the schedule names (with repeats; -1: every neuron); nothing is
        expanded."""
        return np.concatenate([np.asarray(self.ex_neuron, np.int64)]
                              + [np.asarray(f.neurons, np.int64) for f in self.frames])

    # ------------------------------------------------------------------ checks and size
    def validate(self, n_neurons: int) -> None:
        """Raise :class:`SpecError` for a schedule a network of ``n_neurons`` cannot receive
        (every runtime calls this before it starts)."""
        from ..errors import SpecError

        nn = np.asarray(self.ex_neuron)
        bad = np.flatnonzero((nn < -1) | (nn >= n_neurons))
        if len(bad):
            raise SpecError(f"schedule.ev_neuron[{bad[0]}]: neuron {int(nn[bad[0]])} out of range "
                            f"(0..{n_neurons - 1}, or -1 for every neuron)")
        if len(self.ex_t) > 1 and np.any(np.diff(self.ex_t) < 0):
            raise SpecError("schedule.ev_t: must be sorted by send step")
        if self.env_delay < 1:
            raise SpecError(f"schedule.env_delay: must be >= 1 step, got {self.env_delay}")
        kinds = np.asarray(self.ex_kind)
        if len(kinds) and (kinds.min() < 0 or kinds.max() > 2):
            raise SpecError("schedule.ev_kind: must be 0 (clamp), 1 (unclamp) or 2 (modulate)")
        for i, f in enumerate(self.frames):
            self._check_frames(i, f, n_neurons)
        ro = np.asarray(self.readout)
        if len(ro) and (ro.min() < 0 or ro.max() >= n_neurons):
            raise SpecError(f"schedule.readout: neuron ids must be in 0..{n_neurons - 1}")

    @staticmethod
    def _check_frames(i: int, f, n_neurons: int) -> None:
        from ..errors import SpecError

        where = f"schedule.frames[{i}]"
        if not isinstance(f, Frames):
            raise SpecError(f"{where}: expected asyncpc.environment.Frames, got {type(f).__name__}")
        if f.kind not in (EV_CLAMP, EV_UNCLAMP, EV_MODULATE):
            raise SpecError(f"{where}.kind: must be 0 (clamp), 1 (unclamp) or 2 (modulate), got {f.kind}")
        nn = f.neurons
        bad = np.flatnonzero((nn < -1) | (nn >= n_neurons))
        if len(bad):
            raise SpecError(f"{where}.neurons[{bad[0]}]: neuron {int(nn[bad[0]])} out of range "
                            f"(0..{n_neurons - 1}, or -1 for every neuron)")
        if len(f.t) > 1 and np.any(f.t[1:] < f.t[:-1]):
            raise SpecError(f"{where}.t: must be sorted by send step")
        if f.values is not None:
            n_rows = len(f.values)
            if f.rows is None and len(f.t) > n_rows:
                raise SpecError(f"{where}.values: {n_rows} rows for {len(f.t)} frames; give frames.rows")
            if f.rows is not None and len(f.rows) and (f.rows.min() < 0 or f.rows.max() >= n_rows):
                raise SpecError(f"{where}.rows: row indices must be in 0..{n_rows - 1}")

    def nbytes(self, referenced: bool = False) -> int:
        """Bytes of the arrays the schedule holds (explicit events, frames' steps, receivers
        and rows, probes, per-probe metadata), each buffer counted once (frames share their
        steps and rows with ``meta``); with ``referenced``, also the value matrices the frames
        read (a dataset's features: held by the dataset anyway)."""
        arrays = [self.ex_t, self.ex_kind, self.ex_neuron, self.ex_value, self.probe_t, self.readout]
        arrays += [v for v in self.meta.values() if isinstance(v, np.ndarray)]
        for f in self.frames:
            arrays += [f.t, f.neurons] + ([f.rows] if f.rows is not None else [])
            if referenced and f.values is not None:
                arrays.append(f.values)
        seen = {}
        for a in arrays:
            base = a
            while isinstance(base.base, np.ndarray):
                base = base.base
            seen[id(base)] = base.nbytes
        return int(sum(seen.values()))
