"""Presentation protocols: how the environment actor streams data into a network.

A protocol is laid out in advance as a :class:`Schedule` of clamp / unclamp / modulate
messages (a dataset's presentations as frames: rows of the data, referenced) and
read-out probes. There is no reset: the network's state flows from one
sample into the next, and weights learn at every tick of every neuron.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._seed import normalize_seed, rng_for
from ..errors import SpecError
from ._data import Dataset
from ._events import Events
from ._regimes import Drift, Incremental
from ._schedule import EV_CLAMP, Schedule
from ._subset import stratified_subset

__all__ = ["stream_schedule", "clamp_schedule", "SPLITS"]

#: Split names in the order of their integer codes in ``meta["split"]``.
SPLITS = ("train", "test", "train_eval", "generate", "monitor")
_TRAIN, _TEST, _TRAIN_EVAL, _GENERATE, _MONITOR = range(5)
# rng streams of the protocol
_S_SHUFFLE, _S_EVAL, _S_MONITOR = 1, 2, 6  # rng streams of the seed (3-5: asyncpc.environment._regimes)


def _int(v, option, lo, field=()):
    """``v`` as an int >= ``lo``; else a SpecError at argument ``option`` (its ``field``)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise SpecError.located(("option", option), field, f"must be an integer >= {lo}, got {v!r}")
    return int(v)


def _ids(c, area, option, field=()):
    """The neurons of ``area``; else a SpecError at argument ``option`` (its ``field``)."""
    if area not in c.area_names:
        raise SpecError.located(("option", option), field,
                                f"no area {area!r} in the network; areas: {list(c.area_names)}")
    return c.neurons_of(area).astype(np.int32)


@dataclass(frozen=True)
class _Options:
    """The options of :func:`stream_schedule` as given, in the order of its parameters
    (checked by :func:`_plan`)."""

    sensory_area: str
    label_area: str
    present_steps: int
    epochs: int
    shuffle: bool
    seed: object
    label_on: float
    label_off: float
    freeze_at_test: bool
    test_every_epoch: bool
    env_delay: int
    label_delay_steps: int
    train_subset_eval: int | None
    generate: Mapping | None
    anneal: float
    test_present_steps: int | None
    regime: Drift | Incremental | None
    monitor_every: int
    monitor_size: int | None


@dataclass(frozen=True, eq=False)
class _Plan:
    """A stream's options, checked, and what follows from them: what the phases of
    :func:`stream_schedule` read."""

    opt: _Options
    dataset: Dataset
    P: int  # steps of a training presentation
    Pt: int  # steps of a test, train_eval or monitor presentation
    epochs: int
    env_delay: int
    L: int  # steps from a training presentation's start to its label's clamp
    seed: int
    sens: np.ndarray  # the sensory area's value neurons
    lab: np.ndarray  # the label area's value neurons
    eval_idx: np.ndarray  # the train_eval samples
    N: int  # a monitor round after every N-th training presentation (0: none)
    mon_idx: np.ndarray  # the monitor's test samples
    Pg: int | None  # steps of a generate presentation (None: no generate block)
    classes: np.ndarray | None  # the classes generated
    M: np.ndarray  # M[k, y]: the label class y is taught under label mapping k
    perms: list | None  # perms[r][j]: the sensory neuron (index in the area) feature j reaches in regime r

    @property
    def test_gain(self) -> float:
        """The plasticity gain of tests and monitor rounds (0: frozen)."""
        return 0.0 if self.opt.freeze_at_test else 1.0

    def targets(self, y) -> np.ndarray:
        """The label area's targets for classes ``y`` (``label_on`` / ``label_off``)."""
        return self.dataset.targets(y, len(self.lab), self.opt.label_on, self.opt.label_off)

    def training_targets(self) -> np.ndarray:
        """The training samples' targets under every label mapping, stacked: mapping ``k``'s
        rows start at ``k * n_train``."""
        y = self.dataset.y_train
        T = self.targets(y)  # also checks the label area's size
        if len(self.M) > 1:
            T = np.concatenate([self.targets(m[y]) for m in self.M])
        return T

    def n_presentations(self) -> int:
        """Presentations of the stream, at most (an incremental stream presents fewer)."""
        n_train, n_test = len(self.dataset.y_train), len(self.dataset.y_test)
        n_tests = self.epochs if self.opt.test_every_epoch else 1
        n_rounds = self.epochs * n_train // self.N if self.N else 0
        return (self.epochs * n_train + n_tests * (n_test + len(self.eval_idx)) + n_rounds * len(self.mon_idx)
                + (len(self.classes) if self.Pg is not None else 0))


