"""Feature scaling with training-split statistics, computed and applied in row chunks.

The statistics are accumulated in float64 over chunks of rows and the scaled rows are
written chunk by chunk into one output array, so scaling never makes a float64 copy of a
whole split: 60,000 MNIST images become one float32 array (188 MB) next to the 47 MB of
uint8 they came from. Data that fit in one chunk (every built-in dataset) are scaled with
exactly the numpy calls of one whole-array expression.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Stats", "statistics", "scale_rows", "describe_scaling"]

_CHUNK_BYTES = 1 << 22  # float64 bytes of one chunk of rows


def _rows_per_chunk(n_features: int) -> int:
    return max(1, _CHUNK_BYTES // (8 * max(n_features, 1)))


class Stats:
    """``offset`` and ``scale`` (floats when pooled, else one per feature): x -> (x - offset) / scale."""

    def __init__(self, how: str, pooled: bool, offset, scale):
        self.how, self.pooled, self.offset, self.scale = how, pooled, offset, scale


def _chunks(X, idx):
    n = len(idx) if idx is not None else len(X)
    step = _rows_per_chunk(X.shape[1] if X.ndim == 2 else 1)
    for a in range(0, n, step):
        b = min(n, a + step)
        rows = X[a:b] if idx is None else X[idx[a:b]]
        yield a, b, rows.astype(np.float64, copy=False)


def statistics(X, idx, how: str, *, pooled: bool) -> Stats:
    """Scaling statistics of the rows ``idx`` of ``X`` (all rows if ``idx`` is None):
    per feature, or one pooled over every value (images)."""
    if how == "none":
        return Stats(how, pooled, 0.0, 1.0)
    axis = None if pooled else 0
    lo = hi = mean = m2 = var1 = None
    count = parts = 0
    for _, _, R in _chunks(X, idx):
        if how == "minmax":
            a, b = R.min(axis=axis), R.max(axis=axis)
            lo = a if lo is None else np.minimum(lo, a)
            hi = b if hi is None else np.maximum(hi, b)
            continue
        k = R.size if pooled else len(R)
        mu, var = R.mean(axis=axis), R.var(axis=axis)
        parts += 1
        if mean is None:
            mean, m2, count, var1 = mu, var * k, k, var
        else:  # Chan et al.: merge two partitions' means and sums of squared deviations
            d = mu - mean
            tot = count + k
            mean = mean + d * (k / tot)
            m2 = m2 + var * k + d * d * (count * k / tot)
            count = tot
    if how == "minmax":
        offset, scale = lo, hi - lo
    else:
        offset, scale = mean, np.sqrt(var1 if parts == 1 else m2 / count)  # one part: exactly X.std()
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature keeps its offset-free value
    if pooled:
        offset, scale = float(offset), float(scale)
    return Stats(how, pooled, offset, scale)


def scale_rows(X, idx, stats: Stats, dtype, out=None) -> np.ndarray:
    """``(X[idx] - offset) / scale`` as a new ``dtype`` array (or into ``out``), chunk by chunk.

    ``out`` may be ``X`` itself when ``idx`` is sorted and ``X`` has ``dtype``: row ``k``
    is then read from row ``idx[k] >= k`` before anything overwrites it.
    """
    n = len(X) if idx is None else len(idx)
    if out is None:
        out = np.empty((n,) + X.shape[1:], dtype)
    for a, b, R in _chunks(X, idx):
        if stats.how != "none":
            if np.shares_memory(R, X):
                R = R.copy()
            R -= stats.offset  # in place: the same arithmetic as (R - offset) / scale, no temporaries
            R /= stats.scale
        out[a:b] = R
    return out


def describe_scaling(stats: Stats, X_train, raw_dtype, dtype) -> dict:
    """What the manifest says about the input: mode, formula, range of the training split."""
    rng = [float(X_train.min()), float(X_train.max())] if X_train.size else None
    d = dict(normalize=stats.how, statistics="pooled over all values" if stats.pooled else "per feature",
             raw_dtype=str(raw_dtype), dtype=str(np.dtype(dtype)), train_range=rng)
    if stats.how == "none":
        d["formula"] = "x = raw"
    elif stats.pooled:
        d.update(offset=stats.offset, scale=stats.scale,
                 formula=f"x = (raw - {stats.offset:g}) / {stats.scale:g}")
    else:
        what = "min) / (max - min" if stats.how == "minmax" else "mean) / std"
        d["formula"] = f"x = (raw - {what}) per feature, training-split statistics"
    return d
