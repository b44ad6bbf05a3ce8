"""Up-front estimates of what a run needs: memory for its state, disk for its trace,
checkpoints and metrics. A run that would not fit is refused before it starts
(:class:`~asyncpc.errors.ResourceError`, exit 2) with the estimate and the fix.

The figures are deliberately pessimistic: every neuron is assumed to send at every
tick (``on_delta`` sends less), and a trace's send row is counted at 20 bytes on disk
(measured: ~11 with zstd on digits; a send row stands for all the traced messages of
the send).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AsyncPCError, ResourceError

__all__ = [
    "RECORD_ROWS",
    "TRACE_BYTES_PER_SEND",
    "Estimate",
    "check_resources",
    "estimate",
    "fmt_bytes",
    "messages_per_step",
    "parse_size",
    "sends_per_step",
]

#: Bytes a trace's send row (t, src, s, rate) takes on disk (Parquet, zstd), conservatively:
#: measured ~11 on digits (tools/bench_trace.py), more on tiny traces.
TRACE_BYTES_PER_SEND = 20
#: Bytes a state-snapshot row (t, neuron, s) takes on disk, conservatively.
STATE_BYTES_PER_ROW = 16
#: Send events the runtime records per call at most while tracing (chunks are cut shorter
#: inside the trace window to keep to it): the recording buffer stays ~0.25-0.4 GB.
RECORD_ROWS = 2_000_000
#: Bytes per recorded send while a chunk is held in memory (buffers, concatenation,
#: sort, filter): engine numpy columns; actor runtime Python lists.
RECORD_BYTES = {"engine": 120, "actors": 200}


def messages_per_step(c) -> np.ndarray:
    """Expected messages per step on each edge: its sender ticks every ``period`` steps."""
    return 1.0 / np.maximum(np.asarray(c.period, np.float64), 1.0)[c.src] if c.n_edges else np.zeros(0)


def sends_per_step(c, mask=None) -> np.ndarray:
    """Expected send events per step of each neuron that has an out-edge (on ``mask``,
    a boolean mask over edges): it sends every ``period`` steps."""
    has = np.zeros(c.n_neurons, bool)
    has[np.asarray(c.src)[mask] if mask is not None else np.asarray(c.src)] = True
    return np.where(has, 1.0 / np.maximum(np.asarray(c.period, np.float64), 1.0), 0.0)


def fmt_bytes(n: float) -> str:
    for unit, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{int(n)} B"


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(i?)([bB]?)\s*$")


def parse_size(text, what: str) -> int | None:
    """``"10GB"``, ``"500M"``, ``"1.5 GiB"``, ``"123"`` (bytes) -> bytes; None/"" -> None."""
    if text is None or str(text).strip() == "":
        return None
    m = _SIZE.match(str(text))
    if not m:
        raise AsyncPCError(f"{what}: expected a size such as 10GB, 500MB or 1.5GiB, got {text!r}")
    base = 1024 if m.group(3) else 1000
    return int(float(m.group(1)) * base ** " kmgt".index(m.group(2).lower() or " "))


@dataclass
class Estimate:
    """What a run (or the rest of a resumed run) needs, in bytes."""

    trace_rows: int = 0
    trace_sends: int = 0
    trace_bytes: int = 0
    state_rows: int = 0
    state_bytes: int = 0
    checkpoint_bytes: int = 0
    metrics_bytes: int = 0
    memory: dict = field(default_factory=dict)
    record_rows: int = 0

    @property
    def disk(self) -> int:
        return self.trace_bytes + self.state_bytes + self.checkpoint_bytes + self.metrics_bytes

    @property
    def memory_bytes(self) -> int:
        return int(sum(self.memory.values()))


def _ring_rows(c) -> int:
    """An upper bound of the engine's history ring length (docs/engine.md)."""
    d = int((np.asarray(c.delay) + np.asarray(c.jit)).max(initial=1))
    p = int((np.asarray(c.period) + np.asarray(c.cjit)).max(initial=1))
    return d + p + 32 + 2


