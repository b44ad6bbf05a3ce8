"""Columnar trace storage: Parquet parts (zstd) written while the run goes.

Layout of ``RUN/trace/``::

    meta.json                     resolution, seed, storage, filter, scenario hash, version, row counts
    neurons.parquet               id, node, area, index, kind
    edges.parquet                 edge, src, dst, role, delay, jitter, loss, rate, traced
    sends/part-NNNNN.parquet      t, src, s, rate    (storage "sends": one row per send event)
    messages/part-NNNNN.parquet   t_send, t_arrive, src, dst, edge, role, value, dropped
                                                     (storage "messages": the rows kept)
    states/part-NNNNN.parquet     t, neuron, s       (x of value neurons, eps of error neurons)

A message is a send and an edge, so a trace stores the send events and re-derives its
message rows on reading (:mod:`._expand`), identical to the runtimes' rows: a send row
stands for all the traced messages of the send (its sender's traced out-degree, ~56 on
digits). Only when a send would stand for fewer than two kept messages on average (a
narrow selection sampled every k-th) does the writer store the kept message rows instead
(:func:`choose_storage`); readers see the same rows either way.

Every part is written to a temporary name and renamed, so a killed run leaves every
finished part readable; ``meta.json`` is rewritten after each part. A run's checkpoint
stores :meth:`TraceWriter.position` (taken after a flush); ``TraceWriter(..., resume=pos)``
continues from it, deleting the parts written after it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._seed import normalize_seed
from ..compile import EDGE_ROLES
from ..errors import AsyncPCError
from ._expand import NO_CUT, Edges, expand
from ._sendlog import SEND_COLUMNS

__all__ = ["MESSAGE_COLUMNS", "SEND_COLUMNS", "Trace", "TraceWriter", "choose_storage", "load"]

MESSAGE_COLUMNS = ("t_send", "t_arrive", "src", "dst", "edge", "role", "value", "dropped")
#: Send parts: ``t`` and ``src`` (sorted by (t, src)) delta-encoded; the floats byte-stream
#: split (zstd then finds the repeating sign/exponent bytes); statistics on ``t`` only.
_SEND_PARQUET = dict(compression="zstd", use_dictionary=False,
                     column_encoding={"t": "DELTA_BINARY_PACKED", "src": "DELTA_BINARY_PACKED",
                                      "s": "BYTE_STREAM_SPLIT", "rate": "BYTE_STREAM_SPLIT"},
                     write_statistics=["t"])
#: Message parts: times and edges are (nearly) sorted, so delta-encoded; src, dst, role and
#: value repeat (one value per sender and step), so dictionary-encoded.
_MSG_PARQUET = dict(compression="zstd", use_dictionary=["src", "dst", "role", "value"],
                    column_encoding={"t_send": "DELTA_BINARY_PACKED", "t_arrive": "DELTA_BINARY_PACKED",
                                     "edge": "DELTA_BINARY_PACKED"},
                    write_statistics=["t_send", "t_arrive", "src", "dst"])
#: A send row takes ~2x the bytes of a message row: sends are stored when each stands for
#: at least this many kept messages on average.
SENDS_MIN_ROWS = 2.0
_INT64_MAX = np.iinfo(np.int64).max
#: Message rows derived per batch when reading (~50 MB of columns).
BATCH_ROWS = 1 << 20


def _pa():
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


def _ceil_div(a, k: int):
    return -(-a // k)


def choose_storage(c, filt) -> str:
    """``"sends"`` when a send stands for at least :data:`SENDS_MIN_ROWS` kept messages on
    average (expected from the clock periods, the traced out-degrees and ``every``),
    else ``"messages"``. Depends on the scenario only, so a resumed run keeps it."""
    deg = np.bincount(c.src[filt.edge_mask], minlength=c.n_neurons)
    rate = 1.0 / np.maximum(np.asarray(c.period, np.float64), 1.0)
    sends = float(rate[deg > 0].sum())
    rows = float((rate * deg).sum()) / filt.every
    return "sends" if sends and rows >= SENDS_MIN_ROWS * sends else "messages"


class _Disk:
    """The writer's one background thread: every file write of a trace goes through it, in
    order (a part's row groups, its rename, then ``meta.json``), so Parquet encoding runs
    while the run goes on. At most ``depth`` jobs wait; errors surface at the next call."""

    def __init__(self, depth: int = 3):
        self.depth = depth
        self._pool = None
        self._jobs: list = []

    def submit(self, fn, *args) -> None:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asyncpc-trace")
        self._reap(self.depth)
        self._jobs.append(self._pool.submit(fn, *args))

    def _reap(self, keep: int) -> None:
        while self._jobs and (self._jobs[0].done() or len(self._jobs) > keep):
            self._jobs.pop(0).result()  # re-raises the job's error

    def wait(self) -> None:
        self._reap(0)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def _atomic_table(table, path: Path, **options) -> None:
    _, pq = _pa()
    tmp = path.with_name("." + path.name + ".tmp")
    pq.write_table(table, tmp, **(options or {"compression": "zstd"}))
    os.replace(tmp, path)


def _write_json(obj: dict, path: Path) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


class _Part:
    """The part being written (on the background thread): a ParquetWriter on a temporary
    file, one row group per call of :meth:`write`, renamed into place by :meth:`close`."""

    def __init__(self, path: Path, options: dict, metadata: dict):
        self.path, self.options, self.metadata = path, options, metadata
        self.tmp = path.with_name("." + path.name + ".tmp")
        self._w = None

    def write(self, table) -> None:
        _, pq = _pa()
        if self._w is None:
            table = table.replace_schema_metadata(self.metadata)
            self._w = pq.ParquetWriter(self.tmp, table.schema, **self.options)
        self._w.write_table(table.replace_schema_metadata(self.metadata))

    def close(self, meta: dict, meta_path: Path) -> None:
        self._w.close()
        os.replace(self.tmp, self.path)
        _write_json(meta, meta_path)


class TraceWriter:
    """Takes the send events of a run and writes the trace: Parquet parts of ``part_rows``
    rows (sends, or message rows, see :func:`choose_storage`) and state snapshots.

    ``filt`` (a :class:`~asyncpc.trace.TraceFilter`) decides which messages the trace
    holds; ``seed`` is the run's seed (the arrival and loss draws of the messages are
    re-derived from it on reading); ``storage`` overrides :func:`choose_storage`.
    Parquet encoding runs on a background thread, a row group per ``group_rows`` rows;
    :meth:`flush` (checkpoints) and :meth:`close` wait for it.
    """

    def __init__(self, run_dir, c, *, filt, seed=0, state_mask=None, meta=None, part_rows=1_000_000,
                 group_rows=1 << 17, resume=None, storage: str | None = None):
        self.dir = Path(run_dir) / "trace"
        self.storage = storage or choose_storage(c, filt)
        if self.storage not in ("sends", "messages"):
            raise AsyncPCError(f"trace storage: must be 'sends' or 'messages', got {self.storage!r}")
        (self.dir / self.storage).mkdir(parents=True, exist_ok=True)
        (self.dir / "states").mkdir(parents=True, exist_ok=True)
        self.c, self.filt, self.part_rows, self.group_rows = c, filt, int(part_rows), int(group_rows)
        self.seed = normalize_seed(seed)
        self.edges = Edges.of(c, filt.edge_mask)
        self.deg = self.edges.out_degree()  # traced out-edges per neuron: messages per send
        self.state_ids = np.flatnonzero(state_mask) if state_mask is not None else np.zeros(0, int)
        self.meta = dict(meta or {}, resolution_ms=c.h, storage=self.storage, seed=self.seed, every=filt.every,
                         t_from=filt.t_from, t_to=None if filt.t_to == _INT64_MAX else filt.t_to,
                         max_rows=filt.max_rows, columns=list(MESSAGE_COLUMNS), rows=0, sends=0, parts=0,
                         state_rows=0, state_parts=0, truncated=False, cut=None)
        self._disk = _Disk()
        self._buf: list[dict] = []  # rows not yet handed to the disk thread
        self._n_buf = 0
        self._part = None           # the open part (rows handed over, not yet renamed into place)
        self._part_n = 0            # its rows (sends or messages), buffered ones included
        self._part_rows = 0         # the message rows they stand for
        self._part_sends = 0
        self._sbuf: list[tuple] = []
        self._seen = 0
        if resume is not None:
            self._resume(resume)
        else:
            self._write_static()
        self._disk.submit(_write_json, dict(self.meta), self.dir / "meta.json")

    # ---------------------------------------------------------------- checkpoints
    def position(self) -> dict:
        """Where the trace on disk stands (call :meth:`flush` first, so nothing is buffered):
        rows, sends and parts written, the every-k counter and the cut. A checkpoint stores it."""
        if self._part_n or self._sbuf:
            raise AsyncPCError("trace: flush() before taking the position")
        m = self.meta
        return dict(rows=int(m["rows"]), sends=int(m["sends"]), parts=int(m["parts"]),
                    state_rows=int(m["state_rows"]), state_parts=int(m["state_parts"]),
                    truncated=bool(m["truncated"]), cut=m["cut"], seen=int(self._seen))

    def _resume(self, pos: dict) -> None:
        """Continue a trace from a checkpoint's :meth:`position`: parts written after it (and
        half-written temporary files) are deleted."""
        for sub, key in ((self.storage, "parts"), ("states", "state_parts")):
            keep = int(pos[key])
            for f in (self.dir / sub).iterdir():
                if f.name.startswith("."):
                    f.unlink()
                    continue
                try:
                    idx = int(f.stem.split("-")[1])
                except (IndexError, ValueError):
                    continue
                if idx >= keep:
                    f.unlink()
            have = len(list((self.dir / sub).glob("part-*.parquet")))
            if have != keep:
                raise AsyncPCError(f"{self.dir / sub}: {have} parts on disk, the checkpoint wrote {keep}; the "
                                   "trace was changed since the checkpoint, start the run again")
        for k in ("rows", "parts", "state_rows", "state_parts", "truncated"):
            self.meta[k] = pos[k]
        self.meta["sends"] = int(pos.get("sends", 0))
        self.meta["cut"] = pos.get("cut")
        self._seen = int(pos["seen"])
        if not (self.dir / "neurons.parquet").exists() or not (self.dir / "edges.parquet").exists():
            self._write_static()

    @property
    def full(self) -> bool:
        """Whether ``max_rows`` cut the trace: no later message can be kept."""
        return bool(self.meta["truncated"])

    # ---------------------------------------------------------------- inputs
    def add_sends(self, sends: dict) -> None:
        """Send events of one chunk (columns ``t, src, s, rate`` in ``(t, src)`` order, as
        ``engine.run(..., record_sends=True)`` or :class:`~asyncpc.trace.SendLog` give
        them). Kept: sends in the window with a traced out-edge, up to the row cap."""
        if self.full:
            return
        t = np.asarray(sends["t"])
        src = np.asarray(sends["src"])
        d = self.deg[src]
        keep = d > 0
        f = self.filt
        if f.t_from > 0 or f.t_to != _INT64_MAX:
            keep &= (t >= f.t_from) & (t < f.t_to)
        cols = {k: np.asarray(sends[k]) for k in SEND_COLUMNS}
        if not keep.all():
            cols = {k: v[keep] for k, v in cols.items()}
            d = d[keep]
        if not len(d):
            return
        seen0 = self._seen
        cum = seen0 + np.cumsum(d)  # traced messages up to and including each send
        k = f.every
        kept = _ceil_div(cum, k) - _ceil_div(seen0, k)  # rows kept up to each send (every k-th)
        rows = int(kept[-1])
        if f.max_rows is not None:
            room = int(f.max_rows) - int(self.meta["rows"]) - self._part_rows
            if rows > room:
                cols, rows = self._cut(cols, cum, kept, seen0, room)
                self.meta["truncated"] = True
        self._seen = int(cum[-1])
        n_sends = len(cols["t"])
        if self.storage == "messages" and n_sends:
            cols, _ = expand(self.edges, cols, seed=self.seed, count=seen0, every=k,
                             cut=tuple(self.meta["cut"] or NO_CUT))
        n = len(next(iter(cols.values())))
        if n:
            if self._part is None:
                self._open_part(seen0)
            self._buf.append(cols)
            self._n_buf += n
            self._part_n += n
            self._part_rows += rows
            self._part_sends += n_sends
        if self._n_buf >= self.group_rows or self._part_n >= self.part_rows:
            self._hand_over()
        if self._part_n >= self.part_rows:
            self._close_part()

    def _cut(self, cols, cum, kept, seen0, room):
        """Keep the first ``room`` rows: the sends of the steps before the one where the cap
        falls, and that step's sends with ``meta.cut = [t, edge]``, the first message refused."""
        t = cols["t"]
        i = int(np.searchsorted(kept, room, side="right"))  # the first send past the cap
        a, b = (int(x) for x in np.searchsorted(t, [t[i], t[i] + 1]))
        c0 = int(cum[a - 1]) if a else seen0
        in_step = room - int(_ceil_div(c0, self.filt.every) - _ceil_div(seen0, self.filt.every))
        if in_step <= 0:
            return {k: v[:a] for k, v in cols.items()}, room
        step = {k: v[a:b] for k, v in cols.items()}
        msgs, _ = expand(self.edges, step, seed=self.seed, count=c0, every=self.filt.every)
        self.meta["cut"] = [int(t[i]), int(msgs["edge"][in_step])]
        return {k: v[:b] for k, v in cols.items()}, room

    def add_state(self, t: int, s: np.ndarray) -> None:
        if len(self.state_ids):
            self._sbuf.append((int(t), s[self.state_ids].copy()))
            if len(self._sbuf) * len(self.state_ids) >= self.part_rows:
                self._flush_states()

    # ---------------------------------------------------------------- output
    def _open_part(self, seen0: int) -> None:
        path = self.dir / self.storage / f"part-{self.meta['parts']:05d}.parquet"
        if self.storage == "sends":  # the every-k-th counter where the part starts: reading needs it
            self._part = _Part(path, _SEND_PARQUET, {"asyncpc.seen": str(seen0)})
        else:
            self._part = _Part(path, _MSG_PARQUET, {})

    def _hand_over(self) -> None:
        """Give the buffered rows to the disk thread as one row group."""
        if not self._n_buf:
            return
        self._disk.submit(_write_group, self._part, self._buf, self.storage)
        self._buf, self._n_buf = [], 0

    def _close_part(self) -> None:
        if self._part is None:
            return
        self._hand_over()
        self.meta["parts"] += 1
        self.meta["rows"] += self._part_rows
        if self.storage == "sends":
            self.meta["sends"] += self._part_sends
        self._disk.submit(self._part.close, dict(self.meta), self.dir / "meta.json")
        self._part, self._part_n, self._part_rows, self._part_sends = None, 0, 0, 0

    def _flush_states(self) -> None:
        if not self._sbuf:
            return
        pa, _ = _pa()
        k = len(self.state_ids)
        t = np.repeat(np.array([t for t, _ in self._sbuf], np.int64), k)
        nid = np.tile(self.state_ids.astype(np.int32), len(self._sbuf))
        s = np.concatenate([v for _, v in self._sbuf])
        part = self.meta["state_parts"]
        self.meta["state_parts"] += 1
        self.meta["state_rows"] += len(t)
        self._disk.submit(_write_states, pa.table({"t": t, "neuron": nid, "s": s}),
                          self.dir / "states" / f"part-{part:05d}.parquet", dict(self.meta), self.dir / "meta.json")
        self._sbuf = []

    def flush(self) -> None:
        """Write everything buffered, the open part included, and wait until it is on disk
        (at checkpoints and on close)."""
        self._close_part()
        self._flush_states()
        self._disk.wait()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._disk.close()

    def _write_static(self) -> None:
        pa, _ = _pa()
        c, e = self.c, self.edges
        table = pa.table({"id": np.arange(c.n_neurons, dtype=np.int32),
                          "node": [str(n) for n in c.node_ids],
                          "area": [c.area_names[a] for a in c.area],
                          "index": c.index.astype(np.int32),
                          "kind": ["value" if k == 0 else "error" for k in c.kind]})
        _atomic_table(table, self.dir / "neurons.parquet")
        _atomic_table(pa.table({"edge": np.arange(c.n_edges, dtype=np.int32), "src": e.src, "dst": e.dst,
                                "role": _roles(e.role), "delay": e.delay, "jitter": e.jitter, "loss": e.loss,
                                "rate": e.rate, "traced": e.traced}), self.dir / "edges.parquet")


