"""Data sources: XOR, scikit-learn's bundled datasets, and a user's ``.npz`` / ``.csv``.

Everything here is read from disk or generated; nothing is downloaded.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from .._seed import normalize_seed
from ..errors import DataError

__all__ = ["Dataset", "load_dataset", "BUILTIN_SOURCES", "NORMALIZE"]

#: Built-in sources and what they hold: (n_features, n_classes, image_shape).
BUILTIN_SOURCES = {
    "xor": (2, 2, None),
    "sklearn:digits": (64, 10, (8, 8)),
    "sklearn:iris": (4, 3, None),
    "sklearn:wine": (13, 3, None),
    "sklearn:breast_cancer": (30, 2, None),
}
NORMALIZE = ("minmax", "zscore", "none")
_FILE_HINT = {
    ".npz": "an .npz archive with arrays X and y, or X_train, y_train, X_test and y_test",
    ".csv": "a .csv file with one sample per row, the integer class label in the last column",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset split into a training and a test part.

    ``X_*`` are float64 arrays ``(n_samples, n_features)``, ``y_*`` int64 class indices
    in ``0 .. n_classes-1``. ``image_shape`` is ``(rows, cols)`` when a sample is an
    image, else ``None``. ``class_names[k]`` names class ``k``.

    Examples
    --------
    >>> from asyncpc.environment import load_dataset
    >>> d = load_dataset("xor")
    >>> d.X_train.shape, d.n_classes, d.targets(d.y_train, 1).ravel().tolist()
    ((4, 2), 2, [0.0, 1.0, 1.0, 0.0])
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    n_features: int
    image_shape: tuple[int, int] | None
    name: str
    class_names: tuple[str, ...]

    @classmethod
    def from_arrays(cls, X, y, X_test=None, y_test=None, *, test_fraction: float = 0.0, seed=0,
                    name: str = "arrays", class_names=None) -> "Dataset":
        """A dataset from arrays: ``X`` (samples x features, or samples x rows x cols for
        images) and integer labels ``y``; a test split given as ``X_test, y_test``, or cut
        from ``X`` (``test_fraction``, stratified, seeded by ``seed``), or none. Labels are
        mapped, sorted, to ``0..K-1``. The arrays are kept as given (no normalisation: a
        scenario's ``data.normalize`` applies when the dataset is run).

        Raises
        ------
        DataError
            Naming the argument, its shape or dtype and what was expected (never the values).

        Examples
        --------
        >>> import numpy as np
        >>> from asyncpc.environment import Dataset
        >>> d = Dataset.from_arrays(np.eye(4), [0, 1, 1, 0])
        >>> d
        Dataset('arrays': 4 train / 0 test samples, 4 features, 2 classes)
        """
        from ._arrays import from_arrays

        return from_arrays(cls, X, y, X_test, y_test, test_fraction=test_fraction, seed=seed, name=name,
                           class_names=class_names)

    def __repr__(self) -> str:
        image = f", images {self.image_shape[0]}x{self.image_shape[1]}" if self.image_shape else ""
        return (f"Dataset({self.name!r}: {len(self.y_train)} train / {len(self.y_test)} test samples, "
                f"{self.n_features} features, {self.n_classes} classes{image})")

    def targets(self, y, n_out: int, on: float = 1.0, off: float = 0.0) -> np.ndarray:
        """Target activities ``(len(y), n_out)`` of a label area of ``n_out`` neurons.

        One-hot (``on`` at the class, ``off`` elsewhere) when ``n_out == n_classes``; a
        single output (``on`` for class 1, ``off`` for class 0) when ``n_out == 1`` and
        there are two classes.
        """
        y = np.asarray(y, np.int64)
        if n_out == self.n_classes:
            out = np.full((len(y), n_out), float(off))
            out[np.arange(len(y)), y] = float(on)
            return out
        if n_out == 1 and self.n_classes == 2:
            return np.where(y == 1, float(on), float(off)).reshape(-1, 1)
        raise DataError(f"{self.name}: a label area of {n_out} neuron(s) cannot code {self.n_classes} "
                        f"classes; it needs {self.n_classes} neurons"
                        + (" (or 1 for a 0/1 target)" if self.n_classes == 2 else ""))


def load_dataset(source, *, test_fraction: float = 0.2, normalize: str = "minmax", seed=0,
                 base_dir=None, max_train: int | None = None, max_test: int | None = None) -> Dataset:
    """Load a dataset and split it into training and test parts.

    Parameters
    ----------
    source : str or path
        ``"xor"`` (the four patterns; train and test are both all four),
        ``"sklearn:digits"`` (8x8 images), ``"sklearn:iris"``, ``"sklearn:wine"``,
        ``"sklearn:breast_cancer"``, or the path of a ``.npz`` (arrays ``X`` and ``y``,
        or ``X_train``, ``y_train``, ``X_test``, ``y_test``; an ``X`` of shape
        ``(n, rows, cols)`` is flattened and remembered as images) or ``.csv`` file
        (one sample per row, the integer label last, an optional header row).
    test_fraction : float
        Share of the samples held out for testing, ``0 <= f < 1``; the split is
        stratified by class when every class has two samples or more. Ignored by
        ``"xor"`` and by files that carry their own split.
    normalize : {"minmax", "zscore", "none"}
        Feature scaling with statistics of the training split only (the test split is
        scaled with the same numbers, so its values may leave [0, 1]). Tabular data is
        scaled per feature; images with one pooled statistic over all pixels, which
        keeps the picture intact. Constant features are left unscaled.
    seed : int
        Seeds the split.
    base_dir : path, optional
        Directory relative paths are resolved against (a scenario file's directory).
    max_train, max_test : int, optional
        Keep only the first ``n`` samples of each split (after the shuffled split).
        Normalisation statistics come from the training samples that are kept.

    Raises
    ------
    DataError
        With a one-line message naming the file and what was expected.

    Examples
    --------
    >>> from asyncpc.environment import load_dataset
    >>> d = load_dataset("sklearn:digits", seed=0)
    >>> len(d.X_train), len(d.X_test), d.image_shape, float(d.X_train.max())
    (1437, 360, (8, 8), 1.0)
    """
    if normalize not in NORMALIZE:
        raise DataError(f"normalize: must be one of {list(NORMALIZE)}, got {normalize!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction: must be a number with 0 <= f < 1, got {test_fraction!r}")
    seed = normalize_seed(seed)
    for key, v in (("max_train", max_train), ("max_test", max_test)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise DataError(f"{key}: must be an integer >= 1, got {v!r}")
    src = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(src, str) or not src:
        raise DataError(f"source: expected a dataset name or a file path, got {source!r}")
    image_shape = None
    class_names = None
    if src == "xor":
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
        y = np.array([0, 1, 1, 0], np.int64)
        parts = (X, y, X.copy(), y.copy())
        name, class_names = "xor", ("0", "1")
    elif src.startswith("sklearn:"):
        X, y, image_shape, class_names = _sklearn(src)
        parts = _split(X, y, test_fraction, seed)
        name = src
    else:
        path = src if base_dir is None else os.path.join(os.fspath(base_dir), src)
        ext = os.path.splitext(path)[1].lower()
        if ext not in _FILE_HINT:
            raise DataError(f"{src}: unknown data source; expected one of {sorted(BUILTIN_SOURCES)} "
                            "or the path of a .npz or .csv file")
        if not os.path.isfile(path):
            raise DataError(f"{path}: file not found (expected {_FILE_HINT[ext]})")
        if ext == ".npz":
            split, image_shape = _read_npz(path)
        else:
            split = _read_csv(path)
        name = path
        if len(split) == 2:
            X, y = split
            y, class_names = _relabel(path, y)
            parts = _split(X, y, test_fraction, seed)
        else:
            X_tr, y_tr, X_te, y_te = split
            if X_tr.shape[1] != X_te.shape[1]:
                raise DataError(f"{path}: X_train has {X_tr.shape[1]} features but X_test has "
                                f"{X_te.shape[1]}; expected the same number")
            y_all, class_names = _relabel(path, np.concatenate([y_tr, y_te]))
            parts = (X_tr, y_all[:len(y_tr)], X_te, y_all[len(y_tr):])
    X_tr, y_tr, X_te, y_te = parts
    if max_train is not None:
        X_tr, y_tr = X_tr[:max_train], y_tr[:max_train]
    if max_test is not None:
        X_te, y_te = X_te[:max_test], y_te[:max_test]
    if len(X_tr) == 0:
        raise DataError(f"{name}: the training split is empty; expected at least one sample")
    X_tr, X_te = _normalize(X_tr, X_te, normalize, pooled=image_shape is not None)
    return Dataset(np.ascontiguousarray(X_tr, np.float64), np.ascontiguousarray(y_tr, np.int64),
                   np.ascontiguousarray(X_te, np.float64), np.ascontiguousarray(y_te, np.int64),
                   n_classes=len(class_names), n_features=int(X_tr.shape[1]), image_shape=image_shape,
                   name=name, class_names=tuple(class_names))


def _sklearn(src):
    from sklearn import datasets  # imported on use: sklearn is slow to import

    loaders = {"sklearn:digits": datasets.load_digits, "sklearn:iris": datasets.load_iris,
               "sklearn:wine": datasets.load_wine, "sklearn:breast_cancer": datasets.load_breast_cancer}
    if src not in loaders:
        raise DataError(f"{src}: unknown data source; expected one of {sorted(BUILTIN_SOURCES)} "
                        "or the path of a .npz or .csv file")
    b = loaders[src]()
    names = tuple(str(n) for n in b.target_names)
    return (np.asarray(b.data, np.float64), np.asarray(b.target, np.int64),
            BUILTIN_SOURCES[src][2], names)


def _split(X, y, test_fraction, seed):
    if test_fraction == 0:
        return X, y, X[:0], y[:0]
    from sklearn.model_selection import train_test_split

    n_test = int(np.ceil(test_fraction * len(y)))
    counts = np.bincount(y)
    counts = counts[counts > 0]
    stratify = y if counts.min() >= 2 and n_test >= len(counts) and len(y) - n_test >= len(counts) else None
    if n_test >= len(y):
        raise DataError(f"test_fraction: {test_fraction} of {len(y)} samples leaves no training data")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, stratify=stratify,
                                              random_state=seed % 2**32, shuffle=True)
    return X_tr, y_tr, X_te, y_te


def _normalize(X_tr, X_te, how, *, pooled):
    if how == "none":
        return X_tr.astype(np.float64), X_te.astype(np.float64)
    axis = None if pooled else 0
    if how == "minmax":
        lo, scale = X_tr.min(axis=axis), X_tr.max(axis=axis) - X_tr.min(axis=axis)
    else:
        lo, scale = X_tr.mean(axis=axis), X_tr.std(axis=axis)
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature keeps its offset-free value
    return (X_tr - lo) / scale, (X_te - lo) / scale


def _check_X(path, X, key):
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{path}: {key} must hold numbers, got dtype {X.dtype}")
    if X.ndim == 3:
        image = (int(X.shape[1]), int(X.shape[2]))
        X = X.reshape(len(X), -1)
    elif X.ndim == 2:
        image = None
    else:
        raise DataError(f"{path}: {key} must be 2-D (samples x features) or 3-D (samples x rows x cols), "
                        f"got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{path}: {key} is empty (shape {X.shape}); expected samples x features")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise DataError(f"{path}: {key} contains NaN or infinite values; expected finite numbers")
    return X, image


def _check_y(path, y, key, n):
    if y.ndim != 1:
        raise DataError(f"{path}: {key} must be 1-D (one label per sample), got shape {y.shape}")
    if len(y) != n:
        raise DataError(f"{path}: {key} has {len(y)} labels for {n} samples; expected one per sample")
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise DataError(f"{path}: {key} must hold integer class labels, got dtype {y.dtype}")
    yf = y.astype(np.float64)
    bad = ~np.isfinite(yf) | (yf != np.round(yf))
    if np.any(bad):
        bad = yf[bad][0]
        raise DataError(f"{path}: {key} must hold integer class labels, got {bad:g}")
    return y.astype(np.int64)


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file
        raise DataError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc}); "
                        f"expected {_FILE_HINT['.npz']}") from None
    keys = set(arrays)
    if {"X_train", "y_train", "X_test", "y_test"} <= keys:
        X_tr, im1 = _check_X(path, arrays["X_train"], "X_train")
        X_te, im2 = _check_X(path, arrays["X_test"], "X_test")
        y_tr = _check_y(path, arrays["y_train"], "y_train", len(X_tr))
        y_te = _check_y(path, arrays["y_test"], "y_test", len(X_te))
        if im1 != im2:
            raise DataError(f"{path}: X_train images are {im1} but X_test images are {im2}")
        return (X_tr, y_tr, X_te, y_te), im1
    if {"X", "y"} <= keys:
        X, im = _check_X(path, arrays["X"], "X")
        return (X, _check_y(path, arrays["y"], "y", len(X))), im
    raise DataError(f"{path}: found arrays {sorted(keys)}; expected {_FILE_HINT['.npz']}")


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc}); expected {_FILE_HINT['.csv']}") from None
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{path}: empty file; expected {_FILE_HINT['.csv']}")
    first = lines[0][1]
    delim = next((d for d in (",", ";", "\t") if d in first), None)

    def fields(ln):
        if delim is None:
            return ln.split()
        return [f.strip() for f in next(csv.reader([ln], delimiter=delim))]

    def is_number(s):
        try:
            float(s)
            return True
        except ValueError:
            return False

    if not all(is_number(f) for f in fields(first)):
        lines = lines[1:]  # a header row
    if not lines:
        raise DataError(f"{path}: only a header row; expected {_FILE_HINT['.csv']}")
    ncol = len(fields(lines[0][1]))
    if ncol < 2:
        raise DataError(f"{path}: line {lines[0][0]}: found {ncol} column; expected features and a label")
    rows = np.empty((len(lines), ncol))
    for r, (lineno, ln) in enumerate(lines):
        f = fields(ln)
        if len(f) != ncol:
            raise DataError(f"{path}: line {lineno}: found {len(f)} columns; expected {ncol} like the first row")
        for c, s in enumerate(f):
            try:
                rows[r, c] = float(s)
            except ValueError:
                what = "an integer class label" if c == ncol - 1 else "a number"
                raise DataError(f"{path}: line {lineno}: column {c + 1} is {s!r}; expected {what}") from None
        if not np.all(np.isfinite(rows[r])):
            raise DataError(f"{path}: line {lineno}: NaN or infinite value; expected finite numbers")
        lab = rows[r, -1]
        if lab != np.round(lab):
            raise DataError(f"{path}: line {lineno}: label {lab:g} is not an integer; "
                            "expected an integer class label in the last column")
    return rows[:, :-1], rows[:, -1].astype(np.int64)


def _relabel(path, y):
    """Map the distinct labels, sorted, to 0..K-1 (keeping their names)."""
    values, y_new = np.unique(y, return_inverse=True)
    if len(values) < 2:
        raise DataError(f"{path}: all samples have label {values[0]}; expected at least two classes")
    return y_new.astype(np.int64).reshape(-1), tuple(str(int(v)) for v in values)
