"""Numba-jitted per-neuron dynamics, shared by every runtime (compiled lazily, cached).

Twins in plain Python live in :mod:`asyncpc.kernels._python` for the tests.
"""

from ._activations import act, dact
from ._options import JIT_OPTIONS, jit
from ._params import N_PARAMS, PARAMS, param_rows
from ._rng import STREAM_CLOCK, STREAM_JITTER, STREAM_LOSS, randint, uniform
from ._synapses import apply_input, lazy_sum, lazy_weight, materialize, rebase, sync_row
from ._tick import error_tick, should_send, tick, value_tick

__all__ = ["JIT_OPTIONS", "N_PARAMS", "PARAMS", "STREAM_CLOCK", "STREAM_JITTER", "STREAM_LOSS", "act",
           "apply_input", "dact", "error_tick", "jit", "lazy_sum", "lazy_weight", "materialize", "param_rows", "randint",
           "rebase", "should_send", "sync_row", "tick", "uniform", "value_tick"]
