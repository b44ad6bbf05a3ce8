"""Traces store send events; the message rows derived from them are the runtimes' rows.

The reference is the engine's own message table (``record_messages=True``, tested equal
to the actor runtime's ``MessageLog`` in test_engine.py) with the filter's documented
rule applied to it (docs/traces.md): on random networks with delays, clock and message
jitter, loss and on_delta messaging; from the engine (1 and 2 threads) and the actor
runtime; written in chunks, across a resume from a checkpoint position.
"""

import json

import numpy as np
import pytest

from asyncpc import actors, engine, trace
from asyncpc.compile import EDGE_ROLES, compile_network
from asyncpc.environment import EV_CLAMP, EV_UNCLAMP, Schedule
from asyncpc.model import Clocks, Learning, Messages, layered

NOISY = dict(clocks=Clocks(period={"dist": "uniform", "low": 0.2, "high": 0.4}, phase="random", jitter=0.1),
             messages=Messages(send="on_delta", threshold=0.005, loss=0.2, jitter=0.3),
             learning=Learning(eta=0.05, decay=0.01), delay={"dist": "uniform", "low": 0.1, "high": 0.8})
END = 240
COLS = ("t_send", "t_arrive", "src", "dst", "edge", "value", "dropped")


def case(seed, activation="tanh"):
    c = compile_network(layered([3, 5, 4, 2], seed=seed, activation=activation, **NOISY), h=0.1)
    rng = np.random.default_rng(seed)
    values = np.flatnonzero(c.kind == 0)
    ev = [(int(rng.integers(0, END - 2)), EV_CLAMP if k % 3 else EV_UNCLAMP, int(rng.choice(values)),
           float(rng.normal())) for k in range(8)]
    return c, Schedule.from_events(ev, probe_t=[END // 2], readout=values[:2], end=END)


def reference(msgs, c, filt):
    """The documented rule on the runtime's rows: kept when the edge is selected and the
    send step in the window; every k-th of those; the first max_rows. (rows, truncated)"""
    ts = msgs["t_send"]
    idx = np.flatnonzero(filt.edge_mask[msgs["edge"]] & (ts >= filt.t_from) & (ts < filt.t_to))
    idx = idx[np.arange(len(idx)) % filt.every == 0]
    cut = filt.max_rows is not None and len(idx) > filt.max_rows
    idx = idx[:filt.max_rows] if cut else idx
    rows = {k: msgs[k][idx] for k in COLS}
    rows["role"] = np.asarray(EDGE_ROLES)[c.edge_role()[rows["edge"]]]
    return rows, cut


def assert_rows(tab, rows):
    assert tab.column_names == list(trace.MESSAGE_COLUMNS)
    assert tab.num_rows == len(rows["edge"])
    for k in COLS:
        assert np.array_equal(tab.column(k).to_numpy(zero_copy_only=False), rows[k]), k
    assert tab.column("role").to_pylist() == rows["role"].tolist()


def write(path, c, filt, seed, pieces, *, part_rows=50, resume=None, storage=None):
    """A TraceWriter fed the sends of each piece."""
    w = trace.TraceWriter(path, c, filt=filt, seed=seed, part_rows=part_rows, resume=resume, storage=storage)
    for sends in pieces:
        w.add_sends(sends)
    w.close()
    return w


def engine_pieces(c, sch, seed, ends, threads=1):
    """Run in pieces ending at ``ends``: (send tables, the message table of the whole run)."""
    state, sends, msgs = None, [], []
    for u in ends:
        r = engine.run(c, sch, seed=seed, until=u, state=state, threads=threads, record_messages=True,
                       record_sends=True)
        state = r.state
        sends.append(r.extra["sends"])
        msgs.append(r.extra["messages"])
    return sends, {k: np.concatenate([m[k] for m in msgs]) for k in COLS}


def test_storage_is_the_smaller_one():
    c, _ = case(0)
    assert trace.choose_storage(c, trace.TraceFilter.build(c)) == "sends"
    assert trace.choose_storage(c, trace.TraceFilter.build(c, neurons=["hidden1:0"], roles=["partner"])) == "messages"
    assert trace.choose_storage(c, trace.TraceFilter.build(c, every=50)) == "messages"


@pytest.mark.parametrize("seed,threads", [(0, 1), (1, 2), (2, 1)])
def test_every_message_is_derived_bit_for_bit(tmp_path, seed, threads):
    c, sch = case(seed, activation=("tanh", "relu", "sigmoid")[seed])
    sends, msgs = engine_pieces(c, sch, seed, [70, 71, 160, END], threads)
    assert msgs["dropped"].any() and len(np.unique(msgs["t_arrive"] - msgs["t_send"])) > 5
    filt = trace.TraceFilter.build(c)
    w = write(tmp_path, c, filt, seed, sends)
    tr = trace.load(tmp_path)
    rows, _ = reference(msgs, c, filt)
    assert_rows(tr.messages, rows)
    assert w.meta["rows"] == len(msgs["edge"]) and tr.meta["sends"] < len(msgs["edge"]) / 2
    # the actor runtime records the same sends (SendLog); continuing the engine's state
    log = trace.SendLog()
    a = actors.run(c, sch, seed=seed, until=160, observers=[log])
    log2 = trace.SendLog()
    actors.run(c, sch, seed=seed, state=a.state, observers=[log2])
    for mine, theirs in ((log.table(), np.concatenate), (log2.table(), None)):
        ref = sends[:3] if theirs else sends[3:]
        for k in trace.SEND_COLUMNS:
            assert np.array_equal(mine[k], np.concatenate([s[k] for s in ref])), k


FILTERS = [dict(neurons=["hidden1:1-2"], roles=["feedback", "partner"]),
           dict(neurons=["label"], t_from_ms=3.0, t_to_ms=17.0, every=3),
           dict(roles=["predict"], every=4, max_rows=301),
           dict(neurons=["input", "hidden2:0"], max_rows=1000),
           dict(every=7, t_from_ms=1.1)]


@pytest.mark.parametrize("storage", ["sends", "messages"])
@pytest.mark.parametrize("spec", FILTERS)
def test_filters_keep_their_meaning_across_a_resume(tmp_path, spec, storage):
    seed = 3
    c, sch = case(seed)
    sends, msgs = engine_pieces(c, sch, seed, [40, 90, 91, 150, 200, END])
    filt = trace.TraceFilter.build(c, **spec)
    rows, cut = reference(msgs, c, filt)
    w = write(tmp_path / "one", c, filt, seed, sends, storage=storage)
    tr = trace.load(tmp_path / "one")
    assert tr.storage == storage
    assert_rows(tr.messages, rows)
    assert w.meta["rows"] == len(rows["edge"]) and w.meta["truncated"] == cut
    # interrupted after 3 pieces, with a part written after the checkpoint, then resumed
    w = trace.TraceWriter(tmp_path / "two", c, filt=filt, seed=seed, part_rows=50, storage=storage)
    for s in sends[:3]:
        w.add_sends(s)
    w.flush()
    pos = json.loads(json.dumps(w.position()))  # a checkpoint stores it as JSON
    w.add_sends(sends[3])
    w.flush()
    write(tmp_path / "two", c, filt, seed, sends[3:], resume=pos, storage=storage)
    tr2 = trace.load(tmp_path / "two")
    assert tr2.messages.equals(tr.messages)
    assert {k: tr2.meta[k] for k in ("rows", "truncated", "cut")} == {k: tr.meta[k] for k in ("rows", "truncated",
                                                                                              "cut")}


def test_parts_batches_queries_and_info(tmp_path):
    seed = 4
    c, sch = case(seed)
    sends, msgs = engine_pieces(c, sch, seed, [30, 60, 100, 140, 180, END])
    filt = trace.TraceFilter.build(c, every=2, max_rows=len(msgs["edge"]) // 3)
    write(tmp_path, c, filt, seed, sends, part_rows=60, storage="sends")
    tr = trace.load(tmp_path)
    full = tr.messages
    assert len(tr.parts) >= 3 and tr.meta["truncated"] and full.num_rows == len(msgs["edge"]) // 3
    ts = full.column("t_send").to_numpy()
    # a window, small batches, a neuron and a role: the same rows as filtering them all
    sub = tr.messages_between(50, 120)
    assert sub.equals(full.filter((ts >= 50) & (ts < 120)))
    batches = list(tr.message_batches(batch_rows=100))
    assert len(batches) > 5 and max(b.num_rows for b in batches) <= 400
    import pyarrow as pa

    assert pa.concat_tables(batches).equals(full)
    nid = tr.neuron_id("hidden1:2:error")
    src, dst = full.column("src").to_numpy(), full.column("dst").to_numpy()
    role = np.asarray(full.column("role").to_pylist())
    want = full.filter(((src == nid) | (dst == nid)) & (role == "feedback"))
    assert tr.messages_between(neuron="hidden1:2:error", role="feedback").equals(want)
    assert tr.messages_between(10, None, limit=7).equals(full.filter(ts >= 10).slice(0, 7))
    # info counts from the sends what the rows say
    d = trace.info(tr)
    dropped = int(full.column("dropped").to_numpy(zero_copy_only=False).sum())
    assert d["rows"] == full.num_rows and d["dropped"] == dropped > 0
    assert d["by_role"] == {r: int((role == r).sum()) for r in set(role.tolist())}
    assert d["span_ms"] == [ts.min() * c.h, ts.max() * c.h]
    area = np.asarray(tr.neurons.column("area").to_pylist())[dst]
    assert d["by_receiving_area"] == {a: int((area == a).sum()) for a in set(area.tolist())}
    # and without sampling: from the sends alone (the step of the cut derived)
    write(tmp_path / "all", c, trace.TraceFilter.build(c, roles=["predict", "feedback"], max_rows=1501), seed, sends)
    tr = trace.load(tmp_path / "all")
    assert tr.storage == "sends" and tr.meta["cut"] is not None
    m = tr.messages
    d = trace.info(tr)
    role, ts = np.asarray(m.column("role").to_pylist()), m.column("t_send").to_numpy()
    assert d["rows"] == m.num_rows == 1501 and d["dropped"] == int(m.column("dropped").to_numpy(zero_copy_only=False).sum())
    assert d["by_role"] == {r: int((role == r).sum()) for r in set(role.tolist())}
    assert d["span_ms"] == [ts.min() * c.h, ts.max() * c.h] and d["bytes_per_row"] < d["bytes_per_send"]
