"""Choosing samples: a class filter, class relabelling, and stratified, seeded subsets.

Everything here works on index arrays into the data as read, so choosing 1,000 of 60,000
images copies 1,000 images (when they are scaled), never the rest.
"""

from __future__ import annotations

import numpy as np

from .._seed import rng_for
from ..errors import DataError

__all__ = ["class_filter", "per_class_subset", "relabel", "stratified_subset"]


def _shown(values) -> str:
    vals = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return ", ".join(vals if len(vals) <= 12 else vals[:6] + ["..."] + vals[-3:])


def class_filter(name, classes, ys):
    """Masks keeping the samples whose label is in ``classes`` (labels as in the file), one
    per label array in ``ys``; every listed class must occur in the data."""
    present = np.unique(np.concatenate([np.asarray(y) for y in ys]))
    strings = present.dtype.kind in "US"
    for i, c in enumerate(classes):
        ok = isinstance(c, str) if strings else (not isinstance(c, (str, bool)) and c == int(c))
        if not ok or c not in set(present.tolist()):
            raise DataError(f"classes: no class {c!r} in {name}; its classes are {_shown(present.tolist())}",
                            key=("classes", i))
    keep = np.asarray(list(classes), dtype=present.dtype)
    return [np.isin(y, keep) for y in ys]


def relabel(name, y, names=None):
    """Map the distinct labels of ``y``, sorted, to ``0..K-1``. Returns ``(codes, class names)``;
    ``names[v]`` names label value ``v`` when given (scikit-learn's target names)."""
    values, codes = np.unique(y, return_inverse=True)
    if len(values) < 2:
        raise DataError(f"{name}: all samples have label {values[0]}; expected at least two classes")
    if names is not None:
        labels = tuple(str(names[int(v)]) for v in values)
    elif values.dtype.kind in "US":
        labels = tuple(str(v) for v in values)
    else:
        labels = tuple(str(int(v)) for v in values)
    return codes.astype(np.int64).reshape(-1), labels


def stratified_subset(idx, y, n: int, seed, stream: int, *, key: str, split: str, name: str):
    """``n`` of the samples ``idx`` (with class codes ``y[idx]``), each class keeping its
    share (largest remainders; ties to the lower class), drawn with ``rng_for(seed, stream)``.
    The chosen indices keep their order in ``idx``."""
    if n > len(idx):
        raise DataError(f"{key}: {n} is more than the {len(idx):,} {split} samples of {name}; expected at most "
                        f"{len(idx):,}", key=key)
    if n == len(idx):
        return idx
    codes = y[idx]
    counts = np.bincount(codes)
    exact = counts * (n / len(idx))
    quota = np.floor(exact).astype(np.int64)
    short = n - int(quota.sum())
    if short:
        frac = exact - quota
        order = np.lexsort((np.arange(len(counts)), -frac))  # largest remainder first, then class index
        quota[order[:short]] += 1
    return _draw(idx, codes, quota, seed, stream)


def per_class_subset(idx, y, n: int, seed, stream: int, *, key: str, split: str, name: str):
    """Exactly ``n`` of the samples ``idx`` of every class (``y[idx]``: class codes), drawn
    with ``rng_for(seed, stream)``: a few-shot training set. A class with fewer than ``n``
    samples is an error. The chosen indices keep their order in ``idx``."""
    codes = y[idx]
    counts = np.bincount(codes)
    if counts.min() < n:
        k = int(np.argmin(counts))
        raise DataError(f"{key}: {n} samples of each class, but class {k} has only {int(counts[k])} "
                        f"{split} samples in {name}; expected at most {int(counts.min())}", key=key)
    return _draw(idx, codes, np.full(len(counts), n, np.int64), seed, stream)


def _draw(idx, codes, quota, seed, stream: int):
    """``quota[k]`` random members of each class ``k`` of ``idx``, in ``idx``'s order."""
    rng = rng_for(seed, stream)
    chosen = np.zeros(len(idx), bool)
    for k in range(len(quota)):
        members = np.flatnonzero(codes == k)
        if quota[k]:
            chosen[rng.choice(members, size=int(quota[k]), replace=False)] = True
    return idx[chosen]
