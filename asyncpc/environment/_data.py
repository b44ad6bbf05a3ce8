"""Datasets: :class:`Dataset` and :func:`load_dataset`, from XOR, scikit-learn's bundled
datasets, and a user's files: ``.npz``, ``.csv``, Parquet / Arrow tables and IDX
(MNIST-format) folders.

Everything here is read from disk or generated; nothing is downloaded. A source is read
(:func:`._sources.read_source`), then its samples are chosen, split and scaled
(:func:`._select.assemble`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ._select import NORMALIZE, Selection, assemble
from ._select import split_indices as _split_idx  # noqa: F401 - ._arrays imports it from here
from ._sources import BUILTIN_SOURCES, read_source

__all__ = ["Dataset", "load_dataset", "BUILTIN_SOURCES", "NORMALIZE"]


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
    sel = Selection(normalize=normalize, test_fraction=test_fraction, seed=seed, max_train=max_train,
                    max_test=max_test, n_train=n_train, n_test=n_test, per_class=per_class, classes=classes)
    src = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(src, str) or not src:
        raise DataError(f"source: expected a dataset name or a file path, got {source!r}")
    return assemble(Dataset, read_source(src, base_dir, label_column, files), sel)
