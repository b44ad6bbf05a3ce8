"""From a source as read to a dataset: which samples it keeps (a class filter, the
train/test split, subsets), their class codes, and their scaling.

Everything works on index arrays into the data as read (:mod:`._subset`), and only the
kept samples are scaled, into the dataset's one copy of the data (:mod:`._scale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .._seed import normalize_seed
from ..errors import DataError
from ._scale import describe_scaling, scale_rows, statistics
from ._sources import Raw
from ._subset import class_filter, per_class_subset, relabel, stratified_subset

__all__ = ["NORMALIZE", "Selection", "assemble", "split_indices"]

NORMALIZE = ("minmax", "zscore", "none")
# rng streams of the subsets (the protocol's shuffles use streams 1 and 2)
_S_SUBSET_TRAIN, _S_SUBSET_TEST = 101, 102


@dataclass(frozen=True)
class Selection:
    """Which samples of a source a dataset keeps, and how they are scaled: the arguments
    of :func:`~asyncpc.environment.load_dataset` of the same names, checked (and ``seed``
    normalised) when made; a bad one is a :class:`DataError` naming its key."""

    normalize: str = "minmax"
    test_fraction: float = 0.2
    seed: int = 0
    classes: list | None = None
    max_train: int | None = None
    max_test: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    per_class: int | None = None

    def __post_init__(self):
        if self.normalize not in NORMALIZE:
            raise DataError(f"normalize: must be one of {list(NORMALIZE)}, got {self.normalize!r}", key="normalize")
        tf = self.test_fraction
        if isinstance(tf, bool) or not isinstance(tf, (int, float)) or not 0 <= tf < 1:
            raise DataError(f"test_fraction: must be a number with 0 <= f < 1, got {tf!r}", key="test_fraction")
        object.__setattr__(self, "seed", normalize_seed(self.seed))  # frozen: normalised once
        for key in ("max_train", "max_test", "n_train", "n_test", "per_class"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise DataError(f"{key}: must be an integer >= 1, got {v!r}", key=key)
        if self.per_class is not None and self.n_train is not None:
            raise DataError("per_class: a training set is either n samples of each class (per_class) or a "
                            "stratified subset (n_train), not both", key="per_class")
        if self.classes is not None:
            classes = list(self.classes)
            if len(classes) < 2 or len(set(classes)) != len(classes):
                raise DataError(f"classes: must list two or more different classes, got {classes!r}", key="classes")
            object.__setattr__(self, "classes", classes)


def assemble(cls, raw: Raw, sel: Selection):
    """The dataset ``cls`` (a :class:`~asyncpc.environment.Dataset`) made of a source as
    read: its samples filtered by class and relabelled, split, subset and scaled."""
    keeps, coded, class_names = _class_codes(raw, sel.classes)
    idx_tr, idx_te, X_te, y_te_all = _split(raw, keeps, coded, sel)
    y_tr_all = coded[0]
    idx_tr, idx_te = _subsets(raw.name, idx_tr, y_tr_all, idx_te, y_te_all, sel)
    X_tr_out, X_te_out, scaling = _scaled(raw, idx_tr, X_te, idx_te, sel.normalize)
    return cls(X_tr_out, y_tr_all[idx_tr], X_te_out, y_te_all[idx_te], n_classes=len(class_names),
               n_features=int(X_tr_out.shape[1]), image_shape=raw.image_shape, name=raw.name,
               class_names=tuple(class_names), scaling=MappingProxyType(scaling))


def _class_codes(raw: Raw, classes):
    """``(keeps, coded, class_names)``, per label array of the source (its own test split's
    second): the indices of the samples of ``classes`` (all when None), and every sample's
    class code (-1: filtered out); the kept labels map, sorted, to codes ``0..K-1``."""
    own = raw.X_te is not None
    ys = [raw.y, raw.y_te] if own and not raw.same_split else [raw.y]
    if classes is not None:
        masks = class_filter(raw.name, classes, ys)
        keeps = [np.flatnonzero(m) for m in masks]
    else:
        keeps = [np.arange(len(y)) for y in ys]
    codes, class_names = relabel(raw.name, np.concatenate([y[k] for y, k in zip(ys, keeps)]), raw.target_names)
    coded, at = [], 0
    for y, k in zip(ys, keeps):
        c = np.full(len(y), -1, np.int64)
        c[k] = codes[at:at + len(k)]
        coded.append(c)
        at += len(k)
    return keeps, coded, class_names


def _split(raw: Raw, keeps, coded, sel: Selection):
    """``(idx_tr, idx_te, X_te, y_te)``: the training and test samples (indices into
    ``raw.X`` and ``X_te``), the test split's features and class codes (as read). A source
    without its own test split is split with ``sel.test_fraction``."""
    if raw.X_te is None:
        idx_tr, idx_te = split_indices(keeps[0], coded[0][keeps[0]], sel.test_fraction, sel.seed)
        if raw.dtype == np.float32:  # large sources keep the file's order: scaled in place, read in order
            idx_tr, idx_te = np.sort(idx_tr), np.sort(idx_te)
        return idx_tr, idx_te, raw.X, coded[0]
    if raw.same_split:
        return keeps[0], keeps[0], raw.X_te, coded[0]
    return keeps[0], keeps[1], raw.X_te, coded[1]


def _subsets(name, idx_tr, y_tr, idx_te, y_te, sel: Selection):
    """The training and test samples kept by ``sel``'s subsets (stratified, per class, first
    ``n``), in that order; an empty training split is an error."""
    if sel.n_train is not None:
        idx_tr = stratified_subset(idx_tr, y_tr, sel.n_train, sel.seed, _S_SUBSET_TRAIN, key="n_train",
                                   split="training", name=name)
    if sel.per_class is not None:
        idx_tr = per_class_subset(idx_tr, y_tr, sel.per_class, sel.seed, _S_SUBSET_TRAIN, key="per_class",
                                  split="training", name=name)
    if sel.n_test is not None:
        idx_te = stratified_subset(idx_te, y_te, sel.n_test, sel.seed, _S_SUBSET_TEST, key="n_test",
                                   split="test", name=name)
    if sel.max_train is not None:
        idx_tr = idx_tr[:sel.max_train]
    if sel.max_test is not None:
        idx_te = idx_te[:sel.max_test]
    if len(idx_tr) == 0:
        raise DataError(f"{name}: the training split is empty; expected at least one sample")
    return idx_tr, idx_te


def _scaled(raw: Raw, idx_tr, X_te, idx_te, normalize):
    """``(X_train, X_test, scaling)``: the kept rows scaled with statistics of the training
    rows (pooled over an image's pixels), and the scaling described."""
    pooled = raw.image_shape is not None
    stats = statistics(raw.X, _maybe_all(idx_tr, len(raw.X)), normalize, pooled=pooled)
    # the test rows first: they may be rows of raw.X, which the training rows may overwrite
    X_te_out = scale_rows(X_te, _maybe_all(idx_te, len(X_te)), stats, raw.dtype)
    in_place = raw.owned and raw.X.dtype == raw.dtype and np.all(np.diff(idx_tr) > 0)
    if in_place:  # the reader's own float32 array: scaled where it lies, no second copy
        X_tr_out = scale_rows(raw.X, _maybe_all(idx_tr, len(raw.X)), stats, raw.dtype, out=raw.X)[:len(idx_tr)]
    else:
        X_tr_out = scale_rows(raw.X, _maybe_all(idx_tr, len(raw.X)), stats, raw.dtype)
    return X_tr_out, X_te_out, describe_scaling(stats, X_tr_out, raw.X.dtype, raw.dtype)


def _maybe_all(idx, n):
    """``None`` (every row, in order: read without gathering) when ``idx`` is ``0..n-1``."""
    return None if len(idx) == n and (n == 0 or (idx[0] == 0 and idx[-1] == n - 1 and np.all(np.diff(idx) == 1))) \
        else idx


def split_indices(idx, y, test_fraction, seed):
    """Training and test indices (into the data as read) of the samples ``idx`` with class
    codes ``y``: a seeded split, stratified when every class has two samples or more."""
    if test_fraction == 0:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    n_test = int(np.ceil(test_fraction * len(y)))
    counts = np.bincount(y)
    counts = counts[counts > 0]
    stratify = y if counts.min() >= 2 and n_test >= len(counts) and len(y) - n_test >= len(counts) else None
    if n_test >= len(y):
        raise DataError(f"test_fraction: {test_fraction} of {len(y)} samples leaves no training data",
                        key="test_fraction")
    tr, te = train_test_split(np.arange(len(y)), test_size=test_fraction, stratify=stratify,
                              random_state=seed % 2**32, shuffle=True)
    return idx[tr], idx[te]
