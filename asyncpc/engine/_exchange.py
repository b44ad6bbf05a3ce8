"""The engine across MPI ranks: who owns which partitions, and the exchange at window ends.

Rank ``r`` owns a contiguous run of the engine's partitions and advances only those (the
others' neurons are simply never ticked there). Inside a rank, partitions wait on each
other step by step as in one process (``_step_parts.wait_turn``). Between ranks they meet at
*window* ends: the window is the smallest delay of an edge whose two neurons are on
different ranks, so whatever a rank sends across during a window arrives at or after
the window's end, and exchanging at each end is enough (the conservative scheme of
NEST, NEURON and Arbor).

What crosses: the timing wheel's blocks ``(p, q)`` whose sender partition ``p`` is here
and whose receiver ``q`` is on another rank -- per (block, slot) a count, then the
records (group or edge id, jitter, the two sent values: 24 bytes). The sender empties
them; the receiver appends them after what its slot already holds, in (block, slot,
send) order, which is the order one process would have put them in (only ``p`` appends
to block ``(p, q)``, and ``q`` delivers blocks in sender order). Two non-blocking
collectives per window (the byte counts, then the bytes), over buffers made once;
nothing is pickled.
"""

from __future__ import annotations

import time
from collections import namedtuple

import numpy as np

from ..kernels import jit
from ._layout import WINDOW_CAP
from ._push import STRIDE

__all__ = ["Cut", "plan_cut", "Exchange"]

#: Words (8 bytes) per record on the wire: (group id, jitter) as two int32, then two float64.
REC_WORDS = 3

#: Ownership of a run across ranks. ``owner[p]``: the rank of partition ``p``; ``mine``:
#: this rank's partitions; ``ids`` / ``edges``: this rank's neurons and in-edges, ascending
#: edges, neurons in partition order; ``all_ids`` / ``all_edges``: every rank's, in rank
#: order (what a gather returns); ``window``: steps between exchanges; ``cut``: edges
#: between ranks; ``balance``: the largest rank's work over the mean (work: in-degree + 8
#: per neuron, the partitioner's cost); ``out_blk`` / ``in_blk`` with pointers ``out_ptr`` / ``in_ptr``: per
#: other rank, the wheel blocks sent to it and received from it, ascending.
Cut = namedtuple("Cut", ["K", "rank", "owner", "mine", "ids", "edges", "all_ids", "all_edges", "window", "cut",
                         "balance", "out_blk", "out_ptr", "in_blk", "in_ptr"])


def _blocks_by_rank(owner, K, me, outgoing: bool):
    P = len(owner)
    p, q = np.divmod(np.arange(P * P), P)
    here, there = (p, q) if outgoing else (q, p)
    sel = (owner[here] == me) & (owner[there] != me)
    blk = np.arange(P * P)[sel]
    peer = owner[there][sel]
    order = np.lexsort((blk, peer))
    ptr = np.zeros(K + 1, np.int64)
    np.cumsum(np.bincount(peer, minlength=K), out=ptr[1:])
    return blk[order].astype(np.int64), ptr


def plan_cut(c, lay, lo, hi, owner, K: int, rank: int, slack: int) -> Cut:
    """Partitions ``lo..hi`` (contiguous ranges of ``lay.order``) owned by the ``K`` ranks
    in contiguous runs (``owner``, non-decreasing), and what this ``rank`` exchanges."""
    owner = np.asarray(owner, np.int64)
    part = lay.part_of(lo, hi)
    rk = owner[part]
    cross = rk[c.src] != rk[c.dst]
    d = int(c.delay[cross].min()) if cross.any() else WINDOW_CAP
    window = max(1, min(d, WINDOW_CAP, int(slack)))
    ids_of = [np.concatenate([lay.order[lo[p]:hi[p]] for p in np.flatnonzero(owner == r)]).astype(np.int64)
              for r in range(K)]
    edges_of = [np.flatnonzero(rk[c.dst] == r).astype(np.int64) for r in range(K)]
    work = np.bincount(rk, weights=np.diff(c.in_ptr) + 8.0, minlength=K)
    out_blk, out_ptr = _blocks_by_rank(owner, K, rank, True)
    in_blk, in_ptr = _blocks_by_rank(owner, K, rank, False)
    return Cut(K=K, rank=rank, owner=owner, mine=np.flatnonzero(owner == rank).astype(np.int64),
               ids=ids_of[rank], edges=edges_of[rank], all_ids=np.concatenate(ids_of),
               all_edges=np.concatenate(edges_of), window=window, cut=int(cross.sum()),
               balance=float(work.max() / work.mean()), out_blk=out_blk,
               out_ptr=out_ptr, in_blk=in_blk, in_ptr=in_ptr)


def _capacity(blk, ptr, W, cap):
    """Words of the largest message to (or from) each rank: a count per (block, slot), and
    every slot of every block full."""
    K = len(ptr) - 1
    out = np.zeros(K, np.int64)
    for r in range(K):
        b = blk[ptr[r]:ptr[r + 1]]
        out[r] = len(b) * W + REC_WORDS * int(cap[b].sum()) * W
    return out


