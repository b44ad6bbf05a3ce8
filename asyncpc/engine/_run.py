"""``asyncpc.engine.run``: validate, set up the arrays (:mod:`._setup`), loop in compiled code, finish."""

from __future__ import annotations

import numbers
import time

import numba
import numpy as np

from .._seed import normalize_seed
from ..compile import CompiledNet
from ..environment import Schedule
from ..errors import SpecError
from ..state import RunResult
from ._carry import finalize, materialize_all
from ._drive import drive_parallel, drive_serial, set_threads
from ._exchange import Exchange
from ._layout import EngineLayout
from ._observe import subscribed
from ._pack import F_S, unpack, widen
from ._push import wheel_in_flight
from ._setup import Request, Setup, noisy, set_up
from ._state import EngineState, History, LazyInFlight, start_from
from ._step import Dyn, probe
from ._warmup import Notice, check_cache, entry

__all__ = ["run", "warmup"]


def _check(c, schedule, threads):
    if not isinstance(c, CompiledNet):
        raise SpecError(f"c: expected a CompiledNet (asyncpc.compile.compile_network), got {type(c).__name__}")
    if not isinstance(schedule, Schedule):
        raise SpecError(f"schedule: expected an asyncpc.environment.Schedule, got {type(schedule).__name__}")
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise SpecError(f"threads: must be an integer >= 1, got {threads!r}")
    schedule.validate(c.n_neurons)


def _state(c, dyn, sig: bool, **kw) -> EngineState:
    """The engine's rows as an :class:`EngineState` (signal fields empty without signals)."""
    return EngineState(w=dyn.w, **unpack(dyn.ef, dyn.nf, dyn.ni, c, sig), **kw)


DELIVERY = ("auto", "push", "pull")


def pick_delivery(c: CompiledNet, delivery: str) -> str:
    """``auto``: pull from the history ring when every neuron sends at every tick and no
    edge loses or jitters messages (every in-edge changes at every tick anyway, and the
    ring reads cost least); push (event-driven) otherwise."""
    if delivery not in DELIVERY:
        raise SpecError(f"delivery: must be one of {list(DELIVERY)}, got {delivery!r}")
    if delivery != "auto":
        return delivery
    return "pull" if bool(np.all(c.send == 0)) and not noisy(c) else "push"


def _wheel_columns(wh, net, seed: int, t: int, n: int) -> dict:
    """The messages on the wheel as in-flight columns, sorted by ``(t_arrive, t_send, edge)``."""
    ts, ta, ed = (np.zeros(n, np.int64) for _ in range(3))
    va, sg = np.zeros(n), np.zeros(n)
    wheel_in_flight(wh, net, seed, t, False, ts, ta, ed, va, sg)
    order = np.lexsort((ed, ts, ta))
    return {k: v[order] for k, v in zip(("t_send", "t_arrive", "edge", "value", "signal"), (ts, ta, ed, va, sg))}


def _arguments(c, schedule, *, seed, until, state, threads, delivery, ranks, observers, messages,
               sends) -> Request:
    """Check and normalise :func:`run`'s arguments; find where the run starts."""
    _check(c, schedule, threads)
    lay = EngineLayout.of(c)
    if ranks is not None and (ranks.size < 2 or lay.net.transport):  # transport reads other neurons' synapses:
        ranks = None                                                   # every rank runs it all (same result)
    if ranks is not None and observers:
        raise SpecError("observers: not supported across MPI ranks (each rank sees only its own neurons)")
    if ranks is None:
        check_cache()
    else:
        ranks.first(check_cache, "the compile cache check", once="check_cache")
    seed = normalize_seed(seed)
    push = ranks is not None or pick_delivery(c, delivery) == "push"  # push and pull give the same results
    start = start_from(c, lay, state, seed, ring=not push)
    t0 = int(start.state.t)
    stop = int(schedule.end if until is None else until)
    if stop < t0:
        raise SpecError(f"until: step {stop} is before the state's step {t0}")
    return Request(c=c, schedule=schedule, lay=lay, seed=seed, threads=int(threads), t0=t0, stop=stop, push=push,
                   ranks=ranks, observers=tuple(observers), messages=bool(messages), sends=bool(sends),
                   start=start, notice=Notice())


def _before_run(req: Request):
    """The observers' run context after their ``before_run`` hooks (None without observers)."""
    if not req.observers:
        return None
    from ..observe import RunContext

    # what observers see in before_run: the state the run starts from
    ctx = RunContext(net=req.c, schedule=req.schedule, seed=req.seed, t0=req.t0, until=req.stop,
                     state=req.start.state)
    for hook in subscribed(req.observers, "before_run"):
        hook(ctx)
    return ctx


