"""DensePC: the equations of docs/model.md, dense and synchronous, as a test oracle.

Every message takes one step and every neuron ticks every step, so the inbox of every
neuron at step ``t`` holds exactly what its senders emitted at ``t - 1``: the outputs of
the network's state at the end of ``t - 1``. The whole inbox is therefore a function of
the previous state, and one step of the network is one vectorised map
``(x, eps, W, V, b) -> (x', eps', W', V', b')`` in which every right-hand side reads the
previous state only. That is the whole trick; everything else is bookkeeping to compare
with the runtimes edge by edge.

Between runs, the messages sent at the last simulated step are still in flight; with
send policy ``always`` and one-step delays they are exactly the outputs of the current
state, so a :class:`NetState` (which holds the *delivered* inbox) is enough to resume.
"""

from __future__ import annotations

import numpy as np

from ..compile import CompiledNet
from ..environment import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Schedule
from ..errors import DivergenceError, SpecError
from ..state import NetState, RunResult
from ._layout import DenseLayout, dense_layout

__all__ = ["DensePC"]


class DensePC:
    """Dense synchronous predictive-coding network: the runtimes' oracle.

    Simulates exactly the tick of docs/model.md for a network in which every delay is one
    step and every neuron ticks every step (period 1, phase 0, no jitter, no loss, send
    policy ``always``). Build it with :meth:`from_compiled`, which checks those
    preconditions. Areas hold vectors ``x`` (and ``eps``, ``bias`` if they have parents);
    each projection ``src -> dst`` holds ``W`` (dst x src, the synapses of the error
    neurons) and ``V`` (src x dst, the synapses of the value neurons). Missing edges of a
    sparse projection are zero and are never learned.

    Attributes
    ----------
    t : int
        The next step to simulate.
    clamped, clamp_val, gain : numpy.ndarray
        Per neuron (compiled ids), as in :class:`asyncpc.state.NetState`.
    sent, delivered : int
        Message counters: every neuron sends on every out-edge at every tick; a message
        is delivered when its arrival step (one step later) has been simulated.

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.reference import DensePC
    >>> c = compile_network(layered([3, 2], activation="linear"), h=0.1)
    >>> sim = DensePC.from_compiled(c)
    >>> sim.clamp(c.neurons_of("input"), [1.0, 0.0, -1.0])
    >>> for _ in range(3):
    ...     sim.step()
    >>> sim.t, sim.x["input"].tolist()
    (3, [1.0, 0.0, -1.0])
    """

    def __init__(self, layout: DenseLayout, state: NetState | None = None):
        self.layout = L = layout
        c = L.c
        st = NetState.initial(c) if state is None else state
        self._check_state(st)
        s = np.asarray(st.s, dtype=np.float64)
        self.t = int(st.t)
        self._x = [s[a.values].copy() for a in L.areas]
        self._eps = [s[a.errors].copy() for a in L.areas]
        self._b = [np.asarray(st.bias, dtype=np.float64)[a.errors].copy() for a in L.areas]
        self._W = [p.gather_w(st.w) for p in L.projections]
        self._V = [p.gather_v(st.w) for p in L.projections]
        self._w_partner = np.asarray(st.w, dtype=np.float64)[L.partner_edges].copy()
        self.clamped = np.asarray(st.clamped, dtype=np.int8).copy()
        self.clamp_val = np.asarray(st.clamp_val, dtype=np.float64).copy()
        self.gain = np.asarray(st.gain, dtype=np.float64).copy()
        self.sent, self.delivered, self.dropped = int(st.sent), int(st.delivered), int(st.dropped)
        self._ticks0, self._t0 = np.asarray(st.ticks, dtype=np.int64).copy(), self.t
        # the delivered inbox, as given, until a step replaces it by the outputs of the state
        # that step read (kept as that state: x and eps before the step)
        self._inbox_given = np.asarray(st.inbox, dtype=np.float64).copy()
        self._aux_given = np.asarray(st.aux, dtype=np.float64).copy()
        self._read: tuple | None = None
        # tau_e = 0 marks an instantaneous error neuron; divide by 1 there, the result is unused
        self._tau_e = [np.where(a.tau_e > 0, a.tau_e, 1.0) for a in L.areas]
        self._leaky = [a.tau_e > 0 for a in L.areas]

    @classmethod
    def from_compiled(cls, c: CompiledNet, state: NetState | None = None) -> "DensePC":
        """Dense oracle of ``c``, starting from ``state`` (default ``NetState.initial(c)``).

        A ``state`` saved at step ``t`` resumes with the messages its neurons sent at
        ``t - 1`` in flight; under the preconditions these are the outputs of ``state.s``.

        Raises
        ------
        asyncpc.errors.SpecError
            If a delay is not one step, a clock period is not one step or has a phase or
            jitter, a message can be lost or jittered, a neuron sends ``on_delta``, the
            feedback is ``transport``, or the area graph has a cycle; or if ``state`` has
            the wrong shapes or a neuron that does not tick at ``state.t``.

        Examples
        --------
        >>> from asyncpc.model import layered
        >>> from asyncpc.compile import compile_network
        >>> from asyncpc.reference import DensePC
        >>> sim = DensePC.from_compiled(compile_network(layered([4, 3, 2]), h=0.1))
        >>> sim.areas, sim.projections
        (['input', 'hidden1', 'label'], [('input', 'hidden1'), ('hidden1', 'label')])
        """
        return cls(dense_layout(c), state)

    # ----------------------------------------------------------------- views
    @property
    def areas(self) -> list:
        """Area names, in topological order (parents first)."""
        return [a.name for a in self.layout.areas]

    @property
    def projections(self) -> list:
        """``(src, dst)`` area names of each projection."""
        return [p.name for p in self.layout.projections]

    @property
    def x(self) -> dict:
        """Area name -> value activities of the current state (a step replaces the arrays;
        read them again after stepping)."""
        return {a.name: x for a, x in zip(self.layout.areas, self._x)}

    @property
    def eps(self) -> dict:
        """Area name -> errors (empty for an area without parents)."""
        return {a.name: e for a, e in zip(self.layout.areas, self._eps)}

    @property
    def bias(self) -> dict:
        """Area name -> biases of its error neurons."""
        return {a.name: b for a, b in zip(self.layout.areas, self._b)}

    @property
    def W(self) -> dict:
        """``(src, dst)`` -> prediction synapses, shape (n_dst, n_src)."""
        return {p.name: w for p, w in zip(self.layout.projections, self._W)}

    @property
    def V(self) -> dict:
        """``(src, dst)`` -> feedback synapses, shape (n_src, n_dst)."""
        return {p.name: v for p, v in zip(self.layout.projections, self._V)}

    def set_x(self, area: str, values) -> None:
        """Set the activities of ``area`` as if the network had rested there (its outgoing
        messages follow, since every inbox holds the senders' last outputs)."""
        a = self.layout.area(area)
        v = np.asarray(values, dtype=np.float64)
        if v.shape != self._x[a].shape:
            raise SpecError(f"set_x({area!r}): expected {self._x[a].shape[0]} values, got shape {v.shape}")
        self._x[a] = v.copy()

    def energy(self) -> np.ndarray:
        """Per-area energy ``0.5 * sum eps^2`` (indexed like ``CompiledNet.area_names``)."""
        out = np.zeros(len(self.layout.c.area_names))
        for a, e in zip(self.layout.areas, self._eps):
            if a.has_errors:
                ordered = e[a.err_by_id]
                out[a.code] = 0.5 * np.dot(ordered, ordered)
        return out

    def local_updates(self) -> dict:
        """``(src, dst)`` -> ``eps_dst f(x_src)^T``: the direction of the local W update at the
        current state (per unit ``eta`` and ``dt``), zero where there is no synapse."""
        L = self.layout
        out = {}
        for p in L.projections:
            d = np.outer(self._eps[p.dst], L.areas[p.src].act.f(self._x[p.src]))
            out[p.name] = d if p.w_mask is None else d * p.w_mask
        return out

    # -------------------------------------------------------- environment
    def apply_event(self, kind: int, neuron: int, value: float) -> None:
        """Apply one environment message now (before the next tick); ``neuron = -1`` means
        every neuron."""
        sel = slice(None) if neuron == -1 else int(neuron)
        if kind == EV_CLAMP:
            self.clamped[sel], self.clamp_val[sel] = 1, value
        elif kind == EV_UNCLAMP:
            self.clamped[sel] = 0
        elif kind == EV_MODULATE:
            self.gain[sel] = value
        else:
            raise SpecError(f"schedule.ev_kind: unknown environment message kind {kind!r}; "
                            f"expected {EV_CLAMP} (clamp), {EV_UNCLAMP} (unclamp) or {EV_MODULATE} (modulate)")

    def clamp(self, neurons, values) -> None:
        """Clamp ``neurons`` (compiled ids) to ``values`` from the next tick on."""
        ids = np.asarray(neurons, dtype=np.int64)
        self.clamped[ids], self.clamp_val[ids] = 1, np.broadcast_to(np.asarray(values, float), ids.shape)

    def unclamp(self, neurons) -> None:
        """Release ``neurons`` (compiled ids) from their clamp."""
        self.clamped[np.asarray(neurons, dtype=np.int64)] = 0

    def set_gain(self, value: float, neurons=None) -> None:
        """Set the plasticity gain of ``neurons`` (default every neuron); 0 freezes weights."""
        self.gain[slice(None) if neurons is None else np.asarray(neurons, dtype=np.int64)] = value

    # ------------------------------------------------------------- dynamics
    def step(self) -> None:
        """Tick every neuron once at step :attr:`t` and advance to ``t + 1``.

        Environment messages due at ``t`` must have been applied before (``run`` does).
        """
        L, dt = self.layout, self.layout.c.h
        x, eps = self._x, self._eps
        fx = [a.act.f(v) for a, v in zip(L.areas, x)]
        new_eps = list(eps)
        for ai, a in enumerate(L.areas):
            if not a.has_errors:
                continue
            # error neuron: mu from its predict inbox (parents' rates of the previous step)
            mu = self._b[ai].copy()
            for k in L.into[ai]:
                mu += self._W[k] @ fx[L.projections[k].src]
            tgt = x[ai] - mu
            en = np.where(self._leaky[ai], eps[ai] + dt / self._tau_e[ai] * (tgt - eps[ai]), tgt)
            new_eps[ai] = en
            g = dt * self.gain[a.errors]
            for k in L.into[ai]:
                p, W = L.projections[k], self._W[k]
                inc = (a.eta_e * en)[:, None] * fx[p.src][None, :] - a.decay_e[:, None] * W
                inc *= g[:, None]
                W += inc if p.w_mask is None else inc * p.w_mask
            self._b[ai] = self._b[ai] + g * a.eta_b * en
        new_x = list(x)
        for ai, a in enumerate(L.areas):
            # value neuron: -own error + f'(x) * sum_children V eps (all from the previous step)
            drive = np.zeros(a.size)
            for k in L.out_of[ai]:
                drive += self._V[k] @ eps[L.projections[k].dst]
            e_self = eps[ai] if a.has_errors else 0.0
            free = x[ai] + dt / a.tau_x * (-e_self + a.act.df(x[ai]) * drive)
            new_x[ai] = np.where(self.clamped[a.values] != 0, self.clamp_val[a.values], free)
            g = dt * self.gain[a.values]
            for k in L.out_of[ai]:
                p, V = L.projections[k], self._V[k]
                inc = (a.eta_v[:, None] * eps[p.dst][None, :]) * fx[ai][:, None] - a.decay_v[:, None] * V
                inc *= g[:, None]
                V += inc if p.v_mask is None else inc * p.v_mask
        self._read = (x, eps)
        self._x, self._eps = new_x, new_eps
        E = L.c.n_edges
        self.sent += E
        if self.t >= 1:  # what was sent at t - 1 arrived at t
            self.delivered += E
        self.t += 1

    def run(self, schedule: Schedule, until: int | None = None) -> RunResult:
        """Simulate steps ``t .. until - 1`` (``until`` defaults to ``schedule.end``).

        At each step, environment messages arriving then (sent at ``t - env_delay``) are
        applied in schedule order, every neuron ticks, and at a probe step the read-out
        records ``x`` of ``schedule.readout`` and every area's energy.

        Returns
        -------
        asyncpc.state.RunResult
            With ``runtime="reference"`` and a full :class:`NetState` (synapses per
            compiled edge in CSR order) that :meth:`from_compiled` accepts to resume.

        Examples
        --------
        >>> from asyncpc.model import layered
        >>> from asyncpc.compile import compile_network
        >>> from asyncpc.environment import EV_CLAMP, Schedule
        >>> from asyncpc.reference import DensePC
        >>> c = compile_network(layered([2, 1], activation="linear"), h=0.1)
        >>> ids = c.neurons_of("input")
        >>> sch = Schedule.from_events([(0, EV_CLAMP, ids[0], 1.0), (0, EV_CLAMP, ids[1], 2.0)],
        ...                            probe_t=[5], readout=ids, end=6)
        >>> DensePC.from_compiled(c).run(sch).probe_x.tolist()
        [[1.0, 2.0]]
        """
        c = self.layout.c
        until = int(schedule.end if until is None else until)
        if until < self.t:
            raise SpecError(f"until: must be >= the current step {self.t}, got {until}")
        readout = np.asarray(schedule.readout, dtype=np.int64)
        for what, ids, lo in (("readout", readout, 0), ("ev_neuron", schedule.receivers(), -1)):
            if len(ids) and (np.min(ids) < lo or np.max(ids) >= c.n_neurons):
                raise SpecError(f"schedule.{what}: neuron ids must be in {lo}..{c.n_neurons - 1}, "
                                f"got {int(np.min(ids))}..{int(np.max(ids))}")
        d = int(schedule.env_delay)
        ev_t, ev_kind, ev_neuron, ev_value = schedule.events(self.t - d, until - d)  # arriving in t .. until-1
        arrival = np.asarray(ev_t, dtype=np.int64) + d
        ev = 0
        pt = np.asarray(schedule.probe_t, dtype=np.int64)
        pt = pt[(pt >= self.t) & (pt < until)]
        probe_x = np.zeros((len(pt), len(readout)))
        probe_e = np.zeros((len(pt), len(c.area_names)))
        p = 0
        while self.t < until:
            t = self.t
            while ev < len(arrival) and arrival[ev] == t:
                self.apply_event(int(ev_kind[ev]), int(ev_neuron[ev]), float(ev_value[ev]))
                ev += 1
            self.step()
            self._check_finite(t)
            if p < len(pt) and pt[p] == t:
                probe_x[p] = self._global_s()[readout]
                probe_e[p] = self.energy()
                p += 1
        return RunResult(probe_t=pt, probe_x=probe_x, probe_energy=probe_e, state=self.state(),
                         runtime="reference", threads=1)

    # ------------------------------------------------------------ state I/O
    def _global_s(self, x_eps: tuple | None = None) -> np.ndarray:
        xs, es = (self._x, self._eps) if x_eps is None else x_eps
        s = np.zeros(self.layout.c.n_neurons)
        for a, x, e in zip(self.layout.areas, xs, es):
            s[a.values] = x
            s[a.errors] = e
        return s

    def _outputs(self, s: np.ndarray) -> np.ndarray:
        """What every edge carries when each sender emits from state ``s``."""
        L = self.layout
        rate = s.copy()
        for a in L.areas:
            rate[a.values] = a.act.f(s[a.values])
        c = L.c
        return np.where(L.reads_rate, rate[c.src], s[c.src]) if c.n_edges else np.zeros(0)

    def state(self) -> NetState:
        """The current state as a :class:`NetState` (every field filled, as a runtime would).

        ``inbox`` holds what has been delivered: the outputs of the state the last step read
        (what was sent at ``t - 1`` is still in flight).
        """
        c, L = self.layout.c, self.layout
        s = self._global_s()
        w = np.zeros(c.n_edges)
        w[L.partner_edges] = self._w_partner
        for p, W, V in zip(L.projections, self._W, self._V):
            p.scatter(W, V, w)
        bias = np.zeros(c.n_neurons)
        for a, b in zip(L.areas, self._b):
            bias[a.errors] = b
        N = c.n_neurons
        # aux (options off): a value neuron's x before its last tick, an error neuron's partner x it read
        if self._read is None:
            inbox, aux = self._inbox_given.copy(), self._aux_given.copy()
        else:
            aux = self._global_s(self._read)
            inbox = self._outputs(aux)
            err = np.flatnonzero((c.kind != 0) & (c.has_partner != 0))
            aux[err] = inbox[c.in_ptr[err]]
        return NetState(t=self.t, s=s, w=w, bias=bias, clamped=self.clamped.copy(),
                        clamp_val=self.clamp_val.copy(), gain=self.gain.copy(),
                        last_tick=np.full(N, self.t - 1, np.int64), next_tick=np.full(N, self.t, np.int64),
                        ticks=self._ticks0 + (self.t - self._t0), last_sent=s.copy(),
                        inbox=inbox, aux=aux, sent=self.sent, delivered=self.delivered,
                        dropped=self.dropped)

    def _check_state(self, st: NetState) -> None:
        c = self.layout.c
        N, E = c.n_neurons, c.n_edges
        for name, n in (("s", N), ("bias", N), ("clamped", N), ("clamp_val", N), ("gain", N),
                        ("ticks", N), ("next_tick", N), ("w", E), ("inbox", E)):
            if np.shape(getattr(st, name)) != (n,):
                raise SpecError(f"state.{name}: expected shape ({n},) for this network, "
                                f"got {np.shape(getattr(st, name))}")
        if np.any(np.asarray(st.next_tick) != st.t):
            raise SpecError(f"state.next_tick: the dense reference needs every neuron to tick at "
                            f"step t = {st.t}; got a state from a different clock regime")

    def _check_finite(self, t: int) -> None:
        for a, x, e in zip(self.layout.areas, self._x, self._eps):
            if not (np.isfinite(x).all() and np.isfinite(e).all()):
                raise DivergenceError(f"step {t}: area {a.name!r} has non-finite activity; "
                                      "lower h/tau or the learning rates")