_SEND_DTYPES = dict(t=np.int64, src=np.int32, s=np.float64, rate=np.float64)


def _write_group(part: _Part, buf: list, storage: str) -> None:
    """(disk thread) One row group of the buffered rows into the open part."""
    pa, _ = _pa()
    cols = buf[0] if len(buf) == 1 else {k: np.concatenate([b[k] for b in buf]) for k in buf[0]}
    if storage == "sends":
        table = pa.table({k: cols[k].astype(dt, copy=False) for k, dt in _SEND_DTYPES.items()})
    else:
        table = _message_table(cols)
    part.write(table)


def _write_states(table, path: Path, meta: dict, meta_path: Path) -> None:
    """(disk thread) A state part, then meta.json."""
    _atomic_table(table, path)
    _write_json(meta, meta_path)


def _roles(codes):
    pa, _ = _pa()
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, np.int8)), pa.array(list(EDGE_ROLES)))


def _role_codes(col) -> np.ndarray:
    import pyarrow.compute as pc

    pa, _ = _pa()
    idx = pc.index_in(col.cast(pa.string()), value_set=pa.array(list(EDGE_ROLES)))
    return np.ascontiguousarray(idx.to_numpy(zero_copy_only=False), np.int8)


def _message_table(cols: dict):
    pa, _ = _pa()
    return pa.table({k: (_roles(cols[k]) if k == "role" else cols[k]) for k in MESSAGE_COLUMNS})


