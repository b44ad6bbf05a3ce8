"""Summaries, tables and plots of a loaded trace (the Perfetto export: _perfetto.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..compile import EDGE_ROLES as ROLES
from ..errors import AsyncPCError
from ._expand import NO_CUT
from ._reader import Trace

__all__ = ["info", "show", "plot_neuron", "parse_time"]

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


def _counts(tr: Trace) -> dict:
    """Message rows in total, by role and by receiving area, their send-step span and how
    many were dropped -- from the sends, without deriving the rows where it can: a send
    of neuron n stands for n's traced out-edges (every-k-th sampling and the row cap's
    last step are derived exactly; ``dropped`` from the lossy edges' rows only)."""
    E = tr.edge_arrays
    N = E.n_neurons
    areas = tr.neurons.column("area").to_pylist()
    area_names = sorted(set(areas))
    area_of = np.array([area_names.index(a) for a in areas], np.int64)
    n_roles = len(ROLES)
    by_role = np.zeros(n_roles, np.int64)
    by_area = np.zeros(len(area_names), np.int64)
    span = [None, None]
    dropped = 0

    def add_rows(tab):
        if not tab.num_rows:
            return
        ts = tab.column("t_send").to_numpy()
        span[0] = ts[0] if span[0] is None else min(span[0], ts[0])
        span[1] = ts[-1] if span[1] is None else max(span[1], ts[-1])
        by_role[:] += np.bincount(tab.column("role").combine_chunks().indices.to_numpy(), minlength=n_roles)
        by_area[:] += np.bincount(area_of[tab.column("dst").to_numpy()], minlength=len(area_names))

    cut_t = tr.cut[0]
    if tr.every == 1 and tr.storage == "sends":  # a send of n stands for all of n's traced out-edges
        tr_e = np.flatnonzero(E.traced)
        role_of = np.zeros((N, n_roles), np.int64)
        np.add.at(role_of, (E.src[tr_e], E.role[tr_e]), 1)
        area_cnt = np.zeros((N, len(area_names)), np.int64)
        np.add.at(area_cnt, (E.src[tr_e], area_of[E.dst[tr_e]]), 1)
        sends = np.zeros(N, np.int64)
        for part in tr.parts:
            t, src = (col.to_numpy() for col in _read(part.path, ["t", "src"]))
            full = t < cut_t
            if full.any():
                span[0] = t[0] if span[0] is None else min(span[0], t[0])
                span[1] = t[full][-1] if span[1] is None else max(span[1], t[full][-1])
            sends += np.bincount(src[full], minlength=N)
        by_role += sends @ role_of
        by_area += sends @ area_cnt
        if cut_t != NO_CUT[0]:
            add_rows(tr.messages_between(cut_t, cut_t + 1))
        lossy = E.loss > 0
        if (lossy & E.traced).any():
            for b in tr.message_batches(edges=lossy):
                dropped += int(np.sum(b.column("dropped").to_numpy(zero_copy_only=False)))
    else:  # every k-th or message rows stored: read or derive the rows, batch by batch
        for b in tr.message_batches():
            add_rows(b)
            dropped += int(np.sum(b.column("dropped").to_numpy(zero_copy_only=False)))
    return dict(rows=int(by_role.sum()), span=span, dropped=dropped,
                by_role={ROLES[r]: int(by_role[r]) for r in range(n_roles) if by_role[r]},
                by_area={a: int(by_area[i]) for i, a in enumerate(area_names) if by_area[i]})


def _read(path, columns):
    from ._store import read_parquet

    tab = read_parquet(path, columns=columns)
    return [tab.column(k) for k in columns]


def info(tr: Trace) -> dict:
    """Message rows by role and by receiving area, time span, dropped, size on disk and
    bytes per message row (computed from the send rows, see :func:`_counts`)."""
    k = _counts(tr)
    n_sends = tr.n_sends()
    out = dict(rows=k["rows"], storage=tr.storage, state_rows=tr.states.num_rows, parts=tr.meta.get("parts"),
               every=tr.every, truncated=tr.meta.get("truncated"), resolution_ms=tr.h)
    if n_sends is not None:
        out["sends"] = n_sends
    if k["rows"]:
        out["span_ms"] = [float(k["span"][0]) * tr.h, float(k["span"][1]) * tr.h]
        out["by_role"] = k["by_role"]
        out["by_receiving_area"] = k["by_area"]
        out["dropped"] = k["dropped"]
    size = sum(p.stat().st_size for p in Path(tr.path).rglob("*") if p.is_file())
    out["bytes_on_disk"] = size
    out["bytes_per_row"] = round(size / max(k["rows"], 1), 3)
    if n_sends is not None:
        out["bytes_per_send"] = round(size / max(n_sends, 1), 2)
    return out


def show(tr: Trace, *, neuron=None, role=None, t_from=None, t_to=None, limit=50) -> list[dict]:
    """Rows as dicts with readable neuron names and times in ms (only the first ``limit``
    rows are derived)."""
    sel = tr.messages_between(t_from, t_to, neuron=neuron, role=role, limit=limit).to_pylist()
    n = tr.neurons.to_pydict()
    name = {i: f"{a}:{ix}{'' if k == 'value' else 'ε'}" for i, a, ix, k in
            zip(n["id"], n["area"], n["index"], n["kind"])}
    return [dict(t_send_ms=r["t_send"] * tr.h, t_arrive_ms=r["t_arrive"] * tr.h, src=name[r["src"]],
                 dst=name[r["dst"]], role=r["role"], value=r["value"], dropped=r["dropped"]) for r in sel]


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
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6), layout="constrained")
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
    if a1.get_legend_handles_labels()[0]:
        a1.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    lat = [(b.column("t_arrive").to_numpy() - b.column("t_send").to_numpy()) * tr.h
           for b in tr.message_batches(neuron=neuron)]
    lat = np.concatenate(lat) if lat else np.zeros(0)
    a2.hist(lat, bins=min(50, max(5, len(np.unique(lat)))))
    a2.set_xlabel("message latency (ms)")
    a2.set_ylabel("messages")
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
