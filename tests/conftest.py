"""Shared test set-up: Numba may run more threads than there are cores, and small IDX (MNIST-format) files written by the tests themselves."""

from __future__ import annotations

import os

# Let the engine run more partitions than this machine has cores (2 on CI), so that the
# tests can check 3-partition runs: partitions wait on each other, so each needs a thread
# of its own (asyncpc/engine/_setup.py caps partitions at Numba's thread count).
os.environ.setdefault("NUMBA_NUM_THREADS", "4")

import gzip
import struct

import numpy as np
import pytest

IDX_NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def idx_bytes(a, type_code: int = 0x08) -> bytes:
    """The IDX encoding of array ``a``: magic number, big-endian dimensions, big-endian data."""
    a = np.asarray(a)
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    head = struct.pack(">BBBB", 0, 0, type_code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return head + a.astype(dt).tobytes()


def write_idx(path, a, type_code: int = 0x08, gz: bool | None = None, level: int = 9) -> None:
    data = idx_bytes(a, type_code)
    gz = str(path).endswith(".gz") if gz is None else gz
    with (gzip.open(path, "wb", compresslevel=level) if gz else open(path, "wb")) as fh:
        fh.write(data)


def mnist_like(n: int, rows: int = 28, cols: int = 28, seed: int = 0, n_classes: int = 10):
    """``n`` uint8 images whose class ``k`` lights a band of rows (learnable), and labels
    cycling through the classes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    X = rng.integers(0, 40, size=(n, rows, cols)).astype(np.uint8)
    band = max(1, rows // n_classes)
    for i, k in enumerate(y):
        X[i, (k * band) % rows:(k * band) % rows + band, :] = 255
    return X, y.astype(np.uint8)


@pytest.fixture
def idx_folder(tmp_path):
    """``make(n_train, n_test, rows=28, cols=28, gz=True, name="mnist")``: a folder holding the
    four standard IDX files; returns its path."""

    def make(n_train=60, n_test=20, rows=28, cols=28, gz=True, name="mnist", seed=0):
        d = tmp_path / name
        d.mkdir(parents=True, exist_ok=True)
        ext = ".gz" if gz else ""
        Xtr, ytr = mnist_like(n_train, rows, cols, seed)
        Xte, yte = mnist_like(n_test, rows, cols, seed + 1)
        write_idx(d / (IDX_NAMES["train_images"] + ext), Xtr)
        write_idx(d / (IDX_NAMES["train_labels"] + ext), ytr)
        write_idx(d / (IDX_NAMES["test_images"] + ext), Xte)
        write_idx(d / (IDX_NAMES["test_labels"] + ext), yte)
        return d

    return make
