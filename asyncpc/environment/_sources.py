"""Reading a data source as it is: XOR, scikit-learn's bundled datasets, ``.npz`` and
``.csv`` files, Parquet / Arrow tables (:mod:`._table`) and IDX files or folders (:mod:`._idx`).

A reader returns a :class:`Raw`: the features in the file's own dtype, the labels as
written, and the source's own test split if it has one. Choosing, splitting and scaling
the samples is :mod:`._select`'s work. Nothing is downloaded.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ._idx import IDX_KEYS, expected_files, find_idx_folder, read_idx
from ._table import TABLE_EXTS, read_table

__all__ = ["BUILTIN_SOURCES", "Raw", "read_source"]

#: Built-in sources and what they hold: (n_features, n_classes, image_shape).
BUILTIN_SOURCES = {
    "xor": (2, 2, None),
    "sklearn:digits": (64, 10, (8, 8)),
    "sklearn:iris": (4, 3, None),
    "sklearn:wine": (13, 3, None),
    "sklearn:breast_cancer": (30, 2, None),
}
_FILE_HINT = {
    ".npz": "an .npz archive with arrays X and y, or X_train, y_train, X_test and y_test",
    ".csv": "a .csv file with one sample per row, the integer class label in the last column",
    **{ext: f"a {ext} table with one sample per row: a label column and feature columns" for ext in TABLE_EXTS},
}


@dataclass
class Raw:
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


def read_source(src, base_dir, label_column, files) -> Raw:
    """The source ``src`` (a built-in name, ``"idx"`` with ``files``, or a path, relative
    to ``base_dir`` when given) as read; see :func:`~asyncpc.environment.load_dataset`."""
    if files and src != "idx":
        raise DataError("files: only used with source = 'idx'", key=tuple(files)[0])
    if src == "xor":
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
        y = np.array([0, 1, 1, 0], np.int64)
        return Raw("xor", X, y, X, y, same_split=True)
    if src.startswith("sklearn:"):
        X, y, image_shape, names = _sklearn(src)
        return Raw(src, X, y, image_shape=image_shape, target_names=names)
    if src == "idx":
        return _read_idx(_idx_paths(files, base_dir), keyed=True)
    path = src if base_dir is None else os.path.join(os.fspath(base_dir), src)
    ext = os.path.splitext(path)[1].lower()
    if ext not in _FILE_HINT:
        if os.path.isdir(path):
            return _read_idx(find_idx_folder(path), keyed=False)
        raise _unknown(src)
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found (expected {_FILE_HINT[ext]})")
    if ext in TABLE_EXTS:
        X, y, _ = read_table(path, label_column)
        return Raw(path, X, y, dtype=np.float32, owned=True)
    split, image_shape = _read_npz(path) if ext == ".npz" else (_read_csv(path), None)
    if len(split) == 2:
        return Raw(path, *split, image_shape=image_shape)
    X_tr, y_tr, X_te, y_te = split
    if X_tr.shape[1] != X_te.shape[1]:
        raise DataError(f"{path}: X_train has {X_tr.shape[1]} features but X_test has "
                        f"{X_te.shape[1]}; expected the same number")
    return Raw(path, X_tr, y_tr, X_te, y_te, image_shape=image_shape)


def _idx_paths(files, base_dir) -> dict:
    """The paths of ``source = "idx"``'s ``files`` (checked keys), resolved against ``base_dir``."""
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


def _read_idx(paths: dict, keyed: bool) -> Raw:
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
    return Raw(name, X.reshape(len(X), -1), y, X_te, y_te, image_shape=shape, dtype=np.float32)



def _unknown(src) -> DataError:
    return DataError(f"{src}: unknown data source; expected one of {sorted(BUILTIN_SOURCES)}, the path of a "
                     f"{'/'.join(_FILE_HINT)} file, or a folder holding the four MNIST-format IDX files "
                     f"({expected_files()})")


def _sklearn(src):
    """A scikit-learn bundled dataset: features, labels, image shape and class names."""
    from sklearn import datasets  # imported on use: sklearn is slow to import

    loaders = {"sklearn:digits": datasets.load_digits, "sklearn:iris": datasets.load_iris,
               "sklearn:wine": datasets.load_wine, "sklearn:breast_cancer": datasets.load_breast_cancer}
    if src not in loaders:
        raise _unknown(src)
    b = loaders[src]()
    names = tuple(str(n) for n in b.target_names)
    return (np.asarray(b.data, np.float64), np.asarray(b.target, np.int64),
            BUILTIN_SOURCES[src][2], names)



def _check_X(path, X, key):
    """Features ``X`` of a file as float64 rows, and the image shape of a 3-D ``X``."""
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
    """Labels ``y`` of a file as int64, one integer per sample."""
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
    """An ``.npz`` archive's ``(X, y)`` or ``(X_train, y_train, X_test, y_test)``, and its image shape."""
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
    """A ``.csv`` file's features and labels (the last column); an optional header row."""
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
