"""``asyncpc sweep`` started by an MPI launcher is refused at once with one line: a sweep
runs its grid points as separate processes (``--jobs``), and K copies of it would run
the whole grid K times into the same directory. (``run`` and ``resume`` run across the
ranks: :mod:`asyncpc._mpi`.)"""

from __future__ import annotations

from .._mpi import launched_ranks
from ..errors import AsyncPCError

__all__ = ["launched_ranks", "refuse_many_ranks"]


def refuse_many_ranks(command: str, environ=None) -> None:
    """Raise a one-line :class:`AsyncPCError` when ``command`` was started as one of several
    MPI processes."""
    k = launched_ranks(environ)
    if k > 1:
        raise AsyncPCError(f"{command}: started as one of {k} processes by an MPI launcher (mpiexec / mpirun), "
                           "but a sweep runs its grid points as separate processes itself (--jobs); start it "
                           "once, without the launcher (asyncpc run and resume run across MPI ranks)")