def _drive(req: Request, setup: Setup) -> Exchange | None:
    """Simulate steps ``t0..stop-1`` on this process's partitions; returns the ranks'
    exchange (None in one process)."""
    prev = numba.get_num_threads()
    xch = None
    try:
        if setup.parts.parallel:
            set_threads(len(setup.parts.mine))
        if setup.parts.cut is not None:
            xch = Exchange(setup.parts.cut, setup.wh, req.ranks)
            _across_ranks(req, setup, xch)
        else:
            _in_one_process(req, setup)
    finally:
        numba.set_num_threads(prev)
    return xch


def _in_one_process(req: Request, setup: Setup) -> None:
    """The run loop of one process: the compiled loop takes the probes and returns only to
    have the recording buffers emptied."""
    t, pk, fn = req.t0, 0, None
    while t < req.stop:
        args = setup.loop_args(t, req.stop, pk)
        if fn is None:  # typing the ~17 arguments costs ~2 ms: once per run, not per window
            loop = drive_parallel if setup.parts.parallel else drive_serial
            fn = entry(loop, args, literal_at=10, notice=req.notice)
        t, pk = fn(*args)
        if setup.rec.mode:
            setup.rec.flush(t)


def _across_ranks(req: Request, setup: Setup, xch: Exchange) -> None:
    """The run loop of one MPI rank: its partitions advance window by window (windows end
    at ``cut.window`` steps and after probe steps, the same on every rank), and the ranks
    exchange what crossed at each window's end; at a probe step the activities are
    gathered and the probe is taken as one process takes it."""
    ranks, cut, probes, stop = req.ranks, setup.parts.cut, setup.probes, req.stop
    pt = probes.t
    blind = probes._replace(t=np.zeros(0, np.int64))  # the compiled loop takes no probe here
    t, pk, fn = req.t0, 0, None
    while t < stop:
        tb = min(stop, t + cut.window)
        if pk < len(pt) and pt[pk] + 1 < tb:
            tb = int(pt[pk]) + 1
        while t < tb:  # returns early only to empty recording buffers
            args = setup.loop_args(t, tb, 0, blind)
            if fn is None:  # one process at a time writes Numba's cache
                fn = ranks.first(lambda: entry(drive_parallel, args, literal_at=10, notice=req.notice),
                                 "the engine's compilation")
            t, _ = fn(*args)
            if setup.rec.mode:
                setup.rec.flush(t)
        xch()
        if pk < len(pt) and pt[pk] == t - 1:
            s = np.empty(setup.net.N)
            s[cut.all_ids] = ranks.gather_cat(setup.dyn.nf[cut.ids, F_S], "the probe's activities")
            probe(s, probes.readout, probes.err_ids, probes.area_ptr, probes.x, probes.energy, pk)
            pk += 1


def _gather_rows(ranks, cut, dyn) -> None:
    """Every rank's neuron rows and in-edge rows into every rank's arrays."""
    for rows, mine, every in ((dyn.nf, cut.ids, cut.all_ids), (dyn.ni, cut.ids, cut.all_ids),
                              (dyn.ef, cut.edges, cut.all_edges)):
        rows[every] = ranks.gather_cat(rows[mine], "the state")


def _gather_sorted(ranks, cols: dict, keys: tuple, what: str, root_only: bool = False) -> dict | None:
    """Every rank's rows of the table ``cols``, sorted by ``keys`` (a unique key: the order
    one process gives); on rank 0 only when ``root_only`` (None elsewhere)."""
    out = {k: ranks.gather_cat(np.asarray(v), what, root_only) for k, v in cols.items()}
    if root_only and not ranks.root:
        return None
    order = np.lexsort(tuple(out[k] for k in reversed(keys)))
    return {k: v[order] for k, v in out.items()}


def _settle(req: Request, setup: Setup) -> tuple[Dyn, int]:
    """Bring the run to rest at ``stop``: every rank's rows and counters on every rank, the
    lazily kept weights (and, pulling, the inboxes) written out. Returns the rows and how
    many messages are in flight (on this rank's wheel when pushing)."""
    cut, dyn, net, seed, stop = setup.parts.cut, setup.dyn, setup.net, req.seed, req.stop
    with req.notice.section():
        if cut is not None:  # every rank gets every neuron's rows and every rank's counts
            _gather_rows(req.ranks, cut, dyn)
            setup.work.cnt[:] = req.ranks.sum_ints(setup.work.cnt, "the counters")
        if req.push:
            materialize_all(net, dyn)
            z = np.zeros(0, np.int64)
            n_fl = int(wheel_in_flight(setup.wh, net, seed, stop, True, z, z, z, np.zeros(0), np.zeros(0)))
        else:
            scratch = np.zeros(max(req.lay.max_indeg, 1))
            dyn = dyn._replace(ef=widen(dyn.ef, req.c.signals))  # finalize writes the inboxes
            n_fl = int(finalize(net, dyn, seed, stop, scratch, scratch.copy()))
    req.notice.done()
    return dyn, n_fl


