"""Ranks of an MPI launch (``mpiexec -n K asyncpc run ...``): the communicator and the few
collective operations the engine and the command line use, each with a deadline.

Nothing here runs unless an MPI launcher started this process with K > 1: ``mpi4py`` is
imported only then (``pip install 'asyncpc[mpi]'``), and a launch without it is refused
with one line.

Every call that waits on the other ranks polls with a deadline (``ASYNCPC_MPI_TIMEOUT``
seconds, default 120) and watches the *failure channel*: a rank that stops on an error
tells the others (:meth:`Ranks.fail`), so they stop with one line naming it instead of
hanging in the next exchange. Float reductions across ranks are never used (their order
is not fixed by MPI): floats are gathered and summed in one fixed order, integers are
summed exactly (:meth:`Ranks.sum_ints`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import AsyncPCError

__all__ = ["Ranks", "RankError", "find_mpiexec", "launched_ranks", "world", "SIZE_VARS"]

#: Variables MPI launchers set to the number of processes they started: MPICH / Intel MPI
#: (Hydra, PMI), Open MPI, MVAPICH, PMIx.
SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
#: ... and to this process's rank.
RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "PMIX_RANK")

#: Tag of the failure channel.
TAG_FAIL = 31_415
#: Seconds a collective may wait before the rank gives up (``ASYNCPC_MPI_TIMEOUT``).
TIMEOUT = 120.0
#: Seconds the first collective of a run may wait: a rank may be compiling (cold cache).
START_TIMEOUT = 900.0


class RankError(AsyncPCError):
    """Another rank failed or went silent; the message names it. ``quiet``: the failing rank
    already printed it (this rank only follows)."""

    def __init__(self, message: str, *, quiet: bool = False):
        super().__init__(message)
        self.quiet = quiet


def _env_int(names, environ) -> int | None:
    for var in names:
        try:
            return int(environ[var])
        except (KeyError, ValueError):
            continue
    return None


def launched_ranks(environ=None) -> int:
    """How many processes the MPI launcher that started this one started (1: none).

    Examples
    --------
    >>> launched_ranks({"PMI_SIZE": "3"}), launched_ranks({})
    (3, 1)
    """
    k = _env_int(SIZE_VARS, os.environ if environ is None else environ)
    return max(k, 1) if k is not None else 1


def launched_rank(environ=None) -> int:
    """This process's rank according to the launcher (0 without one).

    Examples
    --------
    >>> launched_rank({"PMI_RANK": "2"}), launched_rank({})
    (2, 0)
    """
    r = _env_int(RANK_VARS, os.environ if environ is None else environ)
    return r if r is not None else 0


@dataclass
class Ranks:
    """This process's place in an MPI launch of ``size`` ranks (``comm``: an mpi4py
    intracommunicator). ``local_size``: ranks on this host (they share its cores)."""

    comm: object
    rank: int
    size: int
    local_size: int = 1
    timeout: float = TIMEOUT
    _fail_req: object = field(default=None, repr=False)
    _fail_buf: np.ndarray = field(default=None, repr=False)
    _fail_st: object = field(default=None, repr=False)
    _sent: list = field(default_factory=list, repr=False)
    _done: set = field(default_factory=set, repr=False)

    @property
    def root(self) -> bool:
        return self.rank == 0

    # ------------------------------------------------------------------ waiting
    def wait(self, req, what: str, timeout: float | None = None) -> None:
        """Wait for the non-blocking request ``req``, watching the failure channel and the
        deadline; raise :class:`RankError` when another rank failed or nothing came."""
        if req.Test():
            return
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        spins = 0
        while not req.Test():
            self._check_failed()
            spins += 1
            if spins > 256:
                if time.monotonic() > deadline:
                    raise RankError(f"rank {self.rank}: no {what} from the other ranks in {limit:g} s; a rank died "
                                    "or hangs (ASYNCPC_MPI_TIMEOUT sets the limit)")
                os.sched_yield()

    def _check_failed(self) -> None:
        if self._fail_req is None:
            return
        st = self._fail_st  # made once with the receive: this runs at every spin of a wait
        if self._fail_req.Test(st):
            msg = bytes(self._fail_buf).rstrip(b"\0").decode(errors="replace")
            self._fail_req = None
            raise RankError(msg or f"rank {st.Get_source()} stopped", quiet=True)

    def listen(self) -> None:
        """Post the receive of the failure channel (once per process)."""
        if self._fail_req is None:
            self._fail_buf = np.zeros(1024, np.uint8)
            self._fail_st = _MPI().Status()
            self._fail_req = self.comm.Irecv([self._fail_buf, _MPI().BYTE], source=_MPI().ANY_SOURCE, tag=TAG_FAIL)

    def fail(self, message: str) -> None:
        """Tell every other rank that this one stops with ``message`` (never blocks)."""
        data = np.frombuffer(message.encode()[:1023].ljust(1024, b"\0"), np.uint8).copy()
        for r in range(self.size):
            if r != self.rank:
                try:
                    self._sent.append((self.comm.Isend([data, _MPI().BYTE], dest=r, tag=TAG_FAIL), data))
                except Exception:  # noqa: BLE001 - best effort: the deadline covers the rest
                    pass

    def close(self) -> None:
        """Complete the failure channel's sends (a second at most) and withdraw its receive
        (before MPI finalises)."""
        deadline = time.monotonic() + 1.0
        for req, _ in self._sent:
            try:
                while not req.Test() and time.monotonic() < deadline:
                    time.sleep(0.001)
                if not req.Test():
                    req.Cancel()
                    req.Free()
            except Exception:  # noqa: BLE001
                pass
        self._sent.clear()
        if self._fail_req is not None:
            try:
                self._fail_req.Cancel()
                self._fail_req.Wait()
            except Exception:  # noqa: BLE001
                pass
            self._fail_req = None

    # ------------------------------------------------------------------ collectives
    def barrier(self, what: str = "barrier", timeout: float | None = None) -> None:
        self.wait(self.comm.Ibarrier(), what, timeout)

    def bcast(self, value, what: str = "broadcast"):
        """Rank 0's ``value`` on every rank (small Python objects only: pickled)."""
        self.barrier(what)  # the deadline and the failure channel; bcast itself blocks
        return self.comm.bcast(value, root=0)

    def first(self, fn, what: str, once: str | None = None):
        """``fn()`` on rank 0, then on the others (e.g. compiling into Numba's cache, which
        processes must not write at once). With ``once``, only the first call of that name
        in this process takes turns; later ones run ``fn()`` at once (every rank makes the
        same calls, so they agree on which is first)."""
        if once is not None:
            if once in self._done:
                return fn()
            self._done.add(once)
        if self.root:
            out = fn()
        self.barrier(what, START_TIMEOUT)
        if not self.root:
            out = fn()
        self.barrier(what, START_TIMEOUT)  # rank 0 must not wait on the others' compiling in an exchange
        return out

    def gather_cat(self, a: np.ndarray, what: str, root_only: bool = False,
                   timeout: float | None = None) -> np.ndarray | None:
        """The ranks' arrays ``a`` (same dtype and trailing shape) concatenated in rank order
        along the first axis, on every rank (on rank 0 only when ``root_only``; None
        elsewhere). Buffer-based: nothing is pickled."""
        MPI = _MPI()
        a = np.ascontiguousarray(a)
        n = np.array([a.nbytes], np.int64)
        counts = np.zeros(self.size, np.int64)
        self.wait(self.comm.Iallgather([n, MPI.INT64_T], [counts, MPI.INT64_T]), what, timeout)
        out = np.empty(int(counts.sum()), np.uint8)
        send = [a.reshape(-1).view(np.uint8), MPI.BYTE]
        displ = np.zeros(self.size, np.int64)
        np.cumsum(counts[:-1], out=displ[1:])
        if root_only:
            req = self.comm.Igatherv(send, [out, (counts, displ), MPI.BYTE], root=0)
        else:
            req = self.comm.Iallgatherv(send, [out, (counts, displ), MPI.BYTE])
        self.wait(req, what)
        if root_only and not self.root:
            return None
        return out.view(a.dtype).reshape((-1,) + a.shape[1:])

    def sum_ints(self, a: np.ndarray, what: str) -> np.ndarray:
        """The element-wise sum of an integer array over the ranks (exact)."""
        a = np.asarray(a)
        if a.dtype.kind not in "iu":
            raise TypeError(f"sum_ints: integers only (float sums across ranks have no fixed order), got {a.dtype}")
        a = np.ascontiguousarray(a, np.int64)
        out = np.empty_like(a)
        MPI = _MPI()
        self.wait(self.comm.Iallreduce([a, MPI.INT64_T], [out, MPI.INT64_T], op=MPI.SUM), what)
        return out


