"""Setting a run up: its checked arguments (:class:`Request`) become the arrays the compiled
loop reads and writes (:class:`Setup`) -- the packed rows, the environment's messages,
the probes, the partitions (:class:`Parts`; across MPI ranks, the ranks' cut), the timing
wheel, per-partition scratch and the recording buffers."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ..compile import CompiledNet
from ..environment import Schedule
from ..errors import SpecError
from ._carry import out_seconds
from ._drive import Probes
from ._env import env_messages
from ._exchange import Cut, plan_cut
from ._layout import EngineLayout
from ._partition import partitioner
from ._observe import Recorder
from ._pack import F_LSENT, F_LSIG, F_OUT2, I_SYNCED, narrow, pack, static_rows
from ._push import build_wheel, dummy_wheel, load_in_flight, mark_dirty, restored_counts, wheel_slots
from ._state import Start
from ._step import Dyn, Env, Work
from ._warmup import Notice

__all__ = ["Parts", "Request", "Setup", "noisy", "set_up"]


def noisy(c: CompiledNet) -> bool:
    """Whether some edge loses or jitters messages."""
    return bool(np.any(c.loss > 0)) or bool(np.any(c.jit > 0))


class Request(NamedTuple):
    """A run's arguments, checked and normalised, and where it starts."""

    c: CompiledNet
    schedule: Schedule
    lay: EngineLayout
    seed: int
    threads: int
    t0: int
    stop: int
    push: bool  # deliver through the timing wheel (else pull from the history ring)
    ranks: object  # asyncpc._mpi.Ranks, or None: one process
    observers: tuple
    messages: bool  # record_messages
    sends: bool  # record_sends
    start: Start
    notice: Notice


class Parts(NamedTuple):
    """How the network is split: partition ``p`` holds the neurons at positions
    ``lo[p]..hi[p]-1`` of the processing order; ``mine`` are the partitions this process
    advances, ``lag`` and ``progress`` how they wait on each other (:mod:`._drive`), ``cut``
    the MPI ranks' cut (None in one process)."""

    lo: np.ndarray
    hi: np.ndarray
    window: int
    parallel: bool
    mine: np.ndarray
    lag: np.ndarray
    progress: np.ndarray
    cut: Cut | None


class Setup(NamedTuple):
    """A run's arrays, set up: what the compiled loop reads and writes, and the
    environment's messages still in flight at the end (``env_later``)."""

    net: object  # the layout's arrays with the static rows of :func:`._pack.static_rows`
    dyn: Dyn
    env: Env
    env_later: dict
    seed: int
    probes: Probes
    work: Work
    rec: Recorder
    wh: object  # the timing wheel (:mod:`._push`)
    parts: Parts

    def loop_args(self, t: int, stop: int, pk: int, probes: Probes | None = None) -> tuple:
        """The compiled loop's arguments (:func:`._drive.drive_serial`) for steps
        ``t..stop-1`` from probe ``pk`` (the run's probes unless ``probes``)."""
        rec, parts = self.rec, self.parts
        # width: threads meet only at probes (and to empty recording buffers); in between
        # each waits, step by step, only on what it needs from the others (lag)
        return (self.net, self.dyn, self.env, self.seed, t, stop, pk, self.probes if probes is None else probes,
                self.work, rec.rec, rec.mode, parts.lo, parts.hi, rec.msg_per_step, rec.cap, rec.capt, self.wh,
                np.int64(1 << 62), parts.lag, parts.progress, parts.mine)


def _rows(req: Request) -> Dyn:
    """The starting state packed into the loop's rows (:mod:`._pack`), with the history
    ring when pulling."""
    c, st, start = req.c, req.start.state, req.start
    ef, nf, ni = pack(st, c)
    if not req.push and not noisy(c):  # the inboxes live in the ring: the rows shrink to what a tick touches
        ef = narrow(ef, c.signals)
    ni[:, I_SYNCED] = req.t0 - 1
    with req.notice.section():
        nf[:, F_OUT2] = out_seconds(req.lay.net, np.ascontiguousarray(nf[:, F_LSENT]),
                                    np.ascontiguousarray(nf[:, F_LSIG]))
    return Dyn(ef=ef, nf=nf, ni=ni, w=np.array(st.w, np.float64, copy=True),
               hist=start.hist if start.hist is not None else np.zeros(1),
               flag=start.flag if start.flag is not None else np.zeros(1, np.int8))


