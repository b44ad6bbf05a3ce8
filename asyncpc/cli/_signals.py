"""SIGTERM and SIGUSR1 stop a run the way Ctrl-C does: a checkpoint of the last finished
chunk, status ``interrupted``, and an exit status that says which signal it was.

Schedulers send SIGTERM before they kill a job (SLURM, Kubernetes, systemd, a plain
``kill``), and SLURM's ``--signal=USR1@60`` sends SIGUSR1 ahead of the time limit. Python
delivers a signal between bytecodes, so a run inside compiled code notices it when the
current piece of a chunk returns (a chunk is at most 1/200 of a run).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["EXIT_BAD_INPUT", "EXIT_DIVERGED", "Interrupted", "agreed_stop", "exit_code", "interrupt_in",
           "noted_interrupt", "stop_on_signals"]

#: Exit status of bad input, refused resources and refused runs or resumes.
EXIT_BAD_INPUT = 2
#: Exit status of a run that diverged (NaN/inf or an energy blow-up).
EXIT_DIVERGED = 3
#: The signals that stop a run with a checkpoint (SIGINT raises KeyboardInterrupt itself).
SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s is not None)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number (the shell's convention): 130 for Ctrl-C, 143 for SIGTERM,
    138 for SIGUSR1 (on Linux)."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def interrupt_in(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (Ctrl-C, or :class:`Interrupted`) in ``exc``'s chain of causes,
    or None. A signal that arrives while Numba runs a Python callback (loading a cached
    function at its first call) raises its exception there, and it reaches the run wrapped
    in a ``SystemError``: it is still the signal, not a bug."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def noted_interrupt(exc: BaseException, manifest: dict) -> KeyboardInterrupt:
    """The signal's exception behind ``exc`` (:func:`interrupt_in`), noted in a run's
    manifest; without one, ``exc`` is raised again (a bug)."""
    ki = interrupt_in(exc)
    if ki is None:
        raise exc
    manifest["interrupted_by"] = signal_name(ki)
    return ki


def signal_name(exc: BaseException) -> str:
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


#: Signals received by an MPI rank, acted on by every rank together (:func:`agreed_stop`).
_DEFERRED: list = []


@contextmanager
def stop_on_signals(ranks=None):
    """Inside: SIGTERM and SIGUSR1 raise :class:`Interrupted` (once; a second signal while
    the run writes its checkpoint is ignored). Outside the main thread: nothing changes.

    On MPI ``ranks`` a signal (SIGINT too) is only noted: the ranks must stop at the same
    place, so they stop together at the next chunk end (:func:`agreed_stop`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []
    defer = ranks is not None
    _DEFERRED.clear()

    def handler(signum, frame):
        if fired:
            return
        fired.append(signum)
        if defer:
            _DEFERRED.append(signum)
            return
        raise Interrupted(signum)

    old = {}
    try:
        for s in SIGNALS + ((signal.SIGINT,) if defer else ()):
            old[s] = signal.signal(s, handler)
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def agreed_stop(ranks) -> None:
    """Called by every rank at the same chunk end: raise :class:`Interrupted` on all of them
    when any received a signal (the lowest rank's signal names it)."""
    import numpy as np

    from .._mpi import START_TIMEOUT

    # rank 0 may have been writing a checkpoint meanwhile: the long deadline
    got = ranks.gather_cat(np.array([_DEFERRED[0] if _DEFERRED else 0], np.int64), "the signal check",
                           timeout=START_TIMEOUT)
    hit = got[got > 0]
    if len(hit):
        raise Interrupted(int(hit[0]))
