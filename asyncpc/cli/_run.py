"""``asyncpc run``: scenario -> network -> runtime -> run directory."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

import numpy as np

from .. import __version__
from ..errors import AsyncPCError, DivergenceError
from ._rundir import RunDir

__all__ = ["execute", "pick_runtime"]


def pick_runtime(name: str):
    """The ``run`` function of a runtime by name."""
    if name == "engine":
        from ..engine import run
    elif name == "actors":
        from ..actors import run
    else:
        raise AsyncPCError(f"--runtime: must be 'engine' or 'actors', got {name!r}")
    return run


MAX_SNAPSHOTS = 200_000


def _chunks(schedule, n_chunks: int, snapshots=()):
    """Chunk ends at probe steps (so progress and metrics advance presentation by
    presentation) and at state-snapshot steps of the trace."""
    end = int(schedule.end)
    pt = np.asarray(schedule.probe_t)
    ends = set()
    if len(pt):
        idx = np.unique(np.linspace(0, len(pt) - 1, min(n_chunks, len(pt))).astype(int))
        ends.update(int(pt[i]) + 1 for i in idx)
    ends.update(int(t) for t in snapshots if 0 < t <= end)
    ends.add(end)
    return sorted(e for e in ends if e > 0)


def _trace_setup(scn, c, rd, runtime, schedule):
    """A TraceWriter and the snapshot steps, or (None, ()) when tracing is off."""
    from .. import __version__ as version
    from ..errors import ResourceError
    from ..trace import TraceFilter, TraceWriter, select_neurons

    t = scn.trace
    if not t.enabled:
        return None, ()
    roles = [r for r in t.roles if r != "environment"]  # environment messages live in the schedule
    filt = TraceFilter.build(c, neurons=list(t.neurons), roles=roles, t_from_ms=t.from_ms, t_to_ms=t.to_ms,
                             every=t.every, max_rows=t.max_rows)
    snaps = ()
    mask = None
    if t.state_every:
        lo = int(round(t.from_ms / c.h))
        hi = int(schedule.end) if t.to_ms is None else min(int(schedule.end), int(round(t.to_ms / c.h)))
        n = max(0, (hi - lo) // t.state_every)
        if n > MAX_SNAPSHOTS:
            raise ResourceError(f"trace.state_every: {n:,} state snapshots exceed {MAX_SNAPSHOTS:,}; raise "
                                "trace.state_every or narrow trace.from / trace.to")
        snaps = range(lo + t.state_every, hi + 1, t.state_every)
        mask = select_neurons(c, list(t.neurons))
    w = TraceWriter(rd.path, c, filt=filt, state_mask=mask,
                    meta=dict(scenario_hash=scn.hash(), asyncpc_version=version, runtime=runtime))
    return w, snaps


ENERGY_LIMIT = 1e12


def _check_finite(c, state, t, energy=None):
    if energy is not None and len(energy) and not np.all(np.abs(energy[-1]) < ENERGY_LIMIT):
        e = np.asarray(energy[-1])
        a = int(np.argmax(np.where(np.isfinite(e), e, np.inf)))
        raise DivergenceError(
            f"run diverged: the energy of area {c.area_names[a]} reached {e[a]:.3g} by t = {t * c.h:.1f} ms "
            f"(limit {ENERGY_LIMIT:g}); lower learning.eta, shorten the clock period or lengthen neurons.tau_x")
    bad = np.flatnonzero(~np.isfinite(state.s))
    if len(bad) == 0:
        return
    i = int(bad[0])
    area = c.area_names[c.area[i]]
    kind = "value" if c.kind[i] == 0 else "error"
    inbox = state.inbox[c.in_ptr[i]:c.in_ptr[i + 1]]
    shown = ", ".join(f"{v:.3g}" for v in inbox[:6]) + (" ..." if len(inbox) > 6 else "")
    raise DivergenceError(
        f"run diverged: {kind} neuron {area}:{int(c.index[i])} is {state.s[i]} by t = {t * c.h:.1f} ms "
        f"(last inputs: [{shown}]); lower learning.eta, shorten the clock period or lengthen neurons.tau_x")


def execute(scn, *, out: str | None, runtime: str | None, threads: int | None, quiet: bool,
            argv: list[str]) -> dict:
    """Run a loaded scenario and write its run directory. Returns the summary."""
    from ..compile import compile_network
    from ._metrics import Metrics
    from ._progress import Progress

    started = datetime.now(timezone.utc)
    t_wall = time.perf_counter()
    runtime = runtime or scn.run.runtime
    threads = threads if threads is not None else scn.run.threads
    threads = threads or (os.cpu_count() or 1)
    run_fn = pick_runtime(runtime)

    net = scn.build_network()
    c = compile_network(net, scn.run.h)
    data = scn.load_data()
    schedule = scn.schedule(c, data)
    rd = RunDir(out or scn.output.dir)
    rd.write_text("scenario.toml", scn.to_toml())
    manifest = dict(asyncpc=__version__, python=platform.python_version(), numpy=np.__version__,
                    numba=_version("numba"), networkx=_version("networkx"), platform=platform.platform(),
                    seed=scn.run.seed, runtime=runtime, threads=threads, command=" ".join(argv),
                    scenario_hash=scn.hash(), started=started.isoformat(), ended=None,
                    neurons=c.n_neurons, edges=c.n_edges, steps=int(schedule.end), h_ms=c.h)
    rd.write_json("manifest.json", manifest)

    metrics = Metrics(c, schedule, data, rd)
    tracer, snaps = _trace_setup(scn, c, rd, runtime, schedule)
    snap_set = set(snaps)
    state = None
    status = "completed"
    kwargs = {"threads": threads} if runtime == "engine" else {}
    if tracer is not None and runtime == "engine":
        kwargs["record_messages"] = True
    progress = Progress(total_steps=int(schedule.end), n_samples=metrics.n_probes, h=c.h, quiet=quiet)
    try:
        with progress:
            for until in _chunks(schedule, 200, snaps):
                log = None
                if tracer is not None and runtime == "actors":
                    from ..actors import MessageLog

                    log = MessageLog()
                    kwargs["observers"] = [log]
                res = run_fn(c, schedule, seed=scn.run.seed, until=until, state=state, **kwargs)
                state = res.state
                if tracer is not None:
                    rows = res.extra.get("messages") if log is None else log.table()
                    if rows is not None and len(rows["edge"]):
                        tracer.add_messages(rows)
                    if until in snap_set:
                        tracer.add_state(until - 1, state.s)
                metrics.add(res)
                _check_finite(c, state, until, res.probe_energy)
                rd.flush()
                progress.update(until, metrics, state.sent)
    except KeyboardInterrupt:
        status = "interrupted"
    except DivergenceError:
        status = "diverged"
        raise
    finally:
        if tracer is not None:
            tracer.close()
        wall = time.perf_counter() - t_wall
        summary = metrics.summary()
        summary.update(messages_sent=int(state.sent) if state else 0,
                       messages_delivered=int(state.delivered) if state else 0,
                       messages_dropped=int(state.dropped) if state else 0,
                       sim_time_ms=(int(state.t) if state else 0) * c.h, wall_seconds=round(wall, 3),
                       runtime=runtime, threads=threads, seed=scn.run.seed, status=status)
        if status == "completed":
            summary.update(metrics.baselines(scn))
        rd.write_json("summary.json", summary)
        manifest["ended"] = datetime.now(timezone.utc).isoformat()
        manifest["status"] = status
        rd.write_json("manifest.json", manifest)
        rd.close()
        if state is not None and scn.output.plots:
            try:
                metrics.plot(scn, state, net)
            except Exception as exc:  # noqa: BLE001 - a plot must never lose a finished run
                print(f"asyncpc: warning: plotting failed ({type(exc).__name__}: {exc})", file=sys.stderr)
    if not quiet:
        progress.final_table(summary, rd.path)
    if status == "interrupted":
        raise KeyboardInterrupt
    return summary


def _version(mod):
    try:
        from importlib.metadata import version
        return version(mod)
    except Exception:  # noqa: BLE001
        return None


def dumps(obj) -> str:
    return json.dumps(obj, indent=2)
