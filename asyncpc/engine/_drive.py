"""The run loops: serial (one thread) and parallel (partitions on threads).

In the parallel loop every partition runs every step of the call on its own thread and
waits, step by step, only on what can reach it: before step ``t`` partition ``p`` waits
until each other partition ``q`` has finished the steps before ``t - lag[q, p] + 1``
(``lag``: the smallest delay of an edge from ``q`` to ``p``; :func:`._step_parts.wait_turn`).
Partitions meet only at probe steps, where the read-out and the energies are taken
serially in a fixed order, and before a recording buffer could overflow (the loop then
returns, the caller empties the buffers and calls again).

Across MPI ranks each rank runs only its own partitions (``mine``); the others' progress
is never waited on, because what they send arrives by exchange at window ends
(:mod:`._exchange`, docs/engine.md).
"""

from __future__ import annotations

from collections import namedtuple

import numba
from numba import literally, prange

from ..kernels import jit
from ._pack import F_S
from ._push import STRIDE
from ._step import advance, probe

__all__ = ["Probes", "drive_serial", "drive_parallel"]

#: The progress of a partition another rank runs: never waited on here.
ELSEWHERE = 1 << 62

#: Probe steps of this run and where their observations go.
Probes = namedtuple("Probes", ["t", "readout", "err_ids", "area_ptr", "x", "energy"])


@jit
def _window_end(t, t1, pk, probes, rec, record, lo, hi, msg_per_step, width, cap, capt):
    """End (exclusive) of the window starting at ``t``; ``t`` when buffers need emptying."""
    tb = min(t1, t + width)
    if pk < probes.t.shape[0] and probes.t[pk] + 1 < tb:
        tb = probes.t[pk] + 1
    if record:
        for p in range(lo.shape[0]):
            if record & 1 and msg_per_step[p] > 0:
                tb = min(tb, t + (cap - rec.n[p]) // msg_per_step[p])
            if record & 2:
                tb = min(tb, t + (capt - rec.tk_cnt[p]) // (hi[p] - lo[p]))
            if record & 4:  # sends: at most one per neuron and step, like ticks
                tb = min(tb, t + (capt - rec.sd_cnt[p, 0]) // (hi[p] - lo[p]))
    return max(tb, t)


@jit
def _after_window(dyn, probes, t, pk):
    if pk < probes.t.shape[0] and probes.t[pk] == t - 1:
        probe(dyn.nf[:, F_S], probes.readout, probes.err_ids, probes.area_ptr, probes.x, probes.energy, pk)
        pk += 1
    return pk


@jit
def drive_serial(net, dyn, env, seed, t, t1, pk, probes, work, rec, record, lo, hi, msg_per_step,
                 cap, capt, wh, width, lag, progress, mine):
    """Advance every neuron from ``t`` to ``t1`` on the calling thread, ``width`` steps
    at a time (the loop returns between windows only to empty recording buffers).

    Returns ``(t, pk)``: the step reached (``t1`` unless a buffer must be emptied) and
    the next probe index.
    """
    record = literally(record)
    p0 = lo[0] * 0  # an int64, not a literal 0: the same compiled `advance` as the parallel loop
    while t < t1:
        tb = _window_end(t, t1, pk, probes, rec, record, lo, hi, msg_per_step, width, cap, capt)
        if tb == t:
            break
        advance(net, dyn, env, seed, p0, lo[0], hi[0], t, tb, work, rec, record, wh, lag, progress)
        t = tb
        pk = _after_window(dyn, probes, t, pk)
    return t, pk


@jit(parallel=True)
def drive_parallel(net, dyn, env, seed, t, t1, pk, probes, work, rec, record, lo, hi, msg_per_step,
                   cap, capt, wh, width, lag, progress, mine):
    """Advance each partition ``p`` of ``mine`` (neurons ``lo[p]..hi[p]-1``) on its own
    thread. The threads meet only at probe steps and when a recording buffer needs
    emptying; in between each runs ahead as far as ``lag`` allows (``advance`` waits step
    by step on the others' ``progress``): a thread never waits for one that has nothing
    it needs. Partitions not in ``mine`` belong to other MPI ranks: they are not run here
    and never waited on (what they send arrives by exchange, ``_exchange``).
    Same returns as :func:`drive_serial`."""
    record = literally(record)
    n_parts = lo.shape[0]
    while t < t1:
        tb = _window_end(t, t1, pk, probes, rec, record, lo, hi, msg_per_step, width, cap, capt)
        if tb == t:
            break
        for p in range(n_parts):
            progress[p * STRIDE] = ELSEWHERE
        for i in range(mine.shape[0]):
            progress[mine[i] * STRIDE] = t
        for i in prange(mine.shape[0]):
            p = mine[i]
            advance(net, dyn, env, seed, p, lo[p], hi[p], t, tb, work, rec, record, wh, lag, progress)
        t = tb
        pk = _after_window(dyn, probes, t, pk)
    return t, pk


def set_threads(n: int) -> int:
    """Numba's thread count for the next parallel region (capped by what it launched)."""
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n
