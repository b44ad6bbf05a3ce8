"""One exception hierarchy for everything asyncpc reports to a user.

A message states the rule, the value and the fix, e.g.
``delays.mean: must be >= one step (0.1 ms), got 0.02``. A :class:`SpecError` or
:class:`GraphError` also says where it arose (``at``) and which field (``field``), so that a
scenario finds the key behind it without reading the message; :meth:`SpecError.located`
writes the message's head from them (:func:`place`).
"""

from __future__ import annotations

__all__ = ["AsyncPCError", "SpecError", "GraphError", "ScenarioError", "DivergenceError", "place",
           "DataError", "ResourceError"]


class AsyncPCError(Exception):
    """Root of every error asyncpc raises on purpose (the CLI maps it to exit status 2)."""


def place(at, field=()) -> str:
    """How a message names where it arose: ``at`` and ``field`` as text.

    ``at`` is ``("area", name)`` -> ``areas.<name>``, ``("projection", src, dst)`` ->
    ``projections.<src>-><dst>``, ``("node", n)`` -> ``node <n!r>``, ``("edge", u, v)`` ->
    ``edge <u!r>-><v!r>``, ``("graph", attr)`` -> ``graph attribute <attr!r>``,
    ``("file", path)`` -> ``<path>``, ``("option", name)`` (an argument of a function, e.g.
    ``sensory_area`` of :func:`asyncpc.environment.stream_schedule`) -> ``<name>``, or
    ``("section", "neurons.clock")`` (a plain string is a section too; a stream's regime is
    ``("section", "drift")`` or ``("section", "incremental")``) -> ``neurons.clock``; each
    part of ``field`` follows, ``.name`` or ``[index]``:
    ``place(("area", "in"), ("position", 0)) == "areas.in.position[0]"``.
    """
    at = _at(at)
    kind, args = at[0], at[1:]
    head = {"area": lambda: f"areas.{args[0]}", "projection": lambda: f"projections.{args[0]}->{args[1]}",
            "node": lambda: f"node {args[0]!r}", "edge": lambda: f"edge {args[0]!r}->{args[1]!r}",
            "graph": lambda: f"graph attribute {args[0]!r}", "file": lambda: f"{args[0]}",
            "option": lambda: f"{args[0]}", "section": lambda: f"{args[0]}"}[kind]()
    return head + "".join(f"[{f}]" if isinstance(f, int) else f".{f}" for f in _field(field))


def _at(at) -> tuple:
    return ("section", at) if isinstance(at, str) else tuple(at)


def _field(field) -> tuple:
    return (field,) if isinstance(field, (str, int)) else tuple(field)


class _Located(AsyncPCError, ValueError):
    """An error that knows where it arose (``at``, see :func:`place`) and which field
    (``field``: a path below ``at``, e.g. ``("delay", "dist")``), both optional, so that a
    scenario maps it to its key without reading the message."""

    def __init__(self, message: str, *, at=None, field=()):
        super().__init__(message)
        self.at = None if at is None else _at(at)
        self.field = _field(field)

    @classmethod
    def located(cls, at, field, message: str):
        """``cls(f"{place(at, field)}: {message}", at=at, field=field)``: the text and the
        structure from one description."""
        return cls(f"{place(at, field)}: {message}", at=at, field=field)

    @property
    def detail(self) -> str:
        """The message without the place it starts with (all of it when it names none)."""
        text = str(self)
        return text if self.at is None else text.removeprefix(place(self.at, self.field) + ": ")

    def __reduce__(self):
        return _rebuild, (type(self), str(self), self.at, self.field)


def _rebuild(cls, message, at, field):
    return cls(message, at=at, field=field)


class SpecError(_Located):
    """A specification (builder argument, area, projection, distribution) is invalid."""


class GraphError(_Located):
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
