"""Compiling the engine: explicitly (:func:`warmup`) or on first use, announced once.

Importing :mod:`asyncpc.engine` compiles nothing. The first call of a run loop with new
argument types compiles it (or loads it from Numba's on-disk cache, ``cache=True``);
when that takes more than a moment the user is told on stderr, once per process, that
the engine is compiling and then how long it took.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

from numba import typeof, types

__all__ = ["Notice", "call", "check_cache"]



def check_cache() -> None:
    """Drop the engine's cached compiled code if a source it inlines changed (see
    :func:`asyncpc.kernels._options.refresh_cache`)."""
    from .. import kernels
    from ..kernels._options import refresh_cache
    from . import _carry, _drive, _push, _step, _step_parts

    refresh_cache("engine", [kernels._activations, kernels._rng, kernels._tick, kernels._options,
                             kernels._params, kernels._synapses, _step, _step_parts, _carry, _drive, _push],
                  [_step, _step_parts, _carry, _drive, _push])


class Notice:
    """Tells the user, once per process, that the engine is compiling and how long it took.

    Wrap in :meth:`section` only calls that are quick unless they compile (explicit
    compiles, set-up and finishing kernels); when a section outlasts one second the
    notice is printed, and :meth:`done` prints the total.
    """

    _printed = False  # once per process

    def __init__(self):
        self.elapsed = 0.0
        self.shown = False

    def _show(self):
        if not Notice._printed:
            Notice._printed = True
            self.shown = True
            print("asyncpc.engine: compiling the engine for this machine (once; cached on disk) ...",
                  file=sys.stderr, flush=True)

    @contextmanager
    def section(self):
        timer = threading.Timer(1.0, self._show)
        timer.daemon = True
        t0 = time.perf_counter()
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self.elapsed += time.perf_counter() - t0

    def done(self):
        """Report the compile time of this run if it announced compiling."""
        if self.shown:
            print(f"asyncpc.engine: compiled in {self.elapsed:.1f} s", file=sys.stderr, flush=True)
        self.shown = False


def _signature(args, literal_at: int):
    sig = [typeof(a) for a in args]
    sig[literal_at] = types.literal(int(args[literal_at]))
    return tuple(sig)


def call(fn, args, *, literal_at: int, notice: Notice):
    """``fn(*args)``, its specialisation compiled (or loaded) first inside ``notice``."""
    return entry(fn, args, literal_at=literal_at, notice=notice)(*args)


def entry(fn, args, *, literal_at: int, notice: Notice):
    """The compiled entry point of ``fn`` for arguments typed like ``args`` (compiled or
    loaded first inside ``notice``); call it with arguments of the same types."""
    if not hasattr(fn, "overloads"):  # NUMBA_DISABLE_JIT=1: plain Python
        return fn
    sig = _signature(args, literal_at)
    cres = fn.overloads.get(sig)
    if cres is None:
        with notice.section():
            fn.compile(sig)
        cres = fn.overloads[sig]
    # the compiled entry point itself: dispatching a literal argument through the
    # dispatcher would cost milliseconds per call
    return cres.entry_point
