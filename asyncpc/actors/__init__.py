"""The literal runtime: every neuron an asyncio task, messages on delayed channels,
virtual time. It is the executable definition of the timing contract (docs/model.md)
and the place for custom Python actors. See docs/actors.md.

>>> from asyncpc.actors import run, MessageLog
"""

from ..observe import InFlight, MessageLog, Observer, RunContext
from ._environment import Context, Environment, ScheduleEnvironment
from ._neurons import Actor, ErrorNeuron, Neuron, NeuronSpec, ValueNeuron
from ._runtime import CarryState, arun, run, warmup

__all__ = ["Actor", "CarryState", "Context", "Environment", "ErrorNeuron", "InFlight", "MessageLog",
           "Neuron", "NeuronSpec", "Observer", "RunContext", "ScheduleEnvironment", "ValueNeuron",
           "arun", "run", "warmup"]
