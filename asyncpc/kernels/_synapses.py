"""Lazy, exact plasticity: a neuron's synapses as running sums (docs/model.md).

Every synapse ``j`` a neuron owns follows, tick by tick,

    w_j <- w_j + a_k (eta * l_j * post_k - decay * w_j)

where ``a_k`` (learning factor) and ``post_k`` (postsynaptic term) belong to the neuron
and tick ``k``, and ``l_j`` is the synapse's held presynaptic learning input (what its
sender last sent; for most synapses the same value that drives the neuron). While
``l_j`` is held this is a linear recurrence shared by all of the neuron's synapses, so
the neuron keeps two running numbers instead of touching every synapse:

    P = prod_k (1 - a_k * decay)         T = sum_k a_k * post_k / P_k
    w_j = P * (c_j + eta * l_j * T)      (c_j: the synapse's intercept)

and the input sum ``sum_j w_j * v_j`` (``v_j`` its held drive input) as

    sum_j w_j v_j = P * (A + eta * T * Q),   A = sum_j c_j v_j,   Q = sum_j l_j v_j.

A new message on synapse ``j`` changes ``c_j`` so that ``w_j`` is unchanged and updates
``A`` and ``Q`` by differences (:func:`apply_input`): O(1) per message, nothing per
silent synapse. :func:`rebase` folds ``P`` and ``T`` into the intercepts (``c_j = w_j``)
and recomputes ``A`` and ``Q`` exactly; :func:`needs_rebase` asks for one when rounding
in the running sums could have grown (many differences applied, ``|eta T|`` large, or
``P`` small). With ``decay = 0`` ``P`` stays exactly 1.

The kernels called per tick or per input take scalars and are inlined
(``inline="always"``); the rare ones (a rebase) take arrays.
"""

from __future__ import annotations

from ._options import jit

#: Rebase after this many inputs applied per synapse (plus a floor), when ``|eta * T|``
#: exceeds REBASE_T, or when ``P`` falls below REBASE_P.
REBASE_PER_SYNAPSE = 16
REBASE_FLOOR = 256
REBASE_T = 1.0
REBASE_P = 0.5


@jit(inline="always")
def input_delta(c0, v0, l0, v, l, T, eta, A, Q):
    """A synapse's held inputs change from ``(v0, l0)`` to drive ``v`` and learning input
    ``l``; its weight stays what it is. Returns its new intercept and ``(A, Q)``.

    A neuron that does not learn (``eta == 0``) has intercepts equal to its weights (up to
    ``P``) and never reads ``Q``: only ``A`` moves, by ``c * (v - v0)`` (one rounding fewer,
    and half the work of dense traffic on an inference-only network)."""
    if eta == 0.0:
        return c0, A + c0 * (v - v0), Q
    cn = c0 + eta * (l0 - l) * T
    A += cn * v - c0 * v0
    Q += l * v - l0 * v0
    return cn, A, Q


@jit(inline="always")
def apply_input(j, v, l, c, held, held_l, T, eta, A, Q):
    """:func:`input_delta` on synapse ``j`` of the arrays. Returns the updated ``(A, Q)``.
    ``held_l`` may be the same array as ``held`` (synapses that learn from what drives
    them)."""
    v0 = held[j]
    l0 = held_l[j]
    c[j], A, Q = input_delta(c[j], v0, l0, v, l, T, eta, A, Q)
    held[j] = v
    held_l[j] = l
    return A, Q


@jit(inline="always")
def lazy_sum(P, T, A, Q, eta):
    """The input sum ``sum_j w_j v_j`` of a neuron's synapses."""
    return P * (A + eta * T * Q)


@jit(inline="always")
def lazy_weight(c_j, l_j, P, T, eta):
    """Synapse ``j``'s weight now."""
    return P * (c_j + eta * l_j * T)


@jit(inline="always")
def lazy_advance(P, T, a, post, decay):
    """Fold one tick's plasticity (learning factor ``a``, postsynaptic term ``post``)
    into the neuron's running integral; returns ``(P, T)``."""
    if decay != 0.0:
        P = P * (1.0 - a * decay)
    T = T + a * post / P
    return P, T


@jit(inline="always")
def needs_rebase(P, T, eta, n_applied, n_syn):
    """Whether the neuron should fold its running integral into its synapses now."""
    return (n_applied > REBASE_PER_SYNAPSE * n_syn + REBASE_FLOOR or abs(eta * T) > REBASE_T
            or P < REBASE_P)


@jit
def rebase(lo, hi, c, held, held_l, P, T, eta):
    """Set every intercept ``c_j`` (``lo <= j < hi``) to the synapse's weight and return
    ``(A, Q)`` recomputed exactly; the caller resets ``P = 1``, ``T = 0``."""
    A = 0.0
    Q = 0.0
    for j in range(lo, hi):
        w = lazy_weight(c[j], held_l[j], P, T, eta)
        c[j] = w
        A += w * held[j]
        Q += held_l[j] * held[j]
    return A, Q


@jit
def sync_row(lo, hi, inbox, inbox_l, c, held, held_l, T, eta, A, Q):
    """Apply every synapse of ``lo..hi-1`` whose inbox differs from what the sums hold,
    in edge order; returns ``(A, Q, number applied)``."""
    n = 0
    for j in range(lo, hi):
        v = inbox[j]
        l = inbox_l[j]
        if v != held[j] or l != held_l[j]:
            A, Q = apply_input(j, v, l, c, held, held_l, T, eta, A, Q)
            n += 1
    return A, Q, n


@jit
def materialize(lo, hi, c, held_l, P, T, eta, w):
    """Write the weights of synapses ``lo..hi-1`` into ``w``."""
    for j in range(lo, hi):
        w[j] = lazy_weight(c[j], held_l[j], P, T, eta)


@jit
def rebase_rows(in_ptr, has_partner, eta, c, held, held_l, lz_a, lz_q):
    """Every neuron's running sums recomputed from its intercepts (``P = 1``, ``T = 0``);
    a neuron's synapses are its in-edges after its partner edge."""
    for n in range(in_ptr.shape[0] - 1):
        lz_a[n], lz_q[n] = rebase(in_ptr[n] + has_partner[n], in_ptr[n + 1], c, held, held_l, 1.0, 0.0, eta[n])


@jit
def transport_drive(lo, hi, mirror, owner, held, c, held_l, lz_p, lz_t, eta, n):
    """NON-LOCAL comparison mode: neuron ``n``'s feedback drive read through the weights
    ``W`` of the mirror synapses (held by the error neurons ``owner[m]``), or its own
    synapse where an edge has no mirror."""
    acc = 0.0
    for j in range(lo, hi):
        m = mirror[j]
        if m >= 0:
            k = owner[m]
            w = lazy_weight(c[m], held_l[m], lz_p[k], lz_t[k], eta[k])
        else:
            w = lazy_weight(c[j], held_l[j], lz_p[n], lz_t[n], eta[n])
        acc += w * held[j]
    return acc
