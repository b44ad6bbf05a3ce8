"""Channels: what happens to a message between its sender and its receiver's inbox.

Every edge is a channel that delivers its message ``delay`` (+ jitter) steps after it
was sent, or drops it, by exactly the counter-based draws of docs/architecture.md:

    dropped  iff  loss[e] > 0 and uniform(seed, STREAM_LOSS, e, t) < loss[e]
    arrival  =    t + delay[e] + randint(seed, STREAM_JITTER, e, t, 0, jit[e])   (jit[e] > 0)

A neuron's send is one batch per arrival step: ``(t_send, rate_edges, rate, state_edges,
state, n)`` appended to a per-step delivery list (a calendar keyed by arrival step).
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
def _route(seed, t, edges, delay, jitter, loss, rate_edge, rate, state):
    """One send of a neuron on its out-edges ``edges``.

    Returns (arrive, dropped, value) per edge in the given order, and the kept edges
    sorted by arrival (stable) with their arrivals and values.
    """
    n = edges.shape[0]
    arrive = np.empty(n, np.int64)
    dropped = np.zeros(n, np.bool_)
    value = np.empty(n, np.float64)
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
        value[k] = rate if rate_edge[k] else state
    order = np.argsort(np.where(dropped, np.iinfo(np.int64).max, arrive), kind="mergesort")[:kept]
    return arrive, dropped, value, edges[order], arrive[order], value[order]


def _index(edges: np.ndarray):
    """How a batch names its edges: None (no edge), an int (one: scalar assignment is far
    cheaper than fancy indexing) or an int64 array."""
    if len(edges) == 0:
        return None
    return int(edges[0]) if len(edges) == 1 else edges


@dataclass
class _Plan:
    """How one neuron's sends travel: its out-edges and, if deterministic, per-delay groups."""

    n: int
    edges: np.ndarray
    delay: np.ndarray
    jitter: np.ndarray
    loss: np.ndarray
    rate_edge: np.ndarray
    groups: tuple  # ((delay, rate_edges | None, state_edges | None, n), ...) when deterministic
    fast: bool