@jit
def _pack(blk, ptr, W, base, cap, cnt, rgid, rj, rv1, rv2, i64, i32, f64, words):
    """Move the records of the blocks ``blk`` (grouped by rank via ``ptr``) into the
    buffer, rank after rank: the counts of every (block, slot), then the records in
    (block, slot, append) order. Empties those slots; ``words[r]``: the length of rank
    ``r``'s part."""
    off = 0
    for r in range(ptr.shape[0] - 1):
        start = off
        for b in range(ptr[r], ptr[r + 1]):
            blkid = blk[b]
            for s in range(W):
                i64[off] = cnt[(blkid * W + s) * STRIDE]
                off += 1
        for b in range(ptr[r], ptr[r + 1]):
            blkid = blk[b]
            for s in range(W):
                i = (blkid * W + s) * STRIDE
                k0 = base[blkid] + s * cap[blkid]
                for k in range(k0, k0 + cnt[i]):
                    i32[2 * off] = rgid[k]
                    i32[2 * off + 1] = rj[k]
                    f64[off + 1] = rv1[k]
                    f64[off + 2] = rv2[k]
                    off += REC_WORDS
                cnt[i] = 0
        words[r] = off - start


@jit
def _unpack(blk, ptr, W, base, cap, cnt, rgid, rj, rv1, rv2, i64, i32, f64, displ):
    """Append the records in the buffer (rank ``r``'s part at word ``displ[r]``, laid out
    as :func:`_pack` wrote it) to their blocks' slots, after what each slot holds."""
    for r in range(ptr.shape[0] - 1):
        if ptr[r + 1] == ptr[r]:
            continue
        head = displ[r]
        off = head + (ptr[r + 1] - ptr[r]) * W
        for b in range(ptr[r], ptr[r + 1]):
            blkid = blk[b]
            for s in range(W):
                n = i64[head]
                head += 1
                i = (blkid * W + s) * STRIDE
                k = base[blkid] + s * cap[blkid] + cnt[i]
                for _ in range(n):
                    rgid[k] = i32[2 * off]
                    rj[k] = i32[2 * off + 1]
                    rv1[k] = f64[off + 1]
                    rv2[k] = f64[off + 2]
                    off += REC_WORDS
                    k += 1
                cnt[i] += n


class _Buffer:
    """``words`` 8-byte words seen as int64, int32 and float64 (one allocation)."""

    def __init__(self, words: int):
        self.raw = np.zeros(max(int(words), 1) * 8, np.uint8)
        self.i64, self.i32, self.f64 = self.raw.view(np.int64), self.raw.view(np.int32), self.raw.view(np.float64)


class Exchange:
    """The window-end exchange of one run on one rank (call it once per window end).
    Counts ``windows``, ``bytes`` (sent by this rank), ``seconds`` (spent here, waiting
    included) and ``waiting`` (of those, in the first collective: mostly waiting for the
    slowest rank to finish the window)."""

    def __init__(self, cut: Cut, wh, ranks):
        from mpi4py import MPI

        self.cut, self.wh, self.ranks, self.mpi = cut, wh, ranks, MPI
        K = cut.K
        self.send = _Buffer(_capacity(cut.out_blk, cut.out_ptr, wh.W, wh.cap).sum())
        self.recv = _Buffer(_capacity(cut.in_blk, cut.in_ptr, wh.W, wh.cap).sum())
        self.words = np.zeros(K, np.int64)
        self.scount = np.zeros(K, np.int64)
        self.rcount = np.zeros(K, np.int64)
        self.sdispl = np.zeros(K, np.int64)
        self.rdispl = np.zeros(K, np.int64)
        self.rwords = np.zeros(K, np.int64)  # the same in 8-byte words, for _unpack
        self.windows, self.bytes, self.seconds, self.waiting = 0, 0, 0.0, 0.0
        # one process at a time writes Numba's cache; once compiled, each rank loads it alone
        ranks.first(self._compile, "the exchange's compilation", once="exchange")

    def _compile(self) -> None:
        """Compile (or load) the pack and unpack loops: called with no blocks, they touch nothing."""
        c, wh, none = self.cut, self.wh, np.zeros(self.cut.K + 1, np.int64)
        _pack(c.out_blk, none, wh.W, wh.base, wh.cap, wh.cnt, wh.rgid, wh.rj, wh.rv1, wh.rv2,
              self.send.i64, self.send.i32, self.send.f64, self.words)
        _unpack(c.in_blk, none, wh.W, wh.base, wh.cap, wh.cnt, wh.rgid, wh.rj, wh.rv1, wh.rv2,
                self.recv.i64, self.recv.i32, self.recv.f64, self.rwords)

    def __call__(self) -> None:
        MPI = self.mpi
        t0 = time.perf_counter()
        c, wh, sb, rb = self.cut, self.wh, self.send, self.recv
        _pack(c.out_blk, c.out_ptr, wh.W, wh.base, wh.cap, wh.cnt, wh.rgid, wh.rj, wh.rv1, wh.rv2,
              sb.i64, sb.i32, sb.f64, self.words)
        np.multiply(self.words, 8, out=self.scount)
        np.cumsum(self.scount[:-1], out=self.sdispl[1:])
        comm, what = self.ranks.comm, "messages"
        t1 = time.perf_counter()
        self.ranks.wait(comm.Ialltoall([self.scount, MPI.INT64_T], [self.rcount, MPI.INT64_T]), what)
        self.waiting += time.perf_counter() - t1  # mostly the other ranks finishing their window
        np.cumsum(self.rcount[:-1], out=self.rdispl[1:])
        np.floor_divide(self.rdispl, 8, out=self.rwords)
        self.ranks.wait(comm.Ialltoallv([sb.raw, (self.scount, self.sdispl), MPI.BYTE],
                                        [rb.raw, (self.rcount, self.rdispl), MPI.BYTE]), what)
        _unpack(c.in_blk, c.in_ptr, wh.W, wh.base, wh.cap, wh.cnt, wh.rgid, wh.rj, wh.rv1, wh.rv2,
                rb.i64, rb.i32, rb.f64, self.rwords)
        self.windows += 1
        self.bytes += int(self.scount.sum())
        self.seconds += time.perf_counter() - t0
