"""Summaries, tables, Perfetto export and plots of a loaded trace."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import AsyncPCError
from ._store import Trace

__all__ = ["info", "show", "to_perfetto", "plot_neuron", "parse_time"]

_T = re.compile(r"^\s*([0-9.]+)\s*(ms|s|steps?)?\s*$")


def parse_time(text: str | None, h: float, what: str) -> int | None:
    """``"10ms"``, ``"0.5 s"``, ``"120 steps"`` or a bare number of ms -> steps."""
    if text is None:
        return None
    m = _T.match(str(text))
    if not m:
        raise AsyncPCError(f"{what}: expected a time like '10ms', '0.5s' or '120steps', got {text!r}")
    v, unit = float(m[1]), (m[2] or "ms")
    if unit.startswith("step"):
        return int(v)
    return int(round(v * (1000.0 if unit == "s" else 1.0) / h))


def info(tr: Trace) -> dict:
    """Rows by role and by receiving area, time span, size on disk."""
    m = tr.messages
    out = dict(rows=m.num_rows, state_rows=tr.states.num_rows, parts=tr.meta.get("parts"),
               truncated=tr.meta.get("truncated"), resolution_ms=tr.h)
    if m.num_rows:
        ts = m.column("t_send").to_numpy()
        out["span_ms"] = [float(ts.min()) * tr.h, float(ts.max()) * tr.h]
        roles = np.asarray(m.column("role").to_pylist())
        out["by_role"] = {str(r): int((roles == r).sum()) for r in sorted(set(roles.tolist()))}
        area = np.asarray(tr.neurons.column("area").to_pylist())
        dst_area = area[m.column("dst").to_numpy()]
        out["by_receiving_area"] = {str(a): int((dst_area == a).sum()) for a in sorted(set(dst_area.tolist()))}
        out["dropped"] = int(np.sum(m.column("dropped").to_numpy(zero_copy_only=False)))
    size = sum(p.stat().st_size for p in Path(tr.path).rglob("*") if p.is_file())
    out["bytes_on_disk"] = size
    out["bytes_per_row"] = round(size / max(m.num_rows, 1), 2)
    return out


def _select(tr: Trace, neuron=None, role=None, t_from=None, t_to=None):
    m = tr.messages
    mask = np.ones(m.num_rows, bool)
    if neuron is not None:
        nid = tr.neuron_id(neuron)
        mask &= (m.column("src").to_numpy() == nid) | (m.column("dst").to_numpy() == nid)
    if role is not None:
        mask &= np.asarray(m.column("role").to_pylist()) == role
    ts = m.column("t_send").to_numpy()
    if t_from is not None:
        mask &= ts >= t_from
    if t_to is not None:
        mask &= ts < t_to
    return m.filter(mask)


def show(tr: Trace, *, neuron=None, role=None, t_from=None, t_to=None, limit=50) -> list[dict]:
    """Rows as dicts with readable neuron names and times in ms."""
    sel = _select(tr, neuron, role, t_from, t_to).slice(0, limit).to_pylist()
    n = tr.neurons.to_pydict()
    name = {i: f"{a}:{ix}{'' if k == 'value' else 'ε'}" for i, a, ix, k in
            zip(n["id"], n["area"], n["index"], n["kind"])}
    return [dict(t_send_ms=r["t_send"] * tr.h, t_arrive_ms=r["t_arrive"] * tr.h, src=name[r["src"]],
                 dst=name[r["dst"]], role=r["role"], value=r["value"], dropped=r["dropped"]) for r in sel]


def to_perfetto(tr: Trace, path, *, max_events: int = 2_000_000) -> int:
    """Chrome trace-event JSON: a process per area, a thread per neuron, each send a
    tick slice on the sender, each delivered message a flow arrow to the receiver."""
    m = tr.messages
    n = tr.neurons.to_pydict()
    areas = sorted(set(n["area"]), key=n["area"].index)
    us = tr.h * 1000.0
    ev = []
    for a_i, a in enumerate(areas):
        ev.append(dict(ph="M", name="process_name", pid=a_i, tid=0, args=dict(name=f"area {a}")))
    pid = {}
    for i, a, ix, k in zip(n["id"], n["area"], n["index"], n["kind"]):
        pid[i] = areas.index(a)
        ev.append(dict(ph="M", name="thread_name", pid=pid[i], tid=i, args=dict(name=f"{k} {a}:{ix}")))
    ts = m.column("t_send").to_numpy()
    ta = m.column("t_arrive").to_numpy()
    src = m.column("src").to_numpy()
    dst = m.column("dst").to_numpy()
    val = m.column("value").to_numpy()
    drop = m.column("dropped").to_numpy(zero_copy_only=False)
    roles = m.column("role").to_pylist()
    ticks = sorted(set(zip(src.tolist(), ts.tolist())))
    for s, t in ticks:
        ev.append(dict(ph="X", name="tick", cat="tick", pid=pid[s], tid=s, ts=t * us, dur=us * 0.5))
    if len(ev) + 3 * len(ts) > max_events:
        raise AsyncPCError(f"trace export: {len(ts):,} messages exceed {max_events:,} events; narrow the "
                           "trace (trace.neurons / trace.from / trace.to) or export a window")
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


def plot_neuron(tr: Trace, neuron: str, out) -> Path:
    """Activity, prediction and error of one value neuron over time (from state
    snapshots), and the latency histogram of its messages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nid = tr.neuron_id(neuron)
    n = tr.neurons.to_pydict()
    area, index = n["area"][nid], n["index"][nid]
    partner = [i for i, a, ix, k in zip(n["id"], n["area"], n["index"], n["kind"])
               if a == area and ix == index and k == "error"]
    st = tr.states
    t, nn, s = (st.column(c).to_numpy() for c in ("t", "neuron", "s"))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6))
    xm = nn == nid
    if xm.any():
        a1.plot(t[xm] * tr.h, s[xm], label="activity x")
    if partner and (nn == partner[0]).any():
        em = nn == partner[0]
        a1.plot(t[em] * tr.h, s[em], label="error ε")
        if xm.any() and np.array_equal(t[xm], t[em]):
            a1.plot(t[xm] * tr.h, s[xm] - s[em], "--", label="prediction μ = x − ε")
    if not xm.any():
        a1.text(0.5, 0.5, "no state snapshots for this neuron\n(set trace.state_every and trace.neurons)",
                ha="center", va="center", transform=a1.transAxes)
    a1.set_xlabel("simulated time (ms)")
    a1.set_title(f"{area}:{index}")
    a1.legend()
    sel = _select(tr, neuron=neuron)
    lat = (sel.column("t_arrive").to_numpy() - sel.column("t_send").to_numpy()) * tr.h
    a2.hist(lat, bins=min(50, max(5, len(np.unique(lat)))))
    a2.set_xlabel("message latency (ms)")
    a2.set_ylabel("messages")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
