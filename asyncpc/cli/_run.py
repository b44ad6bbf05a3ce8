"""``asyncpc run`` and ``asyncpc resume``: scenario -> network -> runtime -> run directory.

A run advances in chunks (ends at probe steps, so progress and metrics advance
presentation by presentation; see :class:`Plan`). Every ``output.checkpoint_every`` presentations the state,
the metrics accumulator and the positions of metrics.csv and of the trace are written to
``RUN/checkpoint/`` (see ``_checkpoint``); ``resume`` continues from there, and the
result is the one an uninterrupted run gives, bit for bit.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import AsyncPCError, DivergenceError
from ._divergence import bad_state, divergence_report
from ._launch import stop_asked_fn, tally_ranks
from ._plan import Plan, plan_for
from ._rundir import RunDir, atomic_replace, refuse_existing

__all__ = ["execute", "pick_runtime", "resume"]

log = logging.getLogger("asyncpc")


def pick_runtime(name: str):
    """The ``run`` function of a runtime by name."""
    if name == "engine":
        from ..engine import run
    elif name == "actors":
        from ..actors import run
    else:
        raise AsyncPCError(f"--runtime: must be 'engine' or 'actors', got {name!r}")
    return run


def _trace_writer(scn, c, rd, runtime, resume=None):
    """A TraceWriter (None when tracing is off)."""
    from ..trace import TraceFilter, TraceWriter, select_neurons

    t = scn.trace
    if not t.enabled:
        return None
    roles = [r for r in t.roles if r != "environment"]  # environment messages live in the schedule
    filt = TraceFilter.build(c, neurons=list(t.neurons), roles=roles, t_from_ms=t.from_ms, t_to_ms=t.to_ms,
                             every=t.every, max_rows=t.max_rows)
    mask = select_neurons(c, list(t.neurons)) if t.state_every else None
    return TraceWriter(rd.path, c, filt=filt, seed=scn.run.seed, state_mask=mask, resume=resume,
                       meta=dict(scenario_hash=scn.hash(), asyncpc_version=__version__, runtime=runtime))


# ----------------------------------------------------------------------------- divergence
def _locate(job, prev, t0: int, until: int, state):
    """The first step at whose end the run is bad, and the state then: the chunk is run
    again from ``prev`` (the runs are deterministic), bisecting. Returns (step, state)."""
    if not bad_state(job.c, state):
        return until, state
    run_fn = pick_runtime(job.runtime)
    kw = _engine_kwargs(job)
    lo, hi, st_lo, st_hi = t0, until, prev, state
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = run_fn(job.c, job.schedule, seed=job.scn.run.seed, until=mid, state=st_lo, **kw)
        if bad_state(job.c, r.state):
            hi, st_hi = mid, r.state
        else:
            lo, st_lo = mid, r.state
    return hi, st_hi


@dataclass
class Job:
    scn: object
    c: object
    data: object
    schedule: object
    runtime: str
    threads: int
    plan: Plan
    governed: bool = False  # threads not given: fewer while other processes use the CPUs
    ranks: object = None  # the MPI ranks of `mpiexec -n K` (asyncpc._mpi.Ranks), None in one process
    rank_rows: tuple | None = None  # this rank's (neuron ids, edges) in the last chunk: its checkpoint part


def _engine_kwargs(job) -> dict:
    if job.runtime != "engine":
        return {}
    return {"threads": job.threads, "ranks": job.ranks}


def _prepare(scn, runtime, threads, ranks=None) -> Job:

    runtime = runtime or scn.run.runtime
    pick_runtime(runtime)
    if ranks is not None and runtime != "engine":
        raise AsyncPCError(f"--runtime {runtime}: runs in one process; start it without mpiexec (the engine runs "
                           "across MPI ranks)")
    threads = threads if threads is not None else scn.run.threads
    c = scn.compile()  # areas and projections straight into the arrays: no graph object per synapse
    governed = not threads
    if governed:
        from ._threads import default_threads

        threads = default_threads(c.n_edges)
        if ranks is not None:  # the ranks share this host's cores; every rank must use the same count
            threads = ranks.bcast(max(1, threads // ranks.local_size), "the thread count")
            governed = False
    data = scn.load_data()
    schedule = scn.schedule(c, data)
    return Job(scn, c, data, schedule, runtime, threads, plan_for(scn, c, schedule), governed, ranks)


def _check_resources(job, out, *, t0=0, rows_done=0, max_disk=None, max_memory=None):
    from ._resources import check_resources, estimate, limits_from_env

    d, m = limits_from_env(max_disk, max_memory)
    est = estimate(job.c, job.schedule, job.scn, runtime=job.runtime, plan=job.plan, t0=t0,
                   trace_rows_done=rows_done)
    check_resources(est, out, max_disk=d, max_memory=m)
    return est


def _now() -> str:
    return datetime.now(UTC).isoformat()


def execute(scn, *, out: str | None, runtime: str | None, threads: int | None, quiet: bool,
            argv: list[str], max_disk=None, max_memory=None, progress="auto", overwrite: bool = False,
            table: bool | None = None, sinks=(), ranks=None) -> dict:
    """Run a loaded scenario and write its run directory. Returns the summary.

    ``progress``: a mode of :data:`asyncpc.cli._progress.MODES` or a callable taking a
    :class:`~asyncpc.cli._progress.ProgressEvent` (``quiet`` means ``"none"``); ``table``:
    print the final table on stdout (default: not ``quiet``); ``overwrite``: replace a
    run already in ``out`` (refused otherwise); ``sinks``: more callables fed the same events
    (``_sinks.make_sinks``); ``ranks``: the MPI ranks of ``mpiexec -n K``
    (:func:`asyncpc._mpi.world`): every rank calls ``execute``, rank 0 writes the run."""
    from ._progress import resolve_mode
    from ._signals import stop_on_signals

    if not callable(progress):
        resolve_mode(progress)  # a bad mode is refused before anything is written
    with stop_on_signals(ranks):
        return _execute(scn, out=out, runtime=runtime, threads=threads, quiet=quiet, argv=argv,
                        max_disk=max_disk, max_memory=max_memory, progress=progress, overwrite=overwrite,
                        table=table, sinks=sinks, ranks=ranks)


def _execute(scn, *, out, runtime, threads, quiet, argv, max_disk, max_memory, progress, overwrite, table, sinks,
             ranks):
    from ._metrics import Metrics

    from ._resources import precheck

    started = _now()
    out = Path(out or scn.output.dir)
    writer = ranks is None or ranks.root  # the other ranks run the same loop and write nothing
    if writer:  # a refusal here reaches the other ranks at their first exchange (asyncpc._mpi)
        refuse_existing(out, overwrite=overwrite)
        precheck(scn, out, runtime=runtime, max_disk=max_disk, max_memory=max_memory)  # before anything is built
    job = _prepare(scn, runtime, threads, ranks)
    if writer:
        _check_resources(job, out, max_disk=max_disk, max_memory=max_memory)
    was_run = writer and (out / "manifest.json").exists()
    rd = RunDir(out, writer=writer)
    try:
        if was_run:  # a previous run's files (refuse_existing let it be replaced)
            for stale in ("trace", "checkpoint", "plots"):
                shutil.rmtree(rd.path / stale, ignore_errors=True)
            for stale in ("final_state.npz", "epochs.csv", "alignment.csv", "summary.json", "metrics.csv"):
                (rd.path / stale).unlink(missing_ok=True)
            (rd.path / "plots").mkdir(exist_ok=True)
        rd.write_text("scenario.toml", scn.to_toml())
        c, schedule = job.c, job.schedule
        manifest = dict(asyncpc=__version__, python=platform.python_version(), numpy=np.__version__,
                        numba=_version("numba"), networkx=_version("networkx"), platform=platform.platform(),
                        seed=scn.run.seed, runtime=job.runtime, threads=job.threads, command=" ".join(argv),
                        scenario_name=scn.run.name,
                        scenario_hash=scn.hash(), started=started, ended=None, status="running",
                        neurons=c.n_neurons, edges=c.n_edges, steps=int(schedule.end), h_ms=c.h,
                        checkpoint_every=scn.output.checkpoint_every)
        if ranks is not None:
            manifest["ranks"] = ranks.size
        if job.data is not None:  # what was read, and the input scaling the network saw
            manifest["data"] = job.data.describe()
        rd.write_json("manifest.json", manifest)
        metrics = Metrics(c, schedule, job.data, rd)
        tracer = _trace_writer(scn, c, rd, job.runtime) if writer else None
    except BaseException:
        rd.release()
        raise
    return _drive(job, rd, manifest, metrics, tracer, state=None, start=0, wall_before=0.0,
                  progress="none" if quiet else progress, table=not quiet if table is None else table, sinks=sinks)


def resume(run_dir, *, runtime: str | None = None, threads: int | None = None, quiet: bool = False,
           argv=(), max_disk=None, max_memory=None, progress="auto", table: bool | None = None, sinks=(),
           ranks=None) -> dict:
    """Continue the run in ``run_dir`` from its checkpoint to the end (on the MPI ``ranks``
    if given, with any number of them). Returns the summary."""
    from ._progress import resolve_mode
    from ._signals import stop_on_signals

    if not callable(progress):
        resolve_mode(progress)
    with stop_on_signals(ranks):
        return _resume(run_dir, runtime=runtime, threads=threads, quiet=quiet, max_disk=max_disk,
                       max_memory=max_memory, progress=progress, table=table, sinks=sinks, ranks=ranks)


def _resume(run_dir, *, runtime, threads, quiet, max_disk, max_memory, progress, table, sinks, ranks) -> dict:
    from ..scenario import load_scenario
    from ._checkpoint import read_checkpoint
    from ._metrics import Metrics
    from ._resources import precheck

    path = Path(run_dir)
    if not path.is_dir():
        raise AsyncPCError(f"{path}: no such run directory")
    for f in ("scenario.toml", "manifest.json"):
        if not (path / f).exists():
            raise AsyncPCError(f"{path}: not a run directory (no {f})")
    writer = ranks is None or ranks.root
    rd = RunDir(path, writer=writer)  # the lock: no other process writes it meanwhile
    try:
        try:
            manifest = rd.read_json("manifest.json")
        except (OSError, ValueError) as exc:
            raise AsyncPCError(f"{path / 'manifest.json'}: unreadable ({exc})") from None
        status = manifest.get("status")
        if status == "completed":
            raise AsyncPCError(f"{path}: the run already completed (ended {manifest.get('ended')}); nothing to "
                               "resume")
        if status == "diverged":
            raise AsyncPCError(f"{path}: the run diverged; resuming would diverge again at the same step. Change "
                               "the scenario and start a new run")
        ck = read_checkpoint(path)
        scn = load_scenario(path / "scenario.toml")
        if scn.hash() != ck.info["scenario_hash"]:
            raise AsyncPCError(f"{path / 'scenario.toml'}: changed since the checkpoint was written (scenario hash "
                               f"{scn.hash()[:12]}, checkpoint {str(ck.info['scenario_hash'])[:12]}); restore it "
                               "or start a new run")
        trace_pos = ck.info.get("trace")
        if writer:
            precheck(scn, path, runtime=runtime, max_disk=max_disk, max_memory=max_memory, t0=int(ck.info["t"]),
                     trace_rows_done=int(trace_pos["rows"]) if isinstance(trace_pos, dict) else 0)
        job = _prepare(scn, runtime, threads, ranks)
        t, chunk = int(ck.info["t"]), int(ck.info["chunk"])
        if not (0 < chunk <= len(job.plan.ends) and job.plan.ends[chunk - 1] == t):
            raise AsyncPCError(f"{ck.path}: step {t} is not chunk {chunk} of this scenario; corrupt checkpoint")
        state = ck.runtime_state(job.c)
        if int(state.t) != t:
            raise AsyncPCError(f"{ck.path}: the state is at step {state.t}, the checkpoint at {t}; corrupt checkpoint")
        trace_pos = ck.info.get("trace")
        if scn.trace.enabled and trace_pos is None:
            raise AsyncPCError(f"{ck.path}: holds no trace position but the scenario traces; corrupt checkpoint")
        if writer:
            _check_resources(job, path, t0=t, rows_done=int(trace_pos["rows"]) if trace_pos else 0,
                             max_disk=max_disk, max_memory=max_memory)
        rd.resume_metrics(int(ck.info["metrics_rows"]), int(ck.info["metrics_bytes"]))
        metrics = Metrics(job.c, job.schedule, job.data, rd)
        metrics.restore(ck.metrics, ck.info["metrics"])
        tracer = _trace_writer(scn, job.c, rd, job.runtime, resume=trace_pos) if scn.trace.enabled and writer else None
        manifest["resumed"] = list(manifest.get("resumed") or []) + [_now()]
        manifest.update(status="running", ended=None, threads=job.threads, ranks=ranks.size if ranks else None)
        manifest.pop("interrupted_by", None)
        rd.write_json("manifest.json", manifest)
    except BaseException:
        rd.release()
        raise
    log.info(f"resuming {path} at t = {t * job.c.h:g} ms ({metrics._done}/{metrics.n_probes} presentations) on "
             f"the {job.runtime} runtime")
    return _drive(job, rd, manifest, metrics, tracer, state=state, start=chunk,
                  wall_before=float(ck.info.get("wall_seconds", 0.0)), progress="none" if quiet else progress,
                  table=not quiet if table is None else table, epochs=ck.info.get("epochs") or [], sinks=sinks)


# ----------------------------------------------------------------------------- the loop
def _write_checkpoint(job, rd, metrics, tracer, state, chunk: int, wall: float, epochs=()) -> None:
    from ._checkpoint import write_checkpoint, write_part

    parts = 0
    if job.ranks is not None and job.rank_rows is not None:  # each rank writes its rows, then rank 0 the rest
        write_part(rd.path, chunk, job.ranks.rank, state, *job.rank_rows)
        job.ranks.barrier("the checkpoint's parts")
        parts = job.ranks.size
    if not rd.writer:
        return
    pos = None
    if tracer is not None:
        tracer.flush()  # the trace on disk must match the checkpoint
        pos = tracer.position()
    rows, size = rd.metrics_position()
    info = dict(chunk=chunk, t=int(state.t), scenario_hash=job.scn.hash(), seed=job.scn.run.seed,
                runtime=job.runtime, metrics_rows=rows, metrics_bytes=size, trace=pos,
                presentations=int(metrics._done), wall_seconds=round(wall, 3), written=_now(),
                asyncpc=__version__, epochs=list(epochs))
    write_checkpoint(rd.path, state=state, metrics=metrics.checkpoint(), info=info, parts=parts)


def _drive(job, rd, manifest, metrics, tracer, *, state, start: int, wall_before: float, progress="auto",
           table: bool = True, epochs=(), sinks=()) -> dict:
    from ._epochs import EpochTable
    from ._progress import Progress, fan_out
    from ._signals import noted_interrupt

    c, schedule, plan = job.c, job.schedule, job.plan
    run_fn = pick_runtime(job.runtime)
    t_wall = time.perf_counter()
    wall = lambda: wall_before + time.perf_counter() - t_wall
    status = "running"
    kwargs = _engine_kwargs(job)
    governor = _governor(job)
    n_epochs = int(schedule.meta.get("epochs", 1)) if "epoch" in schedule.meta else 1
    callbacks = [progress, *sinks] if callable(progress) else list(sinks)
    report = Progress(total_steps=int(schedule.end), n_samples=metrics.n_probes, n_epochs=n_epochs, h=c.h,
                      mode="none" if callable(progress) else progress, callback=fan_out(callbacks),
                      wall_before=wall_before)
    table_of_epochs = EpochTable(metrics, rd.path / "epochs.csv" if rd.writer else None, epochs)
    stop_asked = stop_asked_fn(job.ranks)
    done, settled, last_ck = start, True, start  # settled: state, metrics and trace agree
    interrupt = None
    try:
        with report:
            for i in range(start, len(plan.ends)):
                until = plan.ends[i]
                t0 = int(state.t) if state is not None else 0
                if governor is not None:
                    kwargs["threads"] = governor.threads()
                results = []
                for res in _chunk_results(job, run_fn, tracer, state, until, kwargs):
                    settled = False  # from here until the chunk is booked, files and state disagree
                    results.append(res)
                res = _merge(results)
                if job.ranks is not None:
                    tally_ranks(manifest, job, results)
                    job.rank_rows = res.extra.get("rank_rows")
                prev, state = state, res.state
                if tracer is not None and until in plan.snaps:
                    tracer.add_state(until - 1, state.s)
                metrics.add(res)
                if bad_state(c, state, res.probe_energy):
                    try:  # find the first bad step: the report names where it started
                        t_bad, st_bad = _locate(job, prev, t0, until, state)
                    except Exception:  # noqa: BLE001 - the chunk-level report is still right
                        t_bad, st_bad = until, state
                    raise divergence_report(c, st_bad, t_bad)
                rd.flush()
                finished = table_of_epochs.update(until * c.h, state.sent, wall())
                done, settled = i + 1, True
                report.update(until, metrics, state.sent, finished)
                if until in plan.checkpoints:
                    _write_checkpoint(job, rd, metrics, tracer, state, done, wall(), table_of_epochs.rows)
                    last_ck = done
                stop_asked()
        status = "completed"
    except (KeyboardInterrupt, SystemError) as exc:  # Ctrl-C, SIGTERM, SIGUSR1 (maybe wrapped by Numba)
        status = "failed"
        interrupt, status = noted_interrupt(exc, manifest), "interrupted"
        if settled and done > last_ck and state is not None:
            try:  # keep the last finished chunk: `asyncpc resume` continues from it
                _write_checkpoint(job, rd, metrics, tracer, state, done, wall(), table_of_epochs.rows)
            except Exception as exc2:  # noqa: BLE001 - the previous checkpoint stays valid
                log.warning(f"no checkpoint at the interruption ({type(exc2).__name__}: {exc2})")
    except DivergenceError:
        status = "diverged"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        summary = _finish(job, rd, manifest, metrics, tracer, state, status, wall())
    report.end(int(state.t) if state is not None else 0, metrics, state.sent if state is not None else 0)
    if table:
        report.final_table(summary, rd.path)
    if interrupt is not None:
        raise interrupt
    return summary


def _governor(job):
    """A :class:`~asyncpc.cli._threads.ThreadGovernor` for an engine run whose thread
    count was not given (None otherwise: a given count always wins)."""
    if not job.governed or job.runtime != "engine" or job.threads < 2:
        return None
    from ._threads import ThreadGovernor

    return ThreadGovernor(job.threads)


def _chunk_results(job, run_fn, tracer, state, until: int, kwargs: dict):
    """Run from ``state`` (None: the start) to ``until`` in the plan's pieces, yielding each
    piece's result; when the chunk is traced, each piece's send events go to ``tracer``
    (on the next iteration, so a caller never sees a result the trace already holds)."""
    plan, c, ranks = job.plan, job.c, job.ranks
    t0 = int(state.t) if state is not None else 0
    # across MPI ranks only rank 0 traces, and it decides for all: they run the same calls
    agreed = (lambda v: ranks.bcast(v, "the trace plan")) if ranks is not None and plan.records(t0, until) else bool
    record = agreed(tracer is not None and not tracer.full and plan.records(t0, until))
    st = state
    for u in plan.pieces(t0, until, record):
        if record and agreed(tracer is None or tracer.full):  # max_rows reached: run the rest unrecorded
            record = False
        log = None
        if job.runtime == "engine":
            kwargs["record_sends"] = record
        elif record:
            from ..trace import SendLog

            log = SendLog()
            kwargs["observers"] = [log]
        else:
            kwargs["observers"] = []
        res = run_fn(c, job.schedule, seed=job.scn.run.seed, until=u, state=st, **kwargs)
        st = res.state
        yield res
        if record and tracer is not None:
            sends = res.extra.get("sends") if log is None else log.table()
            if sends is not None and len(sends["t"]):
                tracer.add_sends(sends)


def _merge(results):
    """One chunk's result from the results of its pieces (probes concatenated, last state)."""
    if len(results) == 1:
        return results[0]
    from ..state import RunResult

    last = results[-1]
    return RunResult(probe_t=np.concatenate([r.probe_t for r in results]),
                     probe_x=np.concatenate([r.probe_x for r in results]),
                     probe_energy=np.concatenate([r.probe_energy for r in results]),
                     state=last.state, runtime=last.runtime, threads=last.threads, extra=last.extra)