def _empty_messages():
    return _message_table(dict(t_send=np.zeros(0, np.int64), t_arrive=np.zeros(0, np.int64),
                               src=np.zeros(0, np.int32), dst=np.zeros(0, np.int32), edge=np.zeros(0, np.int32),
                               role=np.zeros(0, np.int8), value=np.zeros(0), dropped=np.zeros(0, bool)))


@dataclass
class Part:
    """A part: its file, rows, range of send steps and (sends) the every-k-th counter at
    its start."""

    path: Path
    rows: int
    t_min: int
    t_max: int
    seen: int


def corrupt(path, exc) -> AsyncPCError:
    """The one-line error for a trace file that cannot be read."""
    what = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return AsyncPCError(f"{path}: corrupt or truncated trace file ({type(exc).__name__}{': ' + what if what else ''}); "
                        "run the scenario again to record the trace")


def read_parquet(path, columns=None):
    """``pyarrow.parquet.read_table`` with a damaged file reported in one line."""
    _, pq = _pa()
    try:
        return pq.read_table(path, columns=columns)
    except Exception as exc:  # noqa: BLE001 - any failure to read is a damaged file
        raise corrupt(path, exc) from None


def _part(path: Path) -> Part:
    try:
        return _read_part(path)
    except AsyncPCError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged footer, statistics or column
        raise corrupt(path, exc) from None


