"""Experiment-tracker sinks (``--log KIND:TARGET``), fed the same per-epoch events as the
progress lines.

- ``tensorboard:DIR``: scalars per epoch in TensorBoard event files under ``DIR``
  (``tensorboard --logdir DIR``); needs ``tensorboardX`` (``pip install "asyncpc[tensorboard]"``).
- ``wandb:PROJECT``: the same scalars per epoch in a Weights & Biases run of ``PROJECT``
  (named after the run directory, the resolved scenario as its config); needs ``wandb``
  (``pip install "asyncpc[wandb]"``); ``WANDB_MODE=offline`` works as W&B documents it.
"""

from __future__ import annotations

from ..errors import AsyncPCError

__all__ = ["SINKS", "TensorBoardSink", "WandbSink", "make_sinks", "epoch_scalars"]

SINKS = ("tensorboard", "wandb")


def epoch_scalars(ev) -> dict:
    """The figures of a finished epoch every sink records, by tag (those known)."""
    tags = (("accuracy/test", ev.test_accuracy), ("accuracy/running", ev.running_accuracy),
            ("energy/last_readout", ev.energy), ("run/messages_per_second", ev.messages_per_s),
            ("run/simulated_ms", ev.sim_ms), ("run/presentations", ev.presentations))
    return {tag: float(v) for tag, v in tags if v is not None}


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
            for tag, v in epoch_scalars(ev).items():
                self.writer.add_scalar(tag, v, ev.epoch + 1)
            self.writer.flush()
        elif ev.kind == "end":
            self.writer.close()


class WandbSink:
    """Logs each finished epoch's figures to a Weights & Biases run (step: the epoch, from
    1). The run starts at the first event, so a refused run never creates one."""

    def __init__(self, project: str, name: str | None = None, config: dict | None = None):
        try:
            import wandb
        except ImportError:
            raise AsyncPCError("--log wandb: needs the wandb package; pip install 'asyncpc[wandb]' "
                               "(or pip install wandb)") from None
        self.wandb, self.project, self.name, self.config, self.run = wandb, project, name, config, None

    def __call__(self, ev) -> None:
        if self.run is None and ev.kind != "end":
            self.run = self.wandb.init(project=self.project, name=self.name, config=self.config)
        if ev.kind == "epoch":
            self.run.log(epoch_scalars(ev), step=ev.epoch + 1)
        elif ev.kind == "end" and self.run is not None:
            self.run.finish()


def make_sinks(specs, *, name: str | None = None, config: dict | None = None) -> list:
    """``["tensorboard:runs/tb", "wandb:my-project"]`` -> sink callables (checked before
    the run starts); ``name`` and ``config`` name and describe the run to trackers that
    keep them (W&B)."""
    out = []
    for spec in specs or ():
        kind, sep, target = str(spec).partition(":")
        if kind not in SINKS or not sep or not target:
            raise AsyncPCError(f"--log: expected KIND:TARGET with KIND one of {list(SINKS)} (e.g. "
                               f"tensorboard:runs/tb), got {spec!r}")
        out.append(TensorBoardSink(target) if kind == "tensorboard" else WandbSink(target, name, config))
    return out
