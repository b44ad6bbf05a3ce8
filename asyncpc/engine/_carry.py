"""What a run carries over: the history ring in, the inboxes and messages in flight out.

At the end of a run at step ``T`` the engine's ring holds, for the last ``L`` steps,
what every neuron had last sent and whether it sent then. Together with the seed that
is the whole channel state: a message on edge ``e`` sent at ``s`` is in flight iff its
sender's flag is set at ``s``, ``s + delay + j(s) >= T`` and it is not dropped, all
three recomputed from the counter-based draws. The ring is therefore the engine's
compact checkpoint (``L x 2N`` floats, instead of one record per message in flight);
the explicit list (:func:`in_flight_columns`) is materialised only on request, e.g.
when the actor runtime continues an engine run.

The reverse direction (:func:`fill_ring`) rebuilds a ring from any runtime's state:
the inboxes plus the messages in flight.
"""

from __future__ import annotations

import numpy as np

from ..kernels import STREAM_JITTER, STREAM_LOSS, act, jit, randint, uniform
from ..kernels._params import ETA
from ..kernels._synapses import lazy_weight
from ._pack import E_C, E_HELD, E_HELDL, E_IN, E_INL, F_P, F_T
from ._step import gather_noisy

__all__ = ["fill_ring", "finalize", "first_foreign_draw", "in_flight_columns", "materialize_all", "out_seconds"]


@jit
def out_seconds(net, last_sent, last_sig):
    """The second output each neuron last sent: f(last sent state) for value neurons, the
    last sent learning signal (or state, without signals) for error neurons."""
    r = np.empty(net.N)
    for n in range(net.N):
        if net.kind[n] == 0:
            r[n] = act(net.act[n], last_sent[n])
        else:
            r[n] = last_sig[n]
    return r


@jit
def _cols(net, e):
    """The ring columns edge ``e`` reads: its value's and its signal's."""
    code = net.ecode[e]
    sr = net.src[e]
    return sr + (net.N if code == 1 else 0), sr + (net.N if code != 0 else 0)


@jit
def fill_ring(net, t0, inbox, inbox_l, fl_ts, fl_edge, fl_val, fl_sig, hist, flag):
    """Rebuild the ring rows before ``t0`` from inboxes and messages in flight.

    Each message in flight is a send of its sender: flag it and store its value and
    signal in the sender's columns. A clean edge of delay ``d`` will read the rows
    ``t0-d .. t0-1``: all sends there are in flight on it (nothing is lost), and before
    them the edge's inbox holds the sender's last send. So each column is seeded with the
    inbox (value or signal) of its longest clean edge and held forward between the sends.
    """
    N, L, NC = net.N, net.L, net.NC
    E = net.src.shape[0]
    dm = np.full(NC, -1, np.int64)
    eb = np.full(NC, -1, np.int64)
    ew = np.zeros(NC, np.int8)
    for e in range(E):
        if net.jit[e] == 0 and net.loss[e] == 0.0:
            vc, lc = _cols(net, e)
            if net.delay[e] > dm[vc]:
                dm[vc] = net.delay[e]
                eb[vc] = e
                ew[vc] = 0
            if net.delay[e] > dm[lc]:
                dm[lc] = net.delay[e]
                eb[lc] = e
                ew[lc] = 1
    for col in range(NC):
        if dm[col] >= 0:
            hist[((t0 - dm[col] - 1) % L) * NC + col] = inbox[eb[col]] if ew[col] == 0 else inbox_l[eb[col]]
    isset = np.zeros(L * NC, np.bool_)
    for m in range(fl_edge.shape[0]):
        e = fl_edge[m]
        sl = fl_ts[m] % L
        vc, lc = _cols(net, e)
        hist[sl * NC + vc] = fl_val[m]
        isset[sl * NC + vc] = True
        hist[sl * NC + lc] = fl_sig[m]
        isset[sl * NC + lc] = True
        flag[sl * N + net.src[e]] = 1
    for col in range(NC):
        for s in range(t0 - dm[col], t0):
            k = (s % L) * NC + col
            if not isset[k]:
                hist[k] = hist[((s - 1) % L) * NC + col]


