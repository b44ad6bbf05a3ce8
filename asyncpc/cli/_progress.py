"""Progress of a run: a rich bar on a terminal, plain lines through ``logging`` elsewhere,
a callback for the Python API, and the final table.

Modes (``--progress``, ``asyncpc.run(progress=...)``):

- ``bar``: a rich progress bar (stderr) and one line per finished epoch above it;
- ``lines``: one line per finished epoch and, between epochs, at most one line every
  ``HEARTBEAT_S`` seconds, through the ``asyncpc`` logger at level INFO (what files,
  ``nohup``, schedulers, pipes and Jupyter see);
- ``none``: nothing;
- ``auto`` (the default): ``bar`` when stderr is a terminal, else ``lines``.

A callable gets a :class:`ProgressEvent` after every chunk (``kind="update"``), every
finished epoch (``"epoch"``) and at the end (``"end"``); it runs in the simulating thread
and must not change anything of the run.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

__all__ = ["HEARTBEAT_S", "MODES", "Progress", "ProgressEvent", "fan_out", "resolve_mode"]

log = logging.getLogger("asyncpc")

MODES = ("auto", "bar", "lines", "none")
#: Seconds between two progress lines inside an epoch (mode ``lines``).
HEARTBEAT_S = 30.0


def resolve_mode(mode) -> str:
    """``auto`` -> ``bar`` on a terminal (stderr), else ``lines``; checks the name."""
    from ..errors import AsyncPCError

    if mode not in MODES:
        raise AsyncPCError(f"progress: must be one of {list(MODES)} or a callable, got {mode!r}")
    if mode == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        return "bar" if isatty is not None and isatty() else "lines"
    return mode


def _clock(seconds) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run stands. ``epoch`` counts from 0 (as in metrics.csv and epochs.csv): the
    epoch being run, or for ``kind="epoch"`` the one just finished. Accuracies are None
    until known: ``running_accuracy`` over the last 200 label-free presentations (test
    and train_eval), ``test_accuracy`` of the last finished test pass."""

    kind: str
    epoch: int
    n_epochs: int
    presentations: int
    n_presentations: int
    sim_ms: float
    total_ms: float
    running_accuracy: float | None
    test_accuracy: float | None
    energy: float | None
    messages: int
    messages_per_s: float
    elapsed_s: float
    eta_s: float | None

    def line(self) -> str:
        """The one-line text the ``lines`` mode logs."""
        head = f"epoch {self.epoch + 1}/{self.n_epochs}" + (" done" if self.kind == "epoch" else "")
        parts = [head, f"presentations {self.presentations}/{self.n_presentations}",
                 f"t {self.sim_ms:.0f}/{self.total_ms:.0f} ms"]
        if self.running_accuracy is not None:
            parts.append(f"running acc {self.running_accuracy:.1%}")
        if self.test_accuracy is not None:
            parts.append(f"test {self.test_accuracy:.1%}")
        if self.energy is not None:
            parts.append(f"F {self.energy:.3g}")
        parts += [f"{self.messages_per_s:.2e} msg/s", f"elapsed {_clock(self.elapsed_s)}",
                  f"ETA {_clock(self.eta_s)}"]
        return "  ".join(parts)


