"""Perfetto export of a loaded trace: Perfetto's own protobuf format, streamed (the
default, for real sizes), or Chrome trace-event JSON (``*.json``, for small windows).

Both draw the same picture: a process per area, a thread per neuron, each send a slice
``tick`` on the sender, each delivered message a flow arrow from that slice to an instant
``recv <role>`` on the receiver at its arrival (holding the value), each dropped message
an instant ``dropped <role>`` on the sender. The protobuf export also draws the traced
state snapshots as a counter track under each neuron (``x`` or ``ε``).

The protobuf writer encodes the wire format itself (``perfetto_trace.proto``: a Trace
is repeated TracePacket; track descriptors, then track events with interned names),
batch by batch in compiled code, so a second of digits (~4×10⁶ messages) is written in
seconds without holding the trace.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numba import njit

from ..compile import EDGE_ROLES as ROLES
from ..errors import AsyncPCError
from ._reader import Trace
from ._views import _read

__all__ = ["to_perfetto", "JSON_MAX_EVENTS", "PROTO_MAX_EVENTS"]

JSON_MAX_EVENTS = 2_000_000  # a JSON trace is parsed whole by the UI: keep it small
PROTO_MAX_EVENTS = 40_000_000  # ~1.5 GB: what the UI opens in the browser
_BATCH_ROWS = 1 << 19


def to_perfetto(tr: Trace, path, *, t_from: int | None = None, t_to: int | None = None,
                max_events: int | None = None) -> int:
    """Write the messages sent in ``[t_from, t_to)`` (steps) to ``path`` for the Perfetto
    UI (ui.perfetto.dev): Chrome trace-event JSON if ``path`` ends in ``.json``, else
    Perfetto's protobuf trace (``.pftrace``). Returns the number of events (JSON) or
    packets (protobuf) written. Refused before any row is derived when the window would
    exceed ``max_events`` (default 2×10⁶ for JSON, 4×10⁷ for protobuf), naming a window
    that would fit."""
    as_json = str(path).lower().endswith(".json")
    cap = max_events if max_events is not None else (JSON_MAX_EVENTS if as_json else PROTO_MAX_EVENTS)
    n_neurons = tr.neurons.num_rows
    rows = _rows_bound(tr, t_from, t_to)
    per_msg = 4 if as_json else 3  # at most: the sender's tick (2 packets / 1 slice), arrival, flow ends
    if 3 * rows > cap:
        raise AsyncPCError(f"trace export: ~{rows:,} messages exceed {cap:,} events; export a window"
                           f"{_window_that_fits(tr, t_from, t_to, rows, (cap - 3 * n_neurons) // per_msg)} "
                           "or narrow the trace (trace.neurons / trace.from / trace.to)")
    if as_json:
        return _to_json(tr, path, t_from, t_to, cap)
    return _to_proto(tr, path, t_from, t_to)


# ------------------------------------------------------------------------------ layout
class _Tracks:
    """Areas as processes, neurons as threads: pids, tids and track uuids."""

    def __init__(self, tr: Trace):
        n = tr.neurons.to_pydict()
        self.ids = np.asarray(n["id"], np.int64)
        self.areas = sorted(set(n["area"]), key=n["area"].index)
        self.area_of = np.array([self.areas.index(a) for a in n["area"]], np.int64)
        self.names = [f"{k} {a}:{ix}" for a, ix, k in zip(n["area"], n["index"], n["kind"])]
        self.kind_of = dict(zip(n["id"], n["kind"]))
        A, N = len(self.areas), int(self.ids.max()) + 1 if len(self.ids) else 0
        self.thread_uuid = np.zeros(N, np.int64)
        self.thread_uuid[self.ids] = 1 + A + self.ids
        self.counter_uuid = np.zeros(N, np.int64)
        self.counter_uuid[self.ids] = 1 + A + N + self.ids


def _message_columns(m) -> dict:
    """numpy columns of a message table (role as its code in EDGE_ROLES)."""
    from ._store import _role_codes

    return dict(ts=m.column("t_send").to_numpy(), ta=m.column("t_arrive").to_numpy(),
                src=m.column("src").to_numpy(), dst=m.column("dst").to_numpy(),
                value=np.ascontiguousarray(m.column("value").to_numpy(), np.float64),
                dropped=m.column("dropped").to_numpy(zero_copy_only=False),
                role=_role_codes(m.column("role")))


# ------------------------------------------------------------------------- protobuf
# Field numbers from perfetto_trace.proto (tests decode the output with Perfetto's own
# generated classes): Trace.packet 1; TracePacket timestamp 8, trusted_packet_sequence_id
# 10, track_event 11, interned_data 12, sequence_flags 13, track_descriptor 60;
# TrackEvent debug_annotations 4, type 9, name_iid 10, track_uuid 11, double_counter_value
# 44, flow_ids 47, terminating_flow_ids 48; DebugAnnotation name_iid 1, double_value 5.
_SLICE_BEGIN, _SLICE_END, _INSTANT, _COUNTER = 1, 2, 3, 4
_CLEARED, _NEEDS_STATE = 1, 2
_SEQ = 1


def _pv(v: int) -> bytes:
    """A varint."""
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _vi(field: int, v: int) -> bytes:
    return _pv(field << 3) + _pv(v)


def _ld(field: int, payload: bytes) -> bytes:
    return _pv(field << 3 | 2) + _pv(len(payload)) + payload


def _packet(payload: bytes) -> bytes:
    return _ld(1, payload)


def _event_names() -> list[str]:
    """Interned event names; iid = position + 1."""
    return ["tick"] + [f"recv {r}" for r in ROLES] + [f"dropped {r}" for r in ROLES]


_IID_TICK, _IID_RECV, _IID_DROP = 1, 2, 2 + len(ROLES)


def _header(t: _Tracks, counters: np.ndarray) -> bytes:
    """The interned names (first, clearing the sequence's state), then the track
    descriptors: an area per process, a neuron per thread, and a counter under each
    neuron in ``counters``."""
    seq = _vi(10, _SEQ)
    interned = b"".join(_ld(2, _vi(1, i + 1) + _ld(2, name.encode())) for i, name in enumerate(_event_names()))
    interned += _ld(3, _vi(1, 1) + _ld(2, b"value"))
    out = [_packet(seq + _vi(13, _CLEARED) + _ld(12, interned))]
    for a_i, a in enumerate(t.areas):
        proc = _vi(1, a_i + 1) + _ld(6, f"area {a}".encode())
        out.append(_packet(seq + _ld(60, _vi(1, a_i + 1) + _ld(3, proc))))
    for i, a_i, name in zip(t.ids.tolist(), t.area_of.tolist(), t.names):
        thread = _vi(1, a_i + 1) + _vi(2, i + 1) + _ld(5, name.encode())
        out.append(_packet(seq + _ld(60, _vi(1, int(t.thread_uuid[i])) + _vi(5, a_i + 1) + _ld(4, thread))))
    for i in counters.tolist():
        label = "x" if t.kind_of[i] == "value" else "ε"
        out.append(_packet(seq + _ld(60, _vi(1, int(t.counter_uuid[i])) + _vi(5, int(t.thread_uuid[i]))
                                     + _ld(2, label.encode()) + _ld(8, b""))))
    return b"".join(out)


@njit(cache=True, nogil=True)
def _uv(buf, p, v):
    """Write varint ``v`` at ``buf[p]``; the next position."""
    v = np.uint64(v)
    while v >= np.uint64(0x80):
        buf[p] = np.uint8((v & np.uint64(0x7F)) | np.uint64(0x80))
        v >>= np.uint64(7)
        p += 1
    buf[p] = np.uint8(v)
    return p + 1


@njit(cache=True, nogil=True)
def _vsize(v):
    v = np.uint64(v)
    n = 1
    while v >= np.uint64(0x80):
        v >>= np.uint64(7)
        n += 1
    return n


@njit(cache=True, nogil=True)
def _fixed64(buf, p, bits):
    bits = np.uint64(bits)
    for k in range(8):
        buf[p + k] = np.uint8((bits >> np.uint64(8 * k)) & np.uint64(0xFF))
    return p + 8


@njit(cache=True, nogil=True)
def _head(ev, typ, track, name_iid):
    """Start a TrackEvent in ``ev``: type, track_uuid and (if > 0) name_iid."""
    ev[0] = 0x48
    q = _uv(ev, 1, typ)
    ev[q] = 0x58
    q = _uv(ev, q + 1, track)
    if name_iid > 0:
        ev[q] = 0x50
        q = _uv(ev, q + 1, name_iid)
    return q


@njit(cache=True, nogil=True)
def _value(ev, q, bits):
    """A debug annotation ``value`` (interned name 1) holding a double."""
    ev[q] = 0x22
    ev[q + 1] = 11
    ev[q + 2] = 0x08
    ev[q + 3] = 1
    ev[q + 4] = 0x29
    return _fixed64(ev, q + 5, bits)


@njit(cache=True, nogil=True)
def _emit(out, o, ev, n_ev, ts):
    """Wrap the TrackEvent ``ev[:n_ev]`` in a TracePacket at ``ts`` ns (sequence 1, needs
    the interned names) inside Trace.packet; the next position in ``out``."""
    plen = 1 + _vsize(ts) + 4 + 1 + _vsize(n_ev) + n_ev
    out[o] = 0x0A
    o = _uv(out, o + 1, plen)
    out[o] = 0x40
    o = _uv(out, o + 1, ts)
    out[o] = 0x50
    out[o + 1] = 1
    out[o + 2] = 0x68
    out[o + 3] = 2
    out[o + 4] = 0x5A
    o = _uv(out, o + 5, n_ev)
    out[o:o + n_ev] = ev[:n_ev]
    return o + n_ev


@njit(cache=True, nogil=True)
def _encode_messages(out, ev, ts, ta, src, dst, role, vbits, dropped, flow0, half, track, n_roles):
    """Packets of a batch of messages sorted by (t_send, src): for each sender tick a slice
    begin (carrying the flow ids of its delivered messages) and end, for each delivered
    message an instant on the receiver ending its flow, for each dropped one an instant
    on the sender. Returns (bytes written, packets written)."""
    o, n_pk, i, n = 0, 0, 0, len(ts)
    while i < n:
        j = i
        while j < n and ts[j] == ts[i] and src[j] == src[i]:
            j += 1
        q = _head(ev, 1, track[src[i]], 1)
        for k in range(i, j):
            if not dropped[k]:
                ev[q] = 0xF9
                ev[q + 1] = 0x02
                q = _fixed64(ev, q + 2, flow0 + k)
        o = _emit(out, o, ev, q, ts[i])
        q = _head(ev, 2, track[src[i]], 0)
        o = _emit(out, o, ev, q, ts[i] + half)
        n_pk += 2
        for k in range(i, j):
            if dropped[k]:
                q = _head(ev, 3, track[src[k]], 2 + n_roles + role[k])
                q = _value(ev, q, vbits[k])
                o = _emit(out, o, ev, q, ts[k])
            else:
                q = _head(ev, 3, track[dst[k]], 2 + role[k])
                ev[q] = 0x81
                ev[q + 1] = 0x03
                q = _fixed64(ev, q + 2, flow0 + k)
                q = _value(ev, q, vbits[k])
                o = _emit(out, o, ev, q, ta[k])
            n_pk += 1
        i = j
    return o, n_pk


@njit(cache=True, nogil=True)
def _encode_counters(out, ev, t, track, sbits):
    """A counter packet per state snapshot row."""
    o = 0
    for k in range(len(t)):
        q = _head(ev, 4, track[k], 0)
        ev[q] = 0xE1
        ev[q + 1] = 0x02
        q = _fixed64(ev, q + 2, sbits[k])
        o = _emit(out, o, ev, q, t[k])
    return o


def _to_proto(tr: Trace, path, t_from, t_to) -> int:
    """Stream the protobuf trace to ``path`` (written beside it, then renamed)."""
    t = _Tracks(tr)
    h_ns = int(round(tr.h * 1e6))
    st = tr.states
    s_t, s_n = st.column("t").to_numpy(), st.column("neuron").to_numpy()
    keep = np.ones(len(s_t), bool)
    if t_from is not None:
        keep &= s_t >= t_from
    if t_to is not None:
        keep &= s_t < t_to
    s_t, s_n, s_v = s_t[keep], s_n[keep], np.ascontiguousarray(st.column("s").to_numpy()[keep], np.float64)
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    n_pk = 0
    with open(tmp, "wb") as f:
        head = _header(t, np.unique(s_n))
        f.write(head)
        n_pk += 1 + len(t.areas) + len(t.ids) + len(np.unique(s_n))
        flow0, carry = 1, None
        for m in tr.message_batches(t_from, t_to, batch_rows=_BATCH_ROWS):
            cols = _message_columns(m)
            if carry is not None:
                cols = {k: np.concatenate([carry[k], v]) for k, v in cols.items()}
            cut = int(np.searchsorted(cols["ts"], cols["ts"][-1]))  # the last step may go on
            carry = {k: v[cut:] for k, v in cols.items()}
            if cut:
                n_pk += _write_messages(f, {k: v[:cut] for k, v in cols.items()}, flow0, h_ns, t)
                flow0 += cut
        if carry is not None and len(carry["ts"]):
            n_pk += _write_messages(f, carry, flow0, h_ns, t)
        for a in range(0, len(s_t), _BATCH_ROWS):
            b = slice(a, a + _BATCH_ROWS)
            out = np.empty(64 * len(s_t[b]), np.uint8)
            o = _encode_counters(out, np.empty(64, np.uint8), s_t[b] * h_ns, t.counter_uuid[s_n[b]],
                                 s_v[b].view(np.uint64))
            f.write(out[:o].tobytes())
            n_pk += len(s_t[b])
    tmp.replace(path)
    return n_pk


def _write_messages(f, cols: dict, flow0: int, h_ns: int, t: _Tracks) -> int:
    """Encode one batch (whole send steps) and write it; packets written."""
    order = np.lexsort((cols["src"], cols["ts"]))
    c = {k: np.ascontiguousarray(v[order]) for k, v in cols.items()}
    n = len(order)
    out = np.empty(144 * n + 64, np.uint8)
    ev = np.empty(10 * n + 64, np.uint8)
    o, n_pk = _encode_messages(out, ev, c["ts"] * h_ns, c["ta"] * h_ns, c["src"], c["dst"], c["role"],
                               c["value"].view(np.uint64), c["dropped"], flow0, h_ns // 2, t.thread_uuid,
                               len(ROLES))
    f.write(out[:o].tobytes())
    return int(n_pk)


# ----------------------------------------------------------------------------- JSON
def _to_json(tr: Trace, path, t_from, t_to, max_events: int) -> int:
    """Chrome trace-event JSON (the whole list is built in memory: small windows)."""
    t = _Tracks(tr)
    us = tr.h * 1000.0
    ev = [dict(ph="M", name="process_name", pid=a_i, tid=0, args=dict(name=f"area {a}"))
          for a_i, a in enumerate(t.areas)]
    pid = {int(i): int(a) for i, a in zip(t.ids, t.area_of)}
    ev += [dict(ph="M", name="thread_name", pid=pid[i], tid=i, args=dict(name=name))
           for i, name in zip(pid, t.names)]
    c = _message_columns(tr.messages_between(t_from, t_to))
    ts, ta, src, dst, val, drop = (c[k] for k in ("ts", "ta", "src", "dst", "value", "dropped"))
    roles = [ROLES[r] for r in c["role"].tolist()]
    for s, tt in sorted(set(zip(src.tolist(), ts.tolist()))):
        ev.append(dict(ph="X", name="tick", cat="tick", pid=pid[s], tid=s, ts=tt * us, dur=us * 0.5))
    if len(ev) + 3 * len(ts) > max_events:
        raise AsyncPCError(f"trace export: {len(ts):,} messages exceed {max_events:,} events; export a window "
                           "(--from / --to) or narrow the trace (trace.neurons / trace.from / trace.to)")
    for k in range(len(ts)):
        s, d = int(src[k]), int(dst[k])
        args = dict(value=float(val[k]), role=roles[k])
        if drop[k]:
            ev.append(dict(ph="i", name=f"dropped {roles[k]}", pid=pid[s], tid=s, ts=ts[k] * us, s="t", args=args))
            continue
        ev.append(dict(ph="i", name=f"recv {roles[k]}", pid=pid[d], tid=d, ts=ta[k] * us, s="t", args=args))
        ev.append(dict(ph="s", name=roles[k], cat="msg", id=k, pid=pid[s], tid=s, ts=ts[k] * us))
        ev.append(dict(ph="f", bp="e", name=roles[k], cat="msg", id=k, pid=pid[d], tid=d, ts=ta[k] * us))
    Path(path).write_text(json.dumps(dict(traceEvents=ev, displayTimeUnit="ms")))
    return len(ev)


# ------------------------------------------------------------------------ refusals
def _window_that_fits(tr: Trace, t_from, t_to, rows: int, room: int) -> str:
    """`` that fits, e.g. --from A --to B (~N messages),``: a window from the start of the
    requested one with at most ``room`` messages (a message takes up to 4 events: its
    sender's tick, its arrival, a flow's two ends)."""
    if not tr.parts or rows <= 0:
        return " (--from / --to)"
    lo = min(p.t_min for p in tr.parts) if t_from is None else int(t_from)
    hi = max(p.t_max for p in tr.parts) + 1 if t_to is None else int(t_to)
    steps = max(1, int((hi - lo) * room / rows))
    while steps > 1 and _rows_bound(tr, lo, lo + steps) > room:  # the rate is not uniform: shrink
        steps //= 2
    fit = _rows_bound(tr, lo, lo + steps)
    return f" that fits, e.g. --from {lo * tr.h:g}ms --to {(lo + steps) * tr.h:g}ms (~{fit:,} messages),"


def _rows_bound(tr: Trace, t_from=None, t_to=None) -> int:
    """At least the message rows sent in ``[t_from, t_to)``, without deriving them: sends
    x traced out-degree (every k-th and the cap keep fewer), or the stored rows."""
    lo = -1 if t_from is None else t_from
    hi = np.iinfo(np.int64).max if t_to is None else t_to
    total = 0
    for p in tr.parts:
        if p.t_max < lo or p.t_min >= hi:
            continue
        if tr.storage == "messages":
            t = _read(p.path, ["t_send"])[0].to_numpy()
            total += int(((t >= lo) & (t < hi)).sum())
        else:
            t, src = (col.to_numpy() for col in _read(p.path, ["t", "src"]))
            total += int(tr.edge_arrays.out_degree()[src[(t >= lo) & (t < hi)]].sum())
    if tr.storage == "sends":
        total = -(-total // tr.every)
        if tr.meta.get("max_rows"):
            total = min(total, int(tr.meta["max_rows"]))
    return total
