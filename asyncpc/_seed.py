"""The one place where ``seed=`` arguments are normalised."""

from __future__ import annotations

import numpy as np

from .errors import SpecError


def normalize_seed(seed) -> int:
    """Return a non-negative 63-bit integer seed from ``None``, an int or a Generator.

    ``None`` means 0: asyncpc never draws entropy from the OS, so a run without a
    seed is still reproducible.
    """
    if seed is None:
        return 0
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63 - 1))
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise SpecError(f"seed: must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise SpecError(f"seed: must be >= 0, got {seed}")
    return int(seed) & (2**63 - 1)


def rng_for(seed, *stream: int) -> np.random.Generator:
    """A numpy Generator for one named purpose (``stream``) under ``seed``."""
    return np.random.default_rng([normalize_seed(seed), *stream])
