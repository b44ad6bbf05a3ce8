"""``asyncpc.engine.run``: validate, set up the arrays, loop in compiled code, finish."""

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
from ._carry import finalize, materialize_all, out_seconds
from ._drive import Probes, drive_parallel, drive_serial, set_threads
from ._env import env_messages
from ._exchange import Exchange, plan_cut
from ._layout import EngineLayout
from ._push import (build_wheel, dummy_wheel, load_in_flight, mark_dirty, restored_counts, wheel_in_flight,
                    wheel_slots)
from ._observe import Recorder, subscribed
from ._state import EngineState, History, LazyInFlight, start_from
from ._pack import F_LSENT, F_LSIG, F_OUT2, F_S, I_SYNCED, narrow, pack, static_rows, unpack, widen
from ._step import Dyn, Work, probe
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
    return "pull" if bool(np.all(c.send == 0)) and not _noisy(c) else "push"


def _noisy(c: CompiledNet) -> bool:
    """Whether some edge loses or jitters messages."""
    return bool(np.any(c.loss > 0)) or bool(np.any(c.jit > 0))


def _wheel_columns(wh, net, seed: int, t: int, n: int) -> dict:
    """The messages on the wheel as in-flight columns, sorted by ``(t_arrive, t_send, edge)``."""
    ts, ta, ed = (np.zeros(n, np.int64) for _ in range(3))
    va, sg = np.zeros(n), np.zeros(n)
    wheel_in_flight(wh, net, seed, t, False, ts, ta, ed, va, sg)
    order = np.lexsort((ed, ts, ta))
    return {k: v[order] for k, v in zip(("t_send", "t_arrive", "edge", "value", "signal"), (ts, ta, ed, va, sg))}


