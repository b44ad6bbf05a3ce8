"""Columnar trace storage: Parquet parts (zstd) written while the run goes -- the layout,
the format and what writer (:mod:`._writer`) and reader (:mod:`._reader`) share.

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


import numpy as np

from ..compile import EDGE_ROLES
from ..errors import AsyncPCError
from ._sendlog import SEND_COLUMNS

__all__ = ["MESSAGE_COLUMNS", "SEND_COLUMNS", "choose_storage", "read_parquet", "corrupt"]

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