def _history(req: Request, setup: Setup, dyn: Dyn, n_fl: int) -> History:
    """Where a next run continues: the messages in flight at ``stop`` as columns (pushing:
    every rank's) or the history ring (pulling)."""
    if not req.push:
        return History(t=req.stop, seed=req.seed, n_in_flight=n_fl, hist=dyn.hist, flag=dyn.flag, layout=req.lay,
                       env=setup.env_later)
    cols = _wheel_columns(setup.wh, setup.net, req.seed, req.stop, n_fl)
    if setup.parts.cut is not None:  # each rank holds the messages to its own neurons
        cols = _gather_sorted(req.ranks, cols, ("t_arrive", "t_send", "edge"), "the messages in flight")
        n_fl = len(cols["edge"])
    return History(t=req.stop, seed=req.seed, n_in_flight=n_fl, hist=None, flag=None, layout=req.lay,
                   env=setup.env_later, cols=cols)


def _end_state(req: Request, setup: Setup, dyn: Dyn, hist: History) -> EngineState:
    """The state at ``stop``: the rows, and the counters carried on from the start's."""
    st, cnt = req.start.state, setup.work.cnt
    sent = int(st.sent + cnt[:, 0].sum())
    dropped = int(st.dropped + cnt[:, 1].sum())
    delivered = int(st.delivered + req.start.n_in_flight + (sent - st.sent) - (dropped - st.dropped)
                    - hist.n_in_flight)
    return _state(req.c, dyn, req.c.signals, t=req.stop, sent=sent, delivered=delivered, dropped=dropped,
                  history=hist, applied=int(st.applied + cnt[:, 2].sum()), rebased=int(st.rebased + cnt[:, 3].sum()))


def _extra(req: Request, setup: Setup, xch: Exchange | None, hist: History) -> dict:
    """``result.extra``: the messages in flight, the partitions, the recorded tables and,
    across MPI ranks, the cut and the exchange's counters."""
    parts = setup.parts
    extra = {"in_flight": LazyInFlight(hist), "partition": req.lay.part_of(parts.lo, parts.hi),
             "window": parts.window if parts.parallel else None, "delivery": "push" if req.push else "pull"}
    if req.messages:
        extra["messages"] = setup.rec.table()
    if req.sends:
        extra["sends"] = setup.rec.sends()
    cut, ranks = parts.cut, req.ranks
    if cut is not None:
        for key, order in (("messages", ("t_send", "edge")), ("sends", ("t", "src"))):
            if key in extra:
                extra[key] = _gather_sorted(ranks, extra[key], order, f"the recorded {key}", root_only=True)
        extra.update(window=cut.window, ranks=ranks.size, cut_edges=cut.cut, balance=cut.balance,
                     partitioner=req.lay.partitioner, rank_rows=(cut.ids, cut.edges),
                     exchange=dict(windows=xch.windows, bytes=xch.bytes, seconds=xch.seconds, waiting=xch.waiting))
    return extra


def _finish(req: Request, setup: Setup, xch: Exchange | None) -> RunResult:
    """The run's result: the state at ``stop``, what the probes observed, and ``extra``."""
    dyn, n_fl = _settle(req, setup)
    hist = _history(req, setup, dyn, n_fl)
    out = _end_state(req, setup, dyn, hist)
    probes, parts = setup.probes, setup.parts
    return RunResult(probe_t=probes.t.copy(), probe_x=probes.x, probe_energy=probes.energy, state=out,
                     runtime="engine", threads=len(parts.lo) if parts.parallel else 1,
                     extra=_extra(req, setup, xch, hist))


def _after_run(req: Request, ctx, res: RunResult) -> None:
    """The observers' ``after_run`` hooks, the context now holding the result."""
    if ctx is None:
        return
    ctx.state, ctx.result = res.state, res
    for hook in subscribed(req.observers, "after_run"):
        hook(ctx)