def _across_ranks(ranks, cut, xch, net, dyn, env, seed, t0, stop, probes, work, rec, lo, hi, wh, lag, progress,
                  notice) -> None:
    """The run loop of one MPI rank: its partitions advance window by window (windows end
    at ``cut.window`` steps and after probe steps, the same on every rank), and the ranks
    exchange what crossed at each window's end; at a probe step the activities are
    gathered and the probe is taken as one process takes it."""
    pt = probes.t
    blind = probes._replace(t=np.zeros(0, np.int64))  # the compiled loop takes no probe here
    t, pk, fn = t0, 0, None
    while t < stop:
        tb = min(stop, t + cut.window)
        if pk < len(pt) and pt[pk] + 1 < tb:
            tb = int(pt[pk]) + 1
        while t < tb:  # returns early only to empty recording buffers
            args = (net, dyn, env, seed, t, tb, 0, blind, work, rec.rec, rec.mode, lo, hi, rec.msg_per_step,
                    rec.cap, rec.capt, wh, np.int64(1 << 62), lag, progress, cut.mine)
            if fn is None:  # one process at a time writes Numba's cache
                fn = ranks.first(lambda: entry(drive_parallel, args, literal_at=10, notice=notice),
                                 "the engine's compilation")
            t, _ = fn(*args)
            if rec.mode:
                rec.flush(t)
        xch()
        if pk < len(pt) and pt[pk] == t - 1:
            s = np.empty(net.N)
            s[cut.all_ids] = ranks.gather_cat(dyn.nf[cut.ids, F_S], "the probe's activities")
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
    _check(c, schedule, threads)
    lay = EngineLayout.of(c)
    if ranks is not None and (ranks.size < 2 or lay.net.transport):  # transport reads other neurons' synapses:
        ranks = None                                                   # every rank runs it all (same result)
    if ranks is not None and observers:
        raise SpecError("observers: not supported across MPI ranks (each rank sees only its own neurons)")
    if ranks is None:
        check_cache()
    else:
        ranks.first(check_cache, "the compile cache check")
    seed = normalize_seed(seed)
    threads = int(threads)
    net = lay.net
    push = ranks is not None or pick_delivery(c, delivery) == "push"  # push and pull give the same results
    start = start_from(c, lay, state, seed, ring=not push)
    st, hist, flag, n_fl0 = start.state, start.hist, start.flag, start.n_in_flight
    t0 = int(st.t)
    stop = int(schedule.end if until is None else until)
    if stop < t0:
        raise SpecError(f"until: step {stop} is before the state's step {t0}")
    notice = Notice()
    N = net.N
    sig = c.signals
    ef, nf, ni = pack(st, c)
    if not push and not _noisy(c):  # the inboxes live in the ring: the rows shrink to what a tick touches
        ef = narrow(ef, sig)
    ni[:, I_SYNCED] = t0 - 1
    with notice.section():
        nf[:, F_OUT2] = out_seconds(net, np.ascontiguousarray(nf[:, F_LSENT]), np.ascontiguousarray(nf[:, F_LSIG]))
    dyn = Dyn(ef=ef, nf=nf, ni=ni, w=np.array(st.w, np.float64, copy=True),
              hist=hist if hist is not None else np.zeros(1), flag=flag if flag is not None else np.zeros(1, np.int8))

    env, env_later = env_messages(schedule, t0, stop, start.env)
    pt = np.asarray(schedule.probe_t, np.int64)
    pt = pt[(pt >= t0) & (pt < stop)]
    probes = Probes(t=pt, readout=np.asarray(schedule.readout, np.int64), err_ids=lay.err_ids,
                    area_ptr=lay.area_ptr, x=np.zeros((len(pt), len(schedule.readout))),
                    energy=np.zeros((len(pt), len(c.area_names))))

    # one partition per thread Numba can run at once: partitions wait on each other, so two
    # of them sharing a thread would wait for ever (results never depend on the count)
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    cut = None
    if ranks is not None:  # the partitions must be the same on every rank: the fewest threads any rank can run
        threads = int(ranks.gather_cat(np.array([threads], np.int64), "the thread count").min())
        lo, hi, window, owner = lay.rank_partitions(ranks.size, threads)
        if len(np.unique(owner)) < ranks.size:
            raise SpecError(f"ranks: the network ({N} neurons) splits into {len(lo)} partitions, fewer than the "
                            f"{ranks.size} MPI ranks; start fewer ranks")
        cut = plan_cut(c, lay, lo, hi, owner, ranks.size, ranks.rank, lay.slack())
        parallel = True
    else:
        parallel = threads > 1 and not net.transport and N > 1
        lo, hi, window = lay.partitions(threads if parallel else 1)
    P = len(lo)
    parallel = parallel and P > 1
    mine = cut.mine if cut is not None else np.arange(P, dtype=np.int64)
    # threads meet only at probes (and to empty recording buffers); in between each waits,
    # step by step, only on what it needs from the others (lag)
    span = 1 << 62
    slack = lay.slack()
    lag, progress = lay.lags(lo, hi, slack) if parallel else (np.zeros((1, 1), np.int64), np.zeros(8, np.int64))
    if push:
        part = lay.part_of(lo, hi)
        with notice.section():
            wh = build_wheel(c, part, P, slack,
                             restored_counts(c, part, P, wheel_slots(c, slack), start.columns()))
            cols = start.columns()
            if cut is not None:  # each message is loaded on its receiver's rank only
                here = cut.owner[part[c.dst[cols["edge"]]]] == cut.rank
                cols = {k: np.ascontiguousarray(v[here]) for k, v in cols.items()}
            load_in_flight(wh, net, cols["t_send"], cols["t_arrive"], cols["edge"], cols["value"], cols["signal"])
            mark_dirty(wh, net, dyn)
    else:
        wh = dummy_wheel()
    ns, pf = static_rows(c, wh)
    net = net._replace(ns=ns, pf=pf)
    width = (max(lay.max_indeg, 1) + 15) // 8 * 8  # rows padded apart: no shared cache line
    work = Work(scratch=np.zeros((P, width)), lscratch=np.zeros((P, width)),
                cnt=np.zeros((P, 8), np.int64), ev_ptr=np.zeros(P, np.int64))
    observers = tuple(observers)

    rec = Recorder(c, lo, hi, lay.order, messages=bool(record_messages), observers=observers,
                   in_flight0=start.columns, sends=bool(record_sends))
    live = st  # what observers see in before_run: the state the run starts from
    ctx = None
    if observers:
        from ..observe import RunContext

        ctx = RunContext(net=c, schedule=schedule, seed=seed, t0=t0, until=stop, state=live)
        for hook in subscribed(observers, "before_run"):
            hook(ctx)

    prev = numba.get_num_threads()
    t, pk = t0, 0
    fn = None
    xch = None
    try:
        if parallel:
            set_threads(len(mine))
        if cut is not None:
            xch = Exchange(cut, wh, ranks)
            _across_ranks(ranks, cut, xch, net, dyn, env, seed, t0, stop, probes, work, rec, lo, hi, wh, lag,
                          progress, notice)
        while t < stop and cut is None:
            args = (net, dyn, env, seed, t, stop, pk, probes, work, rec.rec, rec.mode, lo, hi,
                    rec.msg_per_step, rec.cap, rec.capt, wh, np.int64(span), lag, progress, mine)
            if fn is None:  # typing the ~17 arguments costs ~2 ms: once per run, not per window
                fn = entry(drive_parallel if parallel else drive_serial, args, literal_at=10, notice=notice)
            t, pk = fn(*args)
            if rec.mode:
                rec.flush(t)
    finally:
        numba.set_num_threads(prev)

    with notice.section():
        if cut is not None:  # every rank gets every neuron's rows and every rank's counts
            _gather_rows(ranks, cut, dyn)
            work.cnt[:] = ranks.sum_ints(work.cnt, "the counters")
        if push:
            materialize_all(net, dyn)
            z = np.zeros(0, np.int64)
            n_fl = int(wheel_in_flight(wh, net, seed, stop, True, z, z, z, np.zeros(0), np.zeros(0)))
        else:
            scratch = np.zeros(max(lay.max_indeg, 1))
            dyn = dyn._replace(ef=widen(dyn.ef, sig))  # finalize writes the inboxes
            n_fl = int(finalize(net, dyn, seed, stop, scratch, scratch.copy()))
    notice.done()
    sent = int(st.sent + work.cnt[:, 0].sum())
    dropped = int(st.dropped + work.cnt[:, 1].sum())
    if push:
        cols = _wheel_columns(wh, net, seed, stop, n_fl)
        if cut is not None:  # each rank holds the messages to its own neurons
            cols = _gather_sorted(ranks, cols, ("t_arrive", "t_send", "edge"), "the messages in flight")
            n_fl = len(cols["edge"])
        hist_out = History(t=stop, seed=seed, n_in_flight=n_fl, hist=None, flag=None, layout=lay, env=env_later,
                           cols=cols)
    delivered = int(st.delivered + n_fl0 + (sent - st.sent) - (dropped - st.dropped) - n_fl)
    if not push:
        hist_out = History(t=stop, seed=seed, n_in_flight=n_fl, hist=dyn.hist, flag=dyn.flag, layout=lay,
                           env=env_later)
    out = _state(c, dyn, sig, t=stop, sent=sent, delivered=delivered, dropped=dropped, history=hist_out,
                 applied=int(st.applied + work.cnt[:, 2].sum()), rebased=int(st.rebased + work.cnt[:, 3].sum()))
    extra = {"in_flight": LazyInFlight(hist_out), "partition": lay.part_of(lo, hi), "window": window if parallel else None,
             "delivery": "push" if push else "pull"}
    if record_messages:
        extra["messages"] = rec.table()
    if record_sends:
        extra["sends"] = rec.sends()
    if cut is not None:
        for key, order in (("messages", ("t_send", "edge")), ("sends", ("t", "src"))):
            if key in extra:
                extra[key] = _gather_sorted(ranks, extra[key], order, f"the recorded {key}", root_only=True)
        extra.update(window=cut.window, ranks=ranks.size, cut_edges=cut.cut, balance=cut.balance,
                     exchange=dict(windows=xch.windows, bytes=xch.bytes, seconds=xch.seconds, waiting=xch.waiting))
    res = RunResult(probe_t=pt.copy(), probe_x=probes.x, probe_energy=probes.energy, state=out,
                    runtime="engine", threads=P if parallel else 1, extra=extra)
    if ctx is not None:
        ctx.state, ctx.result = out, res
        for hook in subscribed(observers, "after_run"):
            hook(ctx)
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