def _probes(req: Request) -> Probes:
    """The schedule's probe steps in ``t0..stop-1`` and room for what they observe."""
    sch = req.schedule
    pt = np.asarray(sch.probe_t, np.int64)
    pt = pt[(pt >= req.t0) & (pt < req.stop)]
    return Probes(t=pt, readout=np.asarray(sch.readout, np.int64), err_ids=req.lay.err_ids,
                  area_ptr=req.lay.area_ptr, x=np.zeros((len(pt), len(sch.readout))),
                  energy=np.zeros((len(pt), len(req.c.area_names))))


def _partitions(req: Request) -> Parts:
    """Split the network: one partition per thread (one process), or the MPI ranks' cut."""
    # one partition per thread Numba can run at once: partitions wait on each other, so two
    # of them sharing a thread would wait for ever (results never depend on the count)
    threads = min(req.threads, numba.config.NUMBA_NUM_THREADS)
    lay, cut = req.lay, None
    if req.ranks is not None:
        lo, hi, window, cut = _rank_cut(req, threads)
        parallel = True
    else:
        parallel = threads > 1 and not lay.net.transport and lay.net.N > 1
        lo, hi, window = lay.partitions(threads if parallel else 1)
    parallel = parallel and len(lo) > 1
    mine = cut.mine if cut is not None else np.arange(len(lo), dtype=np.int64)
    lag, progress = lay.lags(lo, hi, lay.slack()) if parallel else (np.zeros((1, 1), np.int64), np.zeros(8, np.int64))
    return Parts(lo=lo, hi=hi, window=window, parallel=parallel, mine=mine, lag=lag, progress=progress, cut=cut)


def _rank_cut(req: Request, threads: int) -> tuple:
    """``(lo, hi, window, cut)`` across MPI ranks: the partitions, the same on every rank
    (laid out for the fewest threads any rank can run), and this rank's cut."""
    ranks, lay = req.ranks, req.lay
    threads = int(ranks.gather_cat(np.array([threads], np.int64), "the thread count").min())
    lo, hi, window, owner = lay.rank_partitions(ranks.size, threads, how=partitioner(),
                                                agree=lambda fn: ranks.bcast(fn() if ranks.root else None,
                                                                             "the ranks' partition"))
    if len(np.unique(owner)) < ranks.size:
        raise SpecError(f"ranks: the network ({lay.net.N} neurons) splits into {len(lo)} partitions, fewer than "
                        f"the {ranks.size} MPI ranks; start fewer ranks")
    return lo, hi, window, plan_cut(req.c, lay, lo, hi, owner, ranks.size, ranks.rank, lay.slack())


def _wheel(req: Request, parts: Parts, dyn: Dyn):
    """The timing wheel holding the messages in flight at the start (on an MPI rank, those
    to its own neurons), or a dummy when pulling."""
    if not req.push:
        return dummy_wheel()
    c, lay, net, P = req.c, req.lay, req.lay.net, len(parts.lo)
    part = lay.part_of(parts.lo, parts.hi)
    slack = lay.slack()
    with req.notice.section():
        wh = build_wheel(c, part, P, slack, restored_counts(c, part, P, wheel_slots(c, slack), req.start.columns()))
        cols = req.start.columns()
        if parts.cut is not None:  # each message is loaded on its receiver's rank only
            here = parts.cut.owner[part[c.dst[cols["edge"]]]] == parts.cut.rank
            cols = {k: np.ascontiguousarray(v[here]) for k, v in cols.items()}
        load_in_flight(wh, net, cols["t_send"], cols["t_arrive"], cols["edge"], cols["value"], cols["signal"])
        mark_dirty(wh, net, dyn)
    return wh


def set_up(req: Request) -> Setup:
    """Everything the loop needs: the rows, the environment's messages, the probes, the
    partitions, the wheel, per-partition scratch and the recording buffers."""
    dyn = _rows(req)
    env, env_later = env_messages(req.schedule, req.t0, req.stop, req.start.env)
    probes = _probes(req)
    parts = _partitions(req)
    wh = _wheel(req, parts, dyn)
    ns, pf = static_rows(req.c, wh)
    P = len(parts.lo)
    width = (max(req.lay.max_indeg, 1) + 15) // 8 * 8  # rows padded apart: no shared cache line
    work = Work(scratch=np.zeros((P, width)), lscratch=np.zeros((P, width)),
                cnt=np.zeros((P, 8), np.int64), ev_ptr=np.zeros(P, np.int64))
    rec = Recorder(req.c, parts.lo, parts.hi, req.lay.order, messages=req.messages, observers=req.observers,
                   in_flight0=req.start.columns, sends=req.sends)
    return Setup(net=req.lay.net._replace(ns=ns, pf=pf), dyn=dyn, env=env, env_later=env_later, seed=req.seed,
                 probes=probes, work=work, rec=rec, wh=wh, parts=parts)
