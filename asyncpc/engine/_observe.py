"""Recording buffers and observers.

The compiled loop appends what it is asked to record (every message sent, every tick,
every send event) to per-partition buffers; the run loop returns before a buffer could
overflow, and :class:`Recorder` empties them: into the message table of
``record_messages=True`` (canonical order by ``(t_send, edge)``, the rows of the actor
runtime's ``MessageLog``), the send table of ``record_sends=True`` (by ``(t, src)``), and
into the observers' hooks. Hooks are called chunk by chunk, in an order the actor
runtime could have produced: step by step; in a step, deliveries (by arrival, send step,
edge), then neuron by neuron in id order its messages (by edge) and its tick.
A run nobody observes allocates one-element dummies and compiles without recording.
"""

from __future__ import annotations

import numpy as np

from ..kernels import jit
from ._step import Rec

__all__ = ["Recorder", "subscribed"]

HOOKS = ("before_run", "after_run", "message_sent", "message_delivered", "neuron_ticked")
_MSG_DTYPES = (("t_send", np.int64), ("t_arrive", np.int64), ("src", np.int32), ("dst", np.int32),
               ("edge", np.int64), ("value", np.float64), ("dropped", np.bool_), ("signal", np.float64))
_SEND_DTYPES = (("t", np.int64), ("src", np.int32), ("s", np.float64), ("rate", np.float64))


@jit
def _sorted_sends(sd_t, sd_n, sd_s, sd_r, sd_cnt, N):
    """The sends in the partitions' buffers, in ``(t, src)`` order. Each buffer is in step
    order and a neuron sends at most once a step, so step by step the sends are placed in
    a neuron-indexed row (cache-resident) and read back in neuron order."""
    P = sd_t.shape[0]
    t0, t1, total = np.int64(1) << 62, np.int64(-1), 0
    for p in range(P):
        c = sd_cnt[p, 0]
        if c:
            t0 = min(t0, sd_t[p, 0])
            t1 = max(t1, sd_t[p, c - 1])
            total += c
    t = np.empty(total, np.int64)
    n = np.empty(total, np.int32)
    s = np.empty(total)
    r = np.empty(total)
    row_p = np.full(N, -1, np.int64)  # per neuron: (partition, index) of its send this step
    row_i = np.zeros(N, np.int64)
    ptr = np.zeros(P, np.int64)
    j = 0
    for tt in range(t0, t1 + 1):
        lo, hi = N, -1
        for p in range(P):
            i = ptr[p]
            while i < sd_cnt[p, 0] and sd_t[p, i] == tt:
                m = sd_n[p, i]
                row_p[m] = p
                row_i[m] = i
                lo, hi = min(lo, m), max(hi, m)
                i += 1
            ptr[p] = i
        for m in range(lo, hi + 1):
            p = row_p[m]
            if p >= 0:
                i = row_i[m]
                t[j] = tt
                n[j] = m
                s[j] = sd_s[p, i]
                r[j] = sd_r[p, i]
                j += 1
                row_p[m] = -1
    return t, n, s, r


def subscribed(observers, name: str) -> list:
    """Bound hook methods of the observers that subscribe to ``name``: a hook counts when
    the observer's class defines it other than as the no-op of a base class named
    ``Observer`` (the actor runtime's rule, without importing it)."""
    out = []
    for o in observers:
        fn = getattr(type(o), name, None)
        if fn is None or getattr(fn, "__qualname__", "") == f"Observer.{name}":
            continue
        out.append(getattr(o, name))
    return out


