"""Data sources: XOR, scikit-learn's bundled datasets, and a user's files: ``.npz``,
``.csv``, Parquet / Arrow tables and IDX (MNIST-format) folders.

Everything here is read from disk or generated; nothing is downloaded. A source is read
(``_read``), then its samples are chosen, split and scaled (``_assemble``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .._seed import normalize_seed
from ..errors import DataError
from ._idx import IDX_KEYS, expected_files, find_idx_folder, read_idx
from ._scale import describe_scaling, scale_rows, statistics
from ._subset import class_filter, per_class_subset, relabel, stratified_subset
from ._table import TABLE_EXTS, read_table

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
    **{ext: f"a {ext} table with one sample per row: a label column and feature columns" for ext in TABLE_EXTS},
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset split into a training and a test part.

    ``X_*`` are float arrays ``(n_samples, n_features)`` (float64; float32 from IDX and
    Arrow sources, which are large), ``y_*`` int64 class indices in ``0 .. n_classes-1``.
    ``image_shape`` is ``(rows, cols)`` when a sample is an image, else ``None``.
    ``class_names[k]`` names class ``k``. ``scaling`` says how the features were scaled
    (:meth:`describe` gives all of it, as a run's manifest states it).

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
    scaling: Mapping | None = None

    def describe(self) -> dict:
        """The dataset in plain JSON values: source, sizes, classes, image shape, scaling."""
        return dict(source=self.name, n_train=len(self.y_train), n_test=len(self.y_test),
                    n_features=self.n_features, n_classes=self.n_classes, class_names=list(self.class_names),
                    image_shape=list(self.image_shape) if self.image_shape else None,
                    dtype=str(self.X_train.dtype), input_scaling=dict(self.scaling or {}))

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
                 base_dir=None, max_train: int | None = None, max_test: int | None = None,
                 n_train: int | None = None, n_test: int | None = None, classes=None,
                 label_column: str = "label", files=None, per_class: int | None = None) -> Dataset:
    """Load a dataset and split it into training and test parts.

    Parameters
    ----------
    source : str or path
        ``"xor"`` (the four patterns; train and test are both all four),
        ``"sklearn:digits"`` (8x8 images), ``"sklearn:iris"``, ``"sklearn:wine"``,
        ``"sklearn:breast_cancer"``; the path of a ``.npz`` (arrays ``X`` and ``y``,
        or ``X_train``, ``y_train``, ``X_test``, ``y_test``; an ``X`` of shape
        ``(n, rows, cols)`` is flattened and remembered as images) or ``.csv`` file
        (one sample per row, the integer label last, an optional header row); a
        ``.parquet``, ``.arrow`` or ``.feather`` table (one sample per row, the label
        in column ``label_column``, every other column a feature); a folder holding the
        four MNIST-format IDX files (``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
        ``t10k-labels-idx1-ubyte``, each plain or ``.gz``); or ``"idx"`` with ``files``.
    test_fraction : float
        Share of the samples held out for testing, ``0 <= f < 1``; the split is
        stratified by class when every class has two samples or more. Ignored by
        ``"xor"`` and by sources that carry their own split (IDX, an ``.npz`` with one).
    normalize : {"minmax", "zscore", "none"}
        Feature scaling with statistics of the training split only (the test split is
        scaled with the same numbers, so its values may leave [0, 1]). Tabular data is
        scaled per feature; images with one pooled statistic over all pixels, which
        keeps the picture intact (MNIST: ``uint8 / 255``, in [0, 1]). Constant features
        are left unscaled. :attr:`Dataset.scaling` says what was done.
    seed : int
        Seeds the split and the subsets.
    base_dir : path, optional
        Directory relative paths are resolved against (a scenario file's directory).
    max_train, max_test : int, optional
        Keep only the first ``n`` samples of each split (after the split and the subsets).
    n_train, n_test : int, optional
        Keep a stratified random subset of ``n`` samples of each split (every class
        keeps its share; seeded by ``seed``). Normalisation statistics come from the
        training samples that are kept.
    per_class : int, optional
        Keep exactly ``n`` random training samples of every class (a few-shot regime;
        seeded by ``seed``); a class with fewer is an error. Not with ``n_train``.
    classes : sequence, optional
        Keep only the samples of these classes (labels as in the data, e.g. ``[0, 1]``
        for MNIST's zeros and ones); they become classes ``0..K-1`` in sorted order.
    label_column : str
        The label column of a ``.parquet`` / ``.arrow`` / ``.feather`` table.
    files : mapping, optional
        With ``source="idx"``: paths of ``train_images`` and ``train_labels``, and
        optionally ``test_images`` and ``test_labels`` (without them the test split is
        drawn from the training files with ``test_fraction``).

    Returns
    -------
    Dataset
        Features are float64, except from IDX and Arrow sources (large by nature), whose
        features are float32: the one copy of the data the dataset holds.

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
    >>> d = load_dataset("sklearn:digits", n_train=100, classes=[3, 8])  # a stratified subset of two classes
    >>> len(d.X_train), d.class_names, [int((d.y_train == k).sum()) for k in (0, 1)]
    (100, ('3', '8'), [51, 49])
    """
    if normalize not in NORMALIZE:
        raise DataError(f"normalize: must be one of {list(NORMALIZE)}, got {normalize!r}", key="normalize")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction: must be a number with 0 <= f < 1, got {test_fraction!r}",
                        key="test_fraction")
    seed = normalize_seed(seed)
    for key, v in (("max_train", max_train), ("max_test", max_test), ("n_train", n_train), ("n_test", n_test),
                   ("per_class", per_class)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise DataError(f"{key}: must be an integer >= 1, got {v!r}", key=key)
    if per_class is not None and n_train is not None:
        raise DataError("per_class: a training set is either n samples of each class (per_class) or a stratified "
                        "subset (n_train), not both", key="per_class")
    if classes is not None:
        classes = list(classes)
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise DataError(f"classes: must list two or more different classes, got {classes!r}", key="classes")
    src = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(src, str) or not src:
        raise DataError(f"source: expected a dataset name or a file path, got {source!r}")
    raw = _read(src, base_dir, test_fraction, label_column, files)
    return _assemble(raw, test_fraction=test_fraction, normalize=normalize, seed=seed, max_train=max_train,
                     max_test=max_test, n_train=n_train, n_test=n_test, classes=classes, per_class=per_class)


@dataclass
class _Raw:
    """A source as read: features (any numeric dtype), labels as in the file, and either
    its own test split (``X_te``) or none (``X_te is None``: split with test_fraction)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    X_te: np.ndarray | None = None
    y_te: np.ndarray | None = None
    image_shape: tuple | None = None
    target_names: tuple | None = None  # names of label values 0..K-1 (scikit-learn)
    dtype: type = np.float64  # of the dataset's features
    owned: bool = False  # X was made by the reader: it may be scaled in place
    same_split: bool = False  # xor: the test split is the training split


def _read(src, base_dir, test_fraction, label_column, files) -> _Raw:
    if src == "xor":
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
        y = np.array([0, 1, 1, 0], np.int64)
        return _Raw("xor", X, y, X, y, same_split=True)
    if src.startswith("sklearn:"):
        X, y, image_shape, names = _sklearn(src)
        return _Raw(src, X, y, image_shape=image_shape, target_names=names)
    if src == "idx":
        return _read_idx(_idx_paths(files, base_dir), keyed=True)
    if files:
        raise DataError("files: only used with source = 'idx'", key=tuple(files)[0])
    path = src if base_dir is None else os.path.join(os.fspath(base_dir), src)
    ext = os.path.splitext(path)[1].lower()
    if ext not in _FILE_HINT:
        if os.path.isdir(path):
            return _read_idx(find_idx_folder(path), keyed=False)
        raise DataError(f"{src}: unknown data source; expected one of {sorted(BUILTIN_SOURCES)}, the path of a "
                        f"{'/'.join(_FILE_HINT)} file, or a folder holding the four MNIST-format IDX files "
                        f"({expected_files()})")
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found (expected {_FILE_HINT[ext]})")
    if ext in TABLE_EXTS:
        X, y, _ = read_table(path, label_column)
        return _Raw(path, X, y, dtype=np.float32, owned=True)
    split, image_shape = _read_npz(path) if ext == ".npz" else (_read_csv(path), None)
    if len(split) == 2:
        return _Raw(path, *split, image_shape=image_shape)
    X_tr, y_tr, X_te, y_te = split
    if X_tr.shape[1] != X_te.shape[1]:
        raise DataError(f"{path}: X_train has {X_tr.shape[1]} features but X_test has "
                        f"{X_te.shape[1]}; expected the same number")
    return _Raw(path, X_tr, y_tr, X_te, y_te, image_shape=image_shape)


def _idx_paths(files, base_dir) -> dict:
    files = dict(files or {})
    unknown = sorted(set(files) - set(IDX_KEYS))
    if unknown:
        raise DataError(f"files: unknown key {unknown[0]!r}; expected {list(IDX_KEYS)}", key=unknown[0])
    for key in ("train_images", "train_labels"):
        if key not in files:
            raise DataError(f"{key}: required with source = 'idx' (the path of an IDX file)", key=key)
    if ("test_images" in files) != ("test_labels" in files):
        have, need = ("test_images", "test_labels") if "test_images" in files else ("test_labels", "test_images")
        raise DataError(f"{need}: required with {have} (give both test files, or neither and a test_fraction)",
                        key=need)
    out = {}
    for key, p in files.items():
        p = os.fspath(p)
        out[key] = p if base_dir is None else os.path.join(os.fspath(base_dir), p)
    return out


def _read_idx(paths: dict, keyed: bool) -> _Raw:
    """The IDX files ``paths`` (keys of IDX_FILES) as read: uint8 images for MNIST. Errors
    name the file and, when ``keyed`` (``source = "idx"``), the key that gave its path."""
    def read(key, kind):
        try:
            return read_idx(paths[key], kind)
        except DataError as exc:
            raise DataError(str(exc), key=key if keyed else None) from None

    def pair(img_key, lab_key):
        X, y = read(img_key, "images"), read(lab_key, "labels")
        if len(y) != len(X):
            raise DataError(f"{paths[lab_key]}: holds {len(y):,} labels but {paths[img_key]} holds {len(X):,} "
                            "images; expected one label per image", key=lab_key if keyed else None)
        return X, y.astype(np.int64)

    X, y = pair("train_images", "train_labels")
    shape = tuple(X.shape[1:]) if X.ndim == 3 else None
    name = os.path.dirname(paths["train_images"]) or "."
    X_te = y_te = None
    if "test_images" in paths:
        X_te, y_te = pair("test_images", "test_labels")
        if X_te.shape[1:] != X.shape[1:]:
            raise DataError(f"{paths['test_images']}: samples of shape {' x '.join(map(str, X_te.shape[1:]))} but "
                            f"{paths['train_images']} has {' x '.join(map(str, X.shape[1:]))}; expected the same",
                            key="test_images" if keyed else None)
        X_te = X_te.reshape(len(X_te), -1)
    return _Raw(name, X.reshape(len(X), -1), y, X_te, y_te, image_shape=shape, dtype=np.float32)


# rng streams of the subsets (the protocol's shuffles use streams 1 and 2)
_S_SUBSET_TRAIN, _S_SUBSET_TEST = 101, 102


def _assemble(raw: _Raw, *, test_fraction, normalize, seed, max_train, max_test, n_train, n_test,
              classes, per_class=None) -> Dataset:
    """Filter, relabel, split, subset and scale a source as read into a :class:`Dataset`."""
    name = raw.name
    own = raw.X_te is not None
    ys = [raw.y, raw.y_te] if own and not raw.same_split else [raw.y]
    if classes is not None:
        masks = class_filter(name, classes, ys)
        keeps = [np.flatnonzero(m) for m in masks]
    else:
        keeps = [np.arange(len(y)) for y in ys]
    codes, class_names = relabel(name, np.concatenate([y[k] for y, k in zip(ys, keeps)]), raw.target_names)
    # class codes for every sample as read (-1: filtered out), per label array
    coded, at = [], 0
    for y, k in zip(ys, keeps):
        c = np.full(len(y), -1, np.int64)
        c[k] = codes[at:at + len(k)]
        coded.append(c)
        at += len(k)
    if not own:
        idx_tr, idx_te = _split_idx(keeps[0], coded[0][keeps[0]], test_fraction, seed)
        if raw.dtype == np.float32:  # large sources keep the file's order: scaled in place, read in order
            idx_tr, idx_te = np.sort(idx_tr), np.sort(idx_te)
        X_te, y_te_all = raw.X, coded[0]
    elif raw.same_split:
        idx_tr = idx_te = keeps[0]
        X_te, y_te_all = raw.X_te, coded[0]
    else:
        idx_tr, idx_te = keeps
        X_te, y_te_all = raw.X_te, coded[1]
    y_tr_all = coded[0]
    if n_train is not None:
        idx_tr = stratified_subset(idx_tr, y_tr_all, n_train, seed, _S_SUBSET_TRAIN, key="n_train",
                                   split="training", name=name)
    if per_class is not None:
        idx_tr = per_class_subset(idx_tr, y_tr_all, per_class, seed, _S_SUBSET_TRAIN, key="per_class",
                                  split="training", name=name)
    if n_test is not None:
        idx_te = stratified_subset(idx_te, y_te_all, n_test, seed, _S_SUBSET_TEST, key="n_test",
                                   split="test", name=name)
    if max_train is not None:
        idx_tr = idx_tr[:max_train]
    if max_test is not None:
        idx_te = idx_te[:max_test]
    if len(idx_tr) == 0:
        raise DataError(f"{name}: the training split is empty; expected at least one sample")
    pooled = raw.image_shape is not None
    stats = statistics(raw.X, _maybe_all(idx_tr, len(raw.X)), normalize, pooled=pooled)
    X_te_out = scale_rows(X_te, _maybe_all(idx_te, len(X_te)), stats, raw.dtype)
    in_place = raw.owned and raw.X.dtype == raw.dtype and np.all(np.diff(idx_tr) > 0)
    if in_place:  # the reader's own float32 array: scaled where it lies, no second copy
        X_tr_out = scale_rows(raw.X, _maybe_all(idx_tr, len(raw.X)), stats, raw.dtype, out=raw.X)[:len(idx_tr)]
    else:
        X_tr_out = scale_rows(raw.X, _maybe_all(idx_tr, len(raw.X)), stats, raw.dtype)
    scaling = describe_scaling(stats, X_tr_out, raw.X.dtype, raw.dtype)
    return Dataset(X_tr_out, y_tr_all[idx_tr], X_te_out, y_te_all[idx_te], n_classes=len(class_names),
                   n_features=int(X_tr_out.shape[1]), image_shape=raw.image_shape, name=name,
                   class_names=tuple(class_names), scaling=MappingProxyType(scaling))


def _maybe_all(idx, n):
    """``None`` (every row, in order: read without gathering) when ``idx`` is ``0..n-1``."""
    return None if len(idx) == n and (n == 0 or (idx[0] == 0 and idx[-1] == n - 1 and np.all(np.diff(idx) == 1))) \
        else idx


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


def _split_idx(idx, y, test_fraction, seed):
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
