"""Read-outs of a run under a stream schedule: predicted classes, accuracy, generated images.

These observe the probes a run recorded; they never touch the dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ._protocol import SPLITS
from ._schedule import Schedule

__all__ = ["Accuracy", "accuracy_from", "predicted_classes", "generated_images"]


@dataclass(frozen=True, eq=False)
class Accuracy:
    """Per-probe predictions and accuracies of a stream run.

    ``predicted``, ``correct``, ``split``, ``epoch``, ``target``: one entry per probe
    the run reached. ``per_epoch[name]``: accuracy of split ``name`` measured after
    each training epoch (NaN where it was not measured). ``final[name]``: the last
    measured accuracy of each split. Generate probes are excluded from both. The
    ``train`` split reads the label while it is clamped to the target, so its accuracy
    only checks the clamp; ``train_eval`` measures learning on training samples.
    """

    predicted: np.ndarray
    correct: np.ndarray
    split: np.ndarray
    epoch: np.ndarray
    target: np.ndarray
    per_epoch: dict
    final: dict

    def as_dict(self) -> dict:
        """JSON-ready summary: ``{"final": {...}, "per_epoch": {split: [..]}}`` (NaN -> None)."""
        return {"final": dict(self.final),
                "per_epoch": {k: [None if np.isnan(a) else float(a) for a in v]
                              for k, v in self.per_epoch.items()}}


def _probes(result, schedule: Schedule) -> np.ndarray:
    x = np.asarray(getattr(result, "probe_x", result), np.float64)
    if x.ndim != 2 or x.shape[1] != len(schedule.readout):
        raise SpecError(f"probe_x: expected (probes, {len(schedule.readout)}) read-outs, got shape {x.shape}")
    if x.shape[0] > len(schedule.probe_t):
        raise SpecError(f"probe_x: {x.shape[0]} probes but the schedule has {len(schedule.probe_t)}")
    t = getattr(result, "probe_t", None)
    if t is not None and not np.array_equal(np.asarray(t)[:x.shape[0]], schedule.probe_t[:x.shape[0]]):
        raise SpecError("probe_t: the run's probe steps differ from the schedule's; "
                        "was it run with another schedule?")
    return x


def predicted_classes(label_x, threshold: float = 0.5) -> np.ndarray:
    """Class per row of label read-outs: argmax over several neurons (ties: lowest index),
    or ``x > threshold`` for a single output neuron."""
    label_x = np.asarray(label_x, np.float64)
    if label_x.shape[1] == 1:
        return (label_x[:, 0] > threshold).astype(np.int64)
    return np.argmax(label_x, axis=1).astype(np.int64)


def accuracy_from(result, schedule: Schedule) -> Accuracy:
    """Accuracy of a (possibly partial) run under a :func:`stream_schedule`.

    Parameters
    ----------
    result : RunResult or ndarray
        Anything with ``probe_x`` (probes x read-out neurons), or that array. A run that
        stopped early covers the first probes only.
    schedule : Schedule
        The stream schedule the run followed.

    Examples
    --------
    >>> import numpy as np
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import load_dataset, stream_schedule, accuracy_from
    >>> c = compile_network(layered([2, 2]), h=0.1)
    >>> s = stream_schedule(c, load_dataset("xor"), sensory_area="input", label_area="label",
    ...                     present_steps=10, epochs=1)
    >>> perfect = np.eye(2)[s.meta["target"]]          # what a perfect network would read out
    >>> accuracy_from(perfect, s).final
    {'train': 1.0, 'test': 1.0}
    """
    m = schedule.meta
    if m.get("protocol") != "stream":
        raise SpecError("accuracy_from: needs a schedule made by stream_schedule")
    x = _probes(result, schedule)
    n = x.shape[0]
    a, b = m["readout_slices"]["label"]
    pred = predicted_classes(x[:, a:b], m.get("threshold", 0.5))
    split, epoch, target = m["split"][:n], m["epoch"][:n], m["target"][:n]
    correct = pred == target
    per_epoch, final = {}, {}
    for code, name in enumerate(SPLITS):
        if name in ("generate", "monitor") or not np.any(m["split"] == code):  # not per epoch
            continue
        acc = np.full(int(m["epochs"]), np.nan)
        for e in np.unique(epoch[split == code]):
            sel = (split == code) & (epoch == e)
            # an evaluation cut short by the end of the run is not a measurement
            if sel.sum() == np.sum((m["split"] == code) & (m["epoch"] == e)):
                acc[e] = correct[sel].mean()
        per_epoch[name] = acc
        done = acc[~np.isnan(acc)]
        if len(done):
            final[name] = float(done[-1])
    return Accuracy(pred, correct, split, epoch, target, per_epoch, final)


def generated_images(result, schedule: Schedule) -> dict:
    """Images the network synthesised in a generate block: ``{class: array}``, each
    shaped ``meta["image_shape"]`` when known, else flat."""
    m = schedule.meta
    if "image" not in m.get("readout_slices", {}):
        raise SpecError("generated_images: the schedule has no generate block")
    x = _probes(result, schedule)
    a, b = m["readout_slices"]["image"]
    shape = m.get("image_shape")
    out = {}
    for p in np.flatnonzero(m["split"][:x.shape[0]] == SPLITS.index("generate")):
        img = x[p, a:b].copy()
        out[int(m["target"][p])] = img.reshape(shape) if shape and np.prod(shape) == len(img) else img
    return out
