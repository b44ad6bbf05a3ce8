"""The compiled inner loop: one block of neurons advanced over a range of steps.

Everything here is ``@jit`` (cache=True, no fastmath) over the namedtuples of arrays
built by :mod:`._layout` and :mod:`._run`; it calls the very same kernels as the actor
runtime (``apply_input`` for the held inputs that changed, in edge order, then ``tick``,
``should_send``, ``uniform``, ``randint``), so the float arithmetic is the same operation
for operation.

A block only writes its own neurons' entries (state, synapses, its ring columns) and
its own row of the per-partition buffers; it reads ring rows of earlier steps only
(every delay is >= 1 step). That is why blocks can run in parallel inside a window.

The compiled helpers the loop calls (its rare paths, the wait between partitions) and the
probe are in :mod:`._step_parts`; they are importable from here too.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..kernels import STREAM_CLOCK, STREAM_JITTER, STREAM_LOSS, jit, randint, should_send, tick, uniform
from ..kernels._params import ETA
from ..kernels._synapses import input_delta, lazy_sum, needs_rebase
from ..kernels._tick import param_row
from ._atomic import store_release
from ._push import STRIDE
from ._pack import (
    E_C,
    E_DIRTY,
    E_HELD,
    E_HELDL,
    E_IN,
    E_INL,
    F_A,
    F_AUX,
    F_BIAS,
    F_CVAL,
    F_GAIN,
    F_LSENT,
    F_LSIG,
    F_OUT2,
    F_P,
    F_Q,
    F_S,
    F_T,
    I_CLAMPED,
    I_DCNT,
    I_LN,
    I_LSEND,
    I_LTICK,
    I_NTICK,
    I_TICKS,
    PF_THRESH,
    S_CJIT,
    S_E0,
    S_E1,
    S_G0,
    S_G1,
    S_J0,
    S_J1,
    S_KIND,
    S_LOSSY,
    S_NOISY,
    S_O0,
    S_O1,
    S_OUTDEG,
    S_PERIOD,
    S_POLICY,
    S_REFRESH,
    S_SL,
)
from ._step_parts import _apply_events, _rebase_row, _transport_row, gather_noisy, probe, wait_turn

__all__ = ["Dyn", "Env", "Work", "Rec", "advance", "gather_noisy", "probe"]

#: Mutable per-run state: the packed rows of :mod:`._pack` (``ef`` per edge, ``nf`` and
#: ``ni`` per neuron), the weights written at the end (``w``), and the history ring
#: (``hist``/``flag``, the pull path's).
Dyn = namedtuple("Dyn", ["ef", "nf", "ni", "w", "hist", "flag"])
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
def advance(net, dyn, env, seed, p, lo, hi, ta, tb, work, rec, record, wh, lag, progress):
    """Advance the neurons at positions ``lo..hi-1`` of the processing order (partition
    ``p``) over steps ``ta..tb-1``.

    With more than one partition (``progress`` holds one counter per partition), each
    step ``t`` first waits until every other partition ``q`` has finished the steps
    before ``t - lag[q, p] + 1`` -- everything that can reach this partition by step
    ``t`` has been sent, and no partition runs so far ahead that it would overwrite what
    this one still has to read -- and publishes ``t + 1`` when done (:mod:`._drive`).

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
    environment's messages) call functions with arrays. The state is in rows
    (:mod:`._pack`): an edge's variables share a cache line, a neuron's a few.
    """
    N, L, NC = net.N, net.L, net.NC
    LNC = L * NC
    order, ns, pf = net.order, net.ns, net.pf
    goff, goffl = net.goff, net.goffl
    out_edge, loss, delay, jit_ = net.out_edge, net.loss, net.delay, net.jit
    ecode, dst, mirror, eta_all = net.ecode, net.dst, net.mirror, net.eta
    signals, transport, plastic, h = net.signals, net.transport, net.plastic, net.h
    hl = E_HELDL if signals else E_HELD  # pulling rows may be narrow (_pack.narrow)
    ef, nf, ni, hist, flag = dyn.ef, dyn.nf, dyn.ni, dyn.hist, dyn.flag
    env_arr = env.arr
    nev = env_arr.shape[0]
    push, WP, WW = wh.push, wh.P, wh.W
    gq, gD, ge0, gedges, gdst, gcode, gloss = wh.gq, wh.gD, wh.ge0, wh.gedges, wh.gdst, wh.gcode, wh.gloss
    jedges, part = wh.jedges, wh.part
    wbase, wcap, wcnt, rgid, rv1, rv2, rj, dlist = wh.base, wh.cap, wh.cnt, wh.rgid, wh.rv1, wh.rv2, wh.rj, wh.dlist
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
    n_parts = lag.shape[0]
    for t in range(ta, tb):
        if n_parts > 1:
            wait_turn(lag, progress, p, t)
        if ep < nev and env_arr[ep] <= t:  # environment messages (at presentation switches)
            ep = _apply_events(net, env, dyn, t, ep, lo, hi)
        if push:
            # what arrives now: each record expanded into inbox writes and dirty marks
            slot = t % WW
            for pp in range(WP):
                blk = pp * WP + p
                i = (blk * WW + slot) * STRIDE
                m = wcnt[i]
                if m == 0:
                    continue
                k0 = wbase[blk] + slot * wcap[blk]
                for r in range(k0, k0 + m):
                    gid = rgid[r]
                    v1 = rv1[r]
                    v2 = rv2[r]
                    if gid >= 0:
                        ts = t - gD[gid]
                        for x in range(ge0[gid], ge0[gid + 1]):
                            e = gedges[x]
                            pl = gloss[x]
                            if pl > 0.0 and uniform(seed, STREAM_LOSS, e, ts) < pl:
                                continue
                            code = gcode[x]
                            ef[e, E_IN] = v2 if code == 1 else v1
                            ef[e, E_INL] = v1 if code == 0 else v2
                            if ef[e, E_DIRTY] == 0.0:
                                ef[e, E_DIRTY] = 1.0
                                d = gdst[x]
                                dlist[ns[d, S_E0] + ni[d, I_DCNT]] = e
                                ni[d, I_DCNT] += 1
                            got += 1
                    else:
                        e = -gid - 1
                        pl = loss[e]
                        if pl > 0.0 and uniform(seed, STREAM_LOSS, e, t - delay[e] - rj[r]) < pl:
                            continue
                        code = ecode[e]
                        ef[e, E_IN] = v2 if code == 1 else v1
                        ef[e, E_INL] = v1 if code == 0 else v2
                        if ef[e, E_DIRTY] == 0.0:
                            ef[e, E_DIRTY] = 1.0
                            d = dst[e]
                            dlist[ns[d, S_E0] + ni[d, I_DCNT]] = e
                            ni[d, I_DCNT] += 1
                        got += 1
                wcnt[i] = 0
        base = t % L
        B = base * NC
        FB = base * N
        for q in range(lo, hi):
            n = order[q]
            sent_now = 0
            if ni[n, I_NTICK] == t:
                e0 = ns[n, S_E0]
                sl = ns[n, S_SL]
                e1 = ns[n, S_E1]
                row = param_row(pf, n)
                eta = row[ETA]
                P = nf[n, F_P]
                T = nf[n, F_T]
                A = nf[n, F_A]
                Q = nf[n, F_Q]
                k = 0
                # the held inputs that changed since the last tick, applied in edge order
                if push:
                    kd = ni[n, I_DCNT]
                    if kd > 0:
                        if kd * 8 > e1 - e0:  # many: walk the row
                            for e in range(e0, e1):
                                if ef[e, E_DIRTY] != 0.0:
                                    ef[e, E_DIRTY] = 0.0
                                    if e >= sl:
                                        v, lv, v0, l0 = ef[e, E_IN], ef[e, E_INL], ef[e, E_HELD], ef[e, hl]
                                        if v != v0 or lv != l0:
                                            ef[e, E_C], A, Q = input_delta(ef[e, E_C], v0, l0, v, lv, T, eta, A, Q)
                                            ef[e, E_HELD] = v
                                            ef[e, hl] = lv
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
                                ef[e, E_DIRTY] = 0.0
                                if e >= sl:
                                    v, lv, v0, l0 = ef[e, E_IN], ef[e, E_INL], ef[e, E_HELD], ef[e, hl]
                                    if v != v0 or lv != l0:
                                        ef[e, E_C], A, Q = input_delta(ef[e, E_C], v0, l0, v, lv, T, eta, A, Q)
                                        ef[e, E_HELD] = v
                                        ef[e, hl] = lv
                                        k += 1
                        ni[n, I_DCNT] = 0
                    p_in = ef[e0, E_IN] if sl > e0 else 0.0
                elif not signals and ns[n, S_NOISY] == 0:
                    # clean edges, no learning signals: read the ring in the delta loop itself
                    # (the same operations as below with l = v and l0 = v0)
                    p_in = 0.0
                    if sl > e0:
                        x = B + goff[e0]
                        if x < 0:
                            x += LNC
                        p_in = hist[x]
                    if eta == 0.0:  # the same loop, compiled apart: input_delta then only moves A
                        for e in range(sl, e1):
                            x = B + goff[e]
                            if x < 0:
                                x += LNC
                            v = hist[x]
                            v0 = ef[e, E_HELD]
                            if v != v0:
                                ef[e, E_C], A, Q = input_delta(ef[e, E_C], v0, v0, v, v, T, 0.0, A, Q)
                                ef[e, E_HELD] = v
                                k += 1
                    else:
                        for e in range(sl, e1):
                            x = B + goff[e]
                            if x < 0:
                                x += LNC
                            v = hist[x]
                            v0 = ef[e, E_HELD]
                            if v != v0:
                                ef[e, E_C], A, Q = input_delta(ef[e, E_C], v0, v0, v, v, T, eta, A, Q)
                                ef[e, E_HELD] = v
                                k += 1
                else:
                    if ns[n, S_NOISY]:
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
                        v, lv, v0, l0 = buf[e - e0], lbuf[e - e0], ef[e, E_HELD], ef[e, hl]
                        if v != v0 or lv != l0:
                            ef[e, E_C], A, Q = input_delta(ef[e, E_C], v0, l0, v, lv, T, eta, A, Q)
                            ef[e, E_HELD] = v
                            ef[e, hl] = lv
                            k += 1
                    p_in = buf[0] if sl > e0 else 0.0
                ni[n, I_LN] += k
                applied += k
                has_syn = e1 > sl
                if has_syn and needs_rebase(P, T, eta, ni[n, I_LN], e1 - sl):
                    A, Q = _rebase_row(ef, sl, e1, P, T, eta, hl)
                    P, T = 1.0, 0.0
                    ni[n, I_LN] = 0
                    rebased += e1 - sl
                is_value = ns[n, S_KIND] == 0
                tr = transport and is_value  # NON-LOCAL comparison mode: reads W of the mirror synapses
                if tr:
                    total = _transport_row(ef, nf, mirror, dst, eta_all, sl, e1, n, hl)
                else:
                    total = lazy_sum(P, T, A, Q, eta)
                dt = (t - ni[n, I_LTICK]) * h
                xn, an, bn, P, T, out2 = tick(row, is_value, has_syn, dt, nf[n, F_GAIN], ni[n, I_CLAMPED] != 0,
                                              nf[n, F_CVAL], plastic, p_in, total, nf[n, F_S], nf[n, F_AUX],
                                              nf[n, F_BIAS], P, T)
                nf[n, F_S] = xn
                nf[n, F_AUX] = an
                nf[n, F_BIAS] = bn
                nf[n, F_P] = P
                nf[n, F_T] = T
                nf[n, F_A] = A
                nf[n, F_Q] = Q
                ni[n, I_LTICK] = t
                c = np.int64(0)
                cj = ns[n, S_CJIT]
                if cj > 0:
                    c = randint(seed, STREAM_CLOCK, n, t, -cj, cj)
                ni[n, I_NTICK] = t + ns[n, S_PERIOD] + c
                first = ni[n, I_TICKS] == 0
                ni[n, I_TICKS] += 1
                sig = signals and not is_value
                if should_send(ns[n, S_POLICY], pf[n, PF_THRESH], xn, nf[n, F_LSENT], out2 if sig else 0.0,
                               nf[n, F_LSIG] if sig else 0.0, first, t - ni[n, I_LSEND], ns[n, S_REFRESH]):
                    nf[n, F_LSENT] = xn
                    nf[n, F_OUT2] = out2
                    ni[n, I_LSEND] = t
                    if sig:
                        nf[n, F_LSIG] = out2
                    sent_now = 1
                    sent += ns[n, S_OUTDEG]
                    if push:  # one record per group of out-edges, one per jittered out-edge
                        for g in range(ns[n, S_G0], ns[n, S_G1]):
                            blk = p * WP + gq[g]
                            a = t + gD[g]
                            i = (blk * WW + a % WW) * STRIDE
                            x = wbase[blk] + (a % WW) * wcap[blk] + wcnt[i]
                            rgid[x], rv1[x], rv2[x], rj[x] = g, xn, out2, 0
                            wcnt[i] += 1
                        for y in range(ns[n, S_J0], ns[n, S_J1]):
                            e = jedges[y]
                            j = randint(seed, STREAM_JITTER, e, t, 0, jit_[e])
                            blk = p * WP + part[dst[e]]
                            a = t + delay[e] + j
                            i = (blk * WW + a % WW) * STRIDE
                            x = wbase[blk] + (a % WW) * wcap[blk] + wcnt[i]
                            rgid[x], rv1[x], rv2[x], rj[x] = -(e + 1), xn, out2, j
                            wcnt[i] += 1
                    if (record & 4) and ns[n, S_OUTDEG] > 0:
                        # a send determines its messages (edges, arrival and loss draws):
                        # one row here instead of one per out-edge
                        js = sd_cnt[p, 0]
                        sd_t[p, js] = t
                        sd_n[p, js] = n
                        sd_s[p, js] = xn
                        sd_r[p, js] = out2
                        sd_cnt[p, 0] = js + 1
                    if (record & 1) or ns[n, S_LOSSY]:
                        for y in range(ns[n, S_O0], ns[n, S_O1]):
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
                hist[B + n] = nf[n, F_LSENT]
                hist[B + N + n] = nf[n, F_OUT2]
                flag[FB + n] = sent_now
        if n_parts > 1:
            store_release(progress, p * STRIDE, t + 1)
    rec.n[p] = rn
    rec.tk_cnt[p] = rt
    work.ev_ptr[p] = ep
    work.cnt[p, 0] += sent
    work.cnt[p, 1] += dropped
    work.cnt[p, 2] += applied
    work.cnt[p, 3] += rebased
    work.cnt[p, 4] += got
