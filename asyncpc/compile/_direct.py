"""Blueprint -> flat arrays, with no graph object per synapse.

A :class:`~asyncpc.model.Blueprint` says a network by areas and projections; its
synapses are drawn chunk by chunk (:meth:`ProjectionPlan.pairs`) and written straight
into their places in the incoming CSR. Every row is laid out before anything is drawn
(the partner edge first, then one segment per projection in the order of its senders'
ids), so a chunk's synapses go where :func:`compile_network` of the graph would put
them: the arrays are the same, bit for bit (tested). Memory: the compiled arrays plus a
few per-neuron arrays and one chunk of draws.
"""

from __future__ import annotations

import numba
import numpy as np

from ..errors import GraphError, SpecError
from ..model import Blueprint
from ..model._network import NODE_DEFAULTS, TAU_DEFAULT, check_node
from ._layout import (NEURON_COLUMNS, CompiledNet, assemble, jitter_steps, neuron_arrays, prospective,
                      steps_of)

__all__ = ["compile_blueprint"]


def compile_blueprint(bp: Blueprint, h: float) -> CompiledNet:
    """Flatten ``bp`` at resolution ``h`` ms (see :func:`asyncpc.compile.compile_network`)."""
    full = []  # each block's attributes, defaults filled in
    for b in bp.blocks:  # the model's rules, once per block (its neurons differ only in drawn clocks)
        a = bp.node_attrs(b, 0) if b.size else dict(b.attrs)
        full.append({**NODE_DEFAULTS, "tau": TAU_DEFAULT[b.kind], **a})
        try:
            check_node(b.start, a, full[-1])
        except GraphError as exc:
            raise SpecError(str(exc), at=exc.at, field=exc.field) from None
    N = bp.n_nodes
    sizes = [b.size for b in bp.blocks]
    cols = {k: np.repeat(np.array([a[k] for a in full], dtype=object), sizes) for k in NEURON_COLUMNS}
    cols.update(period=bp.period, phase=bp.phase, index=bp.index)
    area_names = list(dict.fromkeys(b.area for b in bp.blocks))
    per = neuron_arrays(cols, area_names, h, lambda i: ("node", int(i)))

    partners = _partners(bp)
    has_partner = np.zeros(N, np.int8)
    for v0, e0, n in partners:
        has_partner[v0:v0 + n] = 1
        has_partner[e0:e0 + n] = 1
    indeg = has_partner.astype(np.int64)
    for pp in bp.projections:
        fan_in, fan_out = pp.fan()
        indeg[pp.dst_start:pp.dst_start + pp.dst.size] += fan_in
        if pp.feedback:
            indeg[pp.src_start:pp.src_start + pp.src.size] += fan_out
    in_ptr = np.zeros(N + 1, np.int64)
    np.cumsum(indeg, out=in_ptr[1:])
    E = int(in_ptr[-1])
    edges = dict(src=np.empty(E, np.int32), dst=np.empty(E, np.int32), delay=np.empty(E, np.int32),
                 w=np.empty(E), loss=np.empty(E, np.float32), jit=np.empty(E, np.int16))
    mirror = np.full(E, -1, np.int32)

    if partners:  # one delay for every partner edge
        v0, e0, _ = partners[0]
        pd = int(steps_of([bp.partner_delay], h, "delay", lambda i: _edge_at(v0, e0), minimum=1)[0])
    for v0, e0, n in partners:
        _partner_edges(v0, e0, n, in_ptr, pd, edges["src"], edges["dst"], edges["delay"], edges["w"],
                       edges["loss"], edges["jit"])
    pred_base, fb_base = _segments(bp, in_ptr, has_partner)
    for k, pp in enumerate(bp.projections):
        s0, e0 = pp.src_start, pp.dst_start
        loss = np.float32(pp.loss)
        jit = np.int16(jitter_steps(pp.jitter, h, _edge_at(s0, e0)))
        fcur = np.zeros(pp.src.size, np.int64)
        for ch in pp.pairs():
            df = steps_of(ch.d_fwd, h, "delay", lambda q: _edge_at(s0 + ch.i[q], e0 + ch.j[q]), minimum=1,
                          dtype=np.int32)
            db = (steps_of(ch.d_fb, h, "delay", lambda q: _edge_at(e0 + ch.j[q], s0 + ch.i[q]), minimum=1,
                           dtype=np.int32) if pp.feedback else df)
            _scatter(ch.i, ch.j, ch.w, ch.v, df, db, pp.feedback, s0, e0, pred_base[k], fb_base[k], fcur, loss, jit,
                     edges["src"], edges["dst"], edges["delay"], edges["w"], edges["loss"], edges["jit"], mirror)
    p_tau, p_speedup = prospective(cols["prospective"], per, edges["src"], in_ptr, has_partner)
    return assemble(h, list(range(N)), area_names, per, has_partner, p_tau, p_speedup, in_ptr, edges, mirror,
                    transport=bp.feedback == "transport", shapes=dict(bp.shapes))


