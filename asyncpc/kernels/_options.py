"""Numba compile options, in one place.

``cache=True`` keeps compiled kernels on disk across processes. ``fastmath`` stays off:
reassociation or FMA contraction would break bit-identity between runtimes.
``ASYNCPC_NO_CACHE=1`` disables the on-disk cache (read-only installs).
"""

from __future__ import annotations

import hashlib
import os

import numba

JIT_OPTIONS = dict(cache=os.environ.get("ASYNCPC_NO_CACHE", "") != "1", nogil=True, fastmath=False)


def jit(fn=None, **extra):
    """``numba.njit`` with the project's options."""
    opts = {**JIT_OPTIONS, **extra}
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)


_refreshed: set = set()


def refresh_cache(tag: str, sources, holders) -> None:
    """Drop the on-disk compiled code of the jitted functions in ``holders`` (modules) if
    any module in ``sources`` changed since it was cached.

    Numba invalidates a cached function only when *its own* file changes; functions that
    call (and inline) kernels from other files would otherwise keep running an old kernel.
    A digest of ``sources`` is kept beside the cache and compared once per process.
    """
    if tag in _refreshed:
        return
    _refreshed.add(tag)
    from numba.core.dispatcher import Dispatcher

    digest = hashlib.sha256()
    for m in sources:
        with open(m.__file__, "rb") as fh:
            digest.update(fh.read())
    want = digest.hexdigest()
    disps = [v for m in holders for v in vars(m).values() if isinstance(v, Dispatcher)]
    path = next((d._cache.cache_path for d in disps if getattr(d, "_cache", None) is not None
                 and getattr(d._cache, "cache_path", None)), None)
    if not path:
        return
    stamp = os.path.join(path, f"asyncpc-{tag}.sources")
    try:
        with open(stamp) as fh:
            if fh.read().strip() == want:
                return
    except OSError:
        pass
    for d in disps:
        d._cache.flush()
    try:
        os.makedirs(path, exist_ok=True)
        with open(stamp, "w") as fh:
            fh.write(want + "\n")
    except OSError:  # a read-only cache: the flushed index is simply rebuilt next time
        pass
