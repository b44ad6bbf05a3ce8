"""Channels: what happens to a message between its sender and its receiver's inbox.

Every edge is a channel that delivers its message ``delay`` (+ jitter) steps after it
was sent, or drops it, by exactly the counter-based draws of docs/architecture.md:

    dropped  iff  loss[e] > 0 and uniform(seed, STREAM_LOSS, e, t) < loss[e]
    arrival  =    t + delay[e] + randint(seed, STREAM_JITTER, e, t, 0, jit[e])   (jit[e] > 0)

A neuron's send is one batch per arrival step (see :class:`Wires`) appended to a per-step
delivery list (a calendar keyed by arrival step).
Batches are appended as they are sent, and virtual time only moves forward, so each list
is in order of send step: writing it into the inboxes in list order makes the message
sent last win when several arrive on one edge at one step, and makes arrival order define
sample-and-hold otherwise (an older message arriving later overwrites a newer one).

Neurons whose out-edges have neither loss nor jitter use a plan precomputed per delay;
the others call one Numba kernel per send (:func:`_route`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile import CompiledNet
from ..kernels import STREAM_JITTER, STREAM_LOSS, jit, randint, uniform
from ..observe import InFlight

__all__ = ["Wires"]


@jit
def _route(seed, t, edges, delay, jitter, loss, code, s, out2):
    """One send of a neuron on its out-edges ``edges`` (``code``: what each carries,
    ``CompiledNet.edge_codes``).

    Returns (arrive, dropped, value, signal) per edge in the given order, and the kept
    edges sorted by arrival (stable) with their arrivals, values and signals.
    """
    n = edges.shape[0]
    arrive = np.empty(n, np.int64)
    dropped = np.zeros(n, np.bool_)
    value = np.empty(n, np.float64)
    signal = np.empty(n, np.float64)
    kept = 0
    for k in range(n):
        e = edges[k]
        a = t + np.int64(delay[k])
        j = jitter[k]
        if j > 0:
            a += randint(seed, STREAM_JITTER, e, t, 0, np.int64(j))
        arrive[k] = a
        p = loss[k]
        if p > 0.0 and uniform(seed, STREAM_LOSS, e, t) < p:
            dropped[k] = True
        else:
            kept += 1
        value[k] = out2 if code[k] == 1 else s
        signal[k] = s if code[k] == 0 else out2
    order = np.argsort(np.where(dropped, np.iinfo(np.int64).max, arrive), kind="mergesort")[:kept]
    return arrive, dropped, value, signal, edges[order], arrive[order], value[order], signal[order]


def _index(edges: np.ndarray):
    """How a batch names its edges: None (no edge), an int (one: scalar assignment is far
    cheaper than fancy indexing) or an int64 array."""
    if len(edges) == 0:
        return None
    return int(edges[0]) if len(edges) == 1 else edges


@dataclass
class _Plan:
    """How one neuron's sends travel: its out-edges and, if deterministic, per-delay groups
    ``(delay, edges valued s, edges valued out2, edges signalled s, edges signalled out2, n)``."""

    n: int
    edges: np.ndarray
    delay: np.ndarray
    jitter: np.ndarray
    loss: np.ndarray
    code: np.ndarray
    groups: tuple
    fast: bool


class Wires:
    """All channels of a network, the calendar of deliveries and the message counters.

    A send is one batch per arrival step, ``(t_send, n, writes)``: ``writes`` is a tuple
    of ``(array, edges, value)`` (value a scalar or one per edge) applied in order; the
    arrays are the inbox and, when error neurons send learning signals, the signal inbox.
    """

    def __init__(self, c: CompiledNet, inbox: np.ndarray, inbox_sig: np.ndarray | None, clock, seed: int, *,
                 sent_hooks=(), delivered_hooks=()):
        self.inbox = inbox
        self.inbox_sig = inbox_sig  # None: the signal of every edge is its value
        self.clock = clock
        self.seed = seed
        self.cal: dict[int, list] = {}
        self.sent = self.delivered = self.dropped = 0
        self.applied = self.rebased = 0  # synaptic work of the built-in neurons (their counters)
        self.sent_hooks = list(sent_hooks)
        self.delivered_hooks = list(delivered_hooks)
        code = c.edge_codes()
        self.plans: list[_Plan] = []
        for i in range(c.n_neurons):
            edges = c.out_edge[c.out_ptr[i]:c.out_ptr[i + 1]].astype(np.int64)
            d, jt, ls, cd = c.delay[edges], c.jit[edges], c.loss[edges], code[edges]
            fast = bool(np.all(jt == 0) and np.all(ls == 0))
            groups = []
            if fast:
                for dv in np.unique(d):
                    m = d == dv
                    groups.append((int(dv), _index(edges[m & (cd != 1)]), _index(edges[m & (cd == 1)]),
                                   _index(edges[m & (cd == 0)]), _index(edges[m & (cd != 0)]), int(m.sum())))
            self.plans.append(_Plan(len(edges), edges, d.astype(np.int32), jt.astype(np.int16),
                                    ls.astype(np.float64), cd, tuple(groups), fast))

    def _slot(self, ta: int) -> list:
        slot = self.cal.get(ta)
        if slot is None:
            self.cal[ta] = slot = []
            self.clock.at(ta)
        return slot

    # -- sending -----------------------------------------------------------------
    def send(self, i: int, t: int, s: float, out2: float) -> None:
        """Neuron ``i`` sends at step ``t``: ``s`` (its state) and ``out2`` (its rate or
        learning signal), each edge taking what its code says."""
        plan = self.plans[i]
        if plan.fast and not self.sent_hooks:
            inbox, sig = self.inbox, self.inbox_sig
            for d, es, er, gs, gr, n in plan.groups:
                w = []
                if es is not None:
                    w.append((inbox, es, s))
                if er is not None:
                    w.append((inbox, er, out2))
                if sig is not None:
                    if gs is not None:
                        w.append((sig, gs, s))
                    if gr is not None:
                        w.append((sig, gr, out2))
                self._slot(t + d).append((t, n, tuple(w)))
            self.sent += plan.n
        elif plan.n:
            self._send_routed(plan, t, float(s), float(out2))

    def _send_routed(self, plan: _Plan, t: int, s: float, out2: float) -> None:
        arrive, dropped, value, signal, edges, arr, vals, sigs = _route(
            self.seed, t, plan.edges, plan.delay, plan.jitter, plan.loss, plan.code, s, out2)
        self.sent += plan.n
        self.dropped += plan.n - len(edges)
        if self.sent_hooks:
            ta, dr, va, sg = arrive.tolist(), dropped.tolist(), value.tolist(), signal.tolist()
            for k, e in enumerate(plan.edges.tolist()):
                for hook in self.sent_hooks:
                    hook(t, ta[k], e, va[k], dr[k], sg[k])
        if not len(edges):
            return
        cuts = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(edges)]):
            self._slot(int(arr[a])).append((t, b - a, self._writes(edges[a:b], vals[a:b], sigs[a:b])))

    def _writes(self, edges, vals, sigs) -> tuple:
        w = ((self.inbox, edges, vals),)
        return w if self.inbox_sig is None else w + ((self.inbox_sig, edges, sigs),)

    # -- delivering ----------------------------------------------------------------
    def deliver(self, t: int) -> None:
        """Write every message arriving at ``t`` into its receiver's inbox."""
        slot = self.cal.pop(t, None)
        if slot is None:
            return
        n = 0
        if self.delivered_hooks:
            for batch in slot:
                n += self._deliver_observed(t, batch)
        else:
            for _, k, writes in slot:
                for arr, edges, v in writes:
                    arr[edges] = v
                n += k
        self.delivered += n

    def _deliver_observed(self, t, batch) -> int:
        _, k, writes = batch
        for arr, edges, v in writes:
            arr[edges] = v
        for e in sorted({int(x) for _, edges, _ in writes for x in np.atleast_1d(edges)}):
            sig = float(self.inbox_sig[e]) if self.inbox_sig is not None else float(self.inbox[e])
            for hook in self.delivered_hooks:
                hook(t, e, float(self.inbox[e]), sig)
        return k

    # -- carrying over -----------------------------------------------------------------
    def in_flight(self) -> tuple:
        """Edge messages still in the calendar: ``(t_send, t_arrive, edge, value, signal)``."""
        rows: dict = {}
        for t_arr, slot in self.cal.items():
            for t_send, _, writes in slot:
                for arr, edges, v in writes:
                    edges = np.atleast_1d(np.asarray(edges, np.int64))
                    vals = np.broadcast_to(np.asarray(v, np.float64), edges.shape)
                    col = 0 if arr is self.inbox else 1
                    for e, x in zip(edges.tolist(), vals.tolist()):
                        rows.setdefault((t_arr, t_send, e), [x, x])[col] = x
        if not rows:
            return tuple(InFlight.empty().as_dict()[k] for k in InFlight.EDGE)
        keys = sorted(rows)
        ta, ts, ed = (np.array(x, np.int64) for x in zip(*keys))
        va = np.array([rows[k][0] for k in keys])
        sg = np.array([rows[k][1] for k in keys]) if self.inbox_sig is not None else va.copy()
        return ts, ta, ed, va, sg

    def restore(self, fl: InFlight, t0: int) -> None:
        """Put carried-over messages back in the calendar, in order of send step."""
        if not len(fl):
            return
        if fl.t_arrive.min() < t0:
            raise ValueError(f"in-flight message arriving at step {int(fl.t_arrive.min())} "
                             f"before the state's step {t0}")
        order = np.lexsort((fl.edge, fl.t_send, fl.t_arrive))
        ts, ta, ed, va, sg = (x[order] for x in (fl.t_send, fl.t_arrive, fl.edge, fl.value, fl.signal))
        key = np.stack([ta, ts])
        cuts = np.flatnonzero(np.any(key[:, 1:] != key[:, :-1], axis=0)) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ed)]):
            self._slot(int(ta[a])).append((int(ts[a]), b - a, self._writes(ed[a:b].copy(), va[a:b].copy(),
                                                                           sg[a:b].copy())))
