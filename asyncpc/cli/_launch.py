"""The command line under an MPI launcher (:mod:`asyncpc._mpi`): signals agreed at chunk
ends, and the manifest's ``mpi`` entry. (``run`` and ``resume`` run one network across
the ranks; ``sweep`` shares its grid points among them.)"""

from __future__ import annotations


__all__ = ["stop_asked_fn", "tally_ranks"]


def tally_ranks(manifest, job, results) -> None:
    """The manifest's ``mpi`` entry: how the network was cut across the ranks and what the
    exchanges cost on rank 0 (bytes it sent, seconds it spent in them, waiting included)."""
    m = manifest.setdefault("mpi", dict(ranks=job.ranks.size, threads_per_rank=job.threads, exchanges=0,
                                        exchange_bytes=0, exchange_seconds=0.0))
    for r in results:
        x = r.extra
        if "exchange" not in x:  # a network the engine does not split (transport): every rank runs it all
            continue
        m.update(partitions=int(r.threads), window_steps=int(x["window"]), cut_edges=int(x["cut_edges"]),
                 cut_fraction=round(x["cut_edges"] / max(job.c.n_edges, 1), 4), load_balance=round(x["balance"], 4),
                 partitioner=x["partitioner"])
        m["exchanges"] += x["exchange"]["windows"]
        m["exchange_bytes"] += x["exchange"]["bytes"]
        m["exchange_seconds"] = round(m["exchange_seconds"] + x["exchange"]["seconds"], 3)


def stop_asked_fn(ranks):
    """What a chunk end checks for signals: nothing in one process (a signal raises at
    once), :func:`~asyncpc.cli._signals.agreed_stop` across MPI ranks."""
    if ranks is None:
        return lambda: None
    from ._signals import agreed_stop

    return lambda: agreed_stop(ranks)