class Wires:
    """All channels of a network, the calendar of deliveries and the message counters."""

    def __init__(self, c: CompiledNet, inbox: np.ndarray, clock, seed: int, *, sent_hooks=(),
                 delivered_hooks=()):
        self.inbox = inbox
        self.clock = clock
        self.seed = seed
        self.cal: dict[int, list] = {}
        self.sent = self.delivered = self.dropped = 0
        self.sent_hooks = list(sent_hooks)
        self.delivered_hooks = list(delivered_hooks)
        role = c.edge_role()
        rate_edge = role == 0
        self.plans: list[_Plan] = []
        for i in range(c.n_neurons):
            edges = c.out_edge[c.out_ptr[i]:c.out_ptr[i + 1]].astype(np.int64)
            d, jt, ls, re = c.delay[edges], c.jit[edges], c.loss[edges], rate_edge[edges]
            fast = bool(np.all(jt == 0) and np.all(ls == 0))
            groups = []
            if fast:
                for dv in np.unique(d):
                    m = d == dv
                    groups.append((int(dv), _index(edges[m & re]), _index(edges[m & ~re]), int(m.sum())))
            self.plans.append(_Plan(len(edges), edges, d.astype(np.int32), jt.astype(np.int16),
                                    ls.astype(np.float64), re, tuple(groups), fast))

    # -- sending -----------------------------------------------------------------
    def send(self, i: int, t: int, state: float, rate: float) -> None:
        """Neuron ``i`` sends at step ``t``: ``rate`` on its predict edges, ``state`` elsewhere."""
        plan = self.plans[i]
        if plan.fast and not self.sent_hooks:
            cal, clock = self.cal, self.clock
            for d, er, es, n in plan.groups:
                ta = t + d
                slot = cal.get(ta)
                if slot is None:
                    cal[ta] = slot = []
                    clock.at(ta)
                slot.append((t, er, rate, es, state, n))
            self.sent += plan.n
        elif plan.n:
            self._send_routed(plan, t, float(state), float(rate))

    def _send_routed(self, plan: _Plan, t: int, state: float, rate: float) -> None:
        arrive, dropped, value, edges, arr, vals = _route(
            self.seed, t, plan.edges, plan.delay, plan.jitter, plan.loss, plan.rate_edge, rate, state)
        self.sent += plan.n
        self.dropped += plan.n - len(edges)
        if self.sent_hooks:
            ta, dr, va = arrive.tolist(), dropped.tolist(), value.tolist()
            for k, e in enumerate(plan.edges.tolist()):
                for hook in self.sent_hooks:
                    hook(t, ta[k], e, va[k], dr[k])
        if not len(edges):
            return
        cal, clock = self.cal, self.clock
        cuts = np.flatnonzero(arr[1:] != arr[:-1]) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(edges)]
        for a, b in zip(starts, ends):
            ta = int(arr[a])
            slot = cal.get(ta)
            if slot is None:
                cal[ta] = slot = []
                clock.at(ta)
            slot.append((t, edges[a:b], vals[a:b], None, None, b - a))

    # -- delivering ----------------------------------------------------------------
    def deliver(self, t: int) -> None:
        """Write every message arriving at ``t`` into its receiver's inbox."""
        slot = self.cal.pop(t, None)
        if slot is None:
            return
        inbox = self.inbox
        n = 0
        if self.delivered_hooks:
            for batch in slot:
                n += self._deliver_observed(t, batch)
        else:
            for _, er, r, es, s, k in slot:
                if er is not None:
                    inbox[er] = r
                if es is not None:
                    inbox[es] = s
                n += k
        self.delivered += n

    def _deliver_observed(self, t, batch) -> int:
        _, er, r, es, s, k = batch
        for edges, v in ((er, r), (es, s)):
            if edges is None:
                continue
            self.inbox[edges] = v
            edges = np.atleast_1d(edges)
            vals = np.broadcast_to(v, edges.shape).tolist()
            for e, x in zip(edges.tolist(), vals):
                for hook in self.delivered_hooks:
                    hook(t, e, x)
        return k

    # -- carrying over -----------------------------------------------------------------
    def in_flight(self) -> tuple:
        """Edge messages still in the calendar: ``(t_send, t_arrive, edge, value)`` arrays."""
        ts, ta, ed, va = [], [], [], []
        for t_arr, slot in self.cal.items():
            for t_send, er, r, es, s, _ in slot:
                for edges, v in ((er, r), (es, s)):
                    if edges is None:
                        continue
                    edges = np.atleast_1d(np.asarray(edges, np.int64))
                    ed.append(edges)
                    va.append(np.broadcast_to(np.asarray(v, np.float64), edges.shape))
                    ts.append(np.full(len(edges), t_send, np.int64))
                    ta.append(np.full(len(edges), t_arr, np.int64))
        if not ed:
            return tuple(InFlight.empty().as_dict()[k] for k in InFlight.EDGE)
        cols = [np.concatenate(x) for x in (ts, ta, ed, va)]
        order = np.lexsort((cols[2], cols[0], cols[1]))
        return tuple(x[order] for x in cols)

    def restore(self, fl: InFlight, t0: int) -> None:
        """Put carried-over messages back in the calendar, in order of send step."""
        if not len(fl):
            return
        if fl.t_arrive.min() < t0:
            raise ValueError(f"in-flight message arriving at step {int(fl.t_arrive.min())} "
                             f"before the state's step {t0}")
        order = np.lexsort((fl.edge, fl.t_send, fl.t_arrive))
        ts, ta, ed, va = (x[order] for x in (fl.t_send, fl.t_arrive, fl.edge, fl.value))
        key = np.stack([ta, ts])
        cuts = np.flatnonzero(np.any(key[:, 1:] != key[:, :-1], axis=0)) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ed)]):
            t_arr = int(ta[a])
            slot = self.cal.get(t_arr)
            if slot is None:
                self.cal[t_arr] = slot = []
                self.clock.at(t_arr)
            slot.append((int(ts[a]), ed[a:b].copy(), va[a:b].copy(), None, None, b - a))