def run(c: CompiledNet, schedule: Schedule, *, seed=0, until: int | None = None, state=None,
        threads: int = 1, record_messages: bool = False, record_sends: bool = False,
        observers=(), delivery: str = "auto", ranks=None) -> RunResult:
    """Simulate ``c`` driven by ``schedule`` in compiled code, on ``threads`` threads.

    Same semantics, draws and results, bit for bit, as :func:`asyncpc.actors.run`
    (docs/architecture.md, "The runtime interface"); see docs/engine.md for how.

    Parameters
    ----------
    c : CompiledNet
    schedule : Schedule
        Environment messages and probe steps.
    seed : int
        Seeds the counter-based draws (loss, message jitter, clock jitter).
    until : int, optional
        First step not simulated (default ``schedule.end``).
    state : NetState or RunResult, optional
        Where to start (default ``NetState.initial(c)``); pass a returned ``result.state``
        (an :class:`EngineState`), or an actor runtime's ``CarryState``, to continue --
        with the same seed.
    threads : int
        Partitions of the network, each advanced by its own thread inside windows of the
        minimum delay. Results do not depend on it. ``1`` runs a serial loop.
    record_messages : bool
        Record every message sent into ``result.extra["messages"]`` (columns
        ``t_send, t_arrive, src, dst, edge, value, dropped`` in the canonical order by
        ``(t_send, edge)``, the rows of the actor runtime's ``MessageLog``).
    record_sends : bool
        Record every send event of a neuron that has out-edges into
        ``result.extra["sends"]`` (columns ``t, src, s, rate``: the step, the neuron, the
        state it sent and the rate ``f(x)`` it sent on predict edges, by ``(t, src)``).
        A send determines all its messages (``asyncpc.trace`` re-derives them), at one
        row per send instead of one per out-edge.
    observers : sequence
        Objects with any of the hooks ``before_run``, ``after_run``, ``message_sent``,
        ``message_delivered``, ``neuron_ticked`` (see ``asyncpc.actors.Observer``);
        they are called chunk by chunk, never change the dynamics, and slow the run
        only when they subscribe to per-message or per-tick hooks.
    delivery : {"auto", "push", "pull"}
        How messages reach their receivers (docs/engine.md): ``push`` (event-driven: a
        timing wheel; work follows the messages sent), ``pull`` (every in-edge read from
        a history ring at every tick; cheapest when everything is sent every tick), or
        ``auto`` (:func:`pick_delivery`). Results do not depend on it.
    ranks : asyncpc._mpi.Ranks, optional
        Run across the MPI ranks of ``mpiexec -n K`` (every rank calls ``run`` with the
        same arguments): each rank advances its share of the partitions on ``threads``
        threads, and the ranks exchange what crosses between them at window ends
        (docs/scaling.md). Every rank returns the whole result, identical bit for bit to
        a one-process run's; ``record_sends`` / ``record_messages`` tables are gathered
        on rank 0 only (None elsewhere).

    Returns
    -------
    RunResult
        ``runtime="engine"``; ``state`` an :class:`EngineState`; ``extra``:
        ``in_flight`` (columns of the messages in flight at the end, computed on first
        access), ``messages`` / ``sends`` (if recorded), ``partition`` (the partition of each neuron) and
        ``window`` (steps between the partitions' meetings; None when serial).

    Examples
    --------
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.engine import run
    >>> from asyncpc.environment import Schedule
    >>> from asyncpc.model import layered
    >>> c = compile_network(layered([2, 3, 1]))
    >>> res = run(c, Schedule.empty(end=20))
    >>> res.state.t, res.sent == res.delivered + res.dropped + len(res.extra["in_flight"]["edge"])
    (20, True)
    """
    req = _arguments(c, schedule, seed=seed, until=until, state=state, threads=threads, delivery=delivery,
                     ranks=ranks, observers=observers, messages=record_messages, sends=record_sends)
    setup = set_up(req)
    ctx = _before_run(req)
    res = _finish(req, setup, _drive(req, setup))
    _after_run(req, ctx, res)
    return res


def warmup(threads: int = 2) -> float:
    """Compile (or load from the on-disk cache) the engine's common specialisations: the
    serial and the parallel loop, without recording, recording messages, and recording
    send events (what a trace stores). Returns seconds.

    Runs are correct without it; it moves the JIT cost out of the first run.

    Examples
    --------
    >>> from asyncpc.engine import warmup
    >>> warmup() >= 0.0
    True
    """
    from ..compile import compile_network
    from ..environment import EV_CLAMP, Schedule
    from ..model import Clocks, Messages, layered

    t = time.perf_counter()
    quiet = Notice._printed
    Notice._printed = True  # an explicit warm-up needs no notice
    try:
        c = compile_network(layered([2, 2, 1], seed=0, clocks=Clocks(period=0.2, phase="random", jitter=0.1),
                                    messages=Messages(loss=0.1, jitter=0.1)), h=0.1)
        sch = Schedule.from_events([(0, EV_CLAMP, 0, 1.0)], probe_t=[3], readout=[0], end=6)
        for th in sorted({1, max(1, int(threads))}):
            for rec in ({}, {"record_messages": True}, {"record_sends": True}):
                r = run(c, sch, seed=0, until=3, threads=th, **rec)
                run(c, sch, seed=0, state=r.state, threads=th, **rec)
    finally:
        Notice._printed = quiet
    return time.perf_counter() - t
