"""Experiment-tracker sinks (``--log KIND:TARGET``), fed the same per-epoch events as the
progress lines.

- ``tensorboard:DIR``: scalars per epoch in TensorBoard event files under ``DIR``
  (``tensorboard --logdir DIR``); needs ``tensorboardX`` (``pip install "asyncpc[tensorboard]"``).
"""

from __future__ import annotations

from ..errors import AsyncPCError

__all__ = ["SINKS", "TensorBoardSink", "make_sinks"]

SINKS = ("tensorboard",)


class TensorBoardSink:
    """Writes each finished epoch's figures as TensorBoard scalars (step: the epoch, from 1)."""

    def __init__(self, logdir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise AsyncPCError("--log tensorboard: needs the tensorboardX package; pip install "
                               "'asyncpc[tensorboard]' (or pip install tensorboardX)") from None
        self.writer = SummaryWriter(logdir=str(logdir))

    def __call__(self, ev) -> None:
        if ev.kind == "epoch":
            step = ev.epoch + 1
            for tag, v in (("accuracy/test", ev.test_accuracy), ("accuracy/running", ev.running_accuracy),
                           ("energy/last_readout", ev.energy), ("run/messages_per_second", ev.messages_per_s),
                           ("run/simulated_ms", ev.sim_ms), ("run/presentations", ev.presentations)):
                if v is not None:
                    self.writer.add_scalar(tag, float(v), step)
            self.writer.flush()
        elif ev.kind == "end":
            self.writer.close()


def make_sinks(specs) -> list:
    """``["tensorboard:runs/tb"]`` -> sink callables (checked before the run starts)."""
    out = []
    for spec in specs or ():
        kind, sep, target = str(spec).partition(":")
        if kind not in SINKS or not sep or not target:
            raise AsyncPCError(f"--log: expected KIND:TARGET with KIND one of {list(SINKS)} (e.g. "
                               f"tensorboard:runs/tb), got {spec!r}")
        out.append(TensorBoardSink(target))
    return out
