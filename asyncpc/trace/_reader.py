"""Reading a trace: :func:`load` and :class:`Trace`, whose message rows are derived from
the stored sends on access (the layout and the format: :mod:`._store`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compile import EDGE_ROLES
from ..errors import AsyncPCError
from ._expand import NO_CUT, Edges, expand
from ._sendlog import SEND_COLUMNS
from ._store import (_INT64_MAX, BATCH_ROWS, _empty_messages, _message_table, _pa, _role_codes, corrupt,
                     read_parquet)

__all__ = ["Part", "Trace", "load"]

@dataclass
class Part:
    """A part: its file, rows, range of send steps and (sends) the every-k-th counter at
    its start."""

    path: Path
    rows: int
    t_min: int
    t_max: int
    seen: int


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
