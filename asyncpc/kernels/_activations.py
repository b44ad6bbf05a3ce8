"""Activations and their derivatives, by integer code (see ``asyncpc.model.ACTIVATIONS``)."""

from __future__ import annotations

import math

from ._options import jit

LINEAR, TANH, SIGMOID, RELU, LEAKY_RELU = 0, 1, 2, 3, 4
LEAK = 0.01


@jit
def act(code, x):
    """f(x) for activation ``code``."""
    if code == TANH:
        return math.tanh(x)
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-x))
    if code == RELU:
        return x if x > 0.0 else 0.0
    if code == LEAKY_RELU:
        return x if x > 0.0 else LEAK * x
    return x


@jit
def dact(code, x):
    """f'(x) for activation ``code`` (relu'(0) = 0)."""
    if code == TANH:
        t = math.tanh(x)
        return 1.0 - t * t
    if code == SIGMOID:
        s = 1.0 / (1.0 + math.exp(-x))
        return s * (1.0 - s)
    if code == RELU:
        return 1.0 if x > 0.0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if x > 0.0 else LEAK
    return 1.0
