"""A :class:`Dataset` from arrays in memory (``Dataset.from_arrays``).

Errors name the argument, its shape or dtype and what was expected; they never print
the arrays themselves (a notebook's traceback stays one line long however large X is).
"""

from __future__ import annotations

import numpy as np

from .._seed import normalize_seed
from ..errors import DataError

__all__ = ["from_arrays"]


def _as_array(v, key) -> np.ndarray:
    try:
        a = np.asarray(v)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot take
        raise DataError(f"{key}: expected an array, got {type(v).__name__} ({type(exc).__name__})") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise DataError(f"{key}: must hold numbers, got an array of dtype {a.dtype} and shape {a.shape}")
    return a


def _features(X, key):
    X = _as_array(X, key)
    image = None
    if X.ndim == 3:
        image = (int(X.shape[1]), int(X.shape[2]))
        X = X.reshape(len(X), -1)
    elif X.ndim != 2:
        raise DataError(f"{key}: must be 2-D (samples x features) or 3-D (samples x rows x cols), got shape "
                        f"{X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{key}: is empty (shape {X.shape}); expected samples x features")
    X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{key}: {int(bad.sum())} NaN or infinite values (the first at row {r}, column {c}); "
                        "expected finite numbers")
    return X, image


def _labels(y, key, n):
    y = _as_array(y, key)
    if y.ndim != 1:
        raise DataError(f"{key}: must be 1-D (one class label per sample), got shape {y.shape}")
    if len(y) != n:
        raise DataError(f"{key}: {len(y)} labels for {n} samples; expected one per sample")
    yf = y.astype(np.float64)
    bad = ~np.isfinite(yf) | (yf != np.round(yf))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{key}: must hold integer class labels, got {yf[i]:g} at index {i}")
    return y.astype(np.int64)


def from_arrays(cls, X, y, X_test=None, y_test=None, *, test_fraction: float = 0.0, seed=0, name: str = "arrays",
                class_names=None):
    """See :meth:`asyncpc.environment.Dataset.from_arrays`."""
    if (X_test is None) != (y_test is None):
        raise DataError("X_test, y_test: give both or neither")
    X, image = _features(X, "X")
    y = _labels(y, "y", len(X))
    if X_test is not None:
        if test_fraction:
            raise DataError(f"test_fraction: must be 0 when X_test and y_test are given, got {test_fraction!r}")
        Xt, image_t = _features(X_test, "X_test")
        if Xt.shape[1] != X.shape[1] or image_t != image:
            raise DataError(f"X_test: samples of shape {Xt.shape[1:] if image_t is None else image_t}, X's are "
                            f"{X.shape[1:] if image is None else image}; expected the same")
        yt = _labels(y_test, "y_test", len(Xt))
    else:
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
                or not 0 <= test_fraction < 1:
            raise DataError(f"test_fraction: must be a number with 0 <= f < 1, got {test_fraction!r}")
        from ._data import _split_idx

        yt = None
    values, inv = np.unique(np.concatenate([y, yt]) if yt is not None else y, return_inverse=True)
    if len(values) < 2:
        raise DataError(f"y: every sample has label {values[0]}; expected at least two classes")
    inv = inv.reshape(-1).astype(np.int64)
    if class_names is None:
        class_names = tuple(str(int(v)) for v in values)
    else:
        class_names = tuple(str(c) for c in class_names)
        if len(class_names) != len(values):
            raise DataError(f"class_names: {len(class_names)} names for {len(values)} classes; expected one per "
                            "class, in the order of the sorted labels")
    if yt is not None:
        X_tr, y_tr, X_te, y_te = X, inv[:len(y)], Xt, inv[len(y):]
    else:
        tr, te = _split_idx(np.arange(len(inv)), inv, test_fraction, normalize_seed(seed))
        X_tr, y_tr, X_te, y_te = X[tr], inv[tr], X[te], inv[te]
    return cls(np.ascontiguousarray(X_tr), np.ascontiguousarray(y_tr, np.int64), np.ascontiguousarray(X_te),
               np.ascontiguousarray(y_te, np.int64), n_classes=len(values), n_features=int(X.shape[1]),
               image_shape=image, name=str(name), class_names=class_names)
