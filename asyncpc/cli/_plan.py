"""A run's plan: where its chunks end (presentation by presentation, at most a few seconds
of work each), where it checkpoints, which steps the trace snapshots and which chunks it
records, and how a chunk is cut into runtime calls (:class:`Plan`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Plan", "CHUNK_EDGE_STEPS", "N_CHUNKS", "MAX_SNAPSHOTS", "plan_for"]

MAX_SNAPSHOTS = 200_000
N_CHUNKS = 200
CHUNK_EDGE_STEPS = 2 * 10**9  # edges x steps per chunk at most: seconds of work


# ----------------------------------------------------------------------------- the plan
@dataclass
class Plan:
    """Chunk ends (steps), the ends after which a checkpoint is written, the state-snapshot
    steps of the trace, the trace window ``[rec_lo, rec_hi)`` in which chunks record
    send events, and the longest stretch (steps) one runtime call may record: a recording
    chunk is run in pieces of at most ``rec_steps``, so the sends held in memory stay
    bounded. A chunk is also cut where it would lay out more than ``env_rows`` environment
    messages in one call (``schedule``'s frames are expanded call by call). Pieces never
    change a result; continuation is exact."""

    ends: list
    checkpoints: set
    snaps: set
    rec_lo: int = 0
    rec_hi: int = 0
    rec_steps: int | None = None
    schedule: object = None
    env_rows: int = 0

    def records(self, t0: int, until: int) -> bool:
        return until > self.rec_lo and t0 < self.rec_hi

    def pieces(self, t0: int, until: int, record: bool) -> list:
        cuts = set()
        if record and self.rec_steps:
            cuts.update(range(t0 + self.rec_steps, until, self.rec_steps))
        if self.schedule is not None and self.env_rows:
            cuts.update(b for _, b in self.schedule.windows(t0, until, self.env_rows)[:-1])
        return sorted(cuts) + [until]


def _chunks(schedule, n_chunks: int, snapshots=(), checkpoint_every: int = 0):
    """Chunk ends at probe steps (so progress and metrics advance presentation by
    presentation), at state-snapshot steps of the trace, and after every
    ``checkpoint_every``-th presentation. Returns (ends, checkpoint ends)."""
    end = int(schedule.end)
    pt = np.asarray(schedule.probe_t)
    ends = set()
    if len(pt):
        idx = np.unique(np.linspace(0, len(pt) - 1, min(n_chunks, len(pt))).astype(int))
        ends.update(int(pt[i]) + 1 for i in idx)
    ends.update(int(t) for t in snapshots if 0 < t <= end)
    ck = set()
    if checkpoint_every and len(pt):
        ck = {int(pt[k - 1]) + 1 for k in range(checkpoint_every, len(pt) + 1, checkpoint_every)}
        ck = {t for t in ck if 0 < t < end}
        ends.update(ck)
    ends.add(end)
    from ._epochs import epoch_ends

    ends.update(epoch_ends(schedule))  # so the figures of epochs.csv are those at each epoch's end
    return sorted(e for e in ends if 0 < e <= end), ck


def _n_chunks(c, end: int) -> int:
    """Chunks for progress: N_CHUNKS, more when a chunk would exceed CHUNK_EDGE_STEPS (a
    signal is handled between chunks: an MNIST-sized run of 200 chunks held Ctrl-C for
    minutes), fewer when the runtime's ring is long next to the run (each call handles the
    whole ring: with a delay of 1e6 steps in a run of 4000, 200 chunks took two minutes and
    one takes a second)."""
    from ._resources import _ring_rows

    n = max(N_CHUNKS, end * max(int(c.n_edges), 1) // CHUNK_EDGE_STEPS)
    return max(1, min(n, end // max(1, _ring_rows(c) // 16)))


def plan_for(scn, c, schedule) -> Plan:
    from ..errors import ResourceError
    from ._resources import ENV_ROWS, RECORD_ROWS, sends_per_step

    t = scn.trace
    end = int(schedule.end)
    snaps, lo, hi, rec_steps = (), 0, 0, None
    if t.enabled:
        lo = int(round(t.from_ms / c.h))
        hi = end if t.to_ms is None else min(end, int(round(t.to_ms / c.h)))
        if t.state_every:
            n = max(0, (hi - lo) // t.state_every)
            if n > MAX_SNAPSHOTS:
                raise ResourceError(f"trace.state_every: {n:,} state snapshots exceed {MAX_SNAPSHOTS:,}; raise "
                                    "trace.state_every or narrow trace.from / trace.to")
            snaps = range(lo + t.state_every, hi + 1, t.state_every)
        rate = float(sends_per_step(c).sum())
        rec_steps = max(1, int(RECORD_ROWS / max(rate, 1e-9)))
    ends, ck = _chunks(schedule, _n_chunks(c, end), snaps, scn.output.checkpoint_every)
    return Plan(ends, ck, set(snaps), lo, hi, rec_steps, schedule, ENV_ROWS)
