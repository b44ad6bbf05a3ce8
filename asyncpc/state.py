"""The dynamic state of a compiled network, and what a run returns.

Both runtimes start from :meth:`NetState.initial` and return :class:`RunResult`; the
equivalence tests compare these field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .compile import KIND_ERROR, KIND_VALUE, CompiledNet

__all__ = ["NetState", "RunResult", "initial_outputs"]


def initial_outputs(c: CompiledNet) -> tuple[np.ndarray, np.ndarray]:
    """(state0, rate0): each neuron's initial state and its initial rate f(x0)
    (an error neuron's rate is its state)."""
    from .kernels._python import act  # plain Python: no JIT compile at setup

    s0 = c.x0.copy()
    r0 = np.array([act(int(a), float(x)) if k == KIND_VALUE else float(x)
                   for a, x, k in zip(c.act, s0, c.kind)])
    return s0, r0


@dataclass
class NetState:
    """Struct-of-arrays state. ``s`` is x (value neurons) or eps (error neurons).

    ``inbox[e]`` is the latest value delivered on edge ``e``. ``aux`` is the one extra
    variable a neuron's dynamics options keep (docs/learning.md): a value neuron's
    low-passed x (``self_lag``), an error neuron's partner x at its previous tick, or its
    error's speed (``gate_tau``). ``syn_in``/``syn_m`` are per-edge state of the matched
    trace gate (``gate_tau``): a feedback synapse's input at its owner's previous tick and
    that input's low-passed speed; empty arrays when no neuron uses it. Runtimes that need
    more to continue a run exactly (messages in flight, history rings) subclass this.
    """

    t: int
    s: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    clamped: np.ndarray
    clamp_val: np.ndarray
    gain: np.ndarray
    last_tick: np.ndarray
    next_tick: np.ndarray
    ticks: np.ndarray
    last_sent: np.ndarray
    inbox: np.ndarray
    aux: np.ndarray
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    syn_in: np.ndarray = field(default_factory=lambda: np.zeros(0))
    syn_m: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def initial(cls, c: CompiledNet) -> "NetState":
        s0, r0 = initial_outputs(c)
        reads_rate = (c.kind[c.dst] == KIND_ERROR)
        first = c.in_ptr[:-1][c.has_partner.astype(bool)]
        reads_rate[first] = False
        inbox = np.where(reads_rate, r0[c.src], s0[c.src]) if c.n_edges else np.zeros(0)
        N = c.n_neurons
        aux = s0.copy()
        err = np.flatnonzero((c.kind == KIND_ERROR) & (c.has_partner != 0))
        aux[err] = s0[c.src[c.in_ptr[err]]]
        gt = c.gate_tau
        aux[(c.kind == KIND_ERROR) & (gt > 0)] = 0.0  # the error's speed starts at rest
        traced = bool(np.any(gt > 0))
        return cls(t=0, s=s0.copy(), w=c.w.copy(), bias=c.bias.copy(), clamped=np.zeros(N, np.int8),
                   clamp_val=np.zeros(N), gain=np.ones(N),
                   last_tick=c.phase.astype(np.int64) - c.period, next_tick=c.phase.astype(np.int64),
                   ticks=np.zeros(N, np.int64), last_sent=s0.copy(), inbox=inbox.astype(np.float64), aux=aux,
                   syn_in=inbox.astype(np.float64) if traced else np.zeros(0),
                   syn_m=np.zeros(c.n_edges) if traced else np.zeros(0))

    def copy(self) -> "NetState":
        import copy

        return type(self)(**{k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
                             for k, v in self.__dict__.items()})


def check_syn_state(state: NetState, c: CompiledNet) -> None:
    """The matched trace gate's per-synapse state has one slot per edge when a neuron of
    ``c`` uses ``gate_tau``, none otherwise (a state from another network is refused)."""
    from .errors import SpecError

    want = (c.n_edges,) if np.any(c.gate_tau > 0) else (0,)
    for name in ("syn_in", "syn_m"):
        if np.shape(getattr(state, name)) != want:
            raise SpecError(f"state.{name}: shape {np.shape(getattr(state, name))}, the network needs {want}")


@dataclass
class RunResult:
    """What a run observed. ``probe_x[p, r]``: activity of read-out neuron ``r`` at the end
    of probe step ``p``; ``probe_energy[p, a]``: energy of area ``a`` then."""

    probe_t: np.ndarray
    probe_x: np.ndarray
    probe_energy: np.ndarray
    state: NetState
    runtime: str = ""
    threads: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.state.sent

    @property
    def delivered(self) -> int:
        return self.state.delivered

    @property
    def dropped(self) -> int:
        return self.state.dropped