@jit
def materialize_all(net, dyn):
    """Every synapse's weight into ``dyn.w`` (from the event-driven synapse state; the
    expression of :func:`asyncpc.kernels.materialize`)."""
    ef, nf, w = dyn.ef, dyn.nf, dyn.w
    hl = E_HELDL if net.signals else E_HELD
    for n in range(net.N):
        eta = net.prm[n, ETA]
        for j in range(net.in_ptr[n] + net.has_partner[n], net.in_ptr[n + 1]):
            w[j] = lazy_weight(ef[j, E_C], ef[j, hl], nf[n, F_P], nf[n, F_T], eta)


@jit
def _arrival(net, seed, e, s):
    a = s + net.delay[e]
    if net.jit[e] > 0:
        a += randint(seed, STREAM_JITTER, e, s, 0, net.jit[e])
    return a


@jit
def _kept(net, seed, e, s):
    P = net.loss[e]
    return not (P > 0.0 and uniform(seed, STREAM_LOSS, e, s) < P)


@jit
def finalize(net, dyn, seed, T, scratch, lscratch):
    """At the end of a pulling run (next step ``T``): bring every inbox up to step
    ``T - 1``, write every synapse's weight into ``dyn.w`` and return the number of
    messages still in flight."""
    N, L, NC = net.N, net.L, net.NC
    LNC = L * NC
    B = ((T - 1) % L) * NC
    ef, hist = dyn.ef, dyn.hist
    for n in range(N):
        e0, e1 = net.in_ptr[n], net.in_ptr[n + 1]
        if net.noisy_in[n]:
            gather_noisy(net, dyn, seed, n, T - 1, e0, e1, scratch, lscratch, B)
            for e in range(e0, e1):
                ef[e, E_IN] = scratch[e - e0]
                ef[e, E_INL] = lscratch[e - e0]
        else:
            for e in range(e0, e1):
                k = B + net.goff[e]
                if k < 0:
                    k += LNC
                ef[e, E_IN] = hist[k]
                k = B + net.goffl[e]
                if k < 0:
                    k += LNC
                ef[e, E_INL] = hist[k]
    materialize_all(net, dyn)
    # clean edges: count the sender's flags in the last `delay` steps, via running sums
    # over blocks of 64 senders (contiguous in the time-major flag ring)
    dmax = 1
    for e in range(net.src.shape[0]):
        dmax = max(dmax, net.delay[e] + net.jit[e])
    cum = np.zeros((dmax + 1, 64), np.int64)
    pending = np.int64(0)
    for n0 in range(0, N, 64):
        n1 = min(n0 + 64, N)
        for k in range(1, dmax + 1):
            sl = ((T - k) % L) * N
            for n in range(n0, n1):
                cum[k, n - n0] = cum[k - 1, n - n0] + dyn.flag[sl + n]
        for n in range(n0, n1):
            for q in range(net.out_ptr[n], net.out_ptr[n + 1]):
                e = net.out_edge[q]
                if net.jit[e] == 0 and net.loss[e] == 0.0:
                    pending += cum[net.delay[e], n - n0]
                    continue
                for s in range(T - net.delay[e] - net.jit[e], T):
                    if dyn.flag[(s % L) * N + n] and _arrival(net, seed, e, s) >= T and _kept(net, seed, e, s):
                        pending += 1
    return pending


@jit
def in_flight_columns(net, hist, flag, seed, T, count):
    """The messages in flight at ``T`` as columns (t_send, t_arrive, edge, value)."""
    N, L, NC = net.N, net.L, net.NC
    ts = np.empty(count, np.int64)
    ta = np.empty(count, np.int64)
    ed = np.empty(count, np.int64)
    va = np.empty(count, np.float64)
    sg = np.empty(count, np.float64)
    m = 0
    for e in range(net.src.shape[0]):
        sr = net.src[e]
        col, lcol = _cols(net, e)
        for s in range(T - net.delay[e] - net.jit[e], T):
            sl = s % L
            if flag[sl * N + sr] == 0:
                continue
            a = _arrival(net, seed, e, s)
            if a >= T and _kept(net, seed, e, s) and m < count:
                ts[m] = s
                ta[m] = a
                ed[m] = e
                va[m] = hist[sl * NC + col]
                sg[m] = hist[sl * NC + lcol]
                m += 1
    return ts[:m], ta[:m], ed[:m], va[:m], sg[:m]


@jit
def first_foreign_draw(net, seed, ts, ta, ed):
    """Index of the first message in flight whose arrival or survival this seed's draws
    would not reproduce, or -1."""
    for m in range(ed.shape[0]):
        if ta[m] != _arrival(net, seed, ed[m], ts[m]) or not _kept(net, seed, ed[m], ts[m]):
            return m
    return -1