def estimate(c, schedule, scn, *, runtime: str, plan, t0: int = 0, trace_rows_done: int = 0) -> Estimate:
    """Estimate the rest of a run from step ``t0``; ``plan`` (``_run.Plan``) gives its chunk
    ends, which chunks record send events for the trace and the longest recorded stretch."""
    est = Estimate()
    N, E = c.n_neurons, c.n_edges
    end = int(schedule.end)
    rate = messages_per_step(c)
    t = scn.trace
    if t.enabled:
        from ..trace import TraceFilter, select_neurons

        roles = [r for r in t.roles if r != "environment"]
        filt = TraceFilter.build(c, neurons=list(t.neurons), roles=roles, t_from_ms=t.from_ms, t_to_ms=t.to_ms,
                                 every=t.every, max_rows=t.max_rows)
        lo, hi = max(filt.t_from, t0), min(filt.t_to, end)
        rows = float(rate[filt.edge_mask].sum()) * max(0, hi - lo) / filt.every
        est.trace_rows = int(min(rows, max(0, t.max_rows - trace_rows_done)))
        sends = float(sends_per_step(c, filt.edge_mask).sum()) * max(0, hi - lo)
        est.trace_sends = int(sends * (est.trace_rows / rows if rows else 0.0)) + 1  # the cap cuts sends too
        est.trace_bytes = est.trace_sends * TRACE_BYTES_PER_SEND
        if t.state_every:
            n_sel = int(select_neurons(c, list(t.neurons)).sum())
            est.state_rows = n_sel * (max(0, hi - lo) // t.state_every)
            est.state_bytes = est.state_rows * STATE_BYTES_PER_ROW
        send_rate = float(sends_per_step(c).sum())
        prev = t0
        for u in plan.ends:
            if u > t0 and plan.records(prev, u):
                steps = min(u - prev, plan.rec_steps or (u - prev))
                est.record_rows = max(est.record_rows, int(send_rate * steps) + 1)
            prev = max(prev, u)
    # the carried state: what a checkpoint holds and what the runtime works on
    L = _ring_rows(c)
    state_b = N * 90 + E * 16
    ring_b = L * N * 17
    in_flight = float((rate * (np.asarray(c.delay) + np.asarray(c.jit))).sum())
    n_probes = len(schedule.probe_t)
    metrics_b = n_probes * (len(schedule.readout) + len(c.area_names) + 8) * 8
    carried = state_b + (ring_b if runtime == "engine" else int(in_flight * 32)) + metrics_b
    # the new checkpoint is written before the old one goes; Ctrl-C writes one too
    est.checkpoint_bytes = (2 if scn.output.checkpoint_every else 1) * carried
    est.checkpoint_bytes += (N + E) * 8 * 3  # final_state.npz
    est.metrics_bytes = n_probes * (80 + 24 * len(c.area_names))
    if runtime == "engine":
        est.memory["runtime state"] = E * 120 + N * 400 + 3 * ring_b
    else:
        est.memory["runtime state"] = E * 250 + N * 4000 + int(in_flight * 96)
    est.memory["metrics"] = 2 * metrics_b
    if est.record_rows:
        est.memory["trace recording"] = est.record_rows * RECORD_BYTES.get(runtime, 200)
    return est


def _free_disk(path: Path) -> tuple[Path, int]:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p, shutil.disk_usage(p).free


def available_memory() -> int | None:
    """Memory available to a new allocation (``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_resources(est: Estimate, run_dir, *, max_disk: int | None = None, max_memory: int | None = None) -> None:
    """Raise :class:`ResourceError` (one line: estimate, limit, fix) when ``est`` does not fit
    the free disk of ``run_dir``, ``max_disk``, the available memory or ``max_memory``."""
    where, free = _free_disk(Path(run_dir))
    need = est.disk
    limits = [(free, f"{fmt_bytes(free)} are free on {where}")]
    if max_disk is not None:
        limits.append((max_disk, f"the limit is {fmt_bytes(max_disk)} (--max-disk / ASYNCPC_MAX_DISK)"))
    limit, what = min(limits, key=lambda x: x[0])
    if need > limit:
        parts = {"trace": est.trace_bytes + est.state_bytes, "checkpoints": est.checkpoint_bytes,
                 "metrics": est.metrics_bytes}
        worst = max(parts, key=parts.get)
        if worst == "trace":
            per_row = est.trace_bytes / max(est.trace_rows, 1)
            room = int(max(0, limit - (need - est.trace_bytes - est.state_bytes)) / max(per_row, 1e-9))
            detail = (f"this trace would write ~{fmt_bytes(est.trace_bytes + est.state_bytes)} "
                      f"(~{est.trace_rows:.3g} messages as ~{est.trace_sends:.3g} sends at "
                      f"~{TRACE_BYTES_PER_SEND} B each")
            detail += f", {est.state_rows:.3g} state rows)" if est.state_rows else ")"
            fix = ("narrow trace.neurons, trace.roles or trace.from / trace.to, raise trace.every, or set "
                   f"trace.max_rows (~{room:.2g} rows would fit)")
        else:
            detail = f"this run would write ~{fmt_bytes(need)} ({worst} ~{fmt_bytes(parts[worst])})"
            fix = "free disk space or write the run elsewhere with --out"
        raise ResourceError(f"{detail}, but {what}; {fix}")
    avail = available_memory()
    mem = est.memory_bytes
    limits = []
    if avail is not None:
        limits.append((avail, f"{fmt_bytes(avail)} are available"))
    if max_memory is not None:
        limits.append((max_memory, f"the limit is {fmt_bytes(max_memory)} (--max-memory / ASYNCPC_MAX_MEMORY)"))
    if limits and mem > min(limits, key=lambda x: x[0])[0]:
        limit, what = min(limits, key=lambda x: x[0])
        parts = ", ".join(f"{k} ~{fmt_bytes(v)}" for k, v in est.memory.items() if v)
        raise ResourceError(f"this run would need ~{fmt_bytes(mem)} of memory ({parts}), but {what}; use a "
                            "smaller network (network.sizes) or a machine with more memory")


def limits_from_env(max_disk=None, max_memory=None) -> tuple[int | None, int | None]:
    """The CLI flags, else ``ASYNCPC_MAX_DISK`` / ``ASYNCPC_MAX_MEMORY``, as bytes."""
    d = parse_size(max_disk if max_disk is not None else os.environ.get("ASYNCPC_MAX_DISK"), "--max-disk")
    m = parse_size(max_memory if max_memory is not None else os.environ.get("ASYNCPC_MAX_MEMORY"), "--max-memory")
    return d, m
