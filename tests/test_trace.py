"""asyncpc.trace: filters, Parquet parts, reader, views (on synthetic send rows)."""

import json

import numpy as np
import pytest

from asyncpc import trace
from asyncpc.compile import compile_network
from asyncpc.errors import AsyncPCError, SpecError
from asyncpc.model import layered


@pytest.fixture
def c():
    return compile_network(layered([3, 2, 2], seed=0, delay=0.3))


def fake_sends(c, t0, t1):
    """Every neuron with out-edges sends at every step (canonical order by (t, src))."""
    senders = np.unique(c.src)
    ts, ns = np.meshgrid(np.arange(t0, t1), senders, indexing="ij")
    ts, ns = ts.ravel(), ns.ravel()
    return dict(t=ts.astype(np.int64), src=ns.astype(np.int32), s=np.sin(ts + ns), rate=np.cos(ts + ns))


def test_writer_parts_and_reader(tmp_path, c):
    f = trace.TraceFilter.build(c)
    w = trace.TraceWriter(tmp_path, c, filt=f, state_mask=np.ones(c.n_neurons, bool),
                          meta=dict(scenario_hash="abc"), part_rows=30)
    for t0 in range(0, 20, 5):
        w.add_sends(fake_sends(c, t0, t0 + 5))
        w.add_state(t0, np.arange(c.n_neurons, dtype=float))
    w.close()
    tr = trace.load(tmp_path)
    assert tr.messages.num_rows == 20 * c.n_edges
    assert tr.meta["parts"] >= 2 and tr.meta["scenario_hash"] == "abc"
    assert tr.messages.column_names == list(trace.MESSAGE_COLUMNS)
    ts = tr.messages.column("t_send").to_numpy()
    assert np.all(np.diff(ts) >= 0)
    roles = set(tr.messages.column("role").to_pylist())
    assert roles == {"predict", "feedback", "partner"}
    assert tr.states.num_rows == 4 * c.n_neurons
    assert tr.neurons.num_rows == c.n_neurons


def test_killed_run_leaves_finished_parts_readable(tmp_path, c):
    w = trace.TraceWriter(tmp_path, c, filt=trace.TraceFilter.build(c), part_rows=30)
    for t0 in range(10):
        w.add_sends(fake_sends(c, t0, t0 + 1))  # flushes whole parts, keeps a remainder buffered
    w._disk.wait()  # the disk thread finishes what it was handed; no close(): the process "dies" here
    tr = trace.load(tmp_path)
    assert 0 < tr.messages.num_rows <= 10 * c.n_edges
    assert tr.messages.num_rows == json.loads((tmp_path / "trace" / "meta.json").read_text())["rows"]


def test_filters_select_neurons_roles_window_every_and_cap(tmp_path, c):
    f = trace.TraceFilter.build(c, neurons=["label"], roles=["feedback"], t_from_ms=0.2, t_to_ms=0.8,
                                every=3, max_rows=5)
    w = trace.TraceWriter(tmp_path, c, filt=f)
    w.add_sends(fake_sends(c, 0, 10))
    w.close()
    tr = trace.load(tmp_path)
    m = tr.messages
    assert m.num_rows == 5 and tr.meta["truncated"]
    assert set(m.column("role").to_pylist()) == {"feedback"}
    ts = m.column("t_send").to_numpy()
    assert ts.min() >= 2 and ts.max() < 8
    label = set(np.flatnonzero(c.area == c.area_names.index("label")))
    for s, d in zip(m.column("src").to_numpy(), m.column("dst").to_numpy()):
        assert s in label or d in label


def test_selectors(c):
    assert trace.select_neurons(c, ["hidden1:1"]).sum() == 2  # value and error neuron 1
    assert trace.select_neurons(c, ["hidden1:0-1"]).sum() == 4
    with pytest.raises(SpecError, match="trace.neurons"):
        trace.select_neurons(c, ["nowhere"])
    with pytest.raises(SpecError, match="trace.roles"):
        trace.TraceFilter.build(c, roles=["lateral"])


def test_views(tmp_path, c):
    w = trace.TraceWriter(tmp_path, c, filt=trace.TraceFilter.build(c), state_mask=np.ones(c.n_neurons, bool))
    w.add_sends(fake_sends(c, 0, 6))
    for t in range(6):
        w.add_state(t, np.full(c.n_neurons, float(t)))
    w.close()
    tr = trace.load(tmp_path)
    d = trace.info(tr)
    assert d["rows"] == 6 * c.n_edges and sum(d["by_role"].values()) == d["rows"]
    rows = trace.show(tr, neuron="hidden1:0", role="feedback", t_from=1, t_to=3, limit=5)
    assert rows and all(r["role"] == "feedback" and 0.1 <= r["t_send_ms"] < 0.3 for r in rows)
    assert all("hidden1:0" in (r["src"], r["dst"]) for r in rows)
    out = tmp_path / "p.json"
    n = trace.to_perfetto(tr, out)
    ev = json.loads(out.read_text())["traceEvents"]
    assert len(ev) == n
    flows = [e for e in ev if e["ph"] in ("s", "f")]
    assert len(flows) == 2 * 6 * c.n_edges  # no loss: every message delivered
    assert trace.plot_neuron(tr, "hidden1:0", tmp_path / "n.png").exists()
    assert trace.parse_time("10ms", 0.1, "x") == 100 and trace.parse_time("2 steps", 0.1, "x") == 2
    with pytest.raises(AsyncPCError):
        trace.parse_time("soon", 0.1, "--from")
    with pytest.raises(AsyncPCError, match="no value neuron"):
        tr.neuron_id("hidden1:9")
