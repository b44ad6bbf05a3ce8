"""What a data source or a GraphML file holds, counted without loading it: a built-in
source's known sizes, the header of a ``.npz`` or of IDX files, the lines of a ``.csv``,
the elements of a GraphML file. :mod:`asyncpc.scenario._footprint` builds on these.
"""

from __future__ import annotations

import math
import os
import zipfile

__all__ = ["BUILTIN_SAMPLES", "SCAN_CHUNK", "SCAN_WHOLE", "count_tokens", "source_classes", "source_samples"]

#: Samples of the built-in sources (tests/test_footprint.py checks them against load_dataset).
BUILTIN_SAMPLES = {"xor": 4, "sklearn:digits": 1797, "sklearn:iris": 150, "sklearn:wine": 178,
                   "sklearn:breast_cancer": 569}
#: A file scanned whole (csv lines, GraphML elements) only below this size; above, counts
#: are extrapolated from its first SCAN_CHUNK bytes.
SCAN_WHOLE = 64 * 2**20
SCAN_CHUNK = 64 * 2**10


def count_tokens(path, tokens, *, lines=False):
    """Occurrences of each token in a file, scanning at most SCAN_WHOLE bytes (and the
    fraction of the file scanned, to extrapolate from)."""
    size = os.path.getsize(path)
    limit = size if size <= SCAN_WHOLE else SCAN_CHUNK
    counts = [0] * len(tokens)
    keep = max(len(t) for t in tokens) - 1
    done, tail = 0, b""
    with open(path, "rb") as fh:
        while done < limit:
            chunk = fh.read(min(SCAN_CHUNK, limit - done))
            if not chunk:
                break
            done += len(chunk)
            buf = tail + chunk
            for k, tok in enumerate(tokens):
                counts[k] += buf.count(tok) - tail.count(tok)
            tail = buf[-keep:] if keep else b""
    return (*counts, (done / size) if size else 1.0)


def source_classes(source) -> int:
    """Classes of a built-in source; 10 for a file (only a few small terms depend on it)."""
    from ..environment import BUILTIN_SOURCES

    return BUILTIN_SOURCES[source][1] if source in BUILTIN_SOURCES else 10


def source_samples(source, files=None):
    """``(train, test, features)`` of a data source, or ``(n, None, features)`` when the
    source holds no split of its own; None when it cannot be told without loading it."""
    from ..environment import BUILTIN_SOURCES

    if source in BUILTIN_SAMPLES:
        n = BUILTIN_SAMPLES[source]
        return (n, n, BUILTIN_SOURCES[source][0]) if source == "xor" else (n, None, BUILTIN_SOURCES[source][0])
    if source == "idx" or os.path.isdir(str(source)):
        try:
            return _idx_samples(source, files)
        except Exception:  # noqa: BLE001 - a courtesy: load_data reports what is wrong with the files
            return None
    ext = os.path.splitext(str(source))[1].lower()
    try:
        if ext == ".npz":
            return _npz_samples(source)
        if ext == ".csv":
            return _csv_samples(source)
    except Exception:  # noqa: BLE001 - a courtesy: load_data reports what is wrong with the file
        return None
    return None


def _npz_samples(path):
    import numpy as np

    shapes = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            key = name[:-4] if name.endswith(".npy") else name
            if key not in ("X", "X_train", "X_test"):
                continue
            with z.open(name) as f:
                major, _ = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shapes[key] = read(f)[0]
    feat = lambda s: math.prod(s[1:]) if len(s) > 1 else 1
    if "X_train" in shapes and "X_test" in shapes:
        return shapes["X_train"][0], shapes["X_test"][0], feat(shapes["X_train"])
    if "X" in shapes:
        return shapes["X"][0], None, feat(shapes["X"])
    return None


def _idx_samples(source, files):
    """Counts from the headers of the IDX files (a folder's four, or ``source = "idx"``'s)."""
    from ..environment._idx import check_idx, find_idx_folder

    paths = find_idx_folder(source) if source != "idx" else dict(files or {})
    n_train, shape = check_idx(paths["train_images"], "images")
    n_test = check_idx(paths["test_images"], "images")[0] if "test_images" in paths else None
    return n_train, n_test, math.prod(shape)


def _csv_samples(path):
    with open(path, "rb") as fh:
        head = fh.read(4096).split(b"\n", 1)[0].decode("utf-8", "replace")
    delim = next((d for d in (",", ";", "\t") if d in head), None)
    ncol = len(head.split(delim) if delim else head.split())
    newlines, frac = count_tokens(path, (b"\n",))
    return int(newlines / frac) + 1, None, max(ncol - 1, 1)
