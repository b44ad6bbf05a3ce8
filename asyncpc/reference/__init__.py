"""The dense synchronous oracle of the model, and online backprop on the same architecture.

Used as a test oracle and a benchmark baseline only (see docs/reference.md):

- :class:`DensePC` simulates the equations of docs/model.md for a network in which every
  message takes one step and every neuron ticks every step, with dense per-projection
  matrices; its :class:`~asyncpc.state.RunResult` compares edge by edge with the runtimes'.
- :func:`relax` steps a :class:`DensePC` with weights frozen until it stops moving.
- :class:`BackpropMLP` and :func:`backprop_gradients`: the MLP that a layered network's
  feedforward equilibrium computes, trained by online SGD.
"""

from ._backprop import BackpropMLP, backprop_gradients
from ._dense import DensePC
from ._relax import Relaxation, relax

__all__ = ["BackpropMLP", "DensePC", "Relaxation", "backprop_gradients", "relax"]
