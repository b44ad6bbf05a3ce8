"""Streams that change over time: concept drift and class-incremental presentation.

A *regime* says, for each training epoch of a stream, which samples are presented
(``rows``) and which class each one teaches (``mappings``, the one in force ``mapping``); :func:`asyncpc.environment.stream_schedule` lays it out and
records, per presentation, the regime's index (``meta["regime"]``: the label mapping in
force for a drift, the block of classes for an incremental stream). Test presentations
always cover the whole test split; under drift their target is the class under the
mapping in force, so test accuracy measures the current task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._seed import rng_for
from ..errors import SpecError

__all__ = ["Drift", "Incremental"]

# rng streams (of the protocol's seed), apart from the shuffle and the train_eval subset
_S_DRIFT, _S_REHEARSE = 3, 4


@dataclass(frozen=True)
class Drift:
    """Concept drift: the label mapping changes after ``at[k]`` training epochs.

    ``swap``: the pairs of classes whose labels are exchanged at each change (the same
    pairs every time: a second change undoes the first); ``None``: each change applies
    a new seeded derangement (no class keeps its label). Regime ``r`` is the mapping in
    force after ``r`` changes (0: the data's own labels).

    Examples
    --------
    >>> d = Drift(at=(2,), swap=((0, 1),))
    >>> [d.regime(e) for e in range(4)], d.mappings(3, seed=0)[1].tolist()
    ([0, 0, 1, 1], [1, 0, 2])
    """

    at: tuple
    swap: tuple | None = None

    def check(self, epochs: int, n_classes: int) -> None:
        at = list(self.at)
        if not at or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in at):
            raise SpecError(f"drift.at: must be a list of epoch counts, got {self.at!r}")
        if at != sorted(set(at)) or at[0] < 1 or at[-1] >= epochs:
            raise SpecError(f"drift.at: must be increasing epoch counts in 1..{epochs - 1} (data.epochs = "
                            f"{epochs}: a change needs training before and after it), got {at}")
        if n_classes < 2:
            raise SpecError(f"drift: needs at least 2 classes, the data have {n_classes}")
        if self.swap is not None:
            seen: set = set()
            for k, pair in enumerate(self.swap):
                if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= c < n_classes for c in pair):
                    raise SpecError(f"drift.swap[{k}]: must be two different classes in 0..{n_classes - 1}, "
                                    f"got {list(pair)}")
                if seen & set(pair):
                    raise SpecError(f"drift.swap[{k}]: class {sorted(seen & set(pair))[0]} is in two pairs")
                seen |= set(pair)

    def regime(self, epoch: int) -> int:
        """The mapping in force during training epoch ``epoch`` (0-based)."""
        return int(np.searchsorted(np.asarray(self.at), epoch, side="right"))

    mapping = regime  # the label mapping of an epoch is its regime

    def rows(self, epoch: int, order: np.ndarray, y: np.ndarray, seed) -> np.ndarray:
        """Every training sample, every epoch."""
        return order

    def mappings(self, n_classes: int, seed) -> list[np.ndarray]:
        """``mappings[r][y]``: the label taught for class ``y`` under regime ``r``."""
        maps = [np.arange(n_classes)]
        rng = rng_for(seed, _S_DRIFT)
        for _ in self.at:
            step = np.arange(n_classes)
            if self.swap is not None:
                for a, b in self.swap:
                    step[a], step[b] = b, a
            else:
                while np.any(step == np.arange(n_classes)):  # a derangement: every label moves
                    step = rng.permutation(n_classes)
            maps.append(step[maps[-1]])
        return maps


@dataclass(frozen=True)
class Incremental:
    """Class-incremental presentation: the classes arrive in blocks, ``epochs`` training
    epochs each (the last block continues while the stream lasts); in each epoch every
    training sample of an earlier block is also presented with probability ``rehearse``
    (seeded; 0: earlier classes are never shown again). Regime ``b`` is the block.

    Examples
    --------
    >>> inc = Incremental(classes=((0,), (1, 2)), epochs=1, rehearse=0.0)
    >>> y = np.array([0, 1, 2, 0, 2])
    >>> inc.rows(1, np.arange(5), y, seed=0).tolist()
    [1, 2, 4]
    """

    classes: tuple
    epochs: int = 1
    rehearse: float = 0.0

    def check(self, epochs: int, n_classes: int) -> None:
        seen: set = set()
        if not self.classes:
            raise SpecError("incremental.classes: must list at least one block of classes")
        for k, block in enumerate(self.classes):
            if not block or not all(isinstance(c, (int, np.integer)) and 0 <= c < n_classes for c in block):
                raise SpecError(f"incremental.classes[{k}]: must be class indices in 0..{n_classes - 1}, "
                                f"got {list(block)}")
            if seen & set(block):
                raise SpecError(f"incremental.classes[{k}]: class {sorted(seen & set(block))[0]} is in an "
                                "earlier block")
            seen |= set(block)
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, np.integer)) or self.epochs < 1:
            raise SpecError(f"incremental.epochs: must be an integer >= 1, got {self.epochs!r}")
        if len(self.classes) * self.epochs > epochs:
            raise SpecError(f"incremental.epochs: {len(self.classes)} blocks x {self.epochs} epochs is more than "
                            f"data.epochs = {epochs}")
        if not 0.0 <= float(self.rehearse) <= 1.0:
            raise SpecError(f"incremental.rehearse: must be in [0, 1], got {self.rehearse!r}")

    def regime(self, epoch: int) -> int:
        """The block of classes trained in epoch ``epoch`` (0-based)."""
        return min(epoch // self.epochs, len(self.classes) - 1)

    def mapping(self, epoch: int) -> int:
        """Classes keep their labels: one mapping."""
        return 0

    def mappings(self, n_classes: int, seed) -> list[np.ndarray]:
        """The identity: every class is taught under its own label."""
        return [np.arange(n_classes)]

    def rows(self, epoch: int, order: np.ndarray, y: np.ndarray, seed) -> np.ndarray:
        """The training samples of epoch ``epoch``, in ``order``'s order: the current
        block's, and each earlier block's sample with probability ``rehearse``."""
        b = self.regime(epoch)
        cls = y[order]
        now = np.isin(cls, self.classes[b])
        earlier = np.isin(cls, [c for blk in self.classes[:b] for c in blk])
        if self.rehearse > 0 and earlier.any():
            keep = rng_for(seed, _S_REHEARSE, epoch).random(len(order)) < float(self.rehearse)
            now |= earlier & keep
        return order[now]