def stream_schedule(c, dataset: Dataset, *, sensory_area: str, label_area: str, present_steps: int, epochs: int,
                    shuffle: bool = True, seed=0, label_on: float = 1.0, label_off: float = 0.0,
                    freeze_at_test: bool = True, test_every_epoch: bool = True, env_delay: int = 1,
                    label_delay_steps: int = 0, train_subset_eval: int | None = None,
                    generate: Mapping | None = None, anneal: float = 1.0, test_present_steps: int | None = None,
                    regime: Drift | Incremental | None = None, monitor_every: int = 0,
                    monitor_size: int | None = None) -> Schedule:
    """Stream a dataset through a network as one continuous presentation, never resetting.

    Each presentation lasts ``present_steps`` steps; the environment's messages are sent at
    its start ``t0`` and arrive ``env_delay`` steps later. Its read-out probe is its last step.

    - training: clamp the sensory value neurons to the features and the label value neurons
      to the target (``label_on`` / ``label_off``: :meth:`Dataset.targets`), after a broadcast
      ``modulate(gain=1)`` if weights were frozen. With ``label_delay_steps > 0`` the labels
      are unclamped at ``t0`` (the network predicts freely) and clamped that many steps later.
    - test, then train_eval (after each training epoch, or the last if not ``test_every_epoch``):
      the whole test split, then ``train_subset_eval`` fixed training samples; clamp the
      sensory neurons, unclamp the labels and, if ``freeze_at_test``, broadcast
      ``modulate(gain=0)`` first; ``test_present_steps`` steps each (default ``present_steps``).
    - monitor: like a test, on ``monitor_size`` fixed test samples (default: all; stratified,
      seeded), after every ``monitor_every``-th training presentation (counted across epochs;
      0: never): accuracy between the epochs' tests, e.g. to time the recovery from a drift.
    - generate (after training; ``generate = {"present_steps": int, "classes": [k, ...]}``,
      default: every class): per class, clamp the labels to the class's target, unclamp the
      sensory (image) neurons and broadcast ``modulate(gain=0)``; the network relaxes for
      ``generate["present_steps"]`` steps and synthesises an image.

    Parameters
    ----------
    c : CompiledNet
        The network (areas are looked up by name with ``c.neurons_of``).
    dataset : Dataset
    sensory_area, label_area : str
        Areas clamped to the features and to the targets (discriminative or generative).
    present_steps, epochs : int
        Steps per presentation (``> env_delay + label_delay_steps``); passes through the
        training split.
    shuffle, seed : bool, int
        Shuffle the training split anew each epoch; ``seed`` seeds it and the train_eval subset.
    anneal : float
        Plasticity gain broadcast in training epoch ``e``: ``anneal ** e`` (a neuromodulatory
        learning-rate schedule sent by the environment; 1 = constant).
    regime : Drift or Incremental, optional
        A stream that changes over time (:mod:`asyncpc.environment._regimes`): after given
        epochs, the label mapping (training and test targets follow it) or the features'
        permutation onto the sensory neurons changes; or the classes arrive in blocks (an epoch
        presents its block's training samples, shuffled, plus rehearsed earlier ones; tests
        cover every class).

    Returns
    -------
    Schedule
        A presentation's messages are :class:`Frames` reading its row of ``dataset.X_*`` and
        of the label targets (referenced: ~43 bytes per presentation); modulations are
        explicit. ``readout``: the label area's value neurons, then the sensory area's with
        ``generate``. ``meta`` holds per-probe arrays ``sample`` (index into the split, -1 for
        generate), ``split`` (int8 codes into ``meta["split_names"]`` = :data:`SPLITS`),
        ``target`` (class), ``epoch`` (training epoch just completed or running), ``t0``
        (presentation start), ``regime`` (0 without one); ``regime_kind`` (``"drift"``,
        ``"incremental"`` or None), ``input_perms`` (``[r]``: regime ``r``'s), ``readout_slices``
        (``{"label": (a, b), "image": (b, c)}``: a probe's columns per area), ``generate_readout``
        (the image neurons), ``threshold`` (``(label_on + label_off) / 2``: a single output
        neuron's decision threshold) and the protocol's settings.

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
    options = _Options(sensory_area, label_area, present_steps, epochs, shuffle, seed, label_on, label_off,
                       freeze_at_test, test_every_epoch, env_delay, label_delay_steps, train_subset_eval,
                       generate, anneal, test_present_steps, regime, monitor_every, monitor_size)
    return _lay_out(c, _plan(c, dataset, options))


def _plan(c, dataset: Dataset, o: _Options) -> _Plan:
    """Check the options against the network and the dataset (every SpecError of
    :func:`stream_schedule`) and derive what the stream needs: its areas' neurons, its
    train_eval, monitor and generate samples, its label mappings and input permutations."""
    P = _int(o.present_steps, "present_steps", 1)
    epochs = _int(o.epochs, "epochs", 1)
    env_delay = _int(o.env_delay, "env_delay", 1)
    L = _int(o.label_delay_steps, "label_delay_steps", 0)
    Pt = P if o.test_present_steps is None else _int(o.test_present_steps, "test_present_steps", 1)
    seed = normalize_seed(o.seed)
    if P <= env_delay + L:
        raise SpecError.located(("option", "present_steps"), (),
                                f"{P} steps must exceed the environment delay ({env_delay}) "
                                f"plus the label delay ({L}), or the probe would miss the sample")
    if Pt <= env_delay:
        raise SpecError.located(("option", "test_present_steps"), (),
                                f"{Pt} steps must exceed the environment delay ({env_delay})")
    sens = _ids(c, o.sensory_area, "sensory_area")
    lab = _ids(c, o.label_area, "label_area")
    if o.sensory_area == o.label_area:
        raise SpecError.located(("option", "label_area"), (),
                                f"must differ from the sensory area, got {o.label_area!r} for both")
    if len(sens) != dataset.n_features:
        raise SpecError.located(("option", "sensory_area"), (), f"area {o.sensory_area!r} has {len(sens)} neurons "
                                f"but {dataset.name} has {dataset.n_features} features; they must match")
    eval_idx, N, mon_idx = _eval_samples(dataset, o, seed)
    Pg, classes = (None, None) if o.generate is None else _generate_settings(o.generate, P, env_delay, dataset)
    if not (isinstance(o.anneal, (int, float)) and 0 < o.anneal <= 1):
        raise SpecError.located(("option", "anneal"), (), f"must be in (0, 1], got {o.anneal!r}")
    maps = [np.arange(max(dataset.n_classes, 1))]  # the label each class is taught under
    if o.regime is not None:
        if not isinstance(o.regime, (Drift, Incremental)):
            raise SpecError.located(("option", "regime"), (),
                                    f"expected a Drift or an Incremental, got {type(o.regime).__name__}")
        o.regime.check(epochs, dataset.n_classes)
        maps = o.regime.mappings(dataset.n_classes, seed)
    perms = None if o.regime is None else o.regime.permutations(len(sens), seed)
    return _Plan(opt=o, dataset=dataset, P=P, Pt=Pt, epochs=epochs, env_delay=env_delay, L=L, seed=seed, sens=sens,
                 lab=lab, eval_idx=eval_idx, N=N, mon_idx=mon_idx, Pg=Pg, classes=classes, M=np.stack(maps),
                 perms=perms)


def _eval_samples(dataset: Dataset, o: _Options, seed):
    """``(eval_idx, N, mon_idx)``: the train_eval samples (seeded, sorted), the monitor's
    period and its test samples (all, or a stratified seeded subset of ``monitor_size``)."""
    n_train, n_test = len(dataset.y_train), len(dataset.y_test)
    n_eval = 0
    if o.train_subset_eval is not None:
        n_eval = min(_int(o.train_subset_eval, "train_subset_eval", 0), n_train)
    eval_idx = np.sort(rng_for(seed, _S_EVAL).permutation(n_train)[:n_eval])
    N = _int(o.monitor_every, "monitor_every", 0)
    mon_idx = np.arange(n_test)
    if N and o.monitor_size is not None and _int(o.monitor_size, "monitor_size", 1) < n_test:
        mon_idx = stratified_subset(mon_idx, dataset.y_test, o.monitor_size, seed, _S_MONITOR, key="monitor_size",
                                    split="test", name=dataset.name)
    return eval_idx, N, mon_idx


def _generate_settings(generate, P: int, env_delay: int, dataset: Dataset):
    """``(Pg, classes)``: the generate block's steps per presentation and classes, checked."""
    if not isinstance(generate, Mapping) or set(generate) - {"present_steps", "classes"}:
        raise SpecError.located(("option", "generate"), (),
                                f"expected {{'present_steps': int, 'classes': [...]}}, got {generate!r}")
    Pg = _int(generate.get("present_steps", P), "generate", 1, "present_steps")
    if Pg <= env_delay:
        raise SpecError.located(("option", "generate"), "present_steps",
                                f"{Pg} steps must exceed the environment delay ({env_delay})")
    classes = np.asarray(generate.get("classes", range(dataset.n_classes)), np.int64).ravel()
    if len(classes) == 0 or classes.min() < 0 or classes.max() >= dataset.n_classes:
        raise SpecError.located(("option", "generate"), "classes",
                                f"must be class indices in 0..{dataset.n_classes - 1}, got {classes.tolist()}")
    return Pg, classes


