"""Streams that change over time: concept drift and class-incremental presentation.

A *regime* says, for each training epoch of a stream, which samples are presented
(``rows``), which class each one teaches (``mappings``, the one in force ``mapping``)
and which sensory neuron each feature reaches (``permutations``, None: its own);
:func:`asyncpc.environment.stream_schedule` lays it out and records, per presentation,
the regime's index (``meta["regime"]``: the number of changes so far for a drift, the
block of classes for an incremental stream). Test presentations always cover the whole
test split, in the regime in force: under drift their target is the class under the
mapping in force and their features reach the neurons they reach in training, so test
accuracy measures the current task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._seed import rng_for
from ..errors import SpecError

__all__ = ["Drift", "Incremental"]

# rng streams (of the protocol's seed), apart from the shuffle and the train_eval subset
_S_DRIFT, _S_REHEARSE, _S_MIX = 3, 4, 5
CHANGES = ("labels", "inputs")  # what a drift changes
# where a regime's errors arise (asyncpc.errors.place): its block of settings, [data.drift]
# or [data.incremental] in a scenario
_DRIFT, _INCREMENTAL = ("section", "drift"), ("section", "incremental")


@dataclass(frozen=True)
class Drift:
    """Concept drift: the task changes after ``at[k]`` training epochs. Regime ``r`` is
    the task in force after ``r`` changes (0: the data as they are).

    ``change = "labels"``: the label each class is taught under changes. ``swap``: the
    pairs of classes whose labels are exchanged at each change (the same pairs every
    time: a second change undoes the first); ``None``: each change applies a new seeded
    derangement (no class keeps its label).

    ``change = "inputs"``: the input distribution changes, the labels do not: each change
    routes the features to the sensory neurons through a new seeded permutation (a
    "permuted digits" task: every pixel lands somewhere else), so every layer has to
    re-learn, not only the last.

    ``over``: epochs a change takes (0: abrupt). During the ``over`` epochs from
    ``at[k]`` each training presentation belongs to the new task with a probability that
    rises linearly over the transition's presentations, from ``1/N`` to 1 (seeded), and to
    the old one otherwise; tests already score the new task.

    Examples
    --------
    >>> d = Drift(at=(2,), swap=((0, 1),))
    >>> [d.regime(e) for e in range(4)], d.mappings(3, seed=0)[1].tolist()
    ([0, 0, 1, 1], [1, 0, 2])
    >>> p = Drift(at=(1,), change="inputs").permutations(4, seed=0)
    >>> p[0].tolist(), sorted(p[1].tolist())
    ([0, 1, 2, 3], [0, 1, 2, 3])
    >>> g = Drift(at=(1,), over=2)
    >>> [g.regimes(e, 4, seed=0).tolist() for e in range(4)]
    [[0, 0, 0, 0], [0, 0, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]]
    """

    at: tuple
    swap: tuple | None = None
    change: str = "labels"
    over: int = 0

    def check(self, epochs: int, n_classes: int) -> None:
        at = list(self.at)
        if not at or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in at):
            raise SpecError.located(_DRIFT, "at", f"must be a list of epoch counts, got {self.at!r}")
        if at != sorted(set(at)) or at[0] < 1 or at[-1] >= epochs:
            raise SpecError.located(_DRIFT, "at", f"must be increasing epoch counts in 1..{epochs - 1} (data.epochs "
                                    f"= {epochs}: a change needs training before and after it), got {at}")
        if isinstance(self.over, bool) or not isinstance(self.over, (int, np.integer)) or self.over < 0:
            raise SpecError.located(_DRIFT, "over",
                                    f"must be an integer >= 0 (epochs a change takes), got {self.over!r}")
        for k, (a, b) in enumerate(zip(at, at[1:] + [epochs])):
            if a + self.over > b:
                raise SpecError.located(_DRIFT, "over", f"a change over {self.over} epochs from epoch {a} overlaps "
                                        + (f"the next change (at {b})" if k + 1 < len(at) else f"the end of the stream "
                                   f"(data.epochs = {epochs})"))
        if self.change not in CHANGES:
            raise SpecError.located(_DRIFT, "change", f"must be one of {list(CHANGES)}, got {self.change!r}")
        if self.change == "inputs":
            if self.swap is not None:
                raise SpecError.located(_DRIFT, "swap", "exchanges labels; with change = 'inputs' the labels stay")
            return
        if n_classes < 2:
            raise SpecError.located(_DRIFT, (), f"needs at least 2 classes, the data have {n_classes}")
        if self.swap is not None:
            seen: set = set()
            for k, pair in enumerate(self.swap):
                if len(pair) != 2 or pair[0] == pair[1] or not all(0 <= c < n_classes for c in pair):
                    raise SpecError.located(_DRIFT, ("swap", k), f"must be two different classes in "
                                            f"0..{n_classes - 1}, got {list(pair)}")
                if seen & set(pair):
                    raise SpecError.located(_DRIFT, ("swap", k), f"class {sorted(seen & set(pair))[0]} is in two pairs")
                seen |= set(pair)

    def regime(self, epoch: int) -> int:
        """The number of changes before training epoch ``epoch`` (0-based)."""
        return int(np.searchsorted(np.asarray(self.at), epoch, side="right"))

    def regimes(self, epoch: int, n: int, seed) -> np.ndarray:
        """The regime of each of the ``n`` training presentations of epoch ``epoch``: its
        regime, except in a gradual change's transition, where each presentation is the
        new task with probability ``(j + 1) / N`` (``j``: its place among the transition's
        ``N = over * n`` presentations) and the old one otherwise."""
        r = self.regime(epoch)
        out = np.full(n, r, np.int64)
        if r and epoch - self.at[r - 1] < self.over:
            j = (epoch - self.at[r - 1]) * n + np.arange(n)
            old = rng_for(seed, _S_MIX, epoch).random(n) >= (j + 1) / (self.over * n)
            out[old] = r - 1
        return out

    def mapping(self, regime):
        """The label mapping of a regime (or array of regimes): itself when the labels
        drift, else the one."""
        return regime if self.change == "labels" else regime * 0

    def rows(self, epoch: int, order: np.ndarray, y: np.ndarray, seed) -> np.ndarray:
        """Every training sample, every epoch."""
        return order

    def mappings(self, n_classes: int, seed) -> list[np.ndarray]:
        """``mappings[r][y]``: the label taught for class ``y`` under regime ``r``."""
        maps = [np.arange(n_classes)]
        if self.change != "labels":
            return maps
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

    def permutations(self, n_features: int, seed) -> list[np.ndarray] | None:
        """``perms[r][j]``: the index (within the sensory area) of the neuron that feature
        ``j`` reaches under regime ``r``; None when the inputs do not drift."""
        if self.change != "inputs":
            return None
        rng = rng_for(seed, _S_DRIFT)
        return [np.arange(n_features)] + [rng.permutation(n_features) for _ in self.at]


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
            raise SpecError.located(_INCREMENTAL, "classes", "must list at least one block of classes")
        for k, block in enumerate(self.classes):
            if not block or not all(isinstance(c, (int, np.integer)) and 0 <= c < n_classes for c in block):
                raise SpecError.located(_INCREMENTAL, ("classes", k), f"must be class indices in "
                                        f"0..{n_classes - 1}, got {list(block)}")
            if seen & set(block):
                raise SpecError.located(_INCREMENTAL, ("classes", k),
                                        f"class {sorted(seen & set(block))[0]} is in an earlier block")
            seen |= set(block)
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, np.integer)) or self.epochs < 1:
            raise SpecError.located(_INCREMENTAL, "epochs", f"must be an integer >= 1, got {self.epochs!r}")
        if len(self.classes) * self.epochs > epochs:
            raise SpecError.located(_INCREMENTAL, "epochs", f"{len(self.classes)} blocks x {self.epochs} epochs is "
                                    f"more than data.epochs = {epochs}")
        if not 0.0 <= float(self.rehearse) <= 1.0:
            raise SpecError.located(_INCREMENTAL, "rehearse", f"must be in [0, 1], got {self.rehearse!r}")

    def regime(self, epoch: int) -> int:
        """The block of classes trained in epoch ``epoch`` (0-based)."""
        return min(epoch // self.epochs, len(self.classes) - 1)

    def regimes(self, epoch: int, n: int, seed) -> np.ndarray:
        """Every presentation of an epoch is in its block."""
        return np.full(n, self.regime(epoch), np.int64)

    def mapping(self, regime):
        """Classes keep their labels: one mapping."""
        return regime * 0

    def mappings(self, n_classes: int, seed) -> list[np.ndarray]:
        """The identity: every class is taught under its own label."""
        return [np.arange(n_classes)]

    def permutations(self, n_features: int, seed) -> None:
        """Every feature reaches its own sensory neuron."""
        return None

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
