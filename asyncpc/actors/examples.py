"""Worked custom actors, written in plain Python (see docs/actors.md).

:class:`SineSensor` is an environment actor: a sensor whose reading is a sine wave,
clamping one sensory value neuron to it. :class:`PythonValueNeuron` is a value neuron
with any nonlinearity, here written out in Python instead of calling the Numba kernel;
with ``f = tanh`` it reproduces the built-in neuron, with :func:`softsign` it is a new
kind of neuron. Both mix freely with built-in neurons:

>>> import math
>>> from asyncpc.actors import run
>>> from asyncpc.actors.examples import PythonValueNeuron, SineSensor, softsign, dsoftsign
>>> from asyncpc.compile import compile_network
>>> from asyncpc.environment import Schedule
>>> from asyncpc.model import layered
>>> c = compile_network(layered([1, 3, 1]))
>>> hidden = c.neurons_of("hidden1")
>>> actors = {"sine": SineSensor(0, amplitude=0.5, period_ms=2.0)}
>>> actors.update({int(i): PythonValueNeuron(softsign, dsoftsign) for i in hidden})
>>> res = run(c, Schedule.empty(end=40), actors=actors)
>>> bool(abs(res.state.s[0] - 0.5 * math.sin(2 * math.pi * 38 * 0.1 / 2.0)) < 1e-12)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ._environment import Environment
from ._neurons import Neuron

__all__ = ["SineSensor", "PythonValueNeuron", "softsign", "dsoftsign"]


class SineSensor(Environment):
    """Clamps value neuron ``neuron`` to ``offset + amplitude * sin(2 pi t / period_ms)``.

    It samples every ``every`` steps; each reading is a clamp message that arrives
    ``ctx.env_delay`` steps after it is taken. It is a function of time only, so a
    continued run carries on the same wave.
    """

    name = "sine sensor"

    def __init__(self, neuron: int, *, amplitude: float = 1.0, period_ms: float = 10.0,
                 offset: float = 0.0, every: int = 1):
        if every < 1:
            raise ValueError(f"SineSensor.every: must be >= 1 step, got {every}")
        self.neuron, self.amplitude, self.period_ms = int(neuron), float(amplitude), float(period_ms)
        self.offset, self.every = float(offset), int(every)

    def reading(self, t: int, h: float) -> float:
        """The sensor's value at step ``t`` (resolution ``h`` ms)."""
        return self.offset + self.amplitude * math.sin(2.0 * math.pi * t * h / self.period_ms)

    async def run(self, ctx) -> None:
        t = ctx.t0 + (-ctx.t0) % self.every  # the sampling grid is t = 0, every, 2 every, ...
        while t < ctx.stop:
            await ctx.until(t)
            ctx.clamp(self.neuron, self.reading(t, ctx.h))
            t += self.every


def softsign(x: float) -> float:
    """f(x) = x / (1 + |x|)."""
    return x / (1.0 + abs(x))


def dsoftsign(x: float) -> float:
    """f'(x) = 1 / (1 + |x|)^2."""
    d = 1.0 + abs(x)
    return 1.0 / (d * d)


class PythonValueNeuron(Neuron):
    """A value neuron with nonlinearity ``f`` (derivative ``df``), in plain Python.

    It follows docs/model.md like the built-in value neuron: Euler step of
    ``tau_x dx/dt = -eps_self + f'(x) * sum_j V_j in_j`` (or the clamp value), local
    V plasticity ``dV_j = g (eta in_j f(x) - decay V_j)``; it sends ``x`` to its error
    partner and ``f(x)`` on its predict edges. (Transport mode is not supported.)
    """

    def __init__(self, f: Callable[[float], float] = math.tanh,
                 df: Callable[[float], float] = lambda x: 1.0 - math.tanh(x) ** 2):
        super().__init__()
        self.f, self.df = f, df

    def bind(self, i, spec, state, ctx, wires, seed, ticked_hooks=()):
        if spec.kind != "value":
            raise ValueError(f"PythonValueNeuron: neuron {i} is an error neuron")
        super().bind(i, spec, state, ctx, wires, seed, ticked_hooks)

    def update(self, t: int, dt: float) -> tuple[float, float]:
        sp, inbox, w = self.spec, self.inbox, self.w
        x = self.s
        fx, dfx = self.f(x), self.df(x)
        start = 1 if sp.has_partner else 0
        drive = 0.0
        for j in range(start, len(inbox)):
            drive += float(w[j]) * float(inbox[j])
        e_self = float(inbox[0]) if sp.has_partner else 0.0
        xn = self.clamp_value if self.clamped else x + dt / sp.tau * (-e_self + dfx * drive)
        g = self.gain
        if g != 0.0:
            a = dt * g
            for j in range(start, len(inbox)):
                w[j] = float(w[j]) + a * (sp.eta * float(inbox[j]) * fx - sp.decay * float(w[j]))
        return xn, self.f(xn)
