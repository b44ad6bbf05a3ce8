"""The default number of engine threads: the CPUs this process may use, and one thread
for a network too small to gain from more.

Measured with ``python tools/bench_threads.py`` on 2 idle cores (docs/engine.md): a
second thread makes xor (130 edges) 0.56x as fast, a digits-shaped network of 2,420
edges 1.13x, 4,820 edges 1.19x, 9,620 edges 1.24x, digits (19,220 edges) 1.29x,
38,420 edges 1.68x, 307,220 edges 1.94x. The threads meet at every window of the
minimum delay, so a small network pays for the meetings more than it gains, and with
a core busy elsewhere a multi-threaded small network slows down several-fold.
"""

from __future__ import annotations

import os

__all__ = ["EDGES_PER_THREAD", "default_threads", "usable_cpus"]

#: One engine thread per this many edges (rounded up), at most one per usable CPU.
EDGES_PER_THREAD = 5_000


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: taskset, cgroup cpusets, SLURM's
    allocation), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def default_threads(n_edges: int, cpus: int | None = None) -> int:
    """``min(usable CPUs, ceil(n_edges / EDGES_PER_THREAD))``, at least 1."""
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(cpus, -(-int(n_edges) // EDGES_PER_THREAD)))
