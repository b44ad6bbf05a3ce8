"""The run directory: files written atomically, never lost on error or Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

from ..errors import AsyncPCError

__all__ = ["RunDir", "atomic_replace", "atomic_write", "refuse_existing"]


def _file_mode() -> int:
    """What ``open()`` would give a new file (mkstemp makes it 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_replace(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temporary binary file next to ``path``, fsync it and
    rename it to ``path``: a reader (or a resumed run) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path: Path, text: str) -> None:
    """Write text through a temporary file and rename, so a reader never sees half a file."""
    atomic_replace(path, lambda f: f.write(text.encode()))


def refuse_existing(out: Path, *, overwrite: bool) -> None:
    """A run directory that holds a finished run, or one that ``asyncpc resume`` can
    continue, is not written over unless ``overwrite``."""
    man = Path(out) / "manifest.json"
    if overwrite or not man.exists():
        return
    try:
        status = json.loads(man.read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        status = None
    if status in ("completed", "diverged"):
        raise AsyncPCError(f"{out}: holds a finished run (status {status}); choose another --out or pass "
                           "--overwrite to replace it")
    if (Path(out) / "checkpoint" / "checkpoint.npz").exists():  # _checkpoint.CHECKPOINT
        raise AsyncPCError(f"{out}: holds an unfinished run with a checkpoint (status {status}); continue it with "
                           f"`asyncpc resume {out}`, or pass --overwrite to start again")


class RunDir:
    """``scenario.toml``, ``manifest.json``, ``summary.json``, ``metrics.csv``, ``plots/``,
    ``checkpoint/``, ``final_state.npz``.

    While a run writes the directory it holds an exclusive lock on ``RUN/.lock`` (released by
    the OS even when the process is killed), so two processes never write one run.

    ``writer=False``: the view of an MPI rank other than 0, which runs the same loop but
    writes nothing (reads still work; rank 0 writes the directory).
    """

    def __init__(self, path, writer: bool = True):
        self.path = Path(path)
        self.writer = writer
        self._metrics = None
        self._writer = None
        self.metrics_rows = 0
        self._lock = None
        if not writer:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "plots").mkdir(exist_ok=True)
        except OSError as exc:
            raise AsyncPCError(f"{self.path}: cannot create the run directory ({exc.strerror})") from None
        self._take_lock()

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return
        f = open(self.path / ".lock", "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "?"
            f.close()
            raise AsyncPCError(f"{self.path}: another asyncpc process (pid {pid}) is writing this run "
                               "directory; wait for it to end or choose another --out") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._lock = f

    def write_text(self, name: str, text: str) -> Path:
        p = self.path / name
        if self.writer:
            atomic_write(p, text)
        return p

    def write_json(self, name: str, obj) -> Path:
        return self.write_text(name, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")

    def read_json(self, name: str) -> dict:
        return json.loads((self.path / name).read_text())

    def metrics_row(self, row: dict) -> None:
        """Append one row to metrics.csv (header from the first row; flushed every chunk)."""
        if not self.writer:
            self.metrics_rows += 1
            return
        if self._writer is None:
            self._metrics = open(self.path / "metrics.csv", "w", newline="")
            self._writer = csv.DictWriter(self._metrics, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)
        self.metrics_rows += 1

    def metrics_position(self) -> tuple[int, int]:
        """(rows written, bytes on disk) of metrics.csv, after flushing it to the OS."""
        if self._metrics is None:
            return self.metrics_rows, 0
        self._metrics.flush()
        os.fsync(self._metrics.fileno())
        return self.metrics_rows, self._metrics.tell()

    def resume_metrics(self, rows: int, size: int) -> None:
        """Cut metrics.csv back to ``size`` bytes (``rows`` rows, as at a checkpoint) and append
        from there: rows written after the checkpoint are dropped."""
        if not self.writer:
            self.metrics_rows = rows
            return
        p = self.path / "metrics.csv"
        if rows == 0:
            if p.exists():
                p.unlink()
            return
        if not p.exists() or p.stat().st_size < size:
            raise AsyncPCError(f"{p}: shorter than at the checkpoint ({size} bytes, {rows} rows); the run "
                               "directory was changed, start the run again")
        with open(p, "r+b") as f:
            f.truncate(size)
        with open(p, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            n = sum(1 for _ in reader)
        if n != rows:
            raise AsyncPCError(f"{p}: has {n} rows up to the checkpoint's position, the checkpoint says {rows}; "
                               "the run directory was changed, start the run again")
        self._metrics = open(p, "a", newline="")
        self._writer = csv.DictWriter(self._metrics, fieldnames=header)
        self.metrics_rows = rows

    def flush(self) -> None:
        if self._metrics is not None:
            self._metrics.flush()

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
            self._writer = None

    def release(self) -> None:
        """Close metrics.csv and release the directory's lock."""
        self.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _jsonable(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
