"""Neuron actors: each one an asyncio task that owns its state and its inbox.

A neuron's memory is its own entries of the run's :class:`~asyncpc.state.NetState`
(``s``, ``bias``, ``aux``, ``last_tick``, ``next_tick``, ``ticks``, ``last_sent``,
``last_send``, its running sums ``lz_*``), its own CSR slices of the per-edge arrays
(``inbox``, ``held``, ``syn_c`` and the signal ones; in-edges in CSR order, partner edge
first), and its control inbox (``clamped``, ``clamp_val``: the latest clamp message; ``gain``: the
latest neuromodulator message). Its parameters come from its row of the compiled net.
It reads and writes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile import KIND_ERROR, KIND_VALUE, CompiledNet
from ..kernels import STREAM_CLOCK, jit, randint, sync_row, tick
from ..kernels._params import ETA
from ..kernels._synapses import lazy_sum, needs_rebase, rebase, transport_drive
from ..kernels._tick import param_row
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
    second output (the rate ``f(x)`` a value neuron sends on predict edges; an error
    neuron's learning signal), records the state, advances the clock (period, clock
    jitter) and sends by the send policy (each edge takes what
    ``CompiledNet.edge_codes`` says: the rate on predict edges, the state elsewhere).

    What ``update`` may use: ``self.spec`` (parameters), ``self.inbox`` and ``self.w``
    (its in-edges' latest values and synapses, CSR order, partner first; a custom neuron
    keeps its weights in ``self.w`` and updates them itself, while the built-in neurons
    keep event-driven synapses, docs/model.md), and the properties ``s``, ``bias``,
    ``clamped``, ``clamp_value``, ``gain``.
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
        self._refresh = int(ctx.net.refresh[i])
        # an error neuron's second output is its learning signal: on_delta watches it too
        self._sig = bool(ctx.net.signals and spec.kind == "error")
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
        """Integrate over ``dt`` ms, apply local plasticity; return ``(state, second output)``."""
        raise NotImplementedError

    def tick(self, t: int) -> int:
        """One tick at step ``t``; returns the step of the next tick."""
        st, i = self._st, self.id
        s, out2 = self.update(t, (t - int(st.last_tick[i])) * self._h)
        st.s[i] = s
        st.last_tick[i] = t
        nt = t + self._period
        if self._cjit:
            nt += int(randint(self._seed, STREAM_CLOCK, i, t, -self._cjit, self._cjit))
        st.next_tick[i] = nt
        n = int(st.ticks[i])
        st.ticks[i] = n + 1
        # the send policy, exactly kernels.should_send (inlined: it is on the hot path)
        sig = self._sig
        if (self._policy == 0 or n == 0 or (self._refresh and t - st.last_send[i] >= self._refresh)
                or abs(s - st.last_sent[i]) > self._thresh or (sig and abs(out2 - st.last_sig[i]) > self._thresh)):
            st.last_sent[i] = s
            st.last_send[i] = t
            if sig:
                st.last_sig[i] = out2
            self._wires.send(i, t, s, out2)
        for hook in self._ticked:
            hook(t, i, s)
        return nt

    async def run(self, ctx) -> None:
        st, i, until, tick = self._st, self.id, ctx.until, self.tick
        nt = int(st.next_tick[i])
        while True:
            nt = tick(await until(nt))


class _Builtin(Neuron):
    """What the built-in neurons share: bring the held inputs of their synapses up to
    date (in edge order), then the kernels' whole tick (:func:`asyncpc.kernels.tick`)."""

    def bind(self, i, spec, state, ctx, wires, seed, ticked_hooks=()):
        super().bind(i, spec, state, ctx, wires, seed, ticked_hooks)
        c = ctx.net
        self._row = (c.in_ptr[i], c.in_ptr[i] + int(c.has_partner[i]), c.in_ptr[i + 1])
        self._prm = ctx.prm
        sig = len(state.held_sig) > 0
        self._arrays = (state.inbox, state.inbox_sig if sig else state.inbox, state.syn_c, state.held,
                        state.held_sig if sig else state.held)
        self._plastic = not c.transport
        self._transport = None
        if c.transport and c.kind[i] == KIND_VALUE:  # NON-LOCAL: reads W, held by other neurons
            self._transport = (np.ascontiguousarray(c.mirror, np.int64), np.ascontiguousarray(c.dst, np.int64),
                               np.ascontiguousarray(c.eta, np.float64))

    def update(self, t, dt):
        st, i = self._st, self.id
        p0, lo, hi = self._row
        tr = self._transport
        s, out2, k, rb = _tick_neuron(self._prm, self._is_value, i, p0, lo, hi, dt, st.gain[i], bool(st.clamped[i]),
                                      st.clamp_val[i], self._plastic, tr is not None,
                                      *(tr if tr is not None else self._no_transport), *self._arrays, st.s, st.aux,
                                      st.bias, st.lz_p, st.lz_t, st.lz_a, st.lz_q, st.lz_n)
        w = self._wires
        w.applied += k
        w.rebased += rb
        return s, out2

    _no_transport = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


class ValueNeuron(_Builtin):
    """The built-in value neuron (:func:`asyncpc.kernels.value_tick` on its own slot).

    In ``transport`` mode (non-local, for comparison only) it reads the W synapses of
    its child error neurons instead of its own V, and does not learn V.
    """

    _is_value = True


class ErrorNeuron(_Builtin):
    """The built-in error neuron (:func:`asyncpc.kernels.error_tick` on its own slot)."""

    _is_value = False


@jit
def _tick_neuron(prm, is_value, i, p0, lo, hi, dt, gain, clamped, clamp_val, plastic, transport, mirror, owner,
                 eta_all, inbox, inbox_l, c, held, held_l, s, aux, bias, lz_p, lz_t, lz_a, lz_q, lz_n):
    """A built-in neuron's tick on its own slots: apply the inputs that changed since its
    last tick (edge order), rebase if due, then :func:`asyncpc.kernels.tick` -- the
    engine's sequence. Returns ``(s, out2, inputs applied, synapses rebased)``."""
    eta = prm[i, ETA]
    A, Q, k = sync_row(lo, hi, inbox, inbox_l, c, held, held_l, lz_t[i], eta, lz_a[i], lz_q[i])
    lz_n[i] += k
    P, T = lz_p[i], lz_t[i]
    rb = 0
    if hi > lo and needs_rebase(P, T, eta, lz_n[i], hi - lo):
        A, Q = rebase(lo, hi, c, held, held_l, P, T, eta)
        P, T = 1.0, 0.0
        lz_n[i] = 0
        rb = hi - lo
    if transport:
        total = transport_drive(lo, hi, mirror, owner, held, c, held_l, lz_p, lz_t, eta_all, i)
    else:
        total = lazy_sum(P, T, A, Q, eta)
    p_in = inbox[p0] if lo > p0 else 0.0
    xn, an, bn, P, T, out2 = tick(param_row(prm, i), is_value, hi > lo, dt, gain, clamped, clamp_val, plastic,
                                  p_in, total, s[i], aux[i], bias[i], P, T)
    s[i], aux[i], bias[i] = xn, an, bn
    lz_p[i], lz_t[i], lz_a[i], lz_q[i] = P, T, A, Q
    return xn, out2, k, rb


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
