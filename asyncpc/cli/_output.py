"""What the commands print: tables as rich tables, CSV or JSON; logging set up by the CLI.

On a terminal tables fit its width; elsewhere (a pipe, a file) they are as wide as their
content, never wrapped or cut, so ``asyncpc trace show RUN | cat`` keeps every name.
"""

from __future__ import annotations

import csv
import json
import logging
import sys

__all__ = ["FORMATS", "configure_logging", "console", "print_table"]

FORMATS = ("table", "csv", "json")
#: Width of a console that is not a terminal: wide enough that no table wraps.
WIDE = 100_000


def console(stderr: bool = False):
    """A rich Console on stdout (or stderr): the terminal's width, or unbounded off a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return Console(stderr=stderr)
    return Console(file=stream, width=WIDE, soft_wrap=True, color_system=None)


def print_table(header, rows, *, title=None, fmt="table", right=(), empty=None) -> None:
    """Rows (sequences of cells) under ``header``, as a rich table, CSV or JSON (a list of
    objects, cells kept as given: numbers stay numbers)."""
    if fmt == "json":
        json.dump([dict(zip(header, r)) for r in rows], sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return
    if fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        return
    from rich.table import Table

    tab = Table(*header, title=title)
    for k in right:
        tab.columns[k].justify = "right"
    for r in rows:
        tab.add_row(*(str(x) for x in r))
    con = console()
    con.print(tab)
    if not rows and empty:
        con.print(empty)


class _Stderr(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a record is emitted (a progress bar or a test
    may have replaced it since)."""

    def emit(self, record):
        self.stream = sys.stderr
        super().emit(record)


class _Format(logging.Formatter):
    def format(self, record):
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"asyncpc: {record.levelname.lower()}: {msg}"
        return f"asyncpc: {msg}"


def configure_logging(quiet: bool = False):
    """Send the ``asyncpc`` logger's records to stderr (INFO, or WARNING with ``quiet``)
    as ``asyncpc: message``. Returns a function that undoes it. Only the CLI calls this:
    importing asyncpc configures no logging."""
    log = logging.getLogger("asyncpc")
    handler = _Stderr()
    handler.setFormatter(_Format())
    old = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False

    def undo():
        log.removeHandler(handler)
        log.setLevel(old[0])
        log.propagate = old[1]

    return undo
