"""The engine's working layout: a run's state packed into rows, one row per edge or neuron.

A message touches a handful of its edge's variables (inbox, held inputs, intercept, dirty
mark) and a tick a few dozen of its neuron's. Kept as one array per variable, each of
those is a separate cache line: on the digits network (whose state outgrows the L2
cache) a message cost ~80 ns and a tick ~100 ns. Packed, an edge's variables share one
64-byte row and a neuron's a few. :func:`pack` lays a :class:`~asyncpc.state.NetState`
out so at the start of a run; :func:`unpack` writes the rows back at its end. Nothing
here changes a result: the same numbers, in other places.

Rows (column constants below):

- ``ef`` (E x 8 float64): held input, intercept, held signal, inbox, signal inbox,
  dirty mark (0/1; the push path's). A pulling run without noisy edges reads its inboxes
  from the history ring and touches only the first columns: it runs on :func:`narrow`
  rows (held input and intercept, plus the held signal with learning signals: 16 or 24
  bytes an edge instead of 64, measured 2x faster when every neuron sends at every tick);
  without learning signals the held-signal column is never read (``held_col``).
- ``nf`` (N x 16 float64): state, option variable, bias, gain, clamp value, last sent
  state, last sent second output, last sent signal, and the running sums P, T, A, Q;
- ``ni`` (N x 8 int64): last tick, next tick, ticks, last send, inputs applied since the
  last rebase, clamped, dirty count, inbox synchronised (pull's noisy edges);
- ``ns`` (N x 24 int64, static): in-edge range (first, first synapse, end), kind,
  period, clock jitter, send policy, refresh, out-degree, lossy out-edges, group range
  and jittered-edge range of the push path, noisy in-edges, out-edge range;
- ``pf`` (N x 24 float64, static): the kernels' parameter row (``asyncpc.kernels.PARAMS``, ROW wide)
  and the on_delta threshold.
"""

from __future__ import annotations

import numpy as np

from ..kernels import param_rows
from ..kernels._params import ROW

__all__ = ["held_col", "narrow", "pack", "static_rows", "unpack", "widen"]

# ef
E_HELD, E_C, E_HELDL, E_IN, E_INL, E_DIRTY = range(6)
EF = 8
# nf
F_S, F_AUX, F_BIAS, F_GAIN, F_CVAL, F_LSENT, F_OUT2, F_LSIG, F_P, F_T, F_A, F_Q = range(12)
NF = 16
# ni
I_LTICK, I_NTICK, I_TICKS, I_LSEND, I_LN, I_CLAMPED, I_DCNT, I_SYNCED = range(8)
NI = 8
# ns
(S_E0, S_SL, S_E1, S_KIND, S_PERIOD, S_CJIT, S_POLICY, S_REFRESH, S_OUTDEG, S_LOSSY, S_G0, S_G1, S_J0, S_J1,
 S_NOISY, S_O0, S_O1) = range(17)
NS = 24
# pf
PF_THRESH = ROW
PF = 24

_EDGE = (("inbox", E_IN), ("inbox_sig", E_INL), ("held", E_HELD), ("held_sig", E_HELDL), ("syn_c", E_C))
_NEURON_F = (("s", F_S), ("aux", F_AUX), ("bias", F_BIAS), ("gain", F_GAIN), ("clamp_val", F_CVAL),
             ("last_sent", F_LSENT), ("last_sig", F_LSIG), ("lz_p", F_P), ("lz_t", F_T), ("lz_a", F_A),
             ("lz_q", F_Q))
_NEURON_I = (("last_tick", I_LTICK), ("next_tick", I_NTICK), ("ticks", I_TICKS), ("last_send", I_LSEND),
             ("lz_n", I_LN), ("clamped", I_CLAMPED))