def _lay_out(c, p: _Plan) -> Schedule:
    """The stream's presentations: epoch by epoch its training (with monitor rounds), then
    its tests and train_eval; then the generate block."""
    ev = Events(p.n_presentations())
    shuffler = rng_for(p.seed, _S_SHUFFLE)
    t = 0
    T_train = p.training_targets()
    done = 0  # training presentations so far
    for epoch in range(p.epochs):
        e = _epoch(p, epoch, shuffler)
        t = _train(ev, p, e, T_train, t, done)
        done += len(e.order)
        if p.opt.test_every_epoch or epoch == p.epochs - 1:
            t = _test(ev, p, e, t)
    meta = _meta(c, p)
    readout = p.lab
    if p.Pg is not None:
        t, readout = _generate(ev, p, t, meta)
    return ev.schedule(readout, p.env_delay, t, meta)


class _Epoch(NamedTuple):
    """A training epoch: its presentations' samples (``order``), regimes (``rg``) and label
    mappings (``ks``); the regime in force (``r``, a transition's new one), its task
    (``mapping``: class -> label) and the sensory neuron each feature reaches (``seen``)."""

    epoch: int
    order: np.ndarray
    rg: np.ndarray
    ks: np.ndarray
    r: int
    mapping: np.ndarray
    seen: np.ndarray