def _edge_at(u, v) -> tuple:
    """Where an error about edge ``u -> v`` arose (:func:`asyncpc.errors.place`)."""
    return ("edge", int(u), int(v))


def _partners(bp: Blueprint) -> list[tuple[int, int, int]]:
    """``(first value id, first error id, size)`` of every area with error neurons."""
    value = {b.area: b.start for b in bp.blocks if b.kind == "value"}
    return [(value[b.area], b.start, b.size) for b in bp.blocks if b.kind == "error"]


def _segments(bp: Blueprint, in_ptr, has_partner):
    """Where each projection's synapses start in each receiver's row: predict synapses
    into dst error neurons after those of projections from lower-numbered senders, and
    feedback synapses into src value neurons likewise (rows hold senders by id)."""
    base = in_ptr[:-1] + has_partner
    pred, fb = [None] * len(bp.projections), [None] * len(bp.projections)
    done = np.zeros(bp.n_nodes, np.int64)  # synapses already placed in each row
    order = sorted(range(len(bp.projections)), key=lambda k: bp.projections[k].src_start)
    for k in order:  # predict segments: by the senders' (value neurons of src) ids
        pp = bp.projections[k]
        rows = slice(pp.dst_start, pp.dst_start + pp.dst.size)
        pred[k] = base[rows] + done[rows]
        done[rows] += pp.fan()[0]
    for k in sorted(range(len(bp.projections)), key=lambda k: bp.projections[k].dst_start):
        pp = bp.projections[k]  # feedback segments: by the senders' (error neurons of dst) ids
        rows = slice(pp.src_start, pp.src_start + pp.src.size)
        fb[k] = base[rows] + done[rows]
        if pp.feedback:
            done[rows] += pp.fan()[1]
    return pred, fb


@numba.njit(cache=True)
def _partner_edges(v0, e0, n, in_ptr, delay, src, dst, dl, w, loss, jit):
    """Value ``v0 + k`` <-> error ``e0 + k``: the first edge of both rows, fixed at +1
    (value -> error) and -1 (error -> value)."""
    for k in range(n):
        for r, s, x in ((e0 + k, v0 + k, 1.0), (v0 + k, e0 + k, -1.0)):
            e = in_ptr[r]
            src[e], dst[e], dl[e], w[e], loss[e], jit[e] = s, r, delay, x, 0.0, 0


@numba.njit(cache=True)
def _scatter(ii, js, w, v, df, db, fb, s0, e0, pbase, fbase, fcur, loss, jit, src, dst, dl, W, L, J, mirror):
    """One chunk of pairs into the rows: the predict synapse ``i -> j`` at its place in
    j's segment (pairs come by j, then i), the feedback synapse ``j -> i`` at the next
    free place of i's segment (``fcur``: placed so far), each the other's mirror."""
    n = len(ii)
    q = 0
    while q < n:
        j = js[q]
        r = q
        while r < n and js[r] == j:
            r += 1
        for k in range(q, r):
            i = ii[k]
            pe = pbase[j] + (k - q)
            src[pe], dst[pe], dl[pe], W[pe], L[pe], J[pe] = s0 + i, e0 + j, df[k], w[k], loss, jit
            if fb:
                fe = fbase[i] + fcur[i]
                fcur[i] += 1
                src[fe], dst[fe], dl[fe], W[fe], L[fe], J[fe] = e0 + j, s0 + i, db[k], v[k], loss, jit
                mirror[pe], mirror[fe] = fe, pe
        q = r
