"""Neuron actors: each one an asyncio task that owns its state and its inbox.

A neuron's memory is its own entries of the run's :class:`~asyncpc.state.NetState`
(``s``, ``bias``, ``last_tick``, ``next_tick``, ``ticks``, ``last_sent``), its own CSR
slices of ``inbox`` and ``w`` (views, in-edges in CSR order, partner edge first), and its
control inbox (``clamped``, ``clamp_val``: the latest clamp message; ``gain``: the
latest neuromodulator message). Its parameters come from its row of the compiled net.
It reads and writes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile import KIND_ERROR, KIND_VALUE, CompiledNet
from ..kernels import STREAM_CLOCK, act, error_tick, randint, value_tick
from ..model import ACTIVATIONS

__all__ = ["Actor", "Neuron", "NeuronSpec", "ValueNeuron", "ErrorNeuron"]


class Actor:
    """Anything that runs as a task of a run: a neuron, an environment, a sensor.

    Subclasses implement ``async def run(self, ctx)`` where ``ctx`` is the actor's
    :class:`~asyncpc.actors.Context` (``ctx.t``, ``await ctx.until(t)``, ...). An actor
    must only sleep through ``ctx.until``: waiting on anything else stalls the step it
    is in (which is how a realtime demo can wait for the outside world).
    """

    name: str = "actor"

    async def run(self, ctx) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class NeuronSpec:
    """A neuron's parameters (its row of the compiled net) and the layout of its inbox.

    ``in_edges`` are the CSR ids of its in-edges (partner edge first when
    ``has_partner``); ``in_src`` their senders; ``in_role`` their roles (0 predict,
    1 feedback, 2 partner).
    """

    id: int
    kind: str
    area: str
    index: int
    role: str
    activation: str
    tau: float
    period: int
    phase: int
    clock_jitter: int
    send: str
    threshold: float
    eta: float
    eta_b: float
    decay: float
    has_partner: bool
    in_edges: range
    in_src: tuple
    in_role: tuple
    h: float

    @classmethod
    def of(cls, c: CompiledNet, i: int, roles: np.ndarray | None = None) -> "NeuronSpec":
        roles = c.edge_role() if roles is None else roles
        lo, hi = int(c.in_ptr[i]), int(c.in_ptr[i + 1])
        return cls(id=i, kind="value" if c.kind[i] == KIND_VALUE else "error",
                   area=c.area_names[int(c.area[i])], index=int(c.index[i]),
                   role=("hidden", "sensory", "label")[int(c.role[i])],
                   activation=ACTIVATIONS[int(c.act[i])], tau=float(c.tau[i]),
                   period=int(c.period[i]), phase=int(c.phase[i]), clock_jitter=int(c.cjit[i]),
                   send="always" if c.send[i] == 0 else "on_delta", threshold=float(c.thresh[i]),
                   eta=float(c.eta[i]), eta_b=float(c.eta_b[i]), decay=float(c.decay[i]),
                   has_partner=bool(c.has_partner[i]), in_edges=range(lo, hi),
                   in_src=tuple(c.src[lo:hi].tolist()), in_role=tuple(roles[lo:hi].tolist()),
                   h=float(c.h))


class Neuron(Actor):
    """Base class of neuron actors. Subclasses implement :meth:`update`.

    The runtime binds the neuron to its slot (:meth:`bind`) and runs :meth:`run`: sleep
    until the next tick of the neuron's own clock, :meth:`tick`, repeat. A tick computes
    ``dt`` since the previous tick, calls ``update(t, dt)`` for the new state and the
    rate to send, records the state, advances the clock (period, clock jitter) and sends
    by the send policy: ``rate`` on predict edges, ``state`` on every other edge.

    What ``update`` may use: ``self.spec`` (parameters), ``self.inbox`` and ``self.w``
    (its in-edges' latest values and synapses, CSR order, partner first), and the
    properties ``s``, ``bias``, ``clamped``, ``clamp_value``, ``gain``.
    """

    def __init__(self):
        self.id: int | None = None

    # -- binding ---------------------------------------------------------------------
    def bind(self, i: int, spec: NeuronSpec, state, ctx, wires, seed: int, ticked_hooks=()) -> None:
        """Attach to neuron slot ``i`` of a run (called by the runtime before the run)."""
        self.id, self.spec, self.ctx, self.name = i, spec, ctx, f"neuron {i}"
        self._st, self._wires, self._seed = state, wires, seed
        sl = slice(spec.in_edges.start, spec.in_edges.stop)
        self.inbox = state.inbox[sl]
        self.w = state.w[sl]
        self._h, self._period, self._cjit = spec.h, spec.period, spec.clock_jitter
        self._policy = 0 if spec.send == "always" else 1
        self._thresh = spec.threshold
        self._ticked = list(ticked_hooks)

    # -- own state ----------------------------------------------------------------------
    @property
    def s(self) -> float:
        """The neuron's state: x (value neuron) or eps (error neuron)."""
        return float(self._st.s[self.id])

    @property
    def bias(self) -> float:
        return float(self._st.bias[self.id])

    @bias.setter
    def bias(self, v: float) -> None:
        self._st.bias[self.id] = v

    @property
    def clamped(self) -> bool:
        """Whether the latest clamp message said "clamp" (control inbox)."""
        return bool(self._st.clamped[self.id])

    @property
    def clamp_value(self) -> float:
        return float(self._st.clamp_val[self.id])

    @property
    def gain(self) -> float:
        """Plasticity gain from the latest neuromodulator message (1 by default)."""
        return float(self._st.gain[self.id])

    # -- behaviour -------------------------------------------------------------------
    def update(self, t: int, dt: float) -> tuple[float, float]:
        """Integrate over ``dt`` ms, apply local plasticity; return ``(state, rate)``."""
        raise NotImplementedError

    def tick(self, t: int) -> int:
        """One tick at step ``t``; returns the step of the next tick."""
        st, i = self._st, self.id
        s, rate = self.update(t, (t - int(st.last_tick[i])) * self._h)
        st.s[i] = s
        st.last_tick[i] = t
        nt = t + self._period
        if self._cjit:
            nt += int(randint(self._seed, STREAM_CLOCK, i, t, -self._cjit, self._cjit))
        st.next_tick[i] = nt
        n = int(st.ticks[i])
        st.ticks[i] = n + 1
        # the send policy, exactly kernels.should_send (inlined: it is on the hot path)
        if self._policy == 0 or n == 0 or abs(s - st.last_sent[i]) > self._thresh:
            st.last_sent[i] = s
            self._wires.send(i, t, s, rate)
        for hook in self._ticked:
            hook(t, i, s)
        return nt

    async def run(self, ctx) -> None:
        st, i, until, tick = self._st, self.id, ctx.until, self.tick
        nt = int(st.next_tick[i])
        while True:
            nt = tick(await until(nt))


class ValueNeuron(Neuron):
    """The built-in value neuron: :func:`asyncpc.kernels.value_tick` on its own slot.

    In ``transport`` mode (non-local, for comparison only) it reads the W synapses of
    its child error neurons instead of its own V, and does not learn V.
    """

    def bind(self, i, spec, state, ctx, wires, seed, ticked_hooks=()):
        super().bind(i, spec, state, ctx, wires, seed, ticked_hooks)
        c = ctx.net
        self._code = int(c.act[i])
        self._args = (float(spec.tau), self._code, bool(spec.has_partner))
        self._learn = (float(spec.eta), float(spec.decay))
        self._plastic = not c.transport
        sl = slice(spec.in_edges.start, spec.in_edges.stop) if len(state.syn_in) else slice(0, 0)
        # the matched trace gate's per-synapse state: views of the run state, like inbox and w
        self._options = (float(c.speedup[i]), float(c.lag[i]), float(c.fb_gain[i]), float(c.gate[i]),
                         float(c.gate_tau[i]), state.syn_in[sl], state.syn_m[sl])
        self._sends_rate = 0 in out_roles(c, i)
        self._mirror = None
        if c.transport:  # NON-LOCAL: the synapses used are W, held by other neurons
            m = c.mirror[spec.in_edges.start:spec.in_edges.stop].astype(np.int64)
            self._mirror = (m, m >= 0, state.w, self.w.copy())

    def update(self, t, dt):
        st, i = self._st, self.id
        w = self.w
        if self._mirror is not None:
            m, ok, wall, w = self._mirror
            w[ok] = wall[m[ok]]
        # Python bool for the flag: numba types a numpy bool_ argument on a slow path
        x, st.aux[i] = value_tick(st.s[i], st.aux[i], dt, *self._args, self.inbox, w, *self._learn, st.gain[i],
                                  bool(st.clamped[i]), st.clamp_val[i], self._plastic, *self._options)
        return x, (act(self._code, x) if self._sends_rate else x)


class ErrorNeuron(Neuron):
    """The built-in error neuron: :func:`asyncpc.kernels.error_tick` on its own slot."""

    def bind(self, i, spec, state, ctx, wires, seed, ticked_hooks=()):
        super().bind(i, spec, state, ctx, wires, seed, ticked_hooks)
        self._tau = float(spec.tau)
        self._learn = (float(spec.eta), float(spec.eta_b), float(spec.decay))
        c = ctx.net
        self._options = (float(c.p_tau[i]), float(c.p_speedup[i]), float(c.p_window[i]), float(c.gate[i]),
                         float(c.gate_tau[i]))

    def update(self, t, dt):
        st, i = self._st, self.id
        eps, b, st.aux[i] = error_tick(st.s[i], st.aux[i], dt, self._tau, self.inbox, self.w, st.bias[i],
                                       *self._learn, st.gain[i], *self._options)
        st.bias[i] = b
        return eps, eps


def out_roles(c: CompiledNet, i: int) -> list[int]:
    """Roles of neuron ``i``'s out-edges (0 predict, 1 feedback, 2 partner)."""
    e = c.out_edge[c.out_ptr[i]:c.out_ptr[i + 1]]
    r = np.where(c.kind[c.dst[e]] == KIND_ERROR, 0, 1)
    first = c.in_ptr[c.dst[e]] == e
    r[first & (c.has_partner[c.dst[e]] == 1)] = 2
    return r.tolist()


def builtin_neuron(c: CompiledNet, i: int) -> Neuron:
    """The built-in actor for neuron ``i`` of ``c``."""
    return ValueNeuron() if c.kind[i] == KIND_VALUE else ErrorNeuron()
