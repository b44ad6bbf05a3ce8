"""Writing a trace while the run goes: parts to temporary names, renamed when finished
(the layout and the format: :mod:`._store`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._seed import normalize_seed
from ..errors import AsyncPCError
from ._expand import NO_CUT, Edges, expand
from ._sendlog import SEND_COLUMNS
from ._store import (_INT64_MAX, _MSG_PARQUET, _SEND_PARQUET, MESSAGE_COLUMNS, _ceil_div, _message_table, _pa,
                     _roles, choose_storage)

__all__ = ["TraceWriter"]


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
