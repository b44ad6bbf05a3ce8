"""The compiled engine: the same semantics as :mod:`asyncpc.actors`, bit for bit, fast.

Neurons are struct-of-arrays state advanced by one Numba loop; messages are never
objects: every neuron writes what it last sent into a time-major history ring, and a
receiver pulls each in-edge's value from the ring row ``delay`` steps back. Partitions
of neurons run on threads inside windows of the minimum delay. See docs/engine.md.

Importing this package compiles nothing; the first run compiles (announced on stderr,
cached on disk) unless :func:`warmup` did.

>>> from asyncpc.engine import run, warmup
"""

from ._run import run, warmup
from ._state import EngineState, History

__all__ = ["EngineState", "History", "run", "warmup"]
