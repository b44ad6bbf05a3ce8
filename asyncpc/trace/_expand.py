"""Message rows re-derived from send events.

A message is fully determined by its send and its edge (docs/model.md, "Timing
contract"): when neuron ``n`` sends at step ``t``, every out-edge ``e`` of ``n`` carries
the state ``s`` (or the rate ``f(x)`` on a predict edge), arrives at
``t + delay[e] + randint(seed, STREAM_JITTER, e, t, 0, jitter[e])`` and is dropped iff
``uniform(seed, STREAM_LOSS, e, t) < loss[e]`` -- the very draws the runtimes make, so
the rows derived here are the runtimes' rows, bit for bit.

:class:`Edges` holds the static edge table of a trace; :func:`expand` turns a slice of
send rows into message rows in the canonical order ``(t_send, edge)``, applying the
trace's every-k-th sampling and row cap and an optional query mask over edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kernels import STREAM_JITTER, STREAM_LOSS, jit, randint, uniform

__all__ = ["NO_CUT", "Edges", "expand"]

#: ``cut`` of a trace that was not truncated: no (t_send, edge) is at or after it.
NO_CUT = (np.iinfo(np.int64).max, 0)


@dataclass
class Edges:
    """The static edge table: per edge ``src``, ``dst``, ``role`` (0 predict, 1 feedback,
    2 partner), ``delay`` (steps), ``jitter`` (steps), ``loss``, ``rate`` (carries f(x))
    and ``traced`` (selected by the trace's neuron and role filter)."""

    src: np.ndarray
    dst: np.ndarray
    role: np.ndarray
    delay: np.ndarray
    jitter: np.ndarray
    loss: np.ndarray
    rate: np.ndarray
    traced: np.ndarray
    n_neurons: int

    @classmethod
    def of(cls, c, traced) -> "Edges":
        """From a compiled net and the trace's edge mask (dtypes as the runtimes use them)."""
        role = c.edge_role().astype(np.int8)
        return cls(src=c.src.astype(np.int32), dst=c.dst.astype(np.int32), role=role,
                   delay=c.delay.astype(np.int32), jitter=c.jit.astype(np.int16), loss=c.loss.astype(np.float32),
                   rate=role == 0, traced=np.asarray(traced, bool), n_neurons=int(c.n_neurons))

    def out_degree(self, mask=None) -> np.ndarray:
        """Per neuron, its out-edges selected by ``mask`` (default: the traced ones)."""
        m = self.traced if mask is None else mask
        return np.bincount(self.src[m], minlength=self.n_neurons).astype(np.int64)

    def csr(self, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Out-edges selected by ``mask`` grouped by sender, ascending within a sender:
        ``(ptr, edges, all selected edges ascending)``."""
        sel = np.flatnonzero(mask)
        order = np.argsort(self.src[sel], kind="stable")
        edges = sel[order].astype(np.int64)
        ptr = np.zeros(self.n_neurons + 1, np.int64)
        np.cumsum(np.bincount(self.src[sel], minlength=self.n_neurons), out=ptr[1:])
        return ptr, edges, sel.astype(np.int64)


@jit
def _expand(t, src, s, r, count, every, cut_t, cut_e, gptr, gedge, gall, qmask, esrc, edst, erole, erate,
            delay, jit_, loss, seed, stamp, buf, own, o_ts, o_ta, o_src, o_dst, o_edge, o_role, o_val, o_drop):
    """Messages of the sends ``t, src, s, r`` (sorted by ``(t, src)``) on the out-edges of
    the CSR ``gptr``/``gedge`` (``gall``: its edges ascending), in ``(t, edge)`` order.

    ``count`` numbers the gathered messages (every-k-th: a message is kept when its
    number is a multiple of ``every``); kept messages on ``qmask`` edges before
    ``(cut_t, cut_e)`` are written to the ``o_*`` arrays. Returns (rows, count).
    """
    n = t.shape[0]
    n_all = gall.shape[0]
    m_out = 0
    i = 0
    while i < n:
        tt = t[i]
        if tt > cut_t:
            break
        j = i
        tot = 0
        while j < n and t[j] == tt:
            tot += gptr[src[j] + 1] - gptr[src[j]]
            j += 1
        m = 0
        if tot * 8 > n_all:  # many senders: scan the edges in order
            for k in range(i, j):
                stamp[src[k]] = k
            for q in range(n_all):
                e = gall[q]
                k = stamp[esrc[e]]
                if i <= k < j:
                    buf[m] = e
                    own[m] = k
                    m += 1
        else:  # few: gather their out-edges and sort
            for k in range(i, j):
                for q in range(gptr[src[k]], gptr[src[k] + 1]):
                    buf[m] = gedge[q]
                    own[m] = k
                    m += 1
            if m > 1:
                order = np.argsort(buf[:m])
                ob = buf[:m][order]
                oo = own[:m][order]
                buf[:m] = ob
                own[:m] = oo
        for q in range(m):
            e = buf[q]
            g = count
            count += 1
            if every > 1 and g % every != 0:
                continue
            if not qmask[e] or (tt == cut_t and e >= cut_e):
                continue
            k = own[q]
            a = tt + delay[e]
            if jit_[e] > 0:
                a += randint(seed, STREAM_JITTER, e, tt, 0, jit_[e])
            P = loss[e]
            o_ts[m_out] = tt
            o_ta[m_out] = a
            o_src[m_out] = esrc[e]
            o_dst[m_out] = edst[e]
            o_edge[m_out] = e
            o_role[m_out] = erole[e]
            o_val[m_out] = r[k] if erate[e] else s[k]
            o_drop[m_out] = P > 0.0 and uniform(seed, STREAM_LOSS, e, tt) < P
            m_out += 1
        i = j
    return m_out, count


def expand(edges: Edges, sends: dict, *, seed: int, count: int = 0, every: int = 1, cut=NO_CUT,
           query=None, gather=None) -> tuple[dict, int]:
    """Message rows of ``sends`` (columns ``t, src, s, rate`` sorted by ``(t, src)``).

    ``count`` is the number of traced messages before these sends (for every-k-th
    sampling), ``cut`` the ``(t_send, edge)`` of the first message the row cap refused,
    ``query`` a boolean mask over edges (default: every traced edge). ``gather`` is a
    precomputed ``edges.csr(...)`` of the edges to walk (the traced ones when ``every > 1``,
    else the traced ones on ``query``). Returns (columns, count after these sends).
    """
    traced = edges.traced
    qmask = traced if query is None else (traced & query)
    if gather is None:
        gather = edges.csr(traced if every > 1 else qmask)
    gptr, gedge, gall = gather
    t = np.ascontiguousarray(sends["t"], np.int64)
    src = np.ascontiguousarray(sends["src"], np.int64)
    deg = gptr[1:] - gptr[:-1]
    d = deg[src]
    cap = int(d.sum())
    step_max = int(np.add.reduceat(d, np.r_[0, np.flatnonzero(np.diff(t)) + 1]).max()) if cap else 0
    buf = np.empty(max(step_max, 1), np.int64)
    own = np.empty(max(step_max, 1), np.int64)
    stamp = np.full(edges.n_neurons, -1, np.int64)
    out = dict(t_send=np.empty(cap, np.int64), t_arrive=np.empty(cap, np.int64), src=np.empty(cap, np.int32),
               dst=np.empty(cap, np.int32), edge=np.empty(cap, np.int32), role=np.empty(cap, np.int8),
               value=np.empty(cap, np.float64), dropped=np.empty(cap, np.bool_))
    n, count = _expand(t, src, np.ascontiguousarray(sends["s"], np.float64),
                       np.ascontiguousarray(sends["rate"], np.float64), np.int64(count), np.int64(every),
                       np.int64(cut[0]), np.int64(cut[1]), gptr, gedge, gall, qmask, edges.src, edges.dst,
                       edges.role, edges.rate, edges.delay, edges.jitter, edges.loss, np.int64(seed), stamp, buf,
                       own, *out.values())
    return {k: v[:n] for k, v in out.items()}, int(count)