class Progress:
    """Reports a run's progress in one of :data:`MODES` and/or to a callback."""

    def __init__(self, *, total_steps: int, n_samples: int, n_epochs: int, h: float, mode="auto",
                 callback=None, wall_before: float = 0.0, heartbeat: float | None = None):
        self.total, self.n, self.n_epochs, self.h = total_steps, n_samples, max(1, n_epochs), h
        self.mode = resolve_mode(mode)
        self.callback = callback
        self.heartbeat = HEARTBEAT_S if heartbeat is None else heartbeat
        self._bar = None
        self._t0 = time.perf_counter()
        self._wall_before = wall_before
        self._first = None  # (wall, step) after the first chunk: the rate excludes compiling
        self._last_line = self._t0
        self._test = None

    def __enter__(self):
        if self.mode == "bar":
            from rich.progress import BarColumn, Progress as RP, TextColumn, TimeRemainingColumn

            self._bar = RP(TextColumn("[bold]{task.description}"), BarColumn(),
                           TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                           transient=False, console=_console(stderr=True))
            self._bar.__enter__()
            self._task = self._bar.add_task("run", total=self.total, info="compiling / starting ...")
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None
        return False

    def _event(self, kind, t, metrics, sent, epoch) -> ProgressEvent:
        now = time.perf_counter()
        elapsed = now - self._t0
        if self._first is None:
            self._first = (now, t)
        w0, t0 = self._first
        eta = None
        if t > t0 and now > w0:
            eta = (now - w0) / (t - t0) * max(0, self.total - t)
        elif t >= self.total:
            eta = 0.0
        e = float(metrics.energy[-1].sum()) if metrics.energy else None
        return ProgressEvent(kind=kind, epoch=int(epoch), n_epochs=self.n_epochs,
                             presentations=int(metrics._done), n_presentations=int(self.n),
                             sim_ms=t * self.h, total_ms=self.total * self.h,
                             running_accuracy=metrics.running_accuracy(), test_accuracy=self._test, energy=e,
                             messages=int(sent), messages_per_s=sent / max(elapsed + self._wall_before, 1e-9),
                             elapsed_s=self._wall_before + elapsed, eta_s=eta)

    def update(self, t: int, metrics, sent: int, finished=()) -> None:
        """After a chunk ending at step ``t``; ``finished``: rows of the epochs it finished."""
        if self.mode == "none" and self.callback is None:
            return
        epoch = int(metrics.epoch[min(metrics._done, len(metrics.epoch) - 1)]) if len(metrics.epoch) else 0
        for row in finished:
            if row.get("test_accuracy") is not None:
                self._test = row["test_accuracy"]
            ev = self._event("epoch", t, metrics, sent, row["epoch"])
            if self.mode in ("bar", "lines"):
                log.info(ev.line())
                self._last_line = time.perf_counter()
            if self.callback is not None:
                self.callback(ev)
        ev = self._event("update", t, metrics, sent, epoch)
        if self.callback is not None:
            self.callback(ev)
        if self._bar is not None:
            acc = ev.running_accuracy
            info = (f"epoch {ev.epoch + 1}/{self.n_epochs}  {ev.presentations}/{self.n}  t={ev.sim_ms:.0f} ms  "
                    f"F={'-' if ev.energy is None else f'{ev.energy:.3g}'}  "
                    f"acc={'-' if acc is None else f'{acc:.1%}'}  "
                    f"test={'-' if self._test is None else f'{self._test:.1%}'}  {ev.messages_per_s:.2e} msg/s")
            self._bar.update(self._task, completed=t, info=info)
        elif self.mode == "lines" and not finished and time.perf_counter() - self._last_line >= self.heartbeat:
            log.info(ev.line())
            self._last_line = time.perf_counter()

    def end(self, t: int, metrics, sent: int) -> None:
        if self.callback is not None:
            ev = self._event("end", t, metrics, sent,
                             int(metrics.epoch[-1]) if len(metrics.epoch) else 0)
            self.callback(ev)

    def final_table(self, summary: dict, path, *, fmt: str = "table") -> None:
        """The summary's headline figures on stdout."""
        keys = ("status", "test_accuracy", "train_accuracy", "feedforward_test_accuracy", "backprop_test_accuracy",
                "final_energy", "messages_sent", "messages_dropped", "sim_time_ms", "wall_seconds", "runtime",
                "threads")
        rows = []
        for k in keys:
            v = summary.get(k)
            if v is None:
                continue
            if isinstance(v, float) and k.endswith("accuracy"):
                v = f"{v:.2%}"
            elif isinstance(v, float):
                v = f"{v:.4g}"
            elif isinstance(v, int):
                v = f"{v:,}"
            rows.append((k, str(v)))
        from ._output import print_table

        print_table(["metric", "value"], rows, title=f"asyncpc run -> {path}", fmt=fmt, right=(1,))


def fan_out(callbacks):
    """One callable that calls each of ``callbacks`` (None for none)."""
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]
    return lambda ev: [cb(ev) for cb in callbacks]


def _console(stderr: bool = False):
    from ._output import console

    return console(stderr=stderr)
