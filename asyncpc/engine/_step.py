"""The compiled inner loop: one block of neurons advanced over a range of steps.

Everything here is ``@jit`` (cache=True, no fastmath) over the namedtuples of arrays
built by :mod:`._layout` and :mod:`._run`; it calls the very same kernels as the actor
runtime (``value_tick``, ``error_tick``, ``should_send``, ``act``, ``uniform``,
``randint``) with the inbox and synapses in CSR order, so the float arithmetic is the
same operation for operation.

A block only writes its own neurons' entries (state, synapses, its ring columns) and
its own row of the per-partition buffers; it reads ring rows of earlier steps only
(every delay is >= 1 step). That is why blocks can run in parallel inside a window.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..environment import EV_CLAMP, EV_UNCLAMP
from ..kernels import (
    STREAM_CLOCK,
    STREAM_JITTER,
    STREAM_LOSS,
    act,
    error_tick,
    jit,
    randint,
    should_send,
    uniform,
    value_tick,
)

__all__ = ["Dyn", "Env", "Work", "Rec", "advance", "gather_noisy", "probe"]

#: Mutable per-run state (struct of arrays; ``hist``/``flag`` are the history ring).
Dyn = namedtuple("Dyn", ["s", "w", "bias", "clamped", "clamp_val", "gain", "last_tick", "next_tick",
                         "ticks", "last_sent", "out_rate", "inbox", "aux", "synced", "hist", "flag",
                         "syn_in", "syn_m"])
#: Environment messages by arrival step (schedule order within a step).
Env = namedtuple("Env", ["arr", "kind", "neuron", "value"])
#: Per-partition scratch: inbox gather buffer, transport weights, counters, event cursor.
Work = namedtuple("Work", ["scratch", "wscratch", "cnt", "ev_ptr"])
#: Per-partition recording buffers, filled by ``advance`` per bit of ``record``: 1 every
#: message sent (``ts``..``drop``, cursor ``n``); 2 every tick (``tk_*``); 4 every send
#: event of a neuron with out-edges (``sd_t`` step, ``sd_n`` neuron, ``sd_s`` state sent,
#: ``sd_r`` rate sent; cursor ``sd_cnt[p, 0]``, a row per partition so no cache line is shared).
Rec = namedtuple("Rec", ["ts", "ta", "edge", "val", "drop", "n", "tk_t", "tk_n", "tk_s", "tk_cnt",
                         "sd_t", "sd_n", "sd_s", "sd_r", "sd_cnt"])


@jit
def gather_noisy(net, dyn, seed, n, t, e0, e1, buf, B):
    """Fill ``buf`` with neuron ``n``'s inbox at step ``t`` when some in-edge is noisy.

    For a noisy edge, the messages that arrived since the receiver last synchronised its
    inbox (``synced[n]``, its previous tick) were sent at ``s`` in
    ``(synced - delay - jitter, t - delay]``. Each flagged send is re-derived with the
    same counter-based draws as at send time (arrival ``s + delay + j``, dropped or not);
    of those arriving in ``(synced, t]`` and not dropped, the one with the largest
    ``(arrival, send step)`` is the latest write into the inbox (deliveries in order of
    arrival, the later send winning a tie) -- the actor runtime's rule.
    """
    N, L, NC = net.N, net.L, net.NC
    LNC = L * NC
    lo_sync = dyn.synced[n]
    for e in range(e0, e1):
        d = net.delay[e]
        J = net.jit[e]
        P = net.loss[e]
        if J == 0 and P == 0.0:
            k = B + net.goff[e]
            if k < 0:
                k += LNC
            buf[e - e0] = dyn.hist[k]
            continue
        sr = net.src[e]
        best_a = np.int64(-1)
        best_s = np.int64(-1)
        s_lo = lo_sync - d - J + 1
        for s in range(t - d, s_lo - 1, -1):
            sl = s % L
            if dyn.flag[sl * N + sr] == 0:
                continue
            a = s + d
            if J > 0:
                a += randint(seed, STREAM_JITTER, e, s, 0, J)
            if a <= lo_sync or a > t:
                continue
            if P > 0.0 and uniform(seed, STREAM_LOSS, e, s) < P:
                continue
            if a > best_a or (a == best_a and s > best_s):
                best_a = a
                best_s = s
            if J == 0:
                break  # without jitter the latest kept send is the latest arrival
        if best_s >= 0:
            col = sr + N * net.erate[e]
            dyn.inbox[e] = dyn.hist[(best_s % L) * NC + col]
        buf[e - e0] = dyn.inbox[e]
    dyn.synced[n] = t


@jit
def _apply_events(net, env, dyn, t, ep, lo, hi):
    """Apply the environment messages arriving at ``t`` to the neurons at positions
    ``lo..hi-1`` of the processing order."""
    nev = env.arr.shape[0]
    while ep < nev and env.arr[ep] < t:
        ep += 1
    while ep < nev and env.arr[ep] == t:
        m = env.neuron[ep]
        if m < 0:
            a, b = lo, hi
        else:
            a = net.pos[m]
            b = a + 1 if lo <= a < hi else a
        kd = env.kind[ep]
        v = env.value[ep]
        for q in range(a, b):
            i = net.order[q]
            if kd == EV_CLAMP:
                dyn.clamped[i] = 1
                dyn.clamp_val[i] = v
            elif kd == EV_UNCLAMP:
                dyn.clamped[i] = 0
            else:
                dyn.gain[i] = v
        ep += 1
    return ep


@jit
def advance(net, dyn, env, seed, p, lo, hi, ta, tb, work, rec, record):
    """Advance the neurons at positions ``lo..hi-1`` of the processing order (partition
    ``p``) over steps ``ta..tb-1``.

    ``record``: bit 1 logs every message sent, bit 2 every tick, bit 4 every send event
    (one row per send; its messages are re-derived on read, docs/traces.md) -- separate
    compiled specialisations; 0 costs nothing.
    """
    N, L, NC = net.N, net.L, net.NC
    LNC = L * NC
    goff = net.goff
    hist = dyn.hist
    buf = work.scratch[p]
    wbuf = work.wscratch[p]
    ep = work.ev_ptr[p]
    sent = np.int64(0)
    dropped = np.int64(0)
    rn = rec.n[p]       # local cursors: no shared cache line is written per message
    rt = rec.tk_cnt[p]
    for t in range(ta, tb):
        ep = _apply_events(net, env, dyn, t, ep, lo, hi)
        base = t % L
        B = base * NC
        FB = base * N
        for q in range(lo, hi):
            n = net.order[q]
            sent_now = 0
            if dyn.next_tick[n] == t:
                # the tick, written out here: a call passing the namedtuples would copy them
                e0 = net.in_ptr[n]
                e1 = net.in_ptr[n + 1]
                deg = e1 - e0
                if net.noisy_in[n]:
                    gather_noisy(net, dyn, seed, n, t, e0, e1, buf, B)
                else:
                    for j in range(deg):
                        k = B + goff[e0 + j]
                        if k < 0:
                            k += LNC
                        buf[j] = hist[k]
                dt = (t - dyn.last_tick[n]) * net.h
                if net.kind[n] == 0:
                    w = dyn.w[e0:e1]
                    if net.transport:  # NON-LOCAL comparison mode: read W of the mirror synapses
                        for j in range(deg):
                            m = net.mirror[e0 + j]
                            wbuf[j] = dyn.w[m] if m >= 0 else w[j]
                        w = wbuf[:deg]
                    xn, an = value_tick(dyn.s[n], dyn.aux[n], dt, net.tau[n], net.act[n], net.has_partner[n],
                                        buf[:deg], w, net.eta[n], net.decay[n], dyn.gain[n], dyn.clamped[n] != 0,
                                        dyn.clamp_val[n], net.plastic, net.speedup[n], net.lag[n], net.fb_gain[n],
                                        net.gate[n], net.gate_tau[n], dyn.syn_in[e0:e1], dyn.syn_m[e0:e1])
                else:
                    xn, bn, an = error_tick(dyn.s[n], dyn.aux[n], dt, net.tau[n], buf[:deg], dyn.w[e0:e1],
                                            dyn.bias[n], net.eta[n], net.eta_b[n], net.decay[n], dyn.gain[n],
                                            net.p_tau[n], net.p_speedup[n], net.p_window[n], net.gate[n],
                                            net.gate_tau[n])
                    dyn.bias[n] = bn
                dyn.aux[n] = an
                dyn.s[n] = xn
                dyn.last_tick[n] = t
                c = np.int64(0)
                if net.cjit[n] > 0:
                    c = randint(seed, STREAM_CLOCK, n, t, -net.cjit[n], net.cjit[n])
                dyn.next_tick[n] = t + net.period[n] + c
                first = dyn.ticks[n] == 0
                dyn.ticks[n] += 1
                if should_send(net.send[n], net.thresh[n], xn, dyn.last_sent[n], first):
                    rate = act(net.act[n], xn) if net.kind[n] == 0 else xn
                    dyn.last_sent[n] = xn
                    dyn.out_rate[n] = rate
                    sent_now = 1
                    sent += net.outdeg[n]
                    if (record & 4) and net.outdeg[n] > 0:
                        # a send determines its messages (edges, arrival and loss draws):
                        # one row here instead of one per out-edge
                        js = rec.sd_cnt[p, 0]
                        rec.sd_t[p, js] = t
                        rec.sd_n[p, js] = n
                        rec.sd_s[p, js] = xn
                        rec.sd_r[p, js] = rate
                        rec.sd_cnt[p, 0] = js + 1
                    if (record & 1) or net.lossy_out[n]:
                        for k in range(net.out_ptr[n], net.out_ptr[n + 1]):
                            e = net.out_edge[k]
                            P = net.loss[e]
                            dr = P > 0.0 and uniform(seed, STREAM_LOSS, e, t) < P
                            if dr:
                                dropped += 1
                            if record & 1:
                                a = t + net.delay[e]
                                if net.jit[e] > 0:
                                    a += randint(seed, STREAM_JITTER, e, t, 0, net.jit[e])
                                rec.ts[p, rn] = t
                                rec.ta[p, rn] = a
                                rec.edge[p, rn] = e
                                rec.val[p, rn] = rate if net.erate[e] else xn
                                rec.drop[p, rn] = 1 if dr else 0
                                rn += 1
                if record & 2:
                    rec.tk_t[p, rt] = t
                    rec.tk_n[p, rt] = n
                    rec.tk_s[p, rt] = xn
                    rt += 1
            hist[B + n] = dyn.last_sent[n]
            hist[B + N + n] = dyn.out_rate[n]
            dyn.flag[FB + n] = sent_now
    rec.n[p] = rn
    rec.tk_cnt[p] = rt
    work.ev_ptr[p] = ep
    work.cnt[p, 0] += sent
    work.cnt[p, 1] += dropped


@jit
def probe(s, readout, err_ids, area_ptr, px, pe, k):
    """Record probe ``k``: read-out activities and per-area energy 1/2 sum eps^2
    (sequential sum in increasing neuron id, as the actor runtime does)."""
    for r in range(readout.shape[0]):
        px[k, r] = s[readout[r]]
    for a in range(area_ptr.shape[0] - 1):
        acc = 0.0
        for j in range(area_ptr[a], area_ptr[a + 1]):
            v = s[err_ids[j]]
            acc += v * v
        pe[k, a] = 0.5 * acc
