"""Environment messages of a run: what arrives when, and what is still in flight after.

The actor runtime's environment sends each schedule message at its send step and it
arrives ``env_delay`` steps later; messages sent before a run's first step ``t0`` that
arrive at or after it are part of the carried state (``env_*`` columns of the messages
in flight), or, when a state does not carry them, re-derived from the schedule. The
engine lays the same stream out as arrays: the carried messages, then the schedule's
messages sent in ``t0 .. stop-1`` (:meth:`Schedule.events`: only this window of a
compact schedule's frames is expanded), ordered by arrival step (then send step, then
schedule order: the order in which the actor runtime's channel applies them).
"""

from __future__ import annotations

import numpy as np

from ..environment import Schedule
from ._step import Env

__all__ = ["ENV_COLS", "env_messages"]

ENV_COLS = ("env_t_send", "env_t_arrive", "env_kind", "env_neuron", "env_value")
_DT = (np.int64, np.int64, np.int8, np.int32, np.float64)


def env_messages(schedule: Schedule, t0: int, stop: int, carried: dict | None) -> tuple[Env, dict]:
    """``(Env arrays for the run, env columns of the messages in flight at stop)``.

    ``carried``: the env columns of the messages in flight at ``t0``, or None to take
    them from the schedule (sent before ``t0``, arriving at or after it).
    """
    d = int(schedule.env_delay)
    if carried is None:  # sent in t0 - d .. t0 - 1: arriving at or after t0
        ts, kind, neuron, value = schedule.events(t0 - d, t0)
        carried = dict(zip(ENV_COLS, (ts, ts + d, kind, neuron, value)))
    ts, kind, neuron, value = schedule.events(t0, stop)  # only this run's window is laid out
    cols = [np.concatenate([np.asarray(carried[k], dt), np.asarray(x, dt)]) for k, dt, x in
            zip(ENV_COLS, _DT, (ts, ts + d, kind, neuron, value))]
    order = np.lexsort((np.arange(len(cols[0])), cols[0], cols[1]))
    ts, ta, k, n, v = (c[order] for c in cols)
    env = Env(arr=ta, kind=k.astype(np.int64), neuron=n.astype(np.int64), value=v)
    later = ta >= stop
    return env, dict(zip(ENV_COLS, (ts[later], ta[later], k[later], n[later], v[later])))
