"""Counter-based random draws: a pure function of (seed, stream, id, t).

No runtime carries random state, so runs are reproducible across runtimes, thread
counts and checkpoint/resume. The mixer is SplitMix64's finaliser.
"""

from __future__ import annotations

import numpy as np

from ._options import jit

STREAM_LOSS, STREAM_JITTER, STREAM_CLOCK = 1, 2, 3

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_C1 = np.uint64(0xD1B54A32D192ED03)
_C2 = np.uint64(0xABC98388FB8FAC03)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@jit
def _mix(z):
    z = z + _GOLD
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def uniform(seed, stream, ident, t):
    """A float in [0, 1) for the key (seed, stream, ident, t); all non-negative ints."""
    k = _mix(np.uint64(seed))
    k = _mix(k ^ (np.uint64(stream) * _C1))
    k = _mix(k ^ (np.uint64(ident) * _C2))
    k = _mix(k ^ np.uint64(t))
    return np.float64(k >> _S11) * _INV53


@jit
def randint(seed, stream, ident, t, lo, hi):
    """An integer uniform in ``lo..hi`` (inclusive) for the key."""
    return lo + np.int64(uniform(seed, stream, ident, t) * (hi - lo + 1))
