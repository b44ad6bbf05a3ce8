"""Where the MPI ranks' boundaries go: along the processing order, or where a graph
partitioner (METIS, through ``pymetis`` in the ``[mpi]`` extra) finds a smaller cut.

Both cut *units* -- a value neuron with its error partner, or a neuron alone: a cut
never separates a pair -- weighted by their work (in-degree + a constant per neuron),
and weigh each edge by what cutting it costs: ``ceil(cap / delay)``. A one-step wire
between ranks forces an exchange at every step; a wire of ``cap`` steps or more lets the
ranks run that far apart. Which one a run uses is ``ASYNCPC_PARTITIONER``:

- ``auto`` (the default): METIS's cut when pymetis is installed and it gives a longer
  rank window (the smallest delay between ranks), or the same window and fewer edges
  between ranks, than the order's (a layered network's order usually wins: it already
  cuts along the slow wires);
- ``order``: the cut along the processing order (docs/scaling.md);
- ``metis``: METIS's cut (an error when pymetis is missing).

The choice never changes a result: a run is bit-identical on any partition.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import AsyncPCError

__all__ = ["PARTITIONERS", "partitioner", "cut_weight", "cut_score", "metis_available", "metis_ranks"]

PARTITIONERS = ("auto", "order", "metis")
#: METIS's seed: the same cut on every machine with the same library (and rank 0's is
#: broadcast to the others in any case)
METIS_SEED = 1


def partitioner() -> str:
    """The partitioner ``ASYNCPC_PARTITIONER`` asks for (default ``auto``)."""
    name = os.environ.get("ASYNCPC_PARTITIONER", "auto").strip().lower() or "auto"
    if name not in PARTITIONERS:
        raise AsyncPCError(f"ASYNCPC_PARTITIONER: expected one of {', '.join(PARTITIONERS)}, got {name!r}")
    return name


def metis_available() -> bool:
    """Whether pymetis (the ``[mpi]`` extra) can be imported."""
    try:
        import pymetis  # noqa: F401
    except ImportError:
        return False
    return True


def cut_weight(delay: np.ndarray, cap: int) -> np.ndarray:
    """What cutting each edge of ``delay`` steps costs: ``ceil(cap / delay)`` (1 for a wire
    of ``cap`` steps or more)."""
    d = np.clip(np.asarray(delay, np.int64), 1, cap)
    return -(-cap // d)


def cut_score(src: np.ndarray, dst: np.ndarray, delay: np.ndarray, rank: np.ndarray, cap: int) -> tuple:
    """How good a cut is, smaller is better: ``(-window, edges between ranks)``, the window
    being the smallest delay of an edge between ranks (at most ``cap``): a longer window
    means fewer exchanges, fewer edges fewer messages in them."""
    cross = rank[src] != rank[dst]
    window = int(min(int(delay[cross].min()), cap)) if cross.any() else cap
    return -window, int(cross.sum())


def metis_ranks(unit: np.ndarray, work: np.ndarray, src: np.ndarray, dst: np.ndarray, delay: np.ndarray, K: int,
                cap: int, tolerance: float) -> np.ndarray | None:
    """A rank for each unit (``unit[n]``: neuron ``n``'s unit; ``work[u]``: unit ``u``'s
    work) from METIS over the graph of units, edges weighed by :func:`cut_weight`, each
    rank's work within ``tolerance`` of an even share; None when pymetis is not installed."""
    if not metis_available():
        return None
    import pymetis
    from scipy.sparse import coo_matrix

    U = len(work)
    us, ud = unit[src], unit[dst]
    keep = us != ud
    w = cut_weight(delay[keep], cap)
    m = coo_matrix((np.concatenate([w, w]), (np.concatenate([us[keep], ud[keep]]),
                                             np.concatenate([ud[keep], us[keep]]))), shape=(U, U)).tocsr()
    m.sum_duplicates()
    if m.nnz == 0:  # no edge between units: METIS has nothing to cut (the order's cut is as good)
        return None
    opts = pymetis.Options(seed=METIS_SEED, ufactor=max(1, int(round(1000 * tolerance))))
    _, part = pymetis.part_graph(K, pymetis.CSRAdjacency(m.indptr.astype(np.int64), m.indices.astype(np.int64)),
                                 vweights=np.maximum(np.rint(work), 1).astype(np.int64),
                                 eweights=m.data.astype(np.int64), options=opts)
    return np.asarray(part, np.int64)
