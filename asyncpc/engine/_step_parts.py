"""The compiled helpers of the engine's loop (:func:`._step.advance`) that are not the loop itself.

The paths a tick takes rarely and that take arrays (the environment's messages, the inbox
of a noisy pulled neuron, a rebase, the NON-LOCAL comparison mode's drive), the wait on
other partitions between steps, and the probe. All ``@jit`` (cache=True, no fastmath),
importable from :mod:`._step` as before.
"""

from __future__ import annotations

import numpy as np

from ..environment import EV_CLAMP, EV_UNCLAMP
from ..kernels import STREAM_JITTER, STREAM_LOSS, jit, randint, uniform
from ..kernels._synapses import lazy_weight
from ._atomic import load_acquire, spin_pause, yield_cpu
from ._pack import E_C, E_HELD, E_IN, E_INL, F_CVAL, F_GAIN, F_P, F_T, I_CLAMPED, I_SYNCED
from ._push import STRIDE

__all__ = ["SPINS", "gather_noisy", "probe", "wait_turn"]


@jit
def _apply_events(net, env, dyn, t, ep, lo, hi):
    """Apply the environment messages arriving at ``t`` to the neurons at positions
    ``lo..hi-1`` of the processing order."""
    nf, ni = dyn.nf, dyn.ni
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
                ni[i, I_CLAMPED] = 1
                nf[i, F_CVAL] = v
            elif kd == EV_UNCLAMP:
                ni[i, I_CLAMPED] = 0
            else:
                nf[i, F_GAIN] = v
        ep += 1
    return ep


@jit
def gather_noisy(net, dyn, seed, n, t, e0, e1, buf, lbuf, B):
    """Fill ``buf`` (values) and ``lbuf`` (signals) with neuron ``n``'s inbox at step ``t``
    when some in-edge is noisy (the pull path).

    For a noisy edge, the messages that arrived since the receiver last synchronised its
    inbox (its previous tick) were sent at ``s`` in ``(synced - delay - jitter, t -
    delay]``. Each flagged send is re-derived with the same counter-based draws as at send
    time (arrival ``s + delay + j``, dropped or not); of those arriving in ``(synced, t]``
    and not dropped, the one with the largest ``(arrival, send step)`` is the latest write
    into the inbox (deliveries in order of arrival, the later send winning a tie) -- the
    actor runtime's rule.
    """
    N, L, NC = net.N, net.L, net.NC
    LNC = L * NC
    ef, ni, hist, flag = dyn.ef, dyn.ni, dyn.hist, dyn.flag
    lo_sync = ni[n, I_SYNCED]
    for e in range(e0, e1):
        d = net.delay[e]
        J = net.jit[e]
        P = net.loss[e]
        if J == 0 and P == 0.0:
            k = B + net.goff[e]
            if k < 0:
                k += LNC
            buf[e - e0] = hist[k]
            k = B + net.goffl[e]
            if k < 0:
                k += LNC
            lbuf[e - e0] = hist[k]
            continue
        sr = net.src[e]
        best_a = np.int64(-1)
        best_s = np.int64(-1)
        s_lo = lo_sync - d - J + 1
        for s in range(t - d, s_lo - 1, -1):
            sl = s % L
            if flag[sl * N + sr] == 0:
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
            ef[e, E_IN] = hist[row + sr + (N if code == 1 else 0)]
            ef[e, E_INL] = hist[row + sr + (N if code != 0 else 0)]
        buf[e - e0] = ef[e, E_IN]
        lbuf[e - e0] = ef[e, E_INL]
    ni[n, I_SYNCED] = t


#: Spins on another partition's progress before yielding the CPU to whoever needs it.
SPINS = 64


@jit(inline="always")
def wait_turn(lag, progress, p, t):
    """Wait until partition ``p`` may run step ``t``: every other partition ``q`` has
    published progress ``>= t - lag[q, p] + 1``. Spins a little, then yields the CPU (a
    partner thread that lost its core gets it back instead of being spun against)."""
    spins = 0
    while True:
        ready = True
        for q in range(lag.shape[0]):
            if q != p and load_acquire(progress, q * STRIDE) + lag[q, p] <= t:
                ready = False
                break
        if ready:
            return
        spins += 1
        if spins < SPINS:
            spin_pause()
        else:
            yield_cpu()


@jit
def _rebase_row(ef, lo, hi, P, T, eta, hl):
    """:func:`asyncpc.kernels.rebase` on the packed rows of synapses ``lo..hi-1``: the same
    operations in the same order."""
    A = 0.0
    Q = 0.0
    for j in range(lo, hi):
        w = lazy_weight(ef[j, E_C], ef[j, hl], P, T, eta)
        ef[j, E_C] = w
        A += w * ef[j, E_HELD]
        Q += ef[j, hl] * ef[j, E_HELD]
    return A, Q


@jit
def _transport_row(ef, nf, mirror, owner, eta, lo, hi, n, hl):
    """:func:`asyncpc.kernels._synapses.transport_drive` on the packed rows (NON-LOCAL
    comparison mode)."""
    acc = 0.0
    for j in range(lo, hi):
        m = mirror[j]
        if m >= 0:
            k = owner[m]
            w = lazy_weight(ef[m, E_C], ef[m, hl], nf[k, F_P], nf[k, F_T], eta[k])
        else:
            w = lazy_weight(ef[j, E_C], ef[j, hl], nf[n, F_P], nf[n, F_T], eta[n])
        acc += w * ef[j, E_HELD]
    return acc


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
