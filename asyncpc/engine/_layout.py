"""What the engine derives from a :class:`~asyncpc.compile.CompiledNet`, once per network.

The engine never moves a message object. Every neuron writes, at every step, what it
last sent into a per-step row of the *history ring* (``hist``: ``L`` rows of ``2N``
float64, time-major; columns ``0..N-1`` hold the last sent state, ``N..2N-1`` the last
sent rate) and whether it sent at that step (``flag``: ``L`` rows of ``N`` int8). A
receiver pulls its inbox from the ring when it ticks:

- a *clean* edge (no loss, no jitter) of delay ``d`` delivers at step ``t`` exactly
  what its sender had last sent by step ``t - d``: ``hist[(t - d) % L, col]``. The flat
  index is precomputed per edge as ``goff = col - d * 2N`` (int32 when the ring is
  small enough), so one add and one conditional wrap per edge and tick;
- a *noisy* edge (loss or jitter) keeps a persistent inbox slot and re-derives, from
  the sender's send flags and the counter-based draws, which messages arrived since the
  receiver last looked (see ``_step_parts.gather_noisy``).

Ring length ``L = max(delay + jitter) + max(period + clock jitter of a neuron with a
noisy in-edge) + WINDOW_CAP + 2``: the oldest step any reader can still need, plus the
steps a partition may run ahead of another inside a window. It depends on the network
only, never on the thread count, so a ring carried over fits any continuation.

Partitions are contiguous ranges of a processing order ``order`` in which every value
neuron is followed by its error partner. Cutting only between such pairs keeps the
one-step partner edges inside a partition, so the window (the smallest delay of an edge
*between* partitions) is set by the predict/feedback delays, not by the partner delay.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..compile import KIND_VALUE, CompiledNet
from ..errors import AsyncPCError
from ..kernels._params import param_rows
from ._partition import cut_score, metis_available, metis_ranks

__all__ = ["Net", "EngineLayout", "WINDOW_CAP"]

#: Longest window (steps); longer windows would save nothing measurable.
WINDOW_CAP = 32

#: How far from an even share of the work a rank boundary may move to cut slower edges
#: (a fraction of one rank's share): a longer rank window means fewer exchanges.
RANK_TOLERANCE = 0.1

#: The static arrays the compiled loop reads (a namedtuple: Numba types it field by field).
Net = namedtuple("Net", [
    "N", "L", "NC", "h", "plastic", "transport", "signals",
    "kind", "act", "has_partner", "period", "cjit", "send", "thresh", "refresh", "eta", "prm",
    "in_ptr", "goff", "goffl", "noisy_in", "src", "dst", "delay", "jit", "loss", "ecode", "mirror",
    "out_ptr", "out_edge", "outdeg", "lossy_out", "order", "pos", "ns", "pf",
])


def _c(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` as a C-contiguous array of ``dtype`` (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=dtype)


class EngineLayout:
    """Derived per-network arrays (a few O(E) numpy passes, built at the start of a run).

    Attributes
    ----------
    c : CompiledNet
    net : Net
        The arrays handed to the compiled loop.
    L : int
        History ring length (steps).
    order : numpy.ndarray
        Processing order of the neurons (each error neuron right after its partner);
        partitions are ranges of it.
    noisy : bool
        Whether any edge has loss or jitter.
    err_ids, area_ptr : numpy.ndarray
        Error neurons grouped by area (increasing id within an area): the energy order.
    """

    def __init__(self, c: CompiledNet):
        self.c = c
        N, E = c.n_neurons, c.n_edges
        kind = c.kind.astype(np.int8)
        ecode = c.edge_codes()                     # which of the sender's two outputs an edge carries
        noisy_e = (c.loss > 0) | (c.jit > 0)
        row = np.repeat(np.arange(N), np.diff(c.in_ptr))
        noisy_in = np.zeros(N, np.int8)
        noisy_in[row[noisy_e]] = 1
        lossy_out = np.zeros(N, np.int8)
        lossy_out[c.src[c.loss > 0]] = 1
        self.noisy = bool(noisy_e.any())
        dmax = int((c.delay.astype(np.int64) + c.jit).max()) if E else 1
        pn = int((c.period + c.cjit)[noisy_in == 1].max()) if noisy_in.any() else 0
        self.L = L = dmax + pn + min(dmax, WINDOW_CAP) + 2
        self.base_order = self.order = self._pair_order()
        self._metis_cache: dict = {}
        pos = np.empty(N, np.int64)
        pos[self.order] = np.arange(N)
        NC = 2 * N
        gdt = np.int32 if L * NC < 2**31 - 1 else np.int64
        col = c.src.astype(np.int64) + N * (ecode == 1)
        goff = (col - c.delay.astype(np.int64) * NC).astype(gdt)
        coll = c.src.astype(np.int64) + N * (ecode != 0)
        goffl = (coll - c.delay.astype(np.int64) * NC).astype(gdt) if c.signals else goff
        outdeg = np.diff(c.out_ptr).astype(np.int64)
        self.net = Net(
            N=N, L=L, NC=NC, h=float(c.h), plastic=not c.transport, transport=bool(c.transport),
            signals=bool(c.signals), kind=kind, act=c.act.astype(np.int8),
            has_partner=c.has_partner.astype(np.int64), period=c.period.astype(np.int64),
            cjit=c.cjit.astype(np.int64), send=c.send.astype(np.int8), thresh=c.thresh.astype(np.float64),
            refresh=_c(c.refresh, np.int64), eta=_c(c.eta, np.float64), prm=param_rows(c),
            in_ptr=c.in_ptr.astype(np.int64), goff=goff, goffl=goffl, noisy_in=noisy_in, src=_c(c.src, np.int32),
            dst=_c(c.dst, np.int64), delay=_c(c.delay, np.int32), jit=_c(c.jit, np.int16),
            loss=_c(c.loss, np.float32), ecode=ecode, mirror=_c(c.mirror, np.int64), out_ptr=c.out_ptr.astype(np.int64),
            out_edge=_c(c.out_edge, np.int32), outdeg=outdeg, lossy_out=lossy_out, order=self.order,
            pos=pos, ns=np.zeros((1, 1), np.int64), pf=np.zeros((1, 1)))  # ns, pf: per run (._pack)
        self.max_indeg = int(np.diff(c.in_ptr).max()) if N else 0
        err = [np.flatnonzero((c.area == a) & (kind != KIND_VALUE)) for a in range(len(c.area_names))]
        self.err_ids = np.concatenate(err).astype(np.int64) if err else np.zeros(0, np.int64)
        self.area_ptr = np.zeros(len(err) + 1, np.int64)
        np.cumsum([len(e) for e in err], out=self.area_ptr[1:])

    @classmethod
    def of(cls, c: CompiledNet) -> "EngineLayout":
        """The layout of ``c``, built once per compiled net (runs in chunks reuse it)."""
        lay = c.__dict__.get("_engine_layout")
        if lay is None or lay.c is not c:
            lay = cls(c)
            c.__dict__["_engine_layout"] = lay
        return lay

    def slack(self) -> int:
        """How many steps one partition may run ahead of another (what the history ring and
        the timing wheel are sized for)."""
        d = int((self.c.delay.astype(np.int64) + self.c.jit).max(initial=1))
        return max(1, min(d, WINDOW_CAP))

    def lags(self, lo: np.ndarray, hi: np.ndarray, slack: int) -> tuple[np.ndarray, np.ndarray]:
        """``(lag, progress)`` of a parallel run: ``lag[q, p]``, how many steps partition
        ``p`` may be ahead of ``q`` -- the smallest delay of an edge from ``q`` to ``p``,
        at most ``slack`` -- and a counter per partition (every 8th int64: one per cache
        line)."""
        P = len(lo)
        part = self.part_of(lo, hi)
        c = self.c
        lag = np.full((P, P), slack, np.int64)
        q, p = part[c.src], part[c.dst]
        cross = q != p
        np.minimum.at(lag, (q[cross], p[cross]), c.delay[cross].astype(np.int64))
        return np.maximum(lag, 1), np.zeros(P * 8, np.int64)  # a counter per cache line

    def part_of(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Each neuron's partition, for partitions ``lo..hi`` of the processing order."""
        part = np.empty(self.net.N, np.int64)
        for q, (a, b) in enumerate(zip(lo, hi)):
            part[self.order[a:b]] = q
        return part

    def engine_bytes_per_edge(self) -> float:
        """Bytes per edge the engine adds to the compiled net's and the run's state: ring
        offsets (``goff``, and ``goffl`` with learning signals), what each edge carries
        (``ecode``), receivers and mirrors as int64, and the push path's dirty list and
        flags. (The timing wheel comes on top: one 24-byte record per group of out-edges
        sharing a delay, per slot; docs/engine.md.)"""
        n = self.net
        ring = n.goff.itemsize * (2 if n.signals else 1)
        return float(ring + 1 + 8 + 8 + 4 + 1)

    def _pair_order(self) -> np.ndarray:
        """Neuron ids with every error neuron right after its partner value neuron."""
        c = self.c
        N = c.n_neurons
        key = np.arange(N, dtype=np.float64)
        ids = np.flatnonzero(c.has_partner)
        err = ids[c.kind[ids] != KIND_VALUE]          # error neurons: partner edge first
        partner = c.src[c.in_ptr[err]]
        key[err] = partner + 0.5
        return np.argsort(key, kind="stable").astype(np.int64)

    def partitions(self, threads: int) -> tuple[np.ndarray, np.ndarray, int]:
        """``(lo, hi, window)``: up to ``threads`` ranges of ``order`` (the pair order) of
        balanced cost (in-degree + a per-neuron constant for the tick itself), cut only
        between value/error pairs, and the window: the smallest delay of an edge between two
        partitions (capped at :data:`WINDOW_CAP`)."""
        self._use(self.base_order)
        self.partitioner = "order"
        N = self.net.N
        cum, cand = self._cut_costs()
        cuts = self._balanced(cum, cand, 0, N, max(1, min(int(threads), N)))
        return self._ranges(cuts)

    def rank_partitions(self, ranks: int, threads: int, tolerance: float = RANK_TOLERANCE, how: str = "order",
                        agree=None):
        """``(lo, hi, window, owner)`` of a run on ``ranks`` MPI ranks of ``threads``
        partitions each (``owner[p]``: the rank of partition ``p``, non-decreasing).

        The ranks' boundaries come from ``how`` (:mod:`._partition`): ``order`` places each
        boundary of the pair order where the edges it cuts are slowest (the rank window is
        the smallest delay of an edge between ranks, and a longer one means fewer
        exchanges) among the positions whose work lies within ``tolerance`` of the balanced
        share (ties go to the balanced position); ``metis`` takes METIS's ranks and makes
        the processing order each rank's neurons in turn; ``auto`` takes METIS's when it
        gives a longer rank window, or the same window and fewer edges between ranks.
        ``agree(fn)``: rank 0's ``fn()`` on every rank (METIS runs once, on rank 0, and
        once per layout: the choice is kept for later calls). Each rank's range is then cut
        into ``threads`` balanced partitions. Sets ``order`` (and ``net.order``/``net.pos``)
        to the order used, and ``partitioner`` to the choice."""
        self._use(self.base_order)
        self.partitioner = "order"
        bounds = self._order_bounds(ranks, tolerance)
        if how != "order" and ranks > 1:
            key = (int(ranks), float(tolerance), how)
            if key not in self._metis_cache:
                plan = lambda: self._metis_order(ranks, tolerance, bounds if how == "auto" else None)  # noqa: E731
                self._metis_cache[key] = plan() if agree is None else agree(plan)
            moved = self._metis_cache[key]
            if moved is not None:
                order, bounds = moved
                self._use(order)
                self.partitioner = "metis"
            elif how == "metis" and not metis_available():
                raise AsyncPCError("ASYNCPC_PARTITIONER=metis: pymetis is not installed (pip install -e \".[mpi]\")")
        cum, cand = self._cut_costs()
        edges = [0, *bounds, self.net.N]
        cuts = []
        for a, b in zip(edges[:-1], edges[1:]):
            cuts += self._balanced(cum, cand, a, b, threads) + [b]
        lo, hi, window = self._ranges(cuts[:-1])
        return lo, hi, window, np.searchsorted(np.asarray(bounds, np.int64), lo, side="right")

    def _order_bounds(self, ranks: int, tolerance: float) -> list:
        """The ranks' boundaries along the pair order, each where the edges it cuts are
        slowest within ``tolerance`` of the balanced share."""
        N = self.net.N
        cum, cand = self._cut_costs()
        slow = self._cut_delays()
        total = cum[-1]
        bounds, prev = [], 0
        n_bounds = max(1, min(int(ranks), N)) - 1
        for k in range(1, n_bounds + 1):
            ok = cand[cand > prev]
            if len(ok) > n_bounds - k:  # leave a position for each boundary still to place
                ok = ok[:len(ok) - (n_bounds - k)]
            if not len(ok):
                break
            target = total * k / ranks
            near = ok[np.abs(cum[ok] - target) <= tolerance * total / ranks]
            if not len(near):  # nothing within the tolerance: the balanced position
                near = ok[[np.argmin(np.abs(cum[ok] - target))]]
            best = near[slow[near] == slow[near].max()]
            prev = int(best[np.argmin(np.abs(cum[best] - target))])
            bounds.append(prev)
        return bounds

    def _metis_order(self, ranks: int, tolerance: float, against: list | None):
        """``(order, bounds)``: each METIS rank's units in turn (in pair order within a
        rank), and where the ranks start; None without pymetis, when METIS leaves a rank
        empty, or when its cut is no better (:func:`._partition.cut_score`) than
        ``against``'s (the order's boundaries)."""
        c, N = self.c, self.net.N
        cum, cand = self._cut_costs()
        starts = np.concatenate([[0], cand])
        unit_at = np.zeros(N, np.int64)  # the unit of each position of the pair order
        unit_at[cand] = 1
        unit_at = np.cumsum(unit_at)
        unit = unit_at[self.net.pos]
        work = np.diff(cum[np.concatenate([starts, [N]])])
        rank_of = metis_ranks(unit, work, c.src, c.dst, c.delay, ranks, WINDOW_CAP, tolerance)
        if rank_of is None or len(np.unique(rank_of)) < ranks:
            return None
        if against is not None:
            at = np.searchsorted(np.asarray(against, np.int64), np.arange(N), side="right")
            if cut_score(c.src, c.dst, c.delay, rank_of[unit], WINDOW_CAP) >= \
                    cut_score(c.src, c.dst, c.delay, at[self.net.pos], WINDOW_CAP):
                return None
        moved = np.argsort(rank_of[unit_at], kind="stable")
        return self.base_order[moved], np.cumsum(np.bincount(rank_of[unit_at], minlength=ranks))[:-1].tolist()

    def _use(self, order: np.ndarray) -> None:
        """Make ``order`` the processing order (``net.order`` and ``net.pos`` with it)."""
        if order is self.order:
            return
        pos = np.empty(len(order), np.int64)
        pos[order] = np.arange(len(order))
        self.order = order
        self.net = self.net._replace(order=order, pos=pos)

    def _cut_costs(self):
        """Cumulative work along ``order`` (in-degree + a per-neuron constant for the tick)
        and the positions a partition may start at (never between a value neuron and its
        error partner)."""
        c, N = self.c, self.net.N
        order = self.order
        cost = (np.diff(c.in_ptr).astype(np.float64) + 8.0)[order]
        cum = np.concatenate([[0.0], np.cumsum(cost)])
        ok = np.ones(N + 1, bool)
        err_at = np.flatnonzero((c.kind[order] != KIND_VALUE) & (c.has_partner[order] == 1))
        ok[err_at] = False
        return cum, np.flatnonzero(ok[1:N]) + 1

    @staticmethod
    def _balanced(cum, cand, a: int, b: int, n: int) -> list:
        """Up to ``n - 1`` cut positions strictly inside ``a..b`` splitting its work evenly."""
        inside = cand[(cand > a) & (cand < b)]
        cuts = []
        for k in range(1, n):
            if not len(inside):
                break
            target = cum[a] + (cum[b] - cum[a]) * k / n
            cuts.append(int(inside[np.argmin(np.abs(cum[inside] - target))]))
        return cuts

    def _ranges(self, cuts) -> tuple:
        c, N = self.c, self.net.N
        bounds = np.unique(np.array([0, *cuts, N], np.int64))
        lo, hi = bounds[:-1].copy(), bounds[1:].copy()
        part = self.part_of(lo, hi)
        cross = part[c.src] != part[c.dst]
        window = int(c.delay[cross].min()) if cross.any() else WINDOW_CAP
        return lo, hi, max(1, min(window, WINDOW_CAP))

    def _cut_delays(self) -> np.ndarray:
        """For each position ``x`` of ``order``: the smallest delay of an edge between
        ``order[:x]`` and ``order[x:]`` (``WINDOW_CAP`` when none is shorter)."""
        c, N = self.c, self.net.N
        pa, pb = self.net.pos[c.src], self.net.pos[c.dst]
        a, b = np.minimum(pa, pb), np.maximum(pa, pb)  # the edge crosses positions a+1 .. b
        d = c.delay.astype(np.int64)
        out = np.full(N + 1, WINDOW_CAP, np.int64)
        for w in np.unique(d[d < WINDOW_CAP])[::-1]:  # longest first: shorter delays overwrite
            sel = d <= w
            cover = np.bincount(a[sel] + 1, minlength=N + 2) - np.bincount(b[sel] + 1, minlength=N + 2)
            out[np.cumsum(cover)[:N + 1] > 0] = w
        return out
