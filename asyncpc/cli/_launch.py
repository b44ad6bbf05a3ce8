"""Started by an MPI launcher? asyncpc does not run across processes yet (issue 20), so a
``mpiexec -n K asyncpc run ...`` with K > 1 is refused at once with one line, instead of K
processes each running the whole job into the same run directory."""

from __future__ import annotations

import os

from ..errors import AsyncPCError

__all__ = ["launched_ranks", "refuse_many_ranks"]

#: Variables MPI launchers set to the number of processes they started: MPICH / Intel MPI
#: (Hydra, PMI), Open MPI, MVAPICH.
SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_ranks(environ=None) -> int:
    """How many processes the MPI launcher that started this one started (1: none).

    Examples
    --------
    >>> launched_ranks({"PMI_SIZE": "3"}), launched_ranks({})
    (3, 1)
    """
    env = os.environ if environ is None else environ
    for var in SIZE_VARS:
        try:
            return max(int(env[var]), 1)
        except (KeyError, ValueError):
            continue
    return 1


def refuse_many_ranks(command: str, environ=None) -> None:
    """Raise a one-line :class:`AsyncPCError` when ``command`` was started as one of several
    MPI processes."""
    k = launched_ranks(environ)
    if k > 1:
        raise AsyncPCError(f"{command}: started as one of {k} processes by an MPI launcher (mpiexec / mpirun), "
                           "but asyncpc does not run across processes yet (each would run the whole job into "
                           "the same run directory); start it once, without the launcher, and use --threads "
                           "for this machine's cores")
