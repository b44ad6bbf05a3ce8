"""The dynamic state of a compiled network, and what a run returns.

Both runtimes start from :meth:`NetState.initial` and return :class:`RunResult`; the
equivalence tests compare these field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .compile import KIND_ERROR, KIND_VALUE, CompiledNet

__all__ = ["NetState", "RunResult", "initial_outputs", "check_syn_state"]


def _empty() -> np.ndarray:
    return np.zeros(0)


def _empty_int() -> np.ndarray:
    return np.zeros(0, np.int64)


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

    ``inbox[e]`` is the latest value delivered on edge ``e``; ``held[e]`` the value the
    receiver's synapse sums hold (what ``inbox[e]`` was at its last tick). ``w`` are the
    synapses' weights as of ``t``: a view materialised from the event-driven synapse
    state, which is what runs continue from (docs/model.md, "Lazy plasticity"):
    per edge the intercept ``syn_c``, per neuron the running integral ``lz_p``, ``lz_t``,
    the running sums ``lz_a``, ``lz_q`` and the inputs applied since the last rebase
    ``lz_n``. ``aux`` is the one extra variable a neuron's dynamics options keep
    (docs/learning.md): a value neuron's low-passed x (``self_lag``), an error neuron's
    partner x at its previous tick, or its error's speed (``gate_tau``); with ``clamp_echo``
    a label neuron's partner error before its clamp changed. ``bias`` is an error neuron's
    bias; a value neuron has none, and with ``clamp_echo_max`` its slot holds how long the
    neuron has held its clamp (ms). ``last_send`` is
    the step of a neuron's last send (``-1`` before its first). Counters: messages
    ``sent``, ``delivered``, ``dropped``; synaptic work -- inputs ``applied`` to running
    sums, synapses ``rebased``.

    Learning signals (docs/model.md): when an error neuron sends a learning signal apart
    from its error (the matched trace gate), ``inbox_sig`` / ``held_sig`` are the latest
    delivered / held signals per edge and ``last_sig`` each neuron's last sent one;
    otherwise they are empty and the signal of an edge is its value.

    A state without the event-driven fields (``syn_c`` empty), e.g. one made by hand or
    by the dense reference, is completed by :meth:`with_synapses` from ``w`` and
    ``inbox``, as if every neuron had just rebased.
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
    applied: int = 0
    rebased: int = 0
    held: np.ndarray = field(default_factory=_empty)
    syn_c: np.ndarray = field(default_factory=_empty)
    lz_p: np.ndarray = field(default_factory=_empty)
    lz_t: np.ndarray = field(default_factory=_empty)
    lz_a: np.ndarray = field(default_factory=_empty)
    lz_q: np.ndarray = field(default_factory=_empty)
    lz_n: np.ndarray = field(default_factory=_empty_int)
    last_send: np.ndarray = field(default_factory=_empty_int)
    inbox_sig: np.ndarray = field(default_factory=_empty)
    held_sig: np.ndarray = field(default_factory=_empty)
    last_sig: np.ndarray = field(default_factory=_empty)

    @classmethod
    def initial(cls, c: CompiledNet) -> "NetState":
        s0, r0 = initial_outputs(c)
        code = c.edge_codes()
        inbox = np.where(code == 1, r0[c.src], s0[c.src]) if c.n_edges else np.zeros(0)
        N = c.n_neurons
        aux = s0.copy()
        err = np.flatnonzero((c.kind == KIND_ERROR) & (c.has_partner != 0))
        aux[err] = s0[c.src[c.in_ptr[err]]]
        aux[(c.kind == KIND_ERROR) & (c.gate_tau > 0)] = 0.0  # the error's speed starts at rest
        st = cls(t=0, s=s0.copy(), w=c.w.copy(), bias=c.bias.copy(), clamped=np.zeros(N, np.int8),
                 clamp_val=np.zeros(N), gain=np.ones(N),
                 last_tick=c.phase.astype(np.int64) - c.period, next_tick=c.phase.astype(np.int64),
                 ticks=np.zeros(N, np.int64), last_sent=s0.copy(), inbox=inbox.astype(np.float64), aux=aux)
        return st.with_synapses(c)

    def with_synapses(self, c: CompiledNet) -> "NetState":
        """This state with its event-driven fields filled in when it has none (from ``w``
        and ``inbox``: every synapse rebased, held inputs the inboxes); checked otherwise."""
        N, E = c.n_neurons, c.n_edges
        if len(self.syn_c) == 0 and E:
            from .kernels._synapses import rebase_rows

            self.held = np.array(self.inbox, np.float64, copy=True)
            self.syn_c = np.array(self.w, np.float64, copy=True)
            if c.signals:
                self.inbox_sig = self.held.copy()  # a signal equal to the value: ungated at rest
                self.held_sig = self.held.copy()
                self.last_sig = np.array(self.last_sent, np.float64, copy=True)
            else:
                self.inbox_sig = self.held_sig = self.last_sig = np.zeros(0)
            self.lz_p, self.lz_t = np.ones(N), np.zeros(N)
            self.lz_a, self.lz_q = np.zeros(N), np.zeros(N)
            self.lz_n = np.zeros(N, np.int64)
            rebase_rows(c.in_ptr.astype(np.int64), c.has_partner.astype(np.int64), np.ascontiguousarray(c.eta, np.float64),
                        self.syn_c, self.held, self.held_sig if c.signals else self.held, self.lz_a, self.lz_q)
        elif E == 0:
            self.held = self.syn_c = np.zeros(0)
            self.inbox_sig = self.held_sig = self.last_sig = np.zeros(0)
            self.lz_p, self.lz_t, self.lz_a, self.lz_q = np.ones(N), np.zeros(N), np.zeros(N), np.zeros(N)
            self.lz_n = np.zeros(N, np.int64)
        if len(self.last_send) == 0:
            self.last_send = np.full(N, -1, np.int64)
        check_syn_state(self, c)
        return self

    def weights(self, c: CompiledNet) -> np.ndarray:
        """Every synapse's weight now, from the event-driven synapse state (what ``w``
        holds at the end of a run; an observer calls this to read weights mid-run)."""
        from .kernels._synapses import materialize

        w = np.array(self.w, np.float64, copy=True)
        sig = self.held_sig if len(self.held_sig) else self.held
        for n in range(c.n_neurons):
            lo, hi = int(c.in_ptr[n] + c.has_partner[n]), int(c.in_ptr[n + 1])
            if hi > lo:
                materialize(lo, hi, self.syn_c, sig, self.lz_p[n], self.lz_t[n], float(c.eta[n]), w)
        return w

    def copy(self) -> "NetState":
        import copy

        return type(self)(**{k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
                             for k, v in self.__dict__.items()})


PER_EDGE = ("w", "inbox", "held", "syn_c")
PER_NEURON = ("s", "bias", "clamped", "clamp_val", "gain", "last_tick", "next_tick", "ticks", "last_sent", "aux",
              "lz_p", "lz_t", "lz_a", "lz_q", "lz_n", "last_send")
SIGNAL_FIELDS = (("inbox_sig", "edge"), ("held_sig", "edge"), ("last_sig", "neuron"))


def check_syn_state(state: NetState, c: CompiledNet) -> None:
    """Every array of ``state`` has the shape network ``c`` needs (a state from another
    network is refused with a one-line error naming the field)."""
    from .errors import SpecError

    N, E = c.n_neurons, c.n_edges
    want = {**{k: (E,) for k in PER_EDGE}, **{k: (N,) for k in PER_NEURON}}
    for name, per in SIGNAL_FIELDS:
        want[name] = ((E,) if per == "edge" else (N,)) if c.signals and E else (0,)
    for name, shape in want.items():
        if np.shape(getattr(state, name)) != shape:
            raise SpecError(f"state.{name}: shape {np.shape(getattr(state, name))} does not match the network {shape}")


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
