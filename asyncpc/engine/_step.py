"""The compiled inner loop: one block of neurons advanced over a range of steps.

Everything here is ``@jit`` (cache=True, no fastmath) over the namedtuples of arrays
built by :mod:`._layout` and :mod:`._run`; it calls the very same kernels as the actor
runtime (``apply_input`` for the held inputs that changed, in edge order, then ``tick``,
``should_send``, ``uniform``, ``randint``), so the float arithmetic is the same operation
for operation.

A block only writes its own neurons' entries (state, synapses, its ring columns) and
its own row of the per-partition buffers; it reads ring rows of earlier steps only
(every delay is >= 1 step). That is why blocks can run in parallel inside a window.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..environment import EV_CLAMP, EV_UNCLAMP
from ..kernels import STREAM_CLOCK, STREAM_JITTER, STREAM_LOSS, jit, randint, should_send, tick, uniform
from ..kernels._params import ETA
from ..kernels._synapses import input_delta, lazy_sum, needs_rebase, rebase, transport_drive
from ..kernels._tick import param_row

__all__ = ["Dyn", "Env", "Work", "Rec", "advance", "gather_noisy", "probe"]

#: Mutable per-run state (struct of arrays; ``hist``/``flag`` are the history ring).
#: ``inbox_l``/``held_l``/``last_sig`` are the signal arrays, or the same arrays as
#: ``inbox``/``held``/``last_sent`` when error neurons send no signal apart.
Dyn = namedtuple("Dyn", ["s", "w", "bias", "clamped", "clamp_val", "gain", "last_tick", "next_tick",
                         "ticks", "last_sent", "out2", "last_send", "last_sig", "inbox", "inbox_l", "held",
                         "held_l", "syn_c", "lz_p", "lz_t", "lz_a", "lz_q", "lz_n", "aux", "synced", "hist",
                         "flag"])
#: Environment messages by arrival step (schedule order within a step).
Env = namedtuple("Env", ["arr", "kind", "neuron", "value"])
#: Per-partition scratch: inbox gather buffers (values, signals), counters (0 sent,
#: 1 dropped, 2 synaptic inputs applied, 3 synapses rebased), event cursor.
Work = namedtuple("Work", ["scratch", "lscratch", "cnt", "ev_ptr"])
#: Per-partition recording buffers, filled by ``advance`` per bit of ``record``: 1 every
#: message sent (``ts``..``drop``, ``sig``; cursor ``n``); 2 every tick (``tk_*``); 4 every send
#: event of a neuron with out-edges (``sd_t`` step, ``sd_n`` neuron, ``sd_s`` state sent,
#: ``sd_r`` second output sent; cursor ``sd_cnt[p, 0]``, a row per partition so no cache line is shared).
Rec = namedtuple("Rec", ["ts", "ta", "edge", "val", "drop", "sig", "n", "tk_t", "tk_n", "tk_s", "tk_cnt",
                         "sd_t", "sd_n", "sd_s", "sd_r", "sd_cnt"])


@jit
def gather_noisy(net, dyn, seed, n, t, e0, e1, buf, lbuf, B):
    """Fill ``buf`` (values) and ``lbuf`` (signals) with neuron ``n``'s inbox at step ``t``
    when some in-edge is noisy.

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
            k = B + net.goffl[e]
            if k < 0:
                k += LNC
            lbuf[e - e0] = dyn.hist[k]
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
            code = net.ecode[e]
            row = (best_s % L) * NC
            dyn.inbox[e] = dyn.hist[row + sr + (N if code == 1 else 0)]
            dyn.inbox_l[e] = dyn.hist[row + sr + (N if code != 0 else 0)]
        buf[e - e0] = dyn.inbox[e]
        lbuf[e - e0] = dyn.inbox_l[e]
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
def advance(net, dyn, env, seed, p, lo, hi, ta, tb, work, rec, record, wh):
    """Advance the neurons at positions ``lo..hi-1`` of the processing order (partition
    ``p``) over steps ``ta..tb-1``.

    Deliveries come from the history ring (pull: every in-edge read at every tick) or,
    with ``wh.push``, from the timing wheel (push: only the edges that received a message
    since the receiver's last tick are looked at; :mod:`._push`). Same results.

    ``record``: bit 1 logs every message sent, bit 2 every tick, bit 4 every send event
    (one row per send; its messages are re-derived on read, docs/traces.md) -- separate
    compiled specialisations; 0 costs nothing.

    The loop is written out in one function on purpose: in compiled code, reading an
    array out of a namedtuple, slicing one, or passing one to a function (inlined or not)
    increments and decrements its reference count atomically -- profiled at 60-70% of a
    tick. So every array is read out here once, the kernels called per tick or per
    message take scalars, and only rare paths (a rebase, noisy pull edges, the
    environment's messages) call functions with arrays.
    """
    N, L, NC = net.N, net.L, net.NC
    LNC = L * NC
    order, in_ptr, has_partner, kind, prm = net.order, net.in_ptr, net.has_partner, net.kind, net.prm
    noisy_in, goff, goffl, period, cjit = net.noisy_in, net.goff, net.goffl, net.period, net.cjit
    policy, thresh, refresh, outdeg, lossy_out = net.send, net.thresh, net.refresh, net.outdeg, net.lossy_out
    out_ptr, out_edge, loss, delay, jit_ = net.out_ptr, net.out_edge, net.loss, net.delay, net.jit
    ecode, dst, mirror, eta_all = net.ecode, net.dst, net.mirror, net.eta
    signals, transport, plastic, h = net.signals, net.transport, net.plastic, net.h
    s, aux, bias, gain, clamped, clamp_val = dyn.s, dyn.aux, dyn.bias, dyn.gain, dyn.clamped, dyn.clamp_val
    last_tick, next_tick, ticks = dyn.last_tick, dyn.next_tick, dyn.ticks
    last_sent, out2s, last_send, last_sig = dyn.last_sent, dyn.out2, dyn.last_send, dyn.last_sig
    inbox, inbox_l, held, held_l, syn_c = dyn.inbox, dyn.inbox_l, dyn.held, dyn.held_l, dyn.syn_c
    lz_p, lz_t, lz_a, lz_q, lz_n = dyn.lz_p, dyn.lz_t, dyn.lz_a, dyn.lz_q, dyn.lz_n
    hist, flag = dyn.hist, dyn.flag
    env_arr = env.arr
    nev = env_arr.shape[0]
    push, WP, WW = wh.push, wh.P, wh.W
    gptr, gq, gD, ge0, gedges, jptr, jedges = wh.gptr, wh.gq, wh.gD, wh.ge0, wh.gedges, wh.jptr, wh.jedges
    part, wbase, wcap, wcnt, rgid, rv1, rv2, rj = wh.part, wh.base, wh.cap, wh.cnt, wh.rgid, wh.rv1, wh.rv2, wh.rj
    dlist, dcnt, dflag = wh.dlist, wh.dcnt, wh.dflag
    r_ts, r_ta, r_edge, r_val, r_sig, r_drop = rec.ts, rec.ta, rec.edge, rec.val, rec.sig, rec.drop
    tk_t, tk_n, tk_s = rec.tk_t, rec.tk_n, rec.tk_s
    sd_t, sd_n, sd_s, sd_r, sd_cnt = rec.sd_t, rec.sd_n, rec.sd_s, rec.sd_r, rec.sd_cnt
    buf = work.scratch[p]
    lbuf = work.lscratch[p] if signals else buf
    ep = work.ev_ptr[p]
    sent = np.int64(0)
    dropped = np.int64(0)
    applied = np.int64(0)
    rebased = np.int64(0)
    got = np.int64(0)
    rn = rec.n[p]       # local cursors: no shared cache line is written per message
    rt = rec.tk_cnt[p]
    for t in range(ta, tb):
        if ep < nev and env_arr[ep] <= t:  # environment messages (at presentation switches)
            ep = _apply_events(net, env, dyn, t, ep, lo, hi)
        if push:
            # what arrives now: each record expanded into inbox writes and dirty marks
            slot = t % WW
            for pp in range(WP):
                blk = pp * WP + p
                i = blk * WW + slot
                m = wcnt[i]
                if m == 0:
                    continue
                k0 = wbase[blk] + slot * wcap[blk]
                for r in range(k0, k0 + m):
                    gid = rgid[r]
                    v1 = rv1[r]
                    v2 = rv2[r]
                    if gid >= 0:
                        x0, x1, ts = ge0[gid], ge0[gid + 1], t - gD[gid]
                    else:
                        x0, x1, ts = np.int64(0), np.int64(1), t - delay[-gid - 1] - rj[r]
                    for x in range(x0, x1):
                        e = gedges[x] if gid >= 0 else -gid - 1
                        pl = loss[e]
                        if pl > 0.0 and uniform(seed, STREAM_LOSS, e, ts) < pl:
                            continue
                        code = ecode[e]
                        inbox[e] = v2 if code == 1 else v1
                        if signals:
                            inbox_l[e] = v1 if code == 0 else v2
                        if dflag[e] == 0:
                            dflag[e] = 1
                            d = dst[e]
                            dlist[in_ptr[d] + dcnt[d]] = e
                            dcnt[d] += 1
                        got += 1
                wcnt[i] = 0
        base = t % L
        B = base * NC
        FB = base * N
        for q in range(lo, hi):
            n = order[q]
            sent_now = 0
            if next_tick[n] == t:
                e0 = in_ptr[n]
                e1 = in_ptr[n + 1]
                sl = e0 + has_partner[n]
                row = param_row(prm, n)
                eta = row[ETA]
                P = lz_p[n]
                T = lz_t[n]
                A = lz_a[n]
                Q = lz_q[n]
                k = 0
                # the held inputs that changed since the last tick, applied in edge order
                if push:
                    kd = dcnt[n]
                    if kd > 0:
                        if kd * 8 > e1 - e0:  # many: walk the row
                            for e in range(e0, e1):
                                if dflag[e]:
                                    dflag[e] = 0
                                    if e >= sl:
                                        v, lv, v0, l0 = inbox[e], inbox_l[e], held[e], held_l[e]
                                        if v != v0 or lv != l0:
                                            syn_c[e], A, Q = input_delta(syn_c[e], v0, l0, v, lv, T, eta, A, Q)
                                            held[e] = v
                                            held_l[e] = lv
                                            k += 1
                        else:  # few: sort them (insertion sort, in place)
                            for x in range(e0 + 1, e0 + kd):
                                y = dlist[x]
                                z = x - 1
                                while z >= e0 and dlist[z] > y:
                                    dlist[z + 1] = dlist[z]
                                    z -= 1
                                dlist[z + 1] = y
                            for x in range(e0, e0 + kd):
                                e = dlist[x]
                                dflag[e] = 0
                                if e >= sl:
                                    v, lv, v0, l0 = inbox[e], inbox_l[e], held[e], held_l[e]
                                    if v != v0 or lv != l0:
                                        syn_c[e], A, Q = input_delta(syn_c[e], v0, l0, v, lv, T, eta, A, Q)
                                        held[e] = v
                                        held_l[e] = lv
                                        k += 1
                        dcnt[n] = 0
                    p_in = inbox[e0] if sl > e0 else 0.0
                else:
                    if noisy_in[n]:
                        gather_noisy(net, dyn, seed, n, t, e0, e1, buf, lbuf, B)
                    else:
                        for e in range(e0, e1):
                            x = B + goff[e]
                            if x < 0:
                                x += LNC
                            buf[e - e0] = hist[x]
                        if signals:
                            for e in range(e0, e1):
                                x = B + goffl[e]
                                if x < 0:
                                    x += LNC
                                lbuf[e - e0] = hist[x]
                    for e in range(sl, e1):
                        v, lv, v0, l0 = buf[e - e0], lbuf[e - e0], held[e], held_l[e]
                        if v != v0 or lv != l0:
                            syn_c[e], A, Q = input_delta(syn_c[e], v0, l0, v, lv, T, eta, A, Q)
                            held[e] = v
                            held_l[e] = lv
                            k += 1
                    p_in = buf[0] if sl > e0 else 0.0
                lz_n[n] += k
                applied += k
                has_syn = e1 > sl
                if has_syn and needs_rebase(P, T, eta, lz_n[n], e1 - sl):
                    A, Q = rebase(sl, e1, syn_c, held, held_l, P, T, eta)
                    P, T = 1.0, 0.0
                    lz_n[n] = 0
                    rebased += e1 - sl
                is_value = kind[n] == 0
                tr = transport and is_value  # NON-LOCAL comparison mode: reads W of the mirror synapses
                if tr:
                    total = transport_drive(sl, e1, mirror, dst, held, syn_c, held_l, lz_p, lz_t, eta_all, n)
                else:
                    total = lazy_sum(P, T, A, Q, eta)
                dt = (t - last_tick[n]) * h
                xn, an, bn, P, T, out2 = tick(row, is_value, has_syn, dt, gain[n], clamped[n] != 0, clamp_val[n],
                                              plastic, p_in, total, s[n], aux[n], bias[n], P, T)
                s[n] = xn
                aux[n] = an
                bias[n] = bn
                lz_p[n] = P
                lz_t[n] = T
                lz_a[n] = A
                lz_q[n] = Q
                last_tick[n] = t
                c = np.int64(0)
                if cjit[n] > 0:
                    c = randint(seed, STREAM_CLOCK, n, t, -cjit[n], cjit[n])
                next_tick[n] = t + period[n] + c
                first = ticks[n] == 0
                ticks[n] += 1
                sig = signals and not is_value
                if should_send(policy[n], thresh[n], xn, last_sent[n], out2 if sig else 0.0,
                               last_sig[n] if sig else 0.0, first, t - last_send[n], refresh[n]):
                    last_sent[n] = xn
                    out2s[n] = out2
                    last_send[n] = t
                    if sig:
                        last_sig[n] = out2
                    sent_now = 1
                    sent += outdeg[n]
                    if push:  # one record per group of out-edges, one per jittered out-edge
                        for g in range(gptr[n], gptr[n + 1]):
                            blk = p * WP + gq[g]
                            a = t + gD[g]
                            i = blk * WW + a % WW
                            x = wbase[blk] + (a % WW) * wcap[blk] + wcnt[i]
                            rgid[x], rv1[x], rv2[x], rj[x] = g, xn, out2, 0
                            wcnt[i] += 1
                        for y in range(jptr[n], jptr[n + 1]):
                            e = jedges[y]
                            j = randint(seed, STREAM_JITTER, e, t, 0, jit_[e])
                            blk = p * WP + part[dst[e]]
                            a = t + delay[e] + j
                            i = blk * WW + a % WW
                            x = wbase[blk] + (a % WW) * wcap[blk] + wcnt[i]
                            rgid[x], rv1[x], rv2[x], rj[x] = -(e + 1), xn, out2, j
                            wcnt[i] += 1
                    if (record & 4) and outdeg[n] > 0:
                        # a send determines its messages (edges, arrival and loss draws):
                        # one row here instead of one per out-edge
                        js = sd_cnt[p, 0]
                        sd_t[p, js] = t
                        sd_n[p, js] = n
                        sd_s[p, js] = xn
                        sd_r[p, js] = out2
                        sd_cnt[p, 0] = js + 1
                    if (record & 1) or lossy_out[n]:
                        for y in range(out_ptr[n], out_ptr[n + 1]):
                            e = out_edge[y]
                            pl = loss[e]
                            dr = pl > 0.0 and uniform(seed, STREAM_LOSS, e, t) < pl
                            if dr:
                                dropped += 1
                            if record & 1:
                                a = t + delay[e]
                                if jit_[e] > 0:
                                    a += randint(seed, STREAM_JITTER, e, t, 0, jit_[e])
                                code = ecode[e]
                                r_ts[p, rn] = t
                                r_ta[p, rn] = a
                                r_edge[p, rn] = e
                                r_val[p, rn] = out2 if code == 1 else xn
                                r_sig[p, rn] = xn if code == 0 else out2
                                r_drop[p, rn] = 1 if dr else 0
                                rn += 1
                if record & 2:
                    tk_t[p, rt] = t
                    tk_n[p, rt] = n
                    tk_s[p, rt] = xn
                    rt += 1
            if not push:
                hist[B + n] = last_sent[n]
                hist[B + N + n] = out2s[n]
                flag[FB + n] = sent_now
    rec.n[p] = rn
    rec.tk_cnt[p] = rt
    work.ev_ptr[p] = ep
    work.cnt[p, 0] += sent
    work.cnt[p, 1] += dropped
    work.cnt[p, 2] += applied
    work.cnt[p, 3] += rebased
    work.cnt[p, 4] += got


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
