"""What the environment actor sends and when the read-out observes, as flat arrays.

The environment is deterministic given its data, protocol and seed, so its message
stream can be laid out in advance; the actor runtime's environment task sends these
messages one by one, the engine consumes the arrays. Either way each message arrives
``env_delay`` steps after it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Schedule", "EV_CLAMP", "EV_UNCLAMP", "EV_MODULATE"]

EV_CLAMP, EV_UNCLAMP, EV_MODULATE = 0, 1, 2


@dataclass(frozen=True)
class Schedule:
    """Environment messages and read-out probes.

    ``ev_t`` (int64, sorted): send step of each message; it arrives at
    ``ev_t + env_delay``. ``ev_kind``: :data:`EV_CLAMP` (hold ``ev_value``),
    :data:`EV_UNCLAMP`, :data:`EV_MODULATE` (set the plasticity gain to ``ev_value``).
    ``ev_neuron``: receiver id, or -1 for every neuron (a neuromodulator).
    ``probe_t`` (int64, sorted, unique): steps at whose end the read-out observes
    ``readout`` neurons' activity and every area's energy.
    ``meta``: per-probe information for metrics (sample index, split, target class).
    """

    ev_t: np.ndarray
    ev_kind: np.ndarray
    ev_neuron: np.ndarray
    ev_value: np.ndarray
    probe_t: np.ndarray
    readout: np.ndarray
    env_delay: int = 1
    end: int = 0
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Schedule({len(self.probe_t):,} probes, {int(self.end):,} steps, {len(self.ev_t):,} environment "
                f"messages, {self.meta.get('protocol', 'custom')} protocol)")

    @classmethod
    def empty(cls, end: int = 0, readout=()) -> "Schedule":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0),
                   np.zeros(0, np.int64), np.asarray(readout, np.int32), 1, end)

    @classmethod
    def from_events(cls, events, *, probe_t=(), readout=(), env_delay=1, end=None, meta=None) -> "Schedule":
        """Build from ``(t_send, kind, neuron, value)`` tuples (any order; sorted stably by time)."""
        ev = sorted(events, key=lambda e: e[0])
        t = np.array([e[0] for e in ev], np.int64)
        pt = np.unique(np.asarray(probe_t, np.int64))
        if end is None:
            end = int(max(t.max() + env_delay + 1 if len(t) else 0, pt.max() + 1 if len(pt) else 0))
        return cls(t, np.array([e[1] for e in ev], np.int8), np.array([e[2] for e in ev], np.int32),
                   np.array([e[3] for e in ev], np.float64), pt, np.asarray(readout, np.int32),
                   int(env_delay), int(end), dict(meta or {}))

    def validate(self, n_neurons: int) -> None:
        """Raise :class:`SpecError` for a schedule a network of ``n_neurons`` cannot receive
        (every runtime calls this before it starts)."""
        from ..errors import SpecError

        nn = np.asarray(self.ev_neuron)
        bad = np.flatnonzero((nn < -1) | (nn >= n_neurons))
        if len(bad):
            raise SpecError(f"schedule.ev_neuron[{bad[0]}]: neuron {int(nn[bad[0]])} out of range "
                            f"(0..{n_neurons - 1}, or -1 for every neuron)")
        if len(self.ev_t) > 1 and np.any(np.diff(self.ev_t) < 0):
            raise SpecError("schedule.ev_t: must be sorted by send step")
        if self.env_delay < 1:
            raise SpecError(f"schedule.env_delay: must be >= 1 step, got {self.env_delay}")
        kinds = np.asarray(self.ev_kind)
        if len(kinds) and (kinds.min() < 0 or kinds.max() > 2):
            raise SpecError("schedule.ev_kind: must be 0 (clamp), 1 (unclamp) or 2 (modulate)")
        ro = np.asarray(self.readout)
        if len(ro) and (ro.min() < 0 or ro.max() >= n_neurons):
            raise SpecError(f"schedule.readout: neuron ids must be in 0..{n_neurons - 1}")

    @property
    def arrival(self) -> np.ndarray:
        return self.ev_t + self.env_delay
