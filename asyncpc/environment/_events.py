"""Laying a :class:`Schedule` out block by block: explicit events, frames and read-out probes,
in presentation order (what :mod:`._protocol`'s protocols build their schedules with).
"""

from __future__ import annotations

import numpy as np

from ._schedule import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Frames, Schedule

__all__ = ["Events", "STREAM_META"]

#: The per-probe ``meta`` arrays of a stream schedule, and their dtypes.
STREAM_META = (("sample", np.int64), ("split", np.int8), ("target", np.int64), ("epoch", np.int64),
               ("t0", np.int64), ("regime", np.int16))


class Events:
    """Explicit events, frames and probes, in presentation order. The per-probe arrays
    (probe steps, ``meta``) are allocated once for ``n_probes`` presentations and filled
    block by block; a presentation's frames read their steps and rows from them (views),
    so the schedule holds ~43 bytes per presentation and building it little more."""

    def __init__(self, n_probes: int, keys=STREAM_META):
        self.t, self.kind, self.neuron, self.value = [], [], [], []
        self.frames = []
        self.probe_t = np.zeros(n_probes, np.int64)
        self.meta = {k: np.zeros(n_probes, dt) for k, dt in keys}
        self.n_probes = 0
        self.gain = 1.0

    def add(self, t, kind, neuron, value):
        t = np.asarray(t, np.int64).ravel()
        self.t.append(t)
        self.kind.append(np.full(len(t), kind, np.int8))
        self.neuron.append(np.broadcast_to(np.asarray(neuron, np.int32), t.shape).copy())
        self.value.append(np.broadcast_to(np.asarray(value, np.float64), t.shape).copy())

    def set_gain(self, t, gain):
        if self.gain != gain:
            self.add([t], EV_MODULATE, -1, gain)
            self.gain = gain

    def block(self, t_start, P, rows, X, sens, lab, targets, *, split, samples, classes, epoch,
              gain, label_delay=0, free=None, regime=0, target_rows=None):
        """Present rows ``rows`` of ``X`` one after another, ``P`` steps each, from ``t_start``.

        ``targets`` (a matrix read at the same rows) clamps the label neurons, ``None``
        leaves them free (unclamped). ``free`` lists neurons to unclamp at each
        presentation's start. A presentation is a few frames, in this order at its first
        step (the order of its messages): unclamp the label, unclamp ``free``, clamp the
        sensory neurons, clamp the label (``label_delay`` steps later when > 0).
        ``target_rows``: the rows of ``targets`` when they are not ``rows``.
        """
        n = len(rows)
        if n == 0:
            return t_start
        sl = slice(self.n_probes, self.n_probes + n)
        t0 = self.meta["t0"][sl]
        t0[:] = t_start + np.arange(n, dtype=np.int64) * P
        self.probe_t[sl] = t0 + P - 1
        for key, v in (("sample", samples), ("split", split), ("target", classes), ("epoch", epoch),
                       ("regime", regime)):
            self.meta[key][sl] = v
        self.n_probes += n
        if rows is samples:  # share the rows with meta["sample"]: no copy per frame
            rows = self.meta["sample"][sl]
        self.set_gain(t_start, gain)
        if targets is None or label_delay > 0:  # the label is free (until its clamp arrives)
            self.frames.append(Frames(t0, lab, EV_UNCLAMP))
        if free is not None:
            self.frames.append(Frames(t0, free, EV_UNCLAMP))
        if len(sens):
            self.frames.append(Frames(t0, sens, EV_CLAMP, np.asarray(X).reshape(len(X), -1), rows))
        if targets is not None:
            self.frames.append(Frames(t0 + label_delay if label_delay else t0, lab, EV_CLAMP, targets,
                                      rows if target_rows is None else target_rows))
        return int(t_start + n * P)

    def schedule(self, readout, env_delay, end, meta) -> Schedule:
        cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
        t = cat(self.t, np.int64)
        order = np.argsort(t, kind="stable")  # blocks are in time order; keep within-step order
        n = self.n_probes
        m = {k: v if len(v) == n else v[:n].copy() for k, v in self.meta.items()}
        m.update(meta)
        return Schedule(t[order], cat(self.kind, np.int8)[order], cat(self.neuron, np.int32)[order],
                        cat(self.value, np.float64)[order], self.probe_t[:n], np.asarray(readout, np.int32),
                        int(env_delay), int(end), m, self.frames)
