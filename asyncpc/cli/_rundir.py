"""The run directory: files written atomically, never lost on error or Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

from ..errors import AsyncPCError

__all__ = ["RunDir"]


def atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RunDir:
    """``scenario.toml``, ``manifest.json``, ``summary.json``, ``metrics.csv``, ``plots/``."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "plots").mkdir(exist_ok=True)
        except OSError as exc:
            raise AsyncPCError(f"{self.path}: cannot create the run directory ({exc.strerror})") from None
        self._metrics = None
        self._writer = None

    def write_text(self, name: str, text: str) -> Path:
        p = self.path / name
        atomic_write(p, text)
        return p

    def write_json(self, name: str, obj) -> Path:
        return self.write_text(name, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")

    def metrics_row(self, row: dict) -> None:
        """Append one row to metrics.csv (header from the first row; flushed every row)."""
        if self._writer is None:
            self._metrics = open(self.path / "metrics.csv", "w", newline="")
            self._writer = csv.DictWriter(self._metrics, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)

    def flush(self) -> None:
        if self._metrics is not None:
            self._metrics.flush()

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None


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
