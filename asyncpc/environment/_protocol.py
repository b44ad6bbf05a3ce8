"""Presentation protocols: how the environment actor streams data into a network.

A protocol is laid out in advance as a :class:`Schedule` of clamp / unclamp / modulate
messages (a dataset's presentations as frames: rows of the data, referenced) and
read-out probes. There is no reset: the network's state flows from one
sample into the next, and weights learn at every tick of every neuron.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._seed import normalize_seed, rng_for
from ..errors import SpecError
from ._data import Dataset
from ._regimes import Drift, Incremental
from ._subset import stratified_subset
from ._schedule import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Frames, Schedule

__all__ = ["stream_schedule", "clamp_schedule", "SPLITS"]

#: Split names in the order of their integer codes in ``meta["split"]``.
SPLITS = ("train", "test", "train_eval", "generate", "monitor")
_TRAIN, _TEST, _TRAIN_EVAL, _GENERATE, _MONITOR = range(5)
# rng streams of the protocol
_S_SHUFFLE, _S_EVAL, _S_MONITOR = 1, 2, 6  # rng streams of the seed (3-5: asyncpc.environment._regimes)


def _int(v, where, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise SpecError(f"{where}: must be an integer >= {lo}, got {v!r}")
    return int(v)


def _ids(c, area, what):
    if area not in c.area_names:
        raise SpecError(f"{what}: no area {area!r} in the network; areas: {list(c.area_names)}")
    return c.neurons_of(area).astype(np.int32)


_META = (("sample", np.int64), ("split", np.int8), ("target", np.int64), ("epoch", np.int64), ("t0", np.int64),
         ("regime", np.int16))


class _Events:
    """Explicit events, frames and probes, in presentation order. The per-probe arrays
    (probe steps, ``meta``) are allocated once for ``n_probes`` presentations and filled
    block by block; a presentation's frames read their steps and rows from them (views),
    so the schedule holds ~43 bytes per presentation and building it little more."""

    def __init__(self, n_probes: int, keys=_META):
        self.t, self.kind, self.neuron, self.value = [], [], [], []
        self.frames = []
        self.probe_t = np.zeros(n_probes, np.int64)
        self.meta = {k: np.zeros(n_probes, dt) for k, dt in keys}
        self.n_probes = 0
        self.gain = 1.0

    def add(self, t, kind, neuron, value):
        t = np.asarray(t, np.int64).ravel()
        self.t.append(t)
        self.kind.append(np.full(len(t), kind, np.int8))
        self.neuron.append(np.broadcast_to(np.asarray(neuron, np.int32), t.shape).copy())
        self.value.append(np.broadcast_to(np.asarray(value, np.float64), t.shape).copy())

    def set_gain(self, t, gain):
        if self.gain != gain:
            self.add([t], EV_MODULATE, -1, gain)
            self.gain = gain

    def block(self, t_start, P, rows, X, sens, lab, targets, *, split, samples, classes, epoch,
              gain, label_delay=0, free=None, regime=0, target_rows=None):
        """Present rows ``rows`` of ``X`` one after another, ``P`` steps each, from ``t_start``.

        ``targets`` (a matrix read at the same rows) clamps the label neurons, ``None``
        leaves them free (unclamped). ``free`` lists neurons to unclamp at each
        presentation's start. A presentation is a few frames, in this order at its first
        step (the order of its messages): unclamp the label, unclamp ``free``, clamp the
        sensory neurons, clamp the label (``label_delay`` steps later when > 0).
        ``target_rows``: the rows of ``targets`` when they are not ``rows``.
        """
        n = len(rows)
        if n == 0:
            return t_start
        sl = slice(self.n_probes, self.n_probes + n)
        t0 = self.meta["t0"][sl]
        t0[:] = t_start + np.arange(n, dtype=np.int64) * P
        self.probe_t[sl] = t0 + P - 1
        for key, v in (("sample", samples), ("split", split), ("target", classes), ("epoch", epoch),
                       ("regime", regime)):
            self.meta[key][sl] = v
        self.n_probes += n
        if rows is samples:  # share the rows with meta["sample"]: no copy per frame
            rows = self.meta["sample"][sl]
        self.set_gain(t_start, gain)
        if targets is None or label_delay > 0:  # the label is free (until its clamp arrives)
            self.frames.append(Frames(t0, lab, EV_UNCLAMP))
        if free is not None:
            self.frames.append(Frames(t0, free, EV_UNCLAMP))
        if len(sens):
            self.frames.append(Frames(t0, sens, EV_CLAMP, np.asarray(X).reshape(len(X), -1), rows))
        if targets is not None:
            self.frames.append(Frames(t0 + label_delay if label_delay else t0, lab, EV_CLAMP, targets,
                                      rows if target_rows is None else target_rows))
        return int(t_start + n * P)

    def schedule(self, readout, env_delay, end, meta) -> Schedule:
        cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
        t = cat(self.t, np.int64)
        order = np.argsort(t, kind="stable")  # blocks are in time order; keep within-step order
        n = self.n_probes
        m = {k: v if len(v) == n else v[:n].copy() for k, v in self.meta.items()}
        m.update(meta)
        return Schedule(t[order], cat(self.kind, np.int8)[order], cat(self.neuron, np.int32)[order],
                        cat(self.value, np.float64)[order], self.probe_t[:n], np.asarray(readout, np.int32),
                        int(env_delay), int(end), m, self.frames)


def stream_schedule(c, dataset: Dataset, *, sensory_area: str, label_area: str, present_steps: int,
                    epochs: int, shuffle: bool = True, seed=0, label_on: float = 1.0,
                    label_off: float = 0.0, freeze_at_test: bool = True, test_every_epoch: bool = True,
                    env_delay: int = 1, label_delay_steps: int = 0, train_subset_eval: int | None = None,
                    generate: Mapping | None = None, anneal: float = 1.0,
                    test_present_steps: int | None = None, regime: Drift | Incremental | None = None,
                    monitor_every: int = 0, monitor_size: int | None = None) -> Schedule:
    """Stream a dataset through a network as one continuous presentation, never resetting.

    Each presentation lasts ``present_steps`` steps and starts at ``t0`` with the
    environment's messages (each arrives ``env_delay`` steps later):

    - training: clamp every sensory value neuron to its feature value and every label
      value neuron to its target (``label_on`` / ``label_off``, see
      :meth:`Dataset.targets`); a broadcast ``modulate(gain=1)`` first if weights were
      frozen. With ``label_delay_steps > 0`` the label neurons are unclamped at ``t0``
      (the network predicts freely) and clamped to the target ``label_delay_steps`` later.
    - test: clamp the sensory neurons, unclamp the label neurons and, if
      ``freeze_at_test``, broadcast ``modulate(gain=0)`` when the block starts; each test
      presentation lasts ``test_present_steps`` (default ``present_steps``).
    - train_eval: like a test, on ``train_subset_eval`` fixed training samples.
    - monitor: like a test, on ``monitor_size`` fixed test samples (stratified, seeded),
      after every ``monitor_every``-th training presentation of the stream (counted
      across epochs): accuracy between the epochs' tests, e.g. to time the recovery
      from a drift in presentations.
    - generate: per class, clamp the label neurons to the class's target, unclamp the
      sensory (image) neurons and broadcast ``modulate(gain=0)``; the network relaxes
      for ``generate["present_steps"]`` steps and synthesises an image.

    After each training epoch (or only after the last, if not ``test_every_epoch``) the
    whole test split is presented, then the train_eval subset. The generate block
    follows training. The read-out probe of every presentation is its last step.

    Parameters
    ----------
    c : CompiledNet
        The network (areas are looked up by name with ``c.neurons_of``).
    dataset : Dataset
    sensory_area, label_area : str
        Areas clamped to the features and to the targets. Works in either direction
        (discriminative or generative).
    present_steps, epochs : int
        Steps per presentation (``> env_delay + label_delay_steps``); passes through the
        training split.
    shuffle : bool
        Present the training split in a new random order each epoch.
    seed : int
        Seeds the shuffles and the train_eval subset.
    generate : mapping, optional
        ``{"present_steps": int, "classes": [k, ...] (default: every class)}``.
    anneal : float
        Plasticity gain broadcast during training epoch ``e`` is ``anneal ** e`` (a
        neuromodulatory learning-rate schedule sent by the environment; 1 = constant).
    monitor_every, monitor_size : int
        Monitor rounds (see above; 0: none) and their test samples (default: all).
    regime : Drift or Incremental, optional
        A stream that changes over time (:mod:`asyncpc.environment._regimes`): the label
        mapping changes after given epochs (training targets and test targets follow
        it), or the classes arrive in blocks (each epoch presents its block's training
        samples, in the epoch's shuffled order, plus rehearsed earlier ones; tests cover
        every class), or the features reach the sensory neurons through a new
        permutation after given epochs (``meta["input_perms"][r]``: regime ``r``'s).
        ``meta["regime"]`` holds each presentation's regime index.

    Returns
    -------
    Schedule
        Each presentation's messages are :class:`Frames` that read its row of
        ``dataset.X_*`` and of the label-target matrix (referenced, not copied: ~43 bytes
        per presentation); the modulations are explicit messages. ``readout`` is the label
        area's value neurons, followed by the sensory area's
        when ``generate`` is set. ``meta`` holds per-probe int64 arrays ``sample``
        (index into the split, -1 for generate), ``split`` (int8 codes into
        ``meta["split_names"]`` = :data:`SPLITS`), ``target`` (class), ``epoch``
        (training epoch just completed or running), ``t0`` (presentation start), ``regime``
        (the regime's index: 0 without one), ``regime_kind`` (``"drift"``,
        ``"incremental"`` or None), and
        ``readout_slices`` (``{"label": (a, b), "image": (b, c)}``: which columns of a
        probe belong to which area), ``generate_readout`` (the image neuron ids),
        ``threshold`` (``(label_on + label_off) / 2``, the decision threshold of a single
        output neuron) and the protocol's settings.

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import load_dataset, stream_schedule
    >>> c = compile_network(layered([2, 3, 1]), h=0.1)
    >>> s = stream_schedule(c, load_dataset("xor"), sensory_area="input", label_area="label",
    ...                     present_steps=50, epochs=2)
    >>> len(s.probe_t), s.end   # 2 epochs x (4 train + 4 test) presentations of 50 steps
    (16, 800)
    """
    P = _int(present_steps, "present_steps", 1)
    epochs = _int(epochs, "epochs", 1)
    env_delay = _int(env_delay, "env_delay", 1)
    L = _int(label_delay_steps, "label_delay_steps", 0)
    Pt = P if test_present_steps is None else _int(test_present_steps, "test_present_steps", 1)
    seed = normalize_seed(seed)
    if P <= env_delay + L:
        raise SpecError(f"present_steps: {P} steps must exceed the environment delay ({env_delay}) "
                        f"plus the label delay ({L}), or the probe would miss the sample")
    if Pt <= env_delay:
        raise SpecError(f"test_present_steps: {Pt} steps must exceed the environment delay ({env_delay})")
    sens = _ids(c, sensory_area, "sensory_area")
    lab = _ids(c, label_area, "label_area")
    if sensory_area == label_area:
        raise SpecError(f"label_area: must differ from the sensory area, got {label_area!r} for both")
    if len(sens) != dataset.n_features:
        raise SpecError(f"sensory_area: area {sensory_area!r} has {len(sens)} neurons but "
                        f"{dataset.name} has {dataset.n_features} features; they must match")
    targets_of = lambda y: dataset.targets(y, len(lab), label_on, label_off)  # noqa: E731
    n_train, n_test = len(dataset.y_train), len(dataset.y_test)
    n_eval = 0
    if train_subset_eval is not None:
        n_eval = min(_int(train_subset_eval, "train_subset_eval", 0), n_train)
    eval_idx = np.sort(rng_for(seed, _S_EVAL).permutation(n_train)[:n_eval])
    N = _int(monitor_every, "monitor_every", 0)
    mon_idx = np.arange(n_test)
    if N and monitor_size is not None and _int(monitor_size, "monitor_size", 1) < n_test:
        mon_idx = stratified_subset(mon_idx, dataset.y_test, monitor_size, seed, _S_MONITOR, key="monitor_size",
                                    split="test", name=dataset.name)
    if generate is not None:
        if not isinstance(generate, Mapping) or set(generate) - {"present_steps", "classes"}:
            raise SpecError(f"generate: expected {{'present_steps': int, 'classes': [...]}}, got {generate!r}")
        Pg = _int(generate.get("present_steps", P), "generate.present_steps", 1)
        if Pg <= env_delay:
            raise SpecError(f"generate.present_steps: {Pg} steps must exceed the environment delay ({env_delay})")
        classes = np.asarray(generate.get("classes", range(dataset.n_classes)), np.int64).ravel()
        if len(classes) == 0 or classes.min() < 0 or classes.max() >= dataset.n_classes:
            raise SpecError(f"generate.classes: must be class indices in 0..{dataset.n_classes - 1}, "
                            f"got {classes.tolist()}")
    if not (isinstance(anneal, (int, float)) and 0 < anneal <= 1):
        raise SpecError(f"anneal: must be in (0, 1], got {anneal!r}")
    test_gain = 0.0 if freeze_at_test else 1.0
    maps = [np.arange(max(dataset.n_classes, 1))]  # the label each class is taught under
    if regime is not None:
        if not isinstance(regime, (Drift, Incremental)):
            raise SpecError(f"regime: expected a Drift or an Incremental, got {type(regime).__name__}")
        regime.check(epochs, dataset.n_classes)
        maps = regime.mappings(dataset.n_classes, seed)
    perms = None if regime is None else regime.permutations(len(sens), seed)
    n_tests = epochs if test_every_epoch else 1
    n_rounds = epochs * n_train // N if N else 0  # at most (an incremental stream presents fewer)
    ev = _Events(epochs * n_train + n_tests * (n_test + n_eval) + n_rounds * len(mon_idx)
                 + (len(classes) if generate is not None else 0))
    shuffler = rng_for(seed, _S_SHUFFLE)
    t = 0
    T_train = targets_of(dataset.y_train)  # also checks the label area's size
    if len(maps) > 1:  # every mapping's targets, stacked: mapping k's rows start at k * n_train
        T_train = np.concatenate([targets_of(m[dataset.y_train]) for m in maps])
    M = np.stack(maps)
    done = 0  # training presentations so far
    for epoch in range(epochs):
        order = shuffler.permutation(n_train) if shuffle else np.arange(n_train)
        r = 0 if regime is None else regime.regime(epoch)
        rg = np.zeros(len(order), np.int64)  # each presentation's regime
        if regime is not None:
            order = regime.rows(epoch, order, dataset.y_train, seed)
            rg = regime.regimes(epoch, len(order), seed)
        ks = rg * 0 if regime is None else regime.mapping(rg)  # and its label mapping
        mapping = M[0 if regime is None else regime.mapping(r)]  # the task in force (a transition's new one)
        seen = sens if perms is None else sens[perms[r]]  # the neuron each feature reaches
        # one block per run of presentations whose features reach the same neurons, cut
        # where a monitor round follows
        cuts = {0, len(order)}
        if perms is not None:
            cuts |= set((np.flatnonzero(np.diff(rg)) + 1).tolist())
        if N:
            cuts |= set(range((-done) % N or N, len(order) + 1, N))
        cuts = sorted(cuts)
        for a, b in zip(cuts, cuts[1:]):
            part = order[a:b]
            fed = sens if perms is None else sens[perms[rg[a]]]
            t = ev.block(t, P, part, dataset.X_train, fed, lab, T_train, split=_TRAIN, samples=part,
                         classes=M[ks[a:b], dataset.y_train[part]], epoch=epoch, gain=float(anneal) ** epoch,
                         label_delay=L, regime=rg[a:b], target_rows=part + ks[a:b] * n_train if ks.any() else None)
            if N and (done + b) % N == 0:
                t = ev.block(t, Pt, mon_idx, dataset.X_test, seen, lab, None, split=_MONITOR, samples=mon_idx,
                             classes=mapping[dataset.y_test[mon_idx]], epoch=epoch, gain=test_gain, regime=r)
        done += len(order)
        if test_every_epoch or epoch == epochs - 1:
            test_rows = np.arange(n_test)
            t = ev.block(t, Pt, test_rows, dataset.X_test, seen, lab, None, split=_TEST, samples=test_rows,
                         classes=mapping[dataset.y_test], epoch=epoch, gain=test_gain, regime=r)
            t = ev.block(t, Pt, eval_idx, dataset.X_train, seen, lab, None, split=_TRAIN_EVAL,
                         samples=eval_idx, classes=mapping[dataset.y_train[eval_idx]], epoch=epoch,
                         gain=test_gain, regime=r)
    readout = lab
    meta = dict(protocol="stream", split_names=SPLITS, sensory_area=sensory_area, label_area=label_area,
                label_ids=lab, sensory_ids=sens, readout_slices={"label": (0, len(lab))},
                present_steps=P, test_present_steps=Pt, epochs=epochs, n_classes=dataset.n_classes,
                class_names=tuple(dataset.class_names), label_on=float(label_on),
                label_off=float(label_off), threshold=0.5 * (float(label_on) + float(label_off)),
                n_train=n_train, n_test=n_test, n_train_eval=n_eval, freeze_at_test=bool(freeze_at_test),
                label_delay_steps=L, image_shape=c.area_shapes.get(sensory_area, dataset.image_shape),
                regime_kind=None if regime is None else "drift" if isinstance(regime, Drift) else "incremental")
    if len(maps) > 1:
        meta["mappings"] = M
    if perms is not None:
        meta["input_perms"] = np.stack(perms)
    if generate is not None:
        G = targets_of(classes)
        ev.set_gain(t, 0.0)
        t = ev.block(t, Pg, np.arange(len(classes)), None, np.zeros(0, np.int32), lab, G, split=_GENERATE,
                     samples=np.full(len(classes), -1), classes=classes, epoch=epochs - 1, gain=0.0,
                     free=sens)
        readout = np.concatenate([lab, sens])
        meta.update(generate_readout=sens, generate_present_steps=Pg,
                    readout_slices={"label": (0, len(lab)), "image": (len(lab), len(lab) + len(sens))})
    return ev.schedule(readout, env_delay, t, meta)


def clamp_schedule(c, clamps: Mapping, steps: int, probe_every: int = 1, *, readout=None,
                   env_delay: int = 1) -> Schedule:
    """Clamp whole areas to constant values for the whole run and probe every ``probe_every``
    steps (the smallest protocol, e.g. a prior on top, an observation at the bottom).

    Parameters
    ----------
    c : CompiledNet
    clamps : mapping of area name -> number or sequence
        A number clamps every value neuron of the area to it; a sequence gives one value
        per neuron (in index order).
    steps : int
        Length of the run (``Schedule.end``).
    probe_every : int
        Probes at ``probe_every - 1, 2 * probe_every - 1, ...`` (< ``steps``).
    readout : sequence of area names, optional
        Areas whose value neurons are read out (default: every area, in network order).
        ``meta["readout_slices"][area]`` gives each area's probe columns.

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import clamp_schedule
    >>> c = compile_network(layered([1, 1, 1], "generative", activation="linear"), h=0.1)
    >>> s = clamp_schedule(c, {"label": 1.0, "input": 0.5}, steps=100, probe_every=10)
    >>> len(s.ev_t), len(s.probe_t), s.meta["readout_slices"]["hidden1"]
    (2, 10, (1, 2))
    """
    steps = _int(steps, "steps", 1)
    k = _int(probe_every, "probe_every", 1)
    env_delay = _int(env_delay, "env_delay", 1)
    if not isinstance(clamps, Mapping):
        raise SpecError(f"clamps: expected a mapping of area name -> value(s), got {clamps!r}")
    probes = np.arange(k - 1, steps, k, dtype=np.int64)
    ev = _Events(len(probes), keys=(("t0", np.int64),))
    for area, vals in clamps.items():
        ids = _ids(c, area, f"clamps.{area}")
        v = np.asarray(vals, np.float64) if not isinstance(vals, (bool, str)) else None
        if v is None or v.ndim > 1 or (v.ndim == 1 and len(v) != len(ids)) or not np.all(np.isfinite(v)):
            raise SpecError(f"clamps.{area}: must be a finite number or {len(ids)} finite numbers "
                            f"(one per neuron), got {vals!r}")
        ev.add(np.zeros(len(ids)), EV_CLAMP, ids, np.broadcast_to(v, ids.shape))
    areas = list(c.area_names) if readout is None else list(readout)
    ro, slices = [], {}
    for area in areas:
        ids = _ids(c, area, "readout")
        slices[area] = (sum(map(len, ro)), sum(map(len, ro)) + len(ids))
        ro.append(ids)
    ev.probe_t[:] = probes
    ev.n_probes = len(probes)
    meta = dict(protocol="constant", readout_slices=slices, clamps={a: np.asarray(v, np.float64).tolist()
                                                                    for a, v in clamps.items()},
                probe_every=k)
    ro = np.concatenate(ro) if ro else np.zeros(0, np.int32)
    return ev.schedule(ro, env_delay, steps, meta)
