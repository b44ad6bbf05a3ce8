"""Numba compile options, in one place.

``cache=True`` keeps compiled kernels on disk across processes. ``fastmath`` stays off:
reassociation or FMA contraction would break bit-identity between runtimes.
``ASYNCPC_NO_CACHE=1`` disables the on-disk cache (read-only installs).
"""

from __future__ import annotations

import os

import numba

JIT_OPTIONS = dict(cache=os.environ.get("ASYNCPC_NO_CACHE", "") != "1", nogil=True, fastmath=False)


def jit(fn=None, **extra):
    """``numba.njit`` with the project's options."""
    opts = {**JIT_OPTIONS, **extra}
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)
