"""The default number of engine threads: the CPUs this process may use, and one thread
for a network too small to gain from more.

Measured with ``python tools/bench_threads.py`` on 2 idle cores (docs/engine.md): a
second thread makes xor (130 edges) 0.56x as fast, a digits-shaped network of 2,420
edges 1.13x, 4,820 edges 1.19x, 9,620 edges 1.24x, digits (19,220 edges) 1.29x,
38,420 edges 1.68x, 307,220 edges 1.94x. The threads meet at every window of the
minimum delay, so a small network pays for the meetings more than it gains, and with
a core busy elsewhere a multi-threaded network slows down several-fold (the threads
advance step by step in lockstep: one that loses its core holds the others up).

So a run whose thread count was not given is governed (:class:`ThreadGovernor`): before
each chunk, the engine gets at most the default, and one thread fewer per CPU that other
processes kept busy during the last chunk (this process's CPUs, from ``/proc/stat``,
less this process's own CPU time). Results never depend on the thread count.
"""

from __future__ import annotations

import logging
import os
import time

__all__ = ["EDGES_PER_THREAD", "ThreadGovernor", "busy_elsewhere", "default_threads", "usable_cpus"]

log = logging.getLogger("asyncpc")

#: One engine thread per this many edges (rounded up), at most one per usable CPU.
EDGES_PER_THREAD = 5_000


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: taskset, cgroup cpusets, SLURM's
    allocation), else the machine's count."""
    return max(1, len(_affinity()))


def default_threads(n_edges: int, cpus: int | None = None) -> int:
    """``min(usable CPUs, ceil(n_edges / EDGES_PER_THREAD))``, at least 1."""
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(cpus, -(-int(n_edges) // EDGES_PER_THREAD)))


def _cpu_snapshot(cpus) -> tuple[float, float, float] | None:
    """(seconds the CPUs ``cpus`` were busy since boot, this process's CPU seconds, wall
    clock), or None where ``/proc/stat`` cannot say (not Linux)."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    busy, want = 0, {f"cpu{i}" for i in cpus}
    for line in lines:
        name, _, rest = line.partition(" ")
        if name in want:
            v = [int(x) for x in rest.split()]
            busy += v[0] + v[1] + v[2] + sum(v[5:8])  # user nice system, irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK"), time.process_time(), time.perf_counter()


def busy_elsewhere(before, after) -> float | None:
    """CPUs other processes kept busy between two :func:`_cpu_snapshot`s (None: the
    interval is too short to tell, under 50 ms, or there is no snapshot)."""
    if before is None or after is None or after[2] - before[2] < 0.05:
        return None
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / (after[2] - before[2])


class ThreadGovernor:
    """Engine threads per chunk for a run whose thread count was not given: at most
    ``most``, less one per CPU of this process's that others kept busy over the last
    chunk (rounded). The first choice samples ``first_sample`` seconds; later ones the
    chunk just run, so they cost nothing. ``snapshot`` is for tests."""

    def __init__(self, most: int, *, first_sample: float = 0.1, snapshot=None):
        self.most, self.current = max(1, int(most)), max(1, int(most))
        self.cpus = _affinity()
        self._snapshot = snapshot or (lambda: _cpu_snapshot(self.cpus))
        self._last = self._snapshot()
        if self.most > 1 and first_sample > 0 and self._last is not None:
            time.sleep(first_sample)

    def threads(self) -> int:
        """The thread count for the next chunk."""
        if self.most == 1:
            return 1
        now = self._snapshot()
        others = busy_elsewhere(self._last, now)
        if others is None:
            return self.current
        self._last = now
        n = max(1, min(self.most, len(self.cpus) - int(others + 0.5)))
        if n != self.current:
            log.info("%.1f CPUs busy in other processes: %d engine thread%s instead of %d (results do not "
                     "depend on it)", others, n, "" if n == 1 else "s", self.current)
        self.current = n
        return n


def _affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return list(range(os.cpu_count() or 1))