def find_mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (the mpich wheel's, in a virtual environment) or
    on ``PATH``; None without one."""
    import shutil
    import sys
    from pathlib import Path

    return shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def _MPI():
    from mpi4py import MPI

    return MPI


_WORLD = None


def world(environ=None) -> Ranks | None:
    """The ranks of this MPI launch, or None when no launcher started more than one process.

    Raises a one-line :class:`AsyncPCError` when one did but ``mpi4py`` is missing."""
    global _WORLD
    k = launched_ranks(environ)
    if k < 2:
        return None
    if _WORLD is not None:
        return _WORLD
    try:
        import mpi4py
    except ImportError:
        raise AsyncPCError(f"started as one of {k} processes by an MPI launcher (mpiexec / mpirun), but mpi4py is "
                           "not installed: pip install 'asyncpc[mpi]' (or start asyncpc once, without the "
                           "launcher, and use --threads)") from None
    mpi4py.rc.thread_level = "funneled"  # MPI is called from the main thread only, between compiled calls
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    env = os.environ if environ is None else environ
    try:
        timeout = float(env.get("ASYNCPC_MPI_TIMEOUT", TIMEOUT))
    except ValueError:
        raise AsyncPCError(f"ASYNCPC_MPI_TIMEOUT: must be a number of seconds, got {env['ASYNCPC_MPI_TIMEOUT']!r}") \
            from None
    _WORLD = Ranks(comm=comm, rank=comm.Get_rank(), size=comm.Get_size(), local_size=local.Get_size(),
                   timeout=timeout)
    local.Free()
    _WORLD.listen()
    import atexit

    atexit.register(_WORLD.close)  # runs before mpi4py finalises MPI (registered earlier)
    return _WORLD
