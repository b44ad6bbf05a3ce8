"""``RUN/epochs.csv``: one row per finished epoch, from the read-out's accumulator.

An epoch is finished when its last presentation is (its training stream, then its test
and train_eval passes when the schedule has them). Rows are derived from what the
metrics accumulator holds, which a checkpoint restores exactly, so the table continues
exactly across ``asyncpc resume`` (only ``wall_seconds`` depends on the machine). The
file is rewritten atomically whenever a row is added.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from ._rundir import atomic_write

__all__ = ["COLUMNS", "EpochTable", "epoch_ends"]

COLUMNS = ("epoch", "presentations", "sim_time_ms", "test_accuracy", "train_accuracy", "energy_mean",
           "energy_last", "messages_sent", "wall_seconds")


def epoch_ends(schedule) -> list[int]:
    """The step after each epoch's last presentation (chunk ends, so that the figures at
    an epoch's end are exact)."""
    pt = np.asarray(schedule.probe_t)
    ep = np.asarray(schedule.meta.get("epoch", np.zeros(len(pt), int)))
    if not len(pt):
        return []
    last = np.flatnonzero(np.diff(ep) != 0).tolist() + [len(pt) - 1]
    return [int(pt[i]) + 1 for i in last]


class EpochTable:
    """Rows of finished epochs; :meth:`update` after every chunk adds the new ones."""

    def __init__(self, metrics, path, rows=()):
        self.m, self.path = metrics, path
        self.rows = [dict(r) for r in rows]
        ep = np.asarray(metrics.epoch)
        n = len(ep)
        self.last = {}  # epoch -> index of its last presentation
        for i in range(n):
            self.last[int(ep[i])] = i
        if path is not None and (self.rows or path.exists()):
            self._write()  # on resume: rows written after the checkpoint go

    def update(self, t_ms: float, sent: int, wall: float) -> list[dict]:
        """Rows of the epochs finished since the last call (also written to the file)."""
        m = self.m
        new = []
        done_epochs = {int(r["epoch"]) for r in self.rows}
        for e, i in sorted(self.last.items()):
            if e in done_epochs or i >= m._done:
                continue
            new.append(self._row(e, i, t_ms, sent, wall))
        if new:
            self.rows += new
            self._write()
        return new

    def _row(self, e, i, t_ms, sent, wall) -> dict:
        m = self.m
        names = m.split_names
        ep = np.asarray(m.epoch)
        train = (np.asarray(m.split) == names.index("train")) if "train" in names else np.zeros(len(ep), bool)
        sel = np.flatnonzero((ep == e) & train)
        sel = sel[sel < len(m.energy)]
        E = [float(np.sum(m.energy[k])) for k in sel]
        last = float(np.sum(m.energy[i])) if i < len(m.energy) else None
        return dict(epoch=e, presentations=i + 1, sim_time_ms=round(t_ms, 6),
                    test_accuracy=m._acc("test", e) if "test" in names else None,
                    train_accuracy=m._acc("train_eval", e) if "train_eval" in names else None,
                    energy_mean=float(np.mean(E)) if E else None, energy_last=last,
                    messages_sent=int(sent), wall_seconds=round(wall, 3))

    def _write(self) -> None:
        if self.path is None:  # an MPI rank other than 0: rank 0 writes the file
            return
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in COLUMNS})
        atomic_write(self.path, buf.getvalue())
