"""Numba-jitted per-neuron dynamics, shared by every runtime (compiled lazily, cached).

Twins in plain Python live in :mod:`asyncpc.kernels._python` for the tests.
"""

from ._activations import act, dact
from ._options import JIT_OPTIONS, jit
from ._rng import STREAM_CLOCK, STREAM_JITTER, STREAM_LOSS, randint, uniform
from ._tick import error_tick, should_send, value_tick

__all__ = ["JIT_OPTIONS", "STREAM_CLOCK", "STREAM_JITTER", "STREAM_LOSS", "act", "dact",
           "error_tick", "jit", "randint", "should_send", "uniform", "value_tick"]