def _read_part(path: Path) -> Part:
    _, pq = _pa()
    md = pq.read_metadata(path)
    kv = md.metadata or {}
    seen = int(kv.get(b"asyncpc.seen", b"0"))
    lo, hi = _INT64_MAX, -1
    for g in range(md.num_row_groups):
        st = md.row_group(g).column(0).statistics
        if st is None or not st.has_min_max:
            t = read_parquet(path, columns=[md.schema.column(0).name]).column(0).to_numpy()
            return Part(path, md.num_rows, int(t.min(initial=_INT64_MAX)), int(t.max(initial=-1)), seen)
        lo, hi = min(lo, int(st.min)), max(hi, int(st.max))
    return Part(path, md.num_rows, lo, hi, seen)


class Trace:
    """A run's trace: ``neurons``, ``edges``, ``states``, ``sends`` (pyarrow Tables; call
    ``.to_pandas()`` or hand them to polars / duckdb), ``meta``, and its message rows
    (derived from the sends, or read, see ``meta["storage"]``): all of them
    (:attr:`messages`, materialised on first access) or a part (:meth:`messages_between`,
    :meth:`message_batches`)."""

    def __init__(self, path: Path, meta: dict, neurons, edges, states, parts: list[Part]):
        self.path, self.meta, self.neurons, self.edges, self.states = path, meta, neurons, edges, states
        self.parts = parts
        self.storage = meta["storage"]
        self._messages = self._sends = self._edge_arrays = None

    def __repr__(self) -> str:
        rows = "" if self.storage != "sends" else f"{self.n_sends():,} sends, "
        return (f"Trace({str(self.path)!r}: {rows}{len(self.parts)} parts, {self.states.num_rows:,} state rows, "
                f"{self.edges.num_rows:,} edges, every {self.every}, h {self.h:g} ms)")

    @property
    def h(self) -> float:
        return float(self.meta["resolution_ms"])

    @property
    def every(self) -> int:
        return int(self.meta.get("every", 1))

    @property
    def cut(self) -> tuple[int, int]:
        """``(t_send, edge)`` of the first message ``max_rows`` refused (none: ``NO_CUT``)."""
        return tuple(self.meta["cut"]) if self.meta.get("cut") else NO_CUT

    @property
    def edge_arrays(self) -> Edges:
        """The edge table as numpy arrays (what the expansion walks)."""
        if self._edge_arrays is None:
            e = self.edges
            col = lambda k, dt: np.ascontiguousarray(e.column(k).to_numpy(zero_copy_only=False), dt)  # noqa: E731
            self._edge_arrays = Edges(src=col("src", np.int32), dst=col("dst", np.int32),
                                      role=_role_codes(e.column("role")), delay=col("delay", np.int32),
                                      jitter=col("jitter", np.int16), loss=col("loss", np.float32),
                                      rate=col("rate", bool), traced=col("traced", bool),
                                      n_neurons=self.neurons.num_rows)
        return self._edge_arrays

    @property
    def sends(self):
        """Every send row (``t, src, s, rate``) as one pyarrow Table (None when the trace
        stores message rows)."""
        if self.storage != "sends":
            return None
        if self._sends is None:
            pa, pq = _pa()
            self._sends = pa.concat_tables([read_parquet(p.path) for p in self.parts]) if self.parts else pa.table(
                {"t": pa.array([], pa.int64()), "src": pa.array([], pa.int32()), "s": pa.array([], pa.float64()),
                 "rate": pa.array([], pa.float64())})
        return self._sends

    @property
    def messages(self):
        """Every message row (columns ``MESSAGE_COLUMNS``, by ``(t_send, edge)``), derived
        from the sends on first access. A trace of 10⁹ messages needs ~30 GB here: use
        :meth:`messages_between` or :meth:`message_batches` for a part."""
        if self._messages is None:
            self._messages = self.messages_between()
        return self._messages

    def n_sends(self) -> int | None:
        """Send rows on disk (None when the trace stores message rows)."""
        return sum(p.rows for p in self.parts) if self.storage == "sends" else None

    def edge_query(self, neuron: str | None = None, role: str | None = None) -> np.ndarray:
        """Boolean mask over edges: those sent or received by ``neuron`` (``"area:i"``,
        ``"area:i:error"``) and of ``role``."""
        e = self.edge_arrays
        q = np.ones(len(e.src), bool)
        if neuron is not None:
            nid = self.neuron_id(neuron)
            q &= (e.src == nid) | (e.dst == nid)
        if role is not None:
            if role not in EDGE_ROLES:
                raise AsyncPCError(f"--role: expected one of {list(EDGE_ROLES)}, got {role!r}")
            q &= e.role == EDGE_ROLES.index(role)
        return q

    def message_batches(self, t_from: int | None = None, t_to: int | None = None, *, neuron=None, role=None,
                        edges=None, batch_rows: int = BATCH_ROWS):
        """Message rows sent in ``[t_from, t_to)`` (steps; None: unbounded), optionally only
        those of ``neuron`` / ``role`` / on the ``edges`` mask, as pyarrow Tables of about
        ``batch_rows`` rows each, in the canonical order: for traces too large to hold.

        Examples
        --------
        >>> import asyncpc.trace
        >>> tr = asyncpc.trace.load("runs/digits")                     # doctest: +SKIP
        >>> n_dropped = sum(b["dropped"].to_numpy(zero_copy_only=False).sum()
        ...                 for b in tr.message_batches(0, 10_000))      # doctest: +SKIP
        """
        E = self.edge_arrays
        q = self.edge_query(neuron, role)
        if edges is not None:
            q &= np.asarray(edges, bool)
        if self.storage == "messages":
            yield from self._stored_batches(t_from, t_to, q, batch_rows)
            return
        every, cut = self.every, self.cut
        gather = E.csr(E.traced if every > 1 else E.traced & q)
        gdeg = np.diff(gather[0])
        lo = -1 if t_from is None else int(t_from)
        hi = _INT64_MAX if t_to is None else int(t_to)
        if cut[0] != _INT64_MAX:
            hi = min(hi, cut[0] + 1)
        _, pq = _pa()
        for part in self.parts:
            if part.t_max < lo or part.t_min >= hi:
                continue
            tab = read_parquet(part.path)
            cols = {k: tab.column(k).to_numpy() for k in SEND_COLUMNS}
            t = cols["t"]
            i0, i1 = (int(x) for x in np.searchsorted(t, [lo, hi]))
            d = gdeg[cols["src"][i0:i1]]
            cum = np.concatenate([[0], np.cumsum(d)])
            count0 = part.seen + (int(gdeg[cols["src"][:i0]].sum()) if every > 1 else 0)
            for a, b in _batches(t[i0:i1], cum, batch_rows):
                rows, _ = expand(E, {k: v[i0 + a:i0 + b] for k, v in cols.items()}, seed=self.meta["seed"],
                                 count=count0 + int(cum[a]), every=every, cut=cut, query=q, gather=gather)
                if len(rows["edge"]):
                    yield _message_table(rows)

    def _stored_batches(self, t_from, t_to, q, batch_rows):
        """Message rows read from message parts (storage "messages")."""
        _, pq = _pa()
        lo = -1 if t_from is None else int(t_from)
        hi = _INT64_MAX if t_to is None else int(t_to)
        all_edges = bool(q.all())
        for part in self.parts:
            if part.t_max < lo or part.t_min >= hi:
                continue
            tab = read_parquet(part.path)
            ts = tab.column("t_send").to_numpy()
            i0, i1 = (int(x) for x in np.searchsorted(ts, [lo, hi]))
            tab = tab.slice(i0, i1 - i0)
            if not all_edges:
                tab = tab.filter(q[tab.column("edge").to_numpy()])
            for a in range(0, tab.num_rows, batch_rows):
                yield tab.slice(a, batch_rows)

    def message_reader(self, t_from: int | None = None, t_to: int | None = None, **filters):
        """The rows of :meth:`message_batches` as a ``pyarrow.RecordBatchReader``: a stream
        duckdb can query (``duckdb.sql("select ... from reader")``) or polars collect,
        without materialising the trace."""
        pa, _ = _pa()
        batches = (rb for tab in self.message_batches(t_from, t_to, **filters) for rb in tab.to_batches())
        return pa.RecordBatchReader.from_batches(_empty_messages().schema, batches)

    def messages_between(self, t_from: int | None = None, t_to: int | None = None, *, neuron=None, role=None,
                         edges=None, limit: int | None = None):
        """Message rows sent in ``[t_from, t_to)`` (steps) as one pyarrow Table; filters as
        :meth:`message_batches`; at most ``limit`` rows (the first ones)."""
        pa, _ = _pa()
        out, n = [], 0
        for b in self.message_batches(t_from, t_to, neuron=neuron, role=role, edges=edges,
                                      batch_rows=BATCH_ROWS if limit is None else max(4096, min(limit, BATCH_ROWS))):
            out.append(b)
            n += b.num_rows
            if limit is not None and n >= limit:
                break
        tab = pa.concat_tables(out) if out else _empty_messages()
        return tab if limit is None else tab.slice(0, limit)

    def neuron_id(self, selector: str) -> int:
        """Id of ``"area:index"`` (the value neuron; ``"area:index:error"`` for its error neuron)."""
        parts = selector.split(":")
        if len(parts) not in (2, 3) or not parts[1].isdigit():
            raise AsyncPCError(f"--neuron: expected 'area:index' or 'area:index:error', got {selector!r}")
        kind = parts[2] if len(parts) == 3 else "value"
        n = self.neurons.to_pydict()
        for i, a, ix, k in zip(n["id"], n["area"], n["index"], n["kind"]):
            if a == parts[0] and ix == int(parts[1]) and k == kind:
                return int(i)
        raise AsyncPCError(f"--neuron: no {kind} neuron {parts[0]}:{parts[1]} in this trace "
                           f"(areas: {sorted(set(n['area']))})")


