"""One exception hierarchy for everything asyncpc reports to a user.

A message states the rule, the value and the fix, e.g.
``delays.mean: must be >= one step (0.1 ms), got 0.02``.
"""

from __future__ import annotations

__all__ = ["AsyncPCError", "SpecError", "GraphError", "ScenarioError", "DivergenceError",
           "DataError", "ResourceError"]


class AsyncPCError(Exception):
    """Root of every error asyncpc raises on purpose (the CLI maps it to exit status 2)."""


class SpecError(AsyncPCError, ValueError):
    """A specification (builder argument, area, projection, distribution) is invalid."""


class GraphError(AsyncPCError, ValueError):
    """A neuron-level graph violates the model's rules."""


def _where(file, line, key, value) -> str:
    """``file:line: key = value: `` (each part only when known)."""
    where = ""
    if file:
        where = f"{file}"
        if line:
            where += f":{line}"
        where += ": "
    if key:
        where += f"{key} = {value}: " if value is not None else f"{key}: "
    return where


class ScenarioError(AsyncPCError, ValueError):
    """A scenario file is malformed; the message names the file and the key path (and the
    key's value, when the message is about what that value implies)."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None, value: str | None = None):
        self.file, self.key, self.line = file, key, line
        super().__init__(_where(file, line, key, value) + message)


class DataError(AsyncPCError, ValueError):
    """A data source cannot be read or has the wrong shape.

    ``key`` names the ``[data]`` setting the message is about when it is not the source
    itself (e.g. ``"n_train"``, ``"train_images"`` or ``("classes", 1)``), so that a scenario
    reports the line of that key.
    """

    def __init__(self, message: str, *, key: str | tuple | None = None):
        self.key = key
        super().__init__(message)


class DivergenceError(AsyncPCError, FloatingPointError):
    """The dynamics produced NaN/inf or the energy blew up."""


class ResourceError(AsyncPCError):
    """A run would exceed memory or disk; refused up front, naming the scenario key (and its
    value) that makes it so when one does."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None, value: str | None = None):
        self.file, self.key, self.line = file, key, line
        super().__init__(_where(file, line, key, value) + message)
