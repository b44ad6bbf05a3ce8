"""Up-front estimates of what a run needs: memory for its network and state, disk for its
trace, checkpoints and metrics. A run that would not fit is refused before it starts
(:class:`~asyncpc.errors.ResourceError`, exit 2) with the key that makes it big, the
estimate, the limit and the fix.

Two estimates share one set of byte costs (:mod:`asyncpc.cli._costs`, re-exported here)
and one check (:func:`check_resources`):

- :func:`estimate_scenario`, from the scenario's counts alone
  (:meth:`asyncpc.scenario.Scenario.footprint`): nothing is built, sampled or loaded, so
  it runs first, in ``validate``, ``run``, ``resume``, ``sweep`` and ``graph``;
- :func:`estimate`, from the compiled network and schedule: exact counts (per-neuron
  clock periods, the drawn delays, the trace filter's edges), checked again before the
  runtime allocates its state.

The figures are deliberately pessimistic: every neuron is assumed to send at every tick
(``on_delta`` sends less), and a trace's send row is counted at 20 bytes on disk
(measured: ~11 with zstd on digits; a send row stands for all the traced messages of the
send).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AsyncPCError, ResourceError
from ._costs import (  # callers and tests read (and patch) the figures here
    BLUEPRINT_PAIR_BYTES,
    COMPILE_EDGE_BYTES,
    COMPILE_NODE_BYTES,
    COMPILED_EDGE_BYTES,
    COMPILED_NODE_BYTES,
    CSV_BYTES_PER_FILE_BYTE,
    DATA_COPIES,
    ENV_EVENT_BYTES,
    ENV_ROWS,
    EVENT_BYTES,
    GRAPH_EDGE_BYTES,
    GRAPH_NODE_BYTES,
    GRAPHML_EDGE_BYTES,
    GRAPHML_NODE_BYTES,
    GRAPHML_READ_BYTES_PER_FILE_BYTE,
    GRAPHML_WRITE_BYTES_PER_FILE_BYTE,
    IDX_BYTES_PER_VALUE,
    IN_FLIGHT_BYTES,
    MAX_SNAPSHOTS,
    METRICS_ROW_BYTES,
    PROBE_META_BYTES,
    RECORD_BYTES,
    RECORD_ROWS,
    RING_BYTES,
    RING_COPIES,
    RUNTIME_EDGE_BYTES,
    RUNTIME_NODE_BYTES,
    STATE_BYTES_PER_ROW,
    STATE_EDGE_BYTES,
    STATE_NODE_BYTES,
    TRACE_BYTES_PER_SEND,
)

__all__ = [
    "ENV_ROWS",
    "RECORD_ROWS",
    "TRACE_BYTES_PER_SEND",
    "Estimate",
    "check_resources",
    "estimate",
    "estimate_graph_export",
    "estimate_scenario",
    "fmt_bytes",
    "messages_per_step",
    "parse_size",
    "sends_per_step",
]

#: What to change when a part of the estimate is too big.
_FIX = {
    "network": "use a smaller network (fewer or smaller areas, a lower p, or receptive fields)",
    "history ring": "shorten the longest delay or clock period (the engine keeps a ring row per step of it), "
                    "or run on the actor runtime",
    "runtime state": "use a smaller network",
    "schedule": "present fewer samples (data.epochs, data.max_train, data.max_test)",
    "environment messages": "present fewer samples (data.epochs, data.max_train, data.max_test)",
    "probes and metrics": "present fewer samples (data.epochs, data.max_train, data.max_test), probe less often "
                          "(data.probe_every, constant clamps) or read out fewer areas",
    "dataset": "use a smaller data file (or data.max_train / data.max_test after loading)",
    "trace recording": "narrow trace.neurons, trace.roles or trace.from / trace.to",
    "checkpoints": "free disk space or write the run elsewhere with --out",
    "metrics": "free disk space, write the run elsewhere with --out, or present fewer samples",
    "GraphML file": "export a smaller network, or free disk space",
}


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
    for unit, k in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.3g} {unit}" if n < 1e21 else f"{float(n):.3g} bytes"
    return f"{int(n)} B"


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtTpP]?)(i?)([bB]?)\s*$")


def parse_size(text, what: str) -> int | None:
    """``"10GB"``, ``"500M"``, ``"1.5 GiB"``, ``"123"`` (bytes) -> bytes; None/"" -> None."""
    if text is None or str(text).strip() == "":
        return None
    m = _SIZE.match(str(text))
    if not m:
        raise AsyncPCError(f"{what}: expected a size such as 10GB, 500MB or 1.5GiB, got {text!r}")
    base = 1024 if m.group(3) else 1000
    return int(float(m.group(1)) * base ** " kmgtp".index(m.group(2).lower() or " "))


@dataclass
class Estimate:
    """What a run (or the rest of a resumed run, or an export) needs, in bytes.

    ``memory`` maps a part (``network``, ``history ring``, ...) to bytes; ``allocated``
    names the parts already in memory when the estimate was made (they count against
    ``--max-memory`` but not against the memory still available). ``blame`` maps a part
    to the :class:`~asyncpc.scenario._footprint.Blame` (key and value) that drives it.
    ``build_peak``: the network's own peak while it is built and compiled (the compiled
    arrays and the transient rows, before the runtime allocates anything).
    """

    trace_rows: int = 0
    build_peak: int = 0
    trace_sends: int = 0
    trace_bytes: int = 0
    state_rows: int = 0
    state_bytes: int = 0
    checkpoint_bytes: int = 0
    metrics_bytes: int = 0
    export_bytes: int = 0
    memory: dict = field(default_factory=dict)
    allocated: set = field(default_factory=set)
    record_rows: int = 0
    blame: dict = field(default_factory=dict)
    scn: object = None
    counts: str = ""
    scale: tuple = (1, 1, "")  # (memory factor, disk factor, why): a sweep's parallel jobs and points

    @property
    def disk(self) -> int:
        d = self.trace_bytes + self.state_bytes + self.checkpoint_bytes + self.metrics_bytes + self.export_bytes
        return d * self.scale[1]

    @property
    def memory_bytes(self) -> int:
        return int(sum(self.memory.values())) * self.scale[0]

    def error(self, part: str, message: str) -> ResourceError:
        """A ResourceError naming the key behind ``part`` (``file:line: key = value: ...``)."""
        b = self.blame.get(part)
        if self.scn is None or b is None:
            return ResourceError(message)
        return b.error(self.scn, message, cls=ResourceError)


# ----------------------------------------------------------------------------- from the scenario
def estimate_scenario(scn, *, runtime: str | None = None, t0: int = 0, trace_rows_done: int = 0) -> Estimate:
    """Estimate a run (from step ``t0``, for a resume) from the scenario's counts alone;
    nothing is built or loaded (see the module docstring). Raises ResourceError for more
    state snapshots than a trace may hold."""
    from ..scenario._footprint import Blame

    runtime = runtime or scn.run.runtime
    fp = scn.footprint()
    N, E = fp.neurons, fp.edges
    est = Estimate(scn=scn, counts=f"~{N:.3g} neurons, ~{E:.3g} edges")
    net = fp.network
    # a product of two counts is blamed on the larger: the network's size, or the other key
    per_presentation = fp.events / max(fp.probes, 1)
    est.blame = {"network": net, "runtime state": net, "checkpoints": net, "dataset": fp.data_key,
                 "history ring": net if N >= (fp.ring or 0) else fp.ring_key,
                 "schedule": net if per_presentation >= fp.probes else fp.probes_key,
                 "environment messages": net if per_presentation >= fp.probes else fp.probes_key,
                 "probes and metrics": net if fp.readout >= fp.probes else fp.probes_key,
                 "metrics": fp.probes_key, "trace recording": Blame(("trace", "neurons"))}
    graph, compile_peak = _build_bytes(fp)
    compiled = N * COMPILED_NODE_BYTES + E * COMPILED_EDGE_BYTES
    ring = (fp.ring or 0) * N * RING_BYTES
    rate = fp.send_rate / max(N, 1)
    in_flight = E * rate * (fp.ring or 1)
    later = {
        "runtime state": E * RUNTIME_EDGE_BYTES.get(runtime, 250) + N * RUNTIME_NODE_BYTES.get(runtime, 4000)
        + (0 if runtime == "engine" else int(in_flight * IN_FLIGHT_BYTES)),
        "history ring": RING_COPIES * ring if runtime == "engine" else 0,
        "schedule": fp.explicit_events * EVENT_BYTES + fp.probes * PROBE_META_BYTES + fp.targets * 8,
        "environment messages": min(fp.events, ENV_ROWS) * ENV_EVENT_BYTES,
        "probes and metrics": 2 * _metrics_arrays(fp.probes, fp.readout, fp.areas),
    }
    _trace_scenario(est, fp, t0, trace_rows_done, runtime)
    if est.record_rows:
        later["trace recording"] = est.record_rows * RECORD_BYTES.get(runtime, 200)
    # compile_network's transient rows are freed before the runtime allocates its state
    est.build_peak = graph + compiled + compile_peak
    est.memory["network"] = graph + compiled + max(0, compile_peak - sum(later.values()))
    est.memory.update(later)
    if fp.samples:
        per_value = IDX_BYTES_PER_VALUE if fp.data_kind == "idx" else 8 * DATA_COPIES
        data = fp.samples * fp.features * per_value
        if str(scn.data.source).lower().endswith(".csv"):
            data += fp.data_file_bytes * CSV_BYTES_PER_FILE_BYTE
        est.memory["dataset"] = data
    carried = N * STATE_NODE_BYTES + E * STATE_EDGE_BYTES + _metrics_arrays(fp.probes, fp.readout, fp.areas)
    carried += ring if runtime == "engine" else int(in_flight * 32)
    _disk(est, scn, N, E, carried, fp.probes, fp.areas)
    return est


def _metrics_arrays(probes: int, readout: int, areas: int) -> int:
    """Bytes of the per-presentation arrays (read-outs, energies, metadata) of a run."""
    return probes * (readout + areas + 8) * 8


def _disk(est: Estimate, scn, N: int, E: int, carried: int, probes: int, areas: int) -> None:
    # the new checkpoint is written before the old one goes; Ctrl-C writes one too
    est.checkpoint_bytes = (2 if scn.output.checkpoint_every else 1) * carried
    est.checkpoint_bytes += (N + E) * 8 * 3  # final_state.npz
    est.metrics_bytes = probes * (METRICS_ROW_BYTES + 24 * areas)


def _trace_scenario(est: Estimate, fp, t0: int, rows_done: int, runtime: str) -> None:
    """The trace's rows, sends, state rows and recording buffer, from the footprint's rates."""
    from ..scenario._footprint import Blame

    tr = fp.trace
    if tr is None:
        return
    scn = est.scn
    lo, hi = max(tr["lo"], t0), tr["hi"]
    window = max(0, hi - lo)
    t = scn.trace
    if t.state_every and window // t.state_every > MAX_SNAPSHOTS:
        raise Blame(("trace", "state_every"), t.state_every).error(
            scn, f"{window // t.state_every:.3g} state snapshots exceed {MAX_SNAPSHOTS:,}; raise trace.state_every "
                 "or narrow trace.from / trace.to", cls=ResourceError)
    rows = tr["rows_per_step"] * window
    est.trace_rows = int(min(rows, max(0, tr["max_rows"] - rows_done)))
    sends = tr["sends_per_step"] * window
    est.trace_sends = int(sends * (est.trace_rows / rows if rows else 0.0)) + 1  # the cap cuts sends too
    est.trace_bytes = est.trace_sends * TRACE_BYTES_PER_SEND
    if t.state_every:
        est.state_rows = int(tr["state_rows_per_step"] * window)
        est.state_bytes = est.state_rows * STATE_BYTES_PER_ROW
    if window:
        est.record_rows = int(min(RECORD_ROWS + fp.send_rate, fp.send_rate * window)) + 1
    est.blame["trace"] = tr["key"]


def _build_bytes(fp) -> tuple[int, int]:
    """``(graph, compile's transient peak)``: a GraphML network is read into a graph and
    compiled from it; areas and projections are compiled from their blueprint (no graph,
    one chunk of draws at a time)."""
    from ..model._build import CHUNK_PAIRS

    N, E = fp.neurons, fp.edges
    if not fp.graphml_bytes:
        return 0, N * COMPILE_NODE_BYTES + min(E // 2, CHUNK_PAIRS) * BLUEPRINT_PAIR_BYTES
    graph = max(N * GRAPH_NODE_BYTES + E * GRAPH_EDGE_BYTES, fp.graphml_bytes * GRAPHML_READ_BYTES_PER_FILE_BYTE)
    return graph, N * COMPILE_NODE_BYTES + E * COMPILE_EDGE_BYTES


def estimate_graph_export(scn) -> Estimate:
    """``asyncpc graph --export``: building the network, and the GraphML file it writes."""
    fp = scn.footprint()
    N, E = fp.neurons, fp.edges
    est = Estimate(scn=scn, counts=f"~{N:.3g} neurons, ~{E:.3g} edges")
    est.blame = {"network": fp.network, "GraphML file": fp.network}
    est.export_bytes = N * GRAPHML_NODE_BYTES + E * GRAPHML_EDGE_BYTES
    graph = N * GRAPH_NODE_BYTES + E * GRAPH_EDGE_BYTES
    if fp.graphml_bytes:
        graph = max(graph, fp.graphml_bytes * GRAPHML_READ_BYTES_PER_FILE_BYTE)
    est.memory["network"] = graph + est.export_bytes * GRAPHML_WRITE_BYTES_PER_FILE_BYTE
    return est


# ----------------------------------------------------------------------------- from the compiled net
def _ring_rows(c) -> int:
    """An upper bound of the engine's history ring length (docs/engine.md)."""
    d = int((np.asarray(c.delay) + np.asarray(c.jit)).max(initial=1))
    p = int((np.asarray(c.period) + np.asarray(c.cjit)).max(initial=1))
    return d + p + 32 + 2


def estimate(c, schedule, scn, *, runtime: str, plan, t0: int = 0, trace_rows_done: int = 0) -> Estimate:
    """Estimate the rest of a run from step ``t0``; ``plan`` (``_run.Plan``) gives its chunk
    ends, which chunks record send events for the trace and the longest recorded stretch.
    The network, the schedule and the data are already in memory (``allocated``)."""
    fp = scn.footprint()
    N, E = c.n_neurons, c.n_edges
    est = Estimate(scn=scn, counts=f"{N:,} neurons, {E:,} edges")
    est.blame = {"network": fp.network, "runtime state": fp.network, "history ring": fp.ring_key,
                 "probes and metrics": fp.probes_key, "checkpoints": fp.network, "metrics": fp.probes_key}
    end = int(schedule.end)
    rate = messages_per_step(c)
    t = scn.trace
    if t.enabled:
        from ..scenario._footprint import Blame
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
        est.blame["trace"] = Blame(("trace", "max_rows"), t.max_rows)
        est.blame["trace recording"] = Blame(("trace", "neurons"))
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
    ring_b = L * N * RING_BYTES
    in_flight = float((rate * (np.asarray(c.delay) + np.asarray(c.jit))).sum())
    n_probes = len(schedule.probe_t)
    metrics_b = _metrics_arrays(n_probes, len(schedule.readout), len(c.area_names))
    carried = N * STATE_NODE_BYTES + E * STATE_EDGE_BYTES + metrics_b
    carried += ring_b if runtime == "engine" else int(in_flight * 32)
    _disk(est, scn, N, E, carried, n_probes, len(c.area_names))
    est.memory["network"] = N * (GRAPH_NODE_BYTES + COMPILED_NODE_BYTES) + E * (GRAPH_EDGE_BYTES + COMPILED_EDGE_BYTES)
    est.memory["schedule"] = schedule.nbytes()
    est.blame["environment messages"] = fp.probes_key
    est.memory["environment messages"] = min(schedule.count(t0, end), plan.env_rows or ENV_ROWS) * ENV_EVENT_BYTES
    est.allocated = {"network", "schedule"}
    est.memory["runtime state"] = E * RUNTIME_EDGE_BYTES.get(runtime, 250) + N * RUNTIME_NODE_BYTES.get(runtime, 4000)
    if runtime == "engine":
        est.memory["history ring"] = RING_COPIES * ring_b
    else:
        est.memory["runtime state"] += int(in_flight * IN_FLIGHT_BYTES)
    est.memory["probes and metrics"] = 2 * metrics_b
    if est.record_rows:
        est.memory["trace recording"] = est.record_rows * RECORD_BYTES.get(runtime, 200)
    return est


# ----------------------------------------------------------------------------- the check
def _free_disk(path: Path) -> tuple[Path, int]:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p, shutil.disk_usage(p).free


def available_memory() -> int | None:
    """Memory available to a new allocation (``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo", "rb", buffering=0) as f:  # MemAvailable is in its first lines
            for line in f.read(512).splitlines():
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_resources(est: Estimate, run_dir, *, max_disk: int | None = None, max_memory: int | None = None) -> None:
    """Raise :class:`ResourceError` (one line: key, estimate, limit, fix) when ``est`` does
    not fit the available memory or ``max_memory``, or the free disk of ``run_dir`` or
    ``max_disk``. Memory is checked first: it is what a typo'd size exhausts."""
    _check_memory(est, max_memory)
    _check_disk(est, run_dir, max_disk)


def _check_memory(est: Estimate, max_memory) -> None:
    avail = available_memory()
    mem = est.memory_bytes
    fresh = mem - int(sum(v for k, v in est.memory.items() if k in est.allocated)) * est.scale[0]
    limits = []
    if avail is not None:
        limits.append((fresh, avail, f"this machine has {fmt_bytes(avail)} available"))
    if max_memory is not None:
        limits.append((mem, max_memory, f"the limit is {fmt_bytes(max_memory)} (--max-memory / ASYNCPC_MAX_MEMORY)"))
    over = [x for x in limits if x[0] > x[1]]
    if not over:
        return
    need, _, what = min(over, key=lambda x: x[1])
    worst = max(est.memory, key=est.memory.get)
    parts = ", ".join(f"{k} ~{fmt_bytes(v)}" for k, v in sorted(est.memory.items(), key=lambda kv: -kv[1]) if v)
    b = est.blame.get(worst)
    lead = "the network" if b is not None and b == est.blame.get("network") else "this run"
    counts = f"{est.counts}; " if est.counts else ""
    fix = _FIX["network"] if lead == "the network" else _FIX.get(worst, _FIX["network"])
    raise est.error(worst, f"{lead} would need ~{fmt_bytes(need)} of memory{est.scale[2]} ({counts}{parts}), but "
                           f"{what}; {fix}")


def _check_disk(est: Estimate, run_dir, max_disk) -> None:
    where, free = _free_disk(Path(run_dir))
    need = est.disk
    limits = [(free, f"{fmt_bytes(free)} are free on {where}")]
    if max_disk is not None:
        limits.append((max_disk, f"the limit is {fmt_bytes(max_disk)} (--max-disk / ASYNCPC_MAX_DISK)"))
    limit, what = min(limits, key=lambda x: x[0])
    if need <= limit:
        return
    parts = {"trace": est.trace_bytes + est.state_bytes, "checkpoints": est.checkpoint_bytes,
             "metrics": est.metrics_bytes, "GraphML file": est.export_bytes}
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
        what_writes = "this export" if worst == "GraphML file" else "this run"
        detail = f"{what_writes} would write ~{fmt_bytes(need)}{est.scale[2]} ({worst} ~{fmt_bytes(parts[worst])})"
        fix = _FIX[worst]
    raise est.error(worst, f"{detail}, but {what}; {fix}")


def limits_from_env(max_disk=None, max_memory=None) -> tuple[int | None, int | None]:
    """The CLI flags, else ``ASYNCPC_MAX_DISK`` / ``ASYNCPC_MAX_MEMORY``, as bytes."""
    d = parse_size(max_disk if max_disk is not None else os.environ.get("ASYNCPC_MAX_DISK"), "--max-disk")
    m = parse_size(max_memory if max_memory is not None else os.environ.get("ASYNCPC_MAX_MEMORY"), "--max-memory")
    return d, m


def precheck(scn, out, *, runtime=None, max_disk=None, max_memory=None, t0=0, trace_rows_done=0) -> Estimate:
    """The up-front check of ``validate``, ``run``, ``resume`` and ``sweep``: the scenario's
    estimate against memory and the disk of ``out``, then the limits no machine lifts
    (32-bit ids, the longest run). Nothing is built before it passes."""
    d, m = limits_from_env(max_disk, max_memory)
    est = estimate_scenario(scn, runtime=runtime, t0=t0, trace_rows_done=trace_rows_done)
    check_resources(est, out, max_disk=d, max_memory=m)
    scn.footprint().check_limits(scn)
    return est
