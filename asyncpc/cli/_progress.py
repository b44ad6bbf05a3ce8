"""Progress bar and final table (rich), silent with --quiet or without a terminal."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    def __init__(self, *, total_steps: int, n_samples: int, h: float, quiet: bool):
        self.total, self.n, self.h, self.quiet = total_steps, n_samples, h, quiet
        self._bar = None
        self._t0 = time.perf_counter()

    def __enter__(self):
        if not self.quiet:
            from rich.progress import BarColumn, Progress as RP, TextColumn, TimeRemainingColumn

            self._bar = RP(TextColumn("[bold]{task.description}"), BarColumn(),
                           TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                           transient=False, disable=not sys.stderr.isatty(), console=_console())
            self._bar.__enter__()
            self._task = self._bar.add_task("run", total=self.total, info="compiling / starting ...")
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False

    def update(self, t: int, metrics, sent: int) -> None:
        if self._bar is None:
            return
        wall = time.perf_counter() - self._t0
        acc = metrics.running_accuracy()
        e = metrics.energy[-1].sum() if metrics.energy else float("nan")
        info = (f"samples {metrics._done}/{self.n}  t={t * self.h:.0f} ms  F={e:.3g}  "
                f"acc={'-' if acc is None else f'{acc:.1%}'}  {sent / max(wall, 1e-9):.2e} msg/s")
        self._bar.update(self._task, completed=t, info=info)

    def final_table(self, summary: dict, path) -> None:
        from rich.table import Table

        table = Table(title=f"asyncpc run -> {path}", show_header=True)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k in ("status", "test_accuracy", "train_accuracy", "feedforward_test_accuracy", "backprop_test_accuracy",
                  "final_energy",
                  "messages_sent", "messages_dropped", "sim_time_ms", "wall_seconds", "runtime", "threads"):
            v = summary.get(k)
            if v is None:
                continue
            if isinstance(v, float) and k.endswith("accuracy"):
                v = f"{v:.2%}"
            elif isinstance(v, float):
                v = f"{v:.4g}"
            elif isinstance(v, int):
                v = f"{v:,}"
            table.add_row(k, str(v))
        _console().print(table)


def _console():
    from rich.console import Console

    return Console(stderr=False)