def static_rows(c, wheel=None) -> tuple[np.ndarray, np.ndarray]:
    """``(ns, pf)``: the static neuron rows of compiled net ``c`` (group ranges from
    ``wheel``, the push path's, when given)."""
    N = c.n_neurons
    ns = np.zeros((N, NS), np.int64)
    in_ptr = c.in_ptr.astype(np.int64)
    ns[:, S_E0] = in_ptr[:-1]
    ns[:, S_SL] = in_ptr[:-1] + c.has_partner
    ns[:, S_E1] = in_ptr[1:]
    ns[:, S_KIND] = c.kind
    ns[:, S_PERIOD] = c.period
    ns[:, S_CJIT] = c.cjit
    ns[:, S_POLICY] = c.send
    ns[:, S_REFRESH] = c.refresh
    out_ptr = c.out_ptr.astype(np.int64)
    ns[:, S_OUTDEG] = np.diff(out_ptr)
    ns[:, S_O0] = out_ptr[:-1]
    ns[:, S_O1] = out_ptr[1:]
    lossy = np.zeros(N, np.int64)
    lossy[c.src[c.loss > 0]] = 1
    ns[:, S_LOSSY] = lossy
    noisy = np.zeros(N, np.int64)
    row = np.repeat(np.arange(N), np.diff(in_ptr))
    noisy[row[(c.loss > 0) | (c.jit > 0)]] = 1
    ns[:, S_NOISY] = noisy
    if wheel is not None and wheel.push:
        ns[:, S_G0], ns[:, S_G1] = wheel.gptr[:-1], wheel.gptr[1:]
        ns[:, S_J0], ns[:, S_J1] = wheel.jptr[:-1], wheel.jptr[1:]
    pf = np.zeros((N, PF))
    pf[:, :ROW] = param_rows(c)
    pf[:, PF_THRESH] = c.thresh
    return ns, pf


def held_col(signals: bool) -> int:
    """The column holding a synapse's held learning input: its own with learning signals,
    else the held input's (the two are equal)."""
    return E_HELDL if signals else E_HELD


def narrow(ef, signals: bool) -> np.ndarray:
    """The columns a clean pulling run touches (a copy)."""
    return np.ascontiguousarray(ef[:, :E_HELDL + 1 if signals else E_C + 1])


def widen(ef, signals: bool) -> np.ndarray:
    """Rows of :func:`narrow` back at full width (the other columns zero; without signals
    the held-signal column repeats the held input, as :func:`pack` lays it out)."""
    if ef.shape[1] == EF:
        return ef
    out = np.zeros((ef.shape[0], EF))
    out[:, :ef.shape[1]] = ef
    if not signals:
        out[:, E_HELDL] = out[:, E_HELD]
    return out


def pack(st, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ef, nf, ni)``: state ``st`` (a NetState of ``c``, its event-driven fields
    complete) as rows. Without learning signals the signal columns repeat the values."""
    E, N = c.n_edges, c.n_neurons
    sig = len(st.inbox_sig) > 0
    ef = np.zeros((max(E, 1), EF))
    for name, k in _EDGE:
        if name.endswith("_sig") and not sig:
            name = name[:-4]
        if E:
            ef[:E, k] = getattr(st, name)
    nf = np.zeros((N, NF))
    for name, k in _NEURON_F:
        if name == "last_sig" and not sig:
            name = "last_sent"
        nf[:, k] = getattr(st, name)
    ni = np.zeros((N, NI), np.int64)
    for name, k in _NEURON_I:
        ni[:, k] = getattr(st, name)
    return ef, nf, ni


def unpack(ef, nf, ni, c, sig: bool) -> dict:
    """The rows as the fields of a NetState (new arrays; signal fields empty without
    learning signals)."""
    E = c.n_edges
    z = np.zeros(0)
    out = {}
    for name, k in _EDGE:
        out[name] = z if (name.endswith("_sig") and not sig) else np.ascontiguousarray(ef[:E, k])
    for name, k in _NEURON_F:
        out[name] = z if (name == "last_sig" and not sig) else np.ascontiguousarray(nf[:, k])
    for name, k in _NEURON_I:
        out[name] = np.ascontiguousarray(ni[:, k]).astype(np.int8 if name == "clamped" else np.int64)
    return out