def _batches(t: np.ndarray, cum: np.ndarray, rows: int):
    """``(a, b)`` ranges of sends (sorted by step) of about ``rows`` messages each
    (``cum``: messages before each send), cut between steps."""
    n = len(t)
    a = 0
    while a < n:
        b = int(np.searchsorted(cum, cum[a] + rows, side="right")) - 1
        if b >= n:
            b = n
        else:
            b = int(np.searchsorted(t, t[b], side="left"))  # back to the start of that step
            if b <= a:
                b = int(np.searchsorted(t, t[a], side="right"))  # one step alone
        yield a, b
        a = b


def load(run_dir) -> Trace:
    """Load ``RUN/trace`` (every finished part); message rows are derived on access.

    Examples
    --------
    >>> import asyncpc.trace
    >>> tr = asyncpc.trace.load("runs/xor")          # doctest: +SKIP
    >>> df = tr.messages.to_pandas()                  # doctest: +SKIP
    """
    pa, pq = _pa()
    d = Path(run_dir) / "trace"
    if not (d / "meta.json").exists():
        raise AsyncPCError(f"{run_dir}: no trace here (run with trace.enabled = true)")
    try:
        meta = json.loads((d / "meta.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
    except (OSError, ValueError) as exc:
        raise corrupt(d / "meta.json", exc) from None
    if meta.get("storage") not in ("sends", "messages"):
        raise AsyncPCError(f"{d}: a trace written by an older asyncpc; run the scenario again to trace it")
    parts = [_part(p) for p in sorted((d / meta["storage"]).glob("part-*.parquet"))]
    sparts = sorted((d / "states").glob("part-*.parquet"))
    try:
        states = pa.concat_tables([read_parquet(p) for p in sparts]) if sparts else None
    except pa.ArrowInvalid as exc:  # parts of different schemas
        raise corrupt(sparts[0].parent, exc) from None
    states = states if states is not None else pa.table(
        {"t": pa.array([], pa.int64()), "neuron": pa.array([], pa.int32()), "s": pa.array([], pa.float64())})
    return Trace(d, meta, read_parquet(d / "neurons.parquet"), read_parquet(d / "edges.parquet"), states, parts)