def _epoch(p: _Plan, epoch: int, shuffler) -> _Epoch:
    """Training epoch ``epoch``: its order (a new ``shuffler`` permutation when ``shuffle``;
    a regime's choice of rows) and its regimes."""
    y, regime = p.dataset.y_train, p.opt.regime
    order = shuffler.permutation(len(y)) if p.opt.shuffle else np.arange(len(y))
    r = 0 if regime is None else regime.regime(epoch)
    rg = np.zeros(len(order), np.int64)  # each presentation's regime
    if regime is not None:
        order = regime.rows(epoch, order, y, p.seed)
        rg = regime.regimes(epoch, len(order), p.seed)
    ks = rg * 0 if regime is None else regime.mapping(rg)  # and its label mapping
    mapping = p.M[0 if regime is None else regime.mapping(r)]
    seen = p.sens if p.perms is None else p.sens[p.perms[r]]
    return _Epoch(epoch, order, rg, ks, r, mapping, seen)


def _cuts(p: _Plan, e: _Epoch, done: int) -> list:
    """Where epoch ``e``'s training presentations are cut into blocks: one block per run of
    presentations whose features reach the same neurons, cut where a monitor round follows
    (``done``: training presentations before the epoch)."""
    cuts = {0, len(e.order)}
    if p.perms is not None:
        cuts |= set((np.flatnonzero(np.diff(e.rg)) + 1).tolist())
    if p.N:
        cuts |= set(range((-done) % p.N or p.N, len(e.order) + 1, p.N))
    return sorted(cuts)


def _train(ev: Events, p: _Plan, e: _Epoch, T_train, t: int, done: int) -> int:
    """Epoch ``e``'s training presentations from step ``t``, labels clamped to ``T_train``'s
    rows (see :meth:`_Plan.training_targets`), with the monitor rounds that fall in it."""
    d, n_train = p.dataset, len(p.dataset.y_train)
    cuts = _cuts(p, e, done)
    for a, b in zip(cuts, cuts[1:]):
        part = e.order[a:b]
        fed = p.sens if p.perms is None else p.sens[p.perms[e.rg[a]]]
        t = ev.block(t, p.P, part, d.X_train, fed, p.lab, T_train, split=_TRAIN, samples=part,
                     classes=p.M[e.ks[a:b], d.y_train[part]], epoch=e.epoch, gain=float(p.opt.anneal) ** e.epoch,
                     label_delay=p.L, regime=e.rg[a:b],
                     target_rows=part + e.ks[a:b] * n_train if e.ks.any() else None)
        if p.N and (done + b) % p.N == 0:
            t = _monitor(ev, p, e, t)
    return t