class Recorder:
    """Per-partition buffers (:class:`~asyncpc.engine._step.Rec`) and what drains them."""

    def __init__(self, c, lo, hi, order, *, messages: bool, observers, in_flight0, sends: bool = False):
        P = len(lo)
        self.c = c
        self.hooks = {h: subscribed(observers, h) for h in HOOKS}
        self.keep = messages
        want_msgs = messages or bool(self.hooks["message_sent"] or self.hooks["message_delivered"])
        want_ticks = bool(self.hooks["neuron_ticked"])
        self.keep_sends = sends
        self.mode = (1 if want_msgs else 0) | (2 if want_ticks else 0) | (4 if sends else 0)
        outdeg = np.diff(c.out_ptr)
        self.msg_per_step = np.array([int(outdeg[order[a:b]].sum()) for a, b in zip(lo, hi)], np.int64)
        self.cap = max(1 << 16, 8 * int(self.msg_per_step.max(initial=1))) if want_msgs else 1
        # ticks and sends: at most one per neuron and step; sends are long-lived (traces)
        per_step = int((hi - lo).max(initial=1))
        self.capt = (max(1 << 18, 64 * per_step) if sends else max(1 << 14, 8 * per_step)) \
            if (want_ticks or sends) else 1
        cm, ct = (self.cap if want_msgs else 1), (self.capt if want_ticks else 1)
        cs = self.capt if sends else 1
        self.rec = Rec(ts=np.zeros((P, cm), np.int64), ta=np.zeros((P, cm), np.int64),
                       edge=np.zeros((P, cm), np.int64), val=np.zeros((P, cm)), drop=np.zeros((P, cm), np.int8),
                       sig=np.zeros((P, cm)), n=np.zeros(P, np.int64), tk_t=np.zeros((P, ct), np.int64), tk_n=np.zeros((P, ct), np.int64),
                       tk_s=np.zeros((P, ct)), tk_cnt=np.zeros(P, np.int64), sd_t=np.zeros((P, cs), np.int64),
                       sd_n=np.zeros((P, cs), np.int32), sd_s=np.zeros((P, cs)), sd_r=np.zeros((P, cs)),
                       sd_cnt=np.zeros((P, 8), np.int64))
        self._chunks: list[tuple] = []
        self._send_chunks: list[tuple] = []
        self._pending = None
        if self.hooks["message_delivered"]:  # deliveries still to come: the messages in flight
            fl = in_flight0()
            self._pending = tuple(np.asarray(fl[k]) for k in ("t_send", "t_arrive", "edge", "value", "signal"))

    def flush(self, t_end: int) -> None:
        """Empty the buffers (everything up to step ``t_end - 1`` has been simulated)."""
        r = self.rec
        msgs = [np.concatenate([a[p, :r.n[p]] for p in range(len(r.n))])
                for a in (r.ts, r.ta, r.edge, r.val, r.drop, r.sig)]
        ticks = [np.concatenate([a[p, :r.tk_cnt[p]] for p in range(len(r.tk_cnt))]) for a in (r.tk_t, r.tk_n, r.tk_s)]
        r.n[:] = 0
        r.tk_cnt[:] = 0
        if self.keep_sends:
            self._take_sends()
        if self.keep and len(msgs[0]):
            # a flush holds the steps [previous flush, t_end): sorting each flush by
            # (t_send, edge) sorts the table; small sorts stay in cache
            ts, ta, ed, va, dr, sg = msgs
            order = np.argsort((ts - ts.min()) * self.c.n_edges + ed, kind="stable")
            e = ed[order]
            self._chunks.append((ts[order], ta[order], self.c.src[e].astype(np.int32, copy=False),
                                 self.c.dst[e].astype(np.int32, copy=False), e, va[order], dr[order] != 0,
                                 sg[order]))
        if any(self.hooks[h] for h in ("message_sent", "message_delivered", "neuron_ticked")):
            self._dispatch(msgs, ticks, t_end)

    def _take_sends(self) -> None:
        r = self.rec
        if r.sd_cnt[:, 0].any():
            self._send_chunks.append(_sorted_sends(r.sd_t, r.sd_n, r.sd_s, r.sd_r, r.sd_cnt, self.c.n_neurons))
        r.sd_cnt[:, 0] = 0

    def _dispatch(self, msgs, ticks, t_end):
        ts, ta, ed, va, dr, sg = msgs
        src = self.c.src
        keys, events = [], []  # sort keys: (step, 0 delivery | 1 neuron, neuron, sub, edge)
        one, zero = (lambda n: np.ones(n, np.int64)), (lambda n: np.zeros(n, np.int64))
        if self.hooks["message_sent"]:
            n = len(ts)
            keys.append(np.stack([ts, one(n), src[ed].astype(np.int64), zero(n), ed]))
            events.append(("s", n))
        if self.hooks["neuron_ticked"]:
            n = len(ticks[0])
            keys.append(np.stack([ticks[0], one(n), ticks[1], one(n), zero(n)]))
            events.append(("t", n))
        if self._pending is not None:
            keep = dr == 0
            p = self._pending
            ats, ata, aed, ava, asg = (np.concatenate([p[0], ts[keep]]), np.concatenate([p[1], ta[keep]]),
                                       np.concatenate([p[2], ed[keep]]), np.concatenate([p[3], va[keep]]),
                                       np.concatenate([p[4], sg[keep]]))
            now = ata < t_end
            self._pending = (ats[~now], ata[~now], aed[~now], ava[~now], asg[~now])
            dts, dta, ded, dva, dsg = ats[now], ata[now], aed[now], ava[now], asg[now]
            n = len(dts)
            keys.append(np.stack([dta, zero(n), zero(n), dts, ded]))
            events.append(("d", n))
        if not keys:
            return
        key = np.concatenate(keys, axis=1)
        order = np.lexsort(key[::-1])
        kind = np.concatenate([np.full(n, k) for k, n in events])
        local = np.concatenate([np.arange(n) for _, n in events])
        sent, ticked, deliv = self.hooks["message_sent"], self.hooks["neuron_ticked"], self.hooks["message_delivered"]
        for i in order.tolist():
            k, j = kind[i], int(local[i])
            if k == "s":
                args = (int(ts[j]), int(ta[j]), int(ed[j]), float(va[j]), bool(dr[j]), float(sg[j]))
                for f in sent:
                    f(*args)
            elif k == "t":
                args = (int(ticks[0][j]), int(ticks[1][j]), float(ticks[2][j]))
                for f in ticked:
                    f(*args)
            else:
                args = (int(dta[j]), int(ded[j]), float(dva[j]), float(dsg[j]))
                for f in deliv:
                    f(*args)

    def sends(self) -> dict:
        """Every send event recorded, as columns ``t, src, s, rate`` by ``(t, src)``."""
        names = [k for k, _ in _SEND_DTYPES]
        if not self._send_chunks:
            return {k: np.zeros(0, dt) for k, dt in _SEND_DTYPES}
        if len(self._send_chunks) == 1:
            return dict(zip(names, self._send_chunks[0]))
        return {k: np.concatenate(col) for k, col in zip(names, zip(*self._send_chunks))}

    def table(self) -> dict:
        """Every message recorded, as columns in the canonical order (by t_send, then edge)."""
        names = [k for k, _ in _MSG_DTYPES]
        if not self._chunks:
            return {k: np.zeros(0, dt) for k, dt in _MSG_DTYPES}
        if len(self._chunks) == 1:
            return dict(zip(names, self._chunks[0]))
        return {k: np.concatenate(col) for k, col in zip(names, zip(*self._chunks))}
