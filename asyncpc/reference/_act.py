"""Vectorised activations by integer code (the numpy counterpart of ``kernels._activations``).

The formulas are written exactly as the kernels write them (``1 - t*t`` for tanh',
``s * (1 - s)`` for sigmoid', relu'(0) = 0) so that the dense oracle and the per-neuron
kernels agree to rounding.
"""

from __future__ import annotations

import numpy as np

from ..model import ACTIVATIONS

LINEAR, TANH, SIGMOID, RELU, LEAKY_RELU = range(5)
# The kernels' leak; kept as a literal so importing the oracle never imports Numba.
LEAK = 0.01


def act(code: int, x: np.ndarray) -> np.ndarray:
    """f(x) for one activation code, elementwise."""
    if code == TANH:
        return np.tanh(x)
    if code == SIGMOID:
        return 1.0 / (1.0 + np.exp(-x))
    if code == RELU:
        return np.where(x > 0.0, x, 0.0)
    if code == LEAKY_RELU:
        return np.where(x > 0.0, x, LEAK * x)
    return np.array(x, dtype=np.float64, copy=True)


def dact(code: int, x: np.ndarray) -> np.ndarray:
    """f'(x) for one activation code, elementwise (relu'(0) = 0, as in the kernels)."""
    if code == TANH:
        t = np.tanh(x)
        return 1.0 - t * t
    if code == SIGMOID:
        s = 1.0 / (1.0 + np.exp(-x))
        return s * (1.0 - s)
    if code == RELU:
        return np.where(x > 0.0, 1.0, 0.0)
    if code == LEAKY_RELU:
        return np.where(x > 0.0, 1.0, LEAK)
    return np.ones_like(np.asarray(x, dtype=np.float64))


def code_of(activation) -> int:
    """Activation code from a name in :data:`asyncpc.model.ACTIVATIONS` or a code."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            from ..errors import SpecError
            raise SpecError(f"activation: must be one of {list(ACTIVATIONS)}, got {activation!r}")
        return ACTIVATIONS.index(activation)
    code = int(activation)
    if not 0 <= code < len(ACTIVATIONS):
        from ..errors import SpecError
        raise SpecError(f"activation: code must be in 0..{len(ACTIVATIONS) - 1}, got {activation!r}")
    return code


class Activation:
    """Per-neuron activations of one population, applied as a vector.

    A population normally has one activation; a user graph may mix them, in which case
    each code is applied to its own neurons (so the oracle never has to require
    uniformity).
    """

    def __init__(self, codes):
        codes = np.asarray(codes, dtype=np.int64).ravel()
        self.codes = codes
        uniq = np.unique(codes)
        self._single = int(uniq[0]) if len(uniq) == 1 else (LINEAR if len(uniq) == 0 else None)
        self._groups = [(int(k), codes == k) for k in uniq]

    def f(self, x: np.ndarray) -> np.ndarray:
        if self._single is not None:
            return act(self._single, x)
        out = np.empty_like(x)
        for k, m in self._groups:
            out[m] = act(k, x[m])
        return out

    def df(self, x: np.ndarray) -> np.ndarray:
        if self._single is not None:
            return dact(self._single, x)
        out = np.empty_like(x)
        for k, m in self._groups:
            out[m] = dact(k, x[m])
        return out