def _monitor(ev: Events, p: _Plan, e: _Epoch, t: int) -> int:
    """A monitor round from step ``t``: the monitor's test samples, labels free."""
    d = p.dataset
    return ev.block(t, p.Pt, p.mon_idx, d.X_test, e.seen, p.lab, None, split=_MONITOR, samples=p.mon_idx,
                    classes=e.mapping[d.y_test[p.mon_idx]], epoch=e.epoch, gain=p.test_gain, regime=e.r)


def _test(ev: Events, p: _Plan, e: _Epoch, t: int) -> int:
    """The tests after epoch ``e`` from step ``t``: the whole test split, then the
    train_eval samples, labels free."""
    d = p.dataset
    test_rows = np.arange(len(d.y_test))
    t = ev.block(t, p.Pt, test_rows, d.X_test, e.seen, p.lab, None, split=_TEST, samples=test_rows,
                 classes=e.mapping[d.y_test], epoch=e.epoch, gain=p.test_gain, regime=e.r)
    return ev.block(t, p.Pt, p.eval_idx, d.X_train, e.seen, p.lab, None, split=_TRAIN_EVAL,
                    samples=p.eval_idx, classes=e.mapping[d.y_train[p.eval_idx]], epoch=e.epoch,
                    gain=p.test_gain, regime=e.r)


def _meta(c, p: _Plan) -> dict:
    """The schedule's ``meta`` beyond the per-probe arrays: the stream's areas, settings,
    classes, sizes and (with a regime) its label mappings and input permutations."""
    o, d, lab, sens = p.opt, p.dataset, p.lab, p.sens
    label_on, label_off = float(o.label_on), float(o.label_off)
    meta = dict(protocol="stream", split_names=SPLITS, sensory_area=o.sensory_area, label_area=o.label_area,
                label_ids=lab, sensory_ids=sens, readout_slices={"label": (0, len(lab))},
                present_steps=p.P, test_present_steps=p.Pt, epochs=p.epochs, n_classes=d.n_classes,
                class_names=tuple(d.class_names), label_on=label_on, label_off=label_off,
                threshold=0.5 * (label_on + label_off), n_train=len(d.y_train), n_test=len(d.y_test),
                n_train_eval=len(p.eval_idx), freeze_at_test=bool(o.freeze_at_test), label_delay_steps=p.L,
                image_shape=c.area_shapes.get(o.sensory_area, d.image_shape),
                regime_kind=None if o.regime is None else "drift" if isinstance(o.regime, Drift) else "incremental")
    if len(p.M) > 1:
        meta["mappings"] = p.M
    if p.perms is not None:
        meta["input_perms"] = np.stack(p.perms)
    return meta


def _generate(ev: Events, p: _Plan, t: int, meta: dict):
    """The generate block from step ``t``: per class, the labels clamped to its target, the
    sensory neurons free, plasticity off. Returns the next step and the read-out (label,
    then image neurons), and notes the image's read-out in ``meta``."""
    lab, sens, classes = p.lab, p.sens, p.classes
    G = p.targets(classes)
    ev.set_gain(t, 0.0)
    t = ev.block(t, p.Pg, np.arange(len(classes)), None, np.zeros(0, np.int32), lab, G, split=_GENERATE,
                 samples=np.full(len(classes), -1), classes=classes, epoch=p.epochs - 1, gain=0.0, free=sens)
    meta.update(generate_readout=sens, generate_present_steps=p.Pg,
                readout_slices={"label": (0, len(lab)), "image": (len(lab), len(lab) + len(sens))})
    return t, np.concatenate([lab, sens])


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
        raise SpecError.located(("option", "clamps"), (),
                                f"expected a mapping of area name -> value(s), got {clamps!r}")
    probes = np.arange(k - 1, steps, k, dtype=np.int64)
    ev = Events(len(probes), keys=(("t0", np.int64),))
    for area, vals in clamps.items():
        ids = _ids(c, area, "clamps", str(area))
        v = np.asarray(vals, np.float64) if not isinstance(vals, (bool, str)) else None
        if v is None or v.ndim > 1 or (v.ndim == 1 and len(v) != len(ids)) or not np.all(np.isfinite(v)):
            raise SpecError.located(("option", "clamps"), str(area), f"must be a finite number or {len(ids)} "
                                    f"finite numbers (one per neuron), got {vals!r}")
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
