"""The Perfetto export, decoded with Perfetto's own generated protobuf classes: every
message is a flow from its sender's tick to an instant on its receiver at its arrival,
holding its value; dropped ones are instants on the sender; state snapshots are counters."""

from pathlib import Path

import numpy as np
import pytest

from asyncpc import trace
from asyncpc.cli import main
from asyncpc.compile import EDGE_ROLES

pb = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")  # the [test] extra installs it

XOR = Path(__file__).resolve().parents[1] / "scenarios" / "xor.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """xor with 20% loss, traced for 30 ms with the states of every neuron."""
    d = tmp_path_factory.mktemp("p") / "r"
    assert main(["run", str(XOR), "--out", str(d), "--quiet", "--threads", "1", "--set", "data.epochs=1",
                 "--set", "messages.loss=0.2", "--set", "trace.enabled=true", "--set", "trace.to=30.0",
                 "--set", "trace.state_every=5"]) == 0
    return d


def _decode(path):
    tr = pb.Trace()
    tr.ParseFromString(Path(path).read_bytes())
    return tr.packet


def test_protobuf_export_holds_every_message_as_a_flow(run, tmp_path):
    tr = trace.load(run)
    out = tmp_path / "t.pftrace"
    n = trace.to_perfetto(tr, out, t_to=200)
    packets = _decode(out)
    assert len(packets) == n and not (tmp_path / "t.pftrace.part").exists()
    first = packets[0]
    assert first.sequence_flags == pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
    names = {e.iid: e.name for e in first.interned_data.event_names}
    assert set(names.values()) == {"tick", *(f"{k} {r}" for k in ("recv", "dropped") for r in EDGE_ROLES)}
    assert [a.name for a in first.interned_data.debug_annotation_names] == ["value"]

    neurons = tr.neurons.to_pydict()
    tracks = {p.track_descriptor.uuid: p.track_descriptor for p in packets if p.HasField("track_descriptor")}
    threads = {d.thread.tid - 1: u for u, d in tracks.items() if d.HasField("thread")}
    assert len(threads) == len(neurons["id"])
    assert {d.process.process_name for d in tracks.values() if d.HasField("process")} == \
        {f"area {a}" for a in neurons["area"]}
    neuron_of = {u: i for i, u in threads.items()}

    h_ns = round(tr.h * 1e6)
    m = tr.messages_between(None, 200)
    ts, ta, src, dst = (m.column(k).to_numpy() for k in ("t_send", "t_arrive", "src", "dst"))
    val, role = m.column("value").to_numpy(), m.column("role").to_pylist()
    drop = m.column("dropped").to_numpy(zero_copy_only=False)
    assert drop.any() and not drop.all()

    begins, recvs, drops, open_slices = {}, {}, [], {}
    for p in packets:
        if not p.HasField("track_event"):
            continue
        assert p.trusted_packet_sequence_id == 1 and p.sequence_flags == pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE
        e = p.track_event
        who = neuron_of.get(e.track_uuid)
        if e.type == pb.TrackEvent.TYPE_SLICE_BEGIN:
            assert names[e.name_iid] == "tick" and who not in open_slices
            open_slices[who] = p.timestamp
            for f in e.flow_ids:
                begins[f] = (who, p.timestamp)
        elif e.type == pb.TrackEvent.TYPE_SLICE_END:
            assert open_slices.pop(who) + h_ns // 2 == p.timestamp
        elif e.type == pb.TrackEvent.TYPE_INSTANT:
            (a,) = e.debug_annotations
            kind, r = names[e.name_iid].split()
            if kind == "recv":
                (f,) = e.terminating_flow_ids
                recvs[f] = (who, p.timestamp, r, a.double_value)
            else:
                drops.append((who, p.timestamp, r, a.double_value))
    assert not open_slices
    assert sorted(begins) == sorted(recvs) and len(recvs) == int((~drop).sum())
    got = sorted((begins[f][1], begins[f][0], t, w, r, v) for f, (w, t, r, v) in recvs.items())
    want = sorted((int(ts[k]) * h_ns, int(src[k]), int(ta[k]) * h_ns, int(dst[k]), role[k], float(val[k]))
                  for k in np.flatnonzero(~drop))
    assert got == want
    assert sorted(drops) == sorted((int(src[k]), int(ts[k]) * h_ns, role[k], float(val[k]))
                                   for k in np.flatnonzero(drop))


def test_protobuf_export_draws_state_snapshots_as_counters(run, tmp_path):
    tr = trace.load(run)
    out = tmp_path / "t.pftrace"
    trace.to_perfetto(tr, out, t_from=100, t_to=150)
    packets = _decode(out)
    tracks = {p.track_descriptor.uuid: p.track_descriptor for p in packets if p.HasField("track_descriptor")}
    counters = {u for u, d in tracks.items() if d.HasField("counter")}
    assert {tracks[u].name for u in counters} == {"x", "ε"}
    thread_of = {u: d.thread.tid - 1 for u, d in tracks.items() if d.HasField("thread")}
    got = sorted((p.timestamp, thread_of[tracks[p.track_event.track_uuid].parent_uuid],
                  p.track_event.double_counter_value)
                 for p in packets if p.HasField("track_event") and p.track_event.type == pb.TrackEvent.TYPE_COUNTER)
    st = tr.states.filter((tr.states["t"].to_numpy() >= 100) & (tr.states["t"].to_numpy() < 150))
    want = sorted((int(t) * round(tr.h * 1e6), int(i), float(s))
                  for t, i, s in zip(*(st.column(k).to_numpy() for k in ("t", "neuron", "s"))))
    assert got == want and len(want) > 0


def test_cli_export_picks_the_format_from_the_suffix(run, tmp_path, capsys):
    for name in ("a.json", "a.pftrace"):
        assert main(["trace", "export", str(run), "--perfetto", str(tmp_path / name), "--to", "5ms"]) == 0
    assert (tmp_path / "a.json").read_text().startswith("{")
    assert len(_decode(tmp_path / "a.pftrace")) > 0
    assert "a.pftrace" in capsys.readouterr().out
