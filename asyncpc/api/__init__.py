"""The Python interface to runs: :func:`run`, :func:`resume`, :func:`load_run` -> :class:`Run`.

Also reachable as ``asyncpc.run``, ``asyncpc.resume``, ``asyncpc.load_run``, ``asyncpc.Run``.
"""

from ..cli._progress import ProgressEvent
from ._result import Run, load_run, read_table
from ._run import resume, run

__all__ = ["ProgressEvent", "Run", "load_run", "read_table", "resume", "run"]
