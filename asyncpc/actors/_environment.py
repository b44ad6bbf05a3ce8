"""The environment side: actors that send clamp / unclamp / modulate messages.

An environment message is sent at a step and arrives ``env_delay`` steps later into its
receiver's *control inbox*: ``clamped`` / ``clamp_val`` hold the latest clamp message
(clamp: 1 and the value; unclamp: 0), ``gain`` the latest neuromodulator message. Like
every inbox they are sample-and-hold; the neuron reads them when it ticks. Receiver -1
means every neuron (a neuromodulator broadcast). Messages arriving at one step are
applied in the order they were sent (for one sender: its order; the schedule's order
for the built-in environment).
"""

from __future__ import annotations

import numpy as np

from ..environment import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Schedule
from ..errors import AsyncPCError, SpecError
from ._neurons import Actor

__all__ = ["Context", "Environment", "ScheduleEnvironment", "EnvChannel"]

_KINDS = {EV_CLAMP: "clamp", EV_UNCLAMP: "unclamp", EV_MODULATE: "modulate"}


class EnvChannel:
    """Environment messages in flight, by arrival step, applied at the start of a step."""

    def __init__(self, state, clock, n_neurons: int):
        self.cal: dict[int, list] = {}
        self.state, self.clock, self.n = state, clock, n_neurons

    def post(self, t_send: int, t_arrive: int, kind: int, neuron: int, value: float) -> None:
        if kind not in _KINDS:
            raise AsyncPCError(f"environment message: unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
        if not (neuron == -1 or 0 <= neuron < self.n):
            raise AsyncPCError(f"environment message: neuron {neuron} out of range "
                               f"(0..{self.n - 1}, or -1 for every neuron)")
        slot = self.cal.get(t_arrive)
        if slot is None:
            self.cal[t_arrive] = slot = []
            self.clock.at(t_arrive)
        slot.append((int(t_send), int(kind), int(neuron), float(value)))

    def deliver(self, t: int) -> None:
        slot = self.cal.pop(t, None)
        if slot is None:
            return
        st = self.state
        for _, kind, n, v in slot:
            idx = slice(None) if n == -1 else n
            if kind == EV_CLAMP:
                st.clamped[idx] = 1
                st.clamp_val[idx] = v
            elif kind == EV_UNCLAMP:
                st.clamped[idx] = 0
            else:
                st.gain[idx] = v

    def in_flight(self) -> dict[str, np.ndarray]:
        """Messages not yet delivered, in arrival order (send order within a step)."""
        rows = [(ta, *m) for ta in sorted(self.cal) for m in self.cal[ta]]
        cols = list(zip(*rows)) if rows else [(), (), (), (), ()]
        dts = (np.int64, np.int64, np.int8, np.int32, np.float64)
        names = ("env_t_arrive", "env_t_send", "env_kind", "env_neuron", "env_value")
        return {k: np.asarray(c, dt) for k, c, dt in zip(names, cols, dts)}

    def restore(self, t_send, t_arrive, kind, neuron, value) -> None:
        for ts, ta, k, n, v in zip(*(np.asarray(a).tolist() for a in (t_send, t_arrive, kind, neuron, value))):
            self.post(ts, ta, k, n, v)

    def restore_from_schedule(self, schedule: Schedule, t0: int) -> None:
        """Re-send what ``schedule`` sent before ``t0`` that arrives at or after it (for a
        state that does not carry its environment messages)."""
        d = int(schedule.env_delay)
        for ts, k, n, v in zip(*(c.tolist() for c in schedule.events(t0 - d, t0))):
            self.post(ts, ts + d, k, n, v)


class Context:
    """An actor's handle on the run: virtual time, and the environment's channel.

    Attributes: ``net`` (the :class:`~asyncpc.compile.CompiledNet`, read-only
    description), ``h`` (ms per step), ``seed``, ``t0`` (first step of this run),
    ``stop`` (first step *not* simulated), ``env_delay`` (default delay of environment
    messages, from the schedule), ``prm`` (the per-neuron parameter rows the kernels
    read, :func:`asyncpc.kernels.param_rows`).
    """

    __slots__ = ("_handle", "_env", "net", "h", "seed", "t0", "stop", "env_delay", "prm")

    def __init__(self, handle, env: EnvChannel, net, seed: int, t0: int, stop: int, env_delay: int, prm=None):
        self._handle, self._env = handle, env
        self.net, self.h, self.seed, self.t0, self.stop = net, float(net.h), seed, t0, stop
        self.env_delay = env_delay
        self.prm = prm

    @property
    def t(self) -> int:
        """The current step (``t0 - 1`` while the run is starting)."""
        return self._handle.clock.now

    @property
    def until(self):
        """``await ctx.until(t)``: sleep until step ``t``; returns ``t``."""
        return self._handle.until

    def send(self, kind: int, neuron: int, value: float = 0.0, *, delay: int | None = None) -> None:
        """Send an environment message now; it arrives ``delay`` (default ``env_delay``) steps later."""
        t = self.t
        if t < self.t0:
            raise AsyncPCError("environment message sent before the run's first step; "
                               "await ctx.until(ctx.t0) first")
        d = self.env_delay if delay is None else int(delay)
        if d < 1:
            raise SpecError(f"environment message delay: must be >= 1 step, got {d}")
        self._env.post(t, t + d, kind, neuron, value)

    def clamp(self, neuron: int, value: float, *, delay: int | None = None) -> None:
        """Clamp value neuron ``neuron`` (or -1: all) to ``value``."""
        self.send(EV_CLAMP, neuron, value, delay=delay)

    def unclamp(self, neuron: int, *, delay: int | None = None) -> None:
        self.send(EV_UNCLAMP, neuron, 0.0, delay=delay)

    def modulate(self, neuron: int, gain: float, *, delay: int | None = None) -> None:
        """Set the plasticity gain of ``neuron`` (or -1: every neuron); 0 freezes its synapses."""
        self.send(EV_MODULATE, neuron, gain, delay=delay)


class Environment(Actor):
    """Base class of environment actors (data sources, sensors, experimenters).

    Implement ``async def run(self, ctx)``: sleep with ``await ctx.until(t)`` and send
    with ``ctx.clamp`` / ``ctx.unclamp`` / ``ctx.modulate``. On a continued run, ``run``
    starts again with ``ctx.t0`` the step the state had reached, so an environment that
    is a function of time continues seamlessly.
    """

    name = "environment"


class ScheduleEnvironment(Environment):
    """Sends a :class:`~asyncpc.environment.Schedule`'s messages at their send steps, in
    schedule order.

    The schedule is expanded a window at a time (at most ``window_events`` messages,
    :meth:`Schedule.windows`), so a compact schedule's frames are laid out only as they
    are sent. On a continued run it sends the messages sent at or after ``t0``; those sent
    earlier and still in flight are part of the carried state.
    """

    name = "schedule"
    window_events = 1 << 16

    def __init__(self, schedule: Schedule):
        if schedule.env_delay < 1:
            raise SpecError(f"schedule.env_delay: must be >= 1 step, got {schedule.env_delay}")
        self.schedule = schedule

    async def run(self, ctx) -> None:
        sc = self.schedule
        d = int(sc.env_delay)
        for lo, hi in sc.windows(ctx.t0, ctx.stop, self.window_events):
            ev_t, kinds, neurons, values = (c.tolist() for c in sc.events(lo, hi))
            k, n = 0, len(ev_t)
            while k < n:
                t = await ctx.until(ev_t[k])
                while k < n and ev_t[k] == t:
                    ctx.send(kinds[k], neurons[k], values[k], delay=d)
                    k += 1
