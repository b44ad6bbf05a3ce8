"""Tables: Parquet and Arrow IPC (``.arrow`` / ``.feather``) files read with pyarrow.

A table holds one sample per row: one column of class labels (named by ``label_column``)
and feature columns, every other column, in the table's order. The file is read in
batches of about 16 MB, and each batch's feature columns are copied into one
preallocated float32 array: besides that array, a reader holds one batch at a time
(an Arrow IPC file is memory-mapped; only a file in the IPC *stream* format is read whole).
"""

from __future__ import annotations

import difflib
import os

import numpy as np

from ..errors import DataError

__all__ = ["TABLE_EXTS", "read_table"]

TABLE_EXTS = (".parquet", ".arrow", ".feather")
_BATCH_BYTES = 1 << 24


def _kind(path) -> str:
    return "Parquet" if os.path.splitext(path)[1].lower() == ".parquet" else "Arrow IPC (Feather v2)"


def _unreadable(path, exc) -> DataError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{path}: not a readable {_kind(path)} file ({msg})")


class _Source:
    """Schema, row count and record batches of one file, whatever its format."""

    def __init__(self, path):
        import pyarrow as pa

        self.path, self._close = path, None
        try:
            if os.path.splitext(path)[1].lower() == ".parquet":
                import pyarrow.parquet as pq

                f = pq.ParquetFile(path)
                self.schema, self.num_rows = f.schema_arrow, f.metadata.num_rows
                rows = max(1024, _BATCH_BYTES // (8 * max(len(self.schema), 1)))
                self._batches = lambda: f.iter_batches(batch_size=rows)
                self._close = f.close
                return
            import pyarrow.ipc as ipc

            src = pa.memory_map(path, "r")
            self._close = src.close
            try:
                r = ipc.open_file(src)
            except pa.ArrowInvalid:  # not the file format: perhaps the stream format
                src.seek(0)
                table = ipc.open_stream(src).read_all()
                self.schema, self.num_rows = table.schema, table.num_rows
                self._batches = lambda: table.to_batches()
                return
            self.schema = r.schema
            self.num_rows = r.count_rows() if hasattr(r, "count_rows") else \
                sum(r.get_batch(i).num_rows for i in range(r.num_record_batches))
            self._batches = lambda: (r.get_batch(i) for i in range(r.num_record_batches))
        except (pa.ArrowException, OSError, ValueError) as exc:
            self.close()
            raise _unreadable(path, exc) from None

    def batches(self):
        import pyarrow as pa

        try:
            yield from self._batches()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _unreadable(self.path, exc) from None

    def close(self):
        if self._close is not None:
            self._close()
            self._close = None


def _first_null(col) -> int:
    import pyarrow.compute as pc

    return int(pc.index(pc.is_null(col), True).as_py())


def _check_label_type(path, t, name):
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if not (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_floating(t)
            or pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise DataError(f"{path}: column {name!r} (the labels) has type {t}; expected integer class labels "
                        "(or strings)", key="label_column")
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _labels(path, col, name, row0, strings):
    import pyarrow as pa

    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if col.null_count:
        raise DataError(f"{path}: column {name!r} (the labels) is empty in row {row0 + _first_null(col) + 1}; "
                        "expected a class label in every row", key="label_column")
    v = col.to_numpy(zero_copy_only=False)
    if strings:
        return np.asarray(v, dtype=object).astype(str)
    if v.dtype.kind == "f":
        bad = ~np.isfinite(v) | (v != np.round(v))
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}: column {name!r} (the labels) holds {v[i]:g} in row {row0 + i + 1}; expected "
                            "integer class labels (or strings)", key="label_column")
    return v.astype(np.int64)


def read_table(path, label_column: str = "label"):
    """``(X, y, feature names)`` of a Parquet / Arrow IPC file.

    ``X`` is float32 (rows x features); ``y`` int64 labels, or strings when the label
    column holds strings. Every feature column must be numeric (integers, floats or
    booleans) with a finite value in every row. Errors name the file and the column.
    """
    import pyarrow as pa

    src = _Source(path)
    try:
        names = list(src.schema.names)
        if label_column not in names:
            close = difflib.get_close_matches(label_column, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = names if len(names) <= 8 else names[:8] + ["..."]
            raise DataError(f"{path}: no column {label_column!r} (the labels){hint}; its columns are {shown}; "
                            "set data.label_column to the name of the label column", key="label_column")
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise DataError(f"{path}: two columns are named {dup!r}; expected unique column names")
        features = [n for n in names if n != label_column]
        if not features:
            raise DataError(f"{path}: only the label column {label_column!r}; expected feature columns as well")
        for name in features:
            t = src.schema.field(name).type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
                raise DataError(f"{path}: column {name!r} has type {t}; expected numbers in every feature column "
                                f"(every column but the label column {label_column!r})")
        strings = _check_label_type(path, src.schema.field(label_column).type, label_column)
        if src.num_rows == 0:
            raise DataError(f"{path}: no rows; expected one sample per row")
        X = np.empty((src.num_rows, len(features)), np.float32)
        ys, r0 = [], 0
        for batch in src.batches():
            n = batch.num_rows
            if r0 + n > len(X):
                raise DataError(f"{path}: holds more rows than its metadata says ({len(X)}); corrupt file")
            ys.append(_labels(path, batch.column(label_column), label_column, r0, strings))
            for j, name in enumerate(features):
                col = batch.column(name)
                if col.null_count:
                    raise DataError(f"{path}: column {name!r} is empty in row {r0 + _first_null(col) + 1}; "
                                    "expected a number in every row")
                v = col.to_numpy(zero_copy_only=False)
                if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                    i = int(np.flatnonzero(~np.isfinite(v))[0])
                    raise DataError(f"{path}: column {name!r} holds {v[i]} in row {r0 + i + 1}; expected finite "
                                    "numbers")
                X[r0:r0 + n, j] = v
            r0 += n
        if r0 != len(X):
            raise DataError(f"{path}: holds {r0} rows but its metadata says {len(X)}; truncated or corrupt file")
    finally:
        src.close()
    return X, np.concatenate(ys), tuple(features)
