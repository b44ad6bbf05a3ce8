"""Event-driven delivery: messages pushed onto a timing wheel, inputs applied by event.

The ring of :mod:`._layout` lets a receiver *pull* every in-edge at every tick: cheap per
edge, but the work is edges x ticks whatever is sent. Here a send *pushes* one record per
group of out-edges that share a destination partition and a delay (one per out-edge with
jitter) onto a timing wheel; at the arrival step the receiving partition expands the
record into inbox writes on just those edges and marks them dirty for their receiver;
at its next tick a receiver applies only its dirty synapses (in edge order, as every
runtime does, docs/model.md). A silent sender costs its receivers nothing.

Wheel: per block ``(p, q)`` (sender partition ``p``, receiver partition ``q``) ``W``
slots of ``cap[p, q]`` records (``rgid``: a group id ``>= 0``, or ``-(e + 1)`` for one
edge ``e``; ``rv1``, ``rv2``: the sender's state and second output; ``rj``: the jitter of
an edge record). Slot ``a % W`` holds what arrives at step ``a``. A group fires at most
once a step and a slot is emptied every ``W`` steps, so ``cap`` = groups (+ jitter span
of the jittered edges) never overflows; ``W = max delay + window`` keeps a slot a
partition still has to deliver from being refilled by a partition running ahead within
the window. Only partition ``p`` appends to block ``(p, q)`` and only ``q`` empties it,
at different slots: no locks. Loss is drawn again at delivery with the send's
counter-based draw (the sender draws it too, for its counters).

Sending and delivering are written out in the engine's loop (``_step.advance``, which
explains why); this module builds the wheel and moves messages on and off it between runs.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..kernels import STREAM_LOSS, jit, uniform
from ._pack import E_DIRTY, E_HELD, E_HELDL, E_IN, E_INL, I_DCNT

__all__ = ["Wheel", "build_wheel", "wheel_slots", "restored_counts", "mark_dirty", "wheel_in_flight",
           "load_in_flight", "dummy_wheel"]

#: Counters that two threads write are this many int64 apart (a cache line): a slot's
#: count is incremented by the sending partition and reset by the receiving one.
STRIDE = 8

#: The push path's arrays (``push`` False: a dummy for the pull path).
Wheel = namedtuple("Wheel", ["push", "P", "W", "gptr", "gq", "gD", "ge0", "gedges", "gdst", "gcode", "gloss",
                             "jptr", "jedges", "part", "base", "cap", "cnt", "rgid", "rv1", "rv2", "rj", "dlist"])


def dummy_wheel() -> Wheel:
    z8, z4, zf = np.zeros(1, np.int64), np.zeros(1, np.int32), np.zeros(1)
    return Wheel(push=False, P=1, W=1, gptr=z8, gq=z8, gD=z8, ge0=z8, gedges=z4, gdst=z4,
                 gcode=np.zeros(1, np.int8), gloss=np.zeros(1, np.float32), jptr=z8, jedges=z4, part=z8,
                 base=z8, cap=z8, cnt=z8, rgid=z4, rv1=zf, rv2=zf, rj=z4, dlist=z4)


def groups(c, part: np.ndarray) -> tuple:
    """Group table of the out-edges without jitter: per sender, runs of edges sharing
    (receiver partition, delay), edges ascending within a group. Returns ``(gptr, gq, gD,
    ge0, gedges, jptr, jedges)``."""
    N = c.n_neurons
    E = c.n_edges
    src = c.src.astype(np.int64)
    q = part[c.dst]
    clean = c.jit == 0
    e_all = np.arange(E, dtype=np.int64)
    ec = e_all[clean]
    order = np.lexsort((ec, c.delay[ec], q[ec], src[ec]))
    ec = ec[order]
    key_s, key_q, key_d = src[ec], q[ec], c.delay[ec].astype(np.int64)
    new = np.ones(len(ec), bool)
    if len(ec):
        new[1:] = (key_s[1:] != key_s[:-1]) | (key_q[1:] != key_q[:-1]) | (key_d[1:] != key_d[:-1])
    starts = np.flatnonzero(new)
    ge0 = np.append(starts, len(ec)).astype(np.int64)
    gsrc = key_s[starts]
    gptr = np.zeros(N + 1, np.int64)
    np.cumsum(np.bincount(gsrc, minlength=N), out=gptr[1:])
    ej = e_all[~clean]
    ej = ej[np.lexsort((ej, src[ej]))]
    jptr = np.zeros(N + 1, np.int64)
    np.cumsum(np.bincount(src[ej], minlength=N), out=jptr[1:])
    return (gptr, key_q[starts].astype(np.int64), key_d[starts], ge0, ec.astype(np.int32), jptr,
            ej.astype(np.int32))


def wheel_slots(c, window: int) -> int:
    """Slots of the wheel: the longest delay plus the window a partition may run ahead."""
    return int((c.delay.astype(np.int64) + c.jit).max(initial=1)) + max(int(window), 1) + 1


def build_wheel(c, part: np.ndarray, P: int, window: int, extra=None) -> Wheel:
    """The wheel of a run on ``P`` partitions (``part``: each neuron's), sized for
    ``extra`` more records per block and slot (the messages in flight a run starts with)."""
    gptr, gq, gD, ge0, gedges, jptr, jedges = groups(c, part)
    gsrc = np.repeat(np.arange(c.n_neurons), np.diff(gptr))
    W = wheel_slots(c, window)
    cap = np.zeros(P * P, np.int64)
    np.add.at(cap, part[gsrc] * P + gq, 1)
    if len(jedges):
        np.add.at(cap, part[c.src[jedges]] * P + part[c.dst[jedges]], c.jit[jedges].astype(np.int64) + 1)
    if extra is not None:
        cap += extra
    cap = np.maximum(cap, 1)
    base = np.zeros(P * P, np.int64)
    np.cumsum(cap[:-1] * W, out=base[1:])
    total = int((cap * W).sum())
    E = c.n_edges
    # what delivering a group's edges needs, in the group's order (read sequentially)
    gdst = c.dst[gedges].astype(np.int32)
    gcode = c.edge_codes()[gedges].astype(np.int8)
    gloss = c.loss[gedges].astype(np.float32)
    return Wheel(push=True, P=P, W=W, gptr=gptr, gq=gq, gD=gD, ge0=ge0, gedges=gedges, gdst=gdst, gcode=gcode,
                 gloss=gloss, jptr=jptr, jedges=jedges, part=part.astype(np.int64), base=base, cap=cap,
                 cnt=np.zeros(P * P * W * STRIDE, np.int64), rgid=np.zeros(total, np.int32), rv1=np.zeros(total),
                 rv2=np.zeros(total), rj=np.zeros(total, np.int32), dlist=np.zeros(max(E, 1), np.int32))


@jit(inline="always")
def _append(W, base, cap, cnt, rgid, rv1, rv2, rj, blk, a, gid, v1, v2, j):
    slot = a % W
    i = (blk * W + slot) * STRIDE
    k = base[blk] + slot * cap[blk] + cnt[i]
    rgid[k] = gid
    rv1[k] = v1
    rv2[k] = v2
    rj[k] = j
    cnt[i] += 1


@jit
def mark_dirty(wh, net, dyn):
    """At the start of a run: every edge whose inbox differs from what its receiver's sums
    hold is dirty (the deliveries since the receiver's last tick)."""
    ef, ni, dlist = dyn.ef, dyn.ni, wh.dlist
    for n in range(net.N):
        ni[n, I_DCNT] = 0
        for e in range(net.in_ptr[n], net.in_ptr[n + 1]):
            ef[e, E_DIRTY] = 0.0
            if ef[e, E_IN] != ef[e, E_HELD] or (net.signals and ef[e, E_INL] != ef[e, E_HELDL]):
                ef[e, E_DIRTY] = 1.0
                dlist[net.in_ptr[n] + ni[n, I_DCNT]] = e
                ni[n, I_DCNT] += 1


@jit
def wheel_in_flight(wh, net, seed, T, count_only, ts, ta, ed, va, sg):
    """The messages still on the wheel at step ``T`` (arrivals ``T .. T + W - 1``), not
    dropped: their number, and with ``count_only`` False their columns written to ``ts``
    .. ``sg`` (in block, slot, record, edge order)."""
    m = 0
    for blk in range(wh.P * wh.P):
        for slot in range(wh.W):
            a = T + (slot - T) % wh.W
            i = (blk * wh.W + slot) * STRIDE
            k0 = wh.base[blk] + slot * wh.cap[blk]
            for r in range(k0, k0 + wh.cnt[i]):
                gid = wh.rgid[r]
                if gid >= 0:
                    x0, x1 = wh.ge0[gid], wh.ge0[gid + 1]
                    s = a - wh.gD[gid]
                else:
                    x0, x1 = 0, 1
                    s = a - net.delay[-gid - 1] - wh.rj[r]
                for x in range(x0, x1):
                    e = wh.gedges[x] if gid >= 0 else -gid - 1
                    P = net.loss[e]
                    if P > 0.0 and uniform(seed, STREAM_LOSS, e, s) < P:
                        continue
                    if not count_only:
                        code = net.ecode[e]
                        ts[m] = s
                        ta[m] = a
                        ed[m] = e
                        va[m] = wh.rv2[r] if code == 1 else wh.rv1[r]
                        sg[m] = wh.rv1[r] if code == 0 else wh.rv2[r]
                    m += 1
    return m


@jit
def load_in_flight(wh, net, ts, ta, ed, va, sg):
    """Put carried messages (sorted by ``(t_arrive, t_send, edge)``) on the wheel as edge
    records, so that on one edge the later send is delivered last."""
    for m in range(ed.shape[0]):
        e = ed[m]
        code = net.ecode[e]
        blk = wh.part[net.src[e]] * wh.P + wh.part[net.dst[e]]
        _append(wh.W, wh.base, wh.cap, wh.cnt, wh.rgid, wh.rv1, wh.rv2, wh.rj, blk, ta[m], -(e + 1), va[m],
                sg[m] if code == 2 else va[m], ta[m] - ts[m] - net.delay[e])


def restored_counts(c, part: np.ndarray, P: int, W: int, cols: dict) -> np.ndarray:
    """Per block, the most carried messages that arrive in one slot (extra capacity)."""
    extra = np.zeros(P * P, np.int64)
    ed = cols["edge"]
    if len(ed):
        blk = part[c.src[ed]] * P + part[c.dst[ed]]
        key = blk * W + cols["t_arrive"] % W
        u, n = np.unique(key, return_counts=True)
        np.maximum.at(extra, u // W, n)
    return extra