def _finish(job, rd, manifest, metrics, tracer, state, status, wall) -> dict:
    """Write what a run ends with, whatever the status; never loses what was written."""
    from ._checkpoint import CHECKPOINT

    scn, c = job.scn, job.c
    if not rd.writer:  # an MPI rank other than 0: rank 0 writes the run's end
        rd.release()
        return {}
    try:
        if tracer is not None:
            try:
                tracer.close()
            except Exception as exc:  # noqa: BLE001 - keep the rest of the run directory
                log.warning(f"the trace's last part was not written ({type(exc).__name__}: {exc})")
            if tracer.full:
                log.warning(f"the trace stopped at trace.max_rows = {scn.trace.max_rows:,} message rows; later "
                            "messages were not recorded (raise trace.max_rows or narrow trace.from / to, "
                            "docs/traces.md)")
        summary = metrics.summary(target=scn.output.target_accuracy)
        summary.update(messages_sent=int(state.sent) if state else 0,
                       messages_delivered=int(state.delivered) if state else 0,
                       messages_dropped=int(state.dropped) if state else 0,
                       sim_time_ms=(int(state.t) if state else 0) * c.h, wall_seconds=round(wall, 3),
                       runtime=job.runtime, threads=job.threads, seed=scn.run.seed, status=status)
        if status == "completed":
            summary.update(metrics.baselines(scn, state))
            final = dict(w=np.asarray(state.w), s=np.asarray(state.s), bias=np.asarray(state.bias),
                         t=np.asarray(int(state.t)), src=np.asarray(c.src), dst=np.asarray(c.dst),
                         node_ids=np.asarray([str(n) for n in c.node_ids]))
            atomic_replace(rd.path / "final_state.npz", lambda f: np.savez(f, **final))
        metrics.write_alignment()
        rd.write_json("summary.json", summary)
        manifest["ended"] = _now()
        manifest["status"] = status
        rd.write_json("manifest.json", manifest)
        if status == "completed":
            shutil.rmtree((rd.path / CHECKPOINT).parent, ignore_errors=True)
    finally:
        rd.release()
    if state is not None and scn.output.plots:
        try:
            metrics.plot(scn, state)
        except Exception as exc:  # noqa: BLE001 - a plot must never lose a finished run
            log.warning(f"plotting failed ({type(exc).__name__}: {exc})")
    return summary


def _version(mod):
    try:
        from importlib.metadata import version
        return version(mod)
    except Exception:  # noqa: BLE001
        return None
