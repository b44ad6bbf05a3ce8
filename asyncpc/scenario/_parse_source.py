"""``[data] source`` and the keys that say where a source's files are.

What can be checked without reading the data is checked here, with the file's line:
that files and folders exist, the headers of IDX files (magic numbers, image size,
images vs labels counts). An IDX source's image size is known from here on, so the
sensory area's size is checked and its shape set (plots show images) before any data are
read. The data themselves are read and checked by :func:`asyncpc.environment.load_dataset`.
"""

from __future__ import annotations

import difflib
import os
import re

from ..environment import BUILTIN_SOURCES
from ..environment._idx import IDX_FILES, IDX_KEYS, check_idx, expected_files, find_idx_folder
from ..environment._table import TABLE_EXTS
from ..errors import DataError
from ._reader import Table

__all__ = ["parse_source", "SOURCE_KEYS", "unused_source_keys"]

_FILE_HINT = {".npz": "an .npz archive with X and y, or X_train, y_train, X_test, y_test",
              ".csv": "a .csv file, one sample per row, the integer label last",
              **{ext: f"a {ext} table, one sample per row: a label column and feature columns"
                 for ext in TABLE_EXTS}}
#: keys that only some sources use
SOURCE_KEYS = ("label_column", *IDX_KEYS)
_IDX_NAME = re.compile(r"idx\d-ubyte(\.gz)?$", re.I)
_FOLDER_HELP = "set data.source to the folder that holds them (e.g. --set data.source=/path/to/mnist)"


def _base(d: Table, key, base_dir) -> str:
    """Paths in the file are relative to its folder; a path given with --set, to the
    working directory (where the user typed it)."""
    return os.getcwd() if d.ctx._from_override(d.path + (key,)) else base_dir


def _full(d: Table, key, value, base_dir) -> str:
    return os.path.normpath(os.path.join(_base(d, key, base_dir), os.path.expanduser(value)))


def _idx_info(fail, paths: dict):
    """Check the headers of IDX files ``{key: path}``; ``fail(key, msg)`` reports. Returns
    the scenario's data info ``(n_features, None, image_shape)``."""
    shapes = {}
    for img, lab in (("train_images", "train_labels"), ("test_images", "test_labels")):
        if img not in paths:
            continue
        try:
            n_img, shape = check_idx(paths[img], "images")
        except DataError as exc:
            fail(img, str(exc))
        try:
            n_lab, _ = check_idx(paths[lab], "labels")
        except DataError as exc:
            fail(lab, str(exc))
        if n_lab != n_img:
            fail(lab, f"{paths[lab]} holds {n_lab:,} labels but {paths[img]} holds {n_img:,} images; expected "
                      "one label per image")
        shapes[img] = shape
    tr, te = shapes["train_images"], shapes.get("test_images")
    if te is not None and te != tr:
        fail("test_images", f"{paths['test_images']}: samples of shape {' x '.join(map(str, te))} but "
                            f"{paths['train_images']} has {' x '.join(map(str, tr))}; expected the same")
    n_feat = 1
    for k in tr:
        n_feat *= k
    return n_feat, None, (tuple(tr) if len(tr) == 2 else None)


def _explicit_idx(d: Table, base_dir):
    """``source = "idx"``: the files named by ``train_images`` ... ``test_labels``."""
    paths = {}
    for key in IDX_KEYS:
        v = d.string(key, None)
        if v is None:
            continue
        paths[key] = d.put(key, _full(d, key, v, base_dir))
    for key in ("train_images", "train_labels"):
        if key not in paths:
            d.fail(key, f"required with data.source = 'idx': the path of the {IDX_FILES[key]} file (IDX, "
                        "plain or .gz)")
    if ("test_images" in paths) != ("test_labels" in paths):
        have, need = ("test_images", "test_labels") if "test_images" in paths else ("test_labels", "test_images")
        d.fail(need, f"required with data.{have}: give both test files, or neither (the test split is then "
                     "drawn from the training files with data.test_fraction)")
    for key, p in paths.items():
        if not os.path.isfile(p):
            d.fail(key, f"file not found: {p} (expected an IDX file, plain or .gz)")
    return paths


def parse_source(d: Table, base_dir):
    """Read ``data.source`` (and the keys of the source's files). Returns ``(source, protocol,
    info, files)``: ``info`` is ``(n_features, n_classes or None, image_shape)`` when known
    without reading the data, ``files`` the IDX paths of ``source = "idx"``."""
    src = d.string("source", required=True)
    if src == "constant":
        return src, "constant", None, None
    if src in BUILTIN_SOURCES:
        return src, "stream", BUILTIN_SOURCES[src], None
    if src == "idx":
        paths = _explicit_idx(d, base_dir)
        return src, "stream", _idx_info(d.fail, paths), paths
    full = _full(d, "source", src, base_dir)
    ext = os.path.splitext(src)[1].lower()
    if ext in _FILE_HINT:
        if not os.path.isfile(full):
            d.fail("source", f"data file not found: {full} (expected {_FILE_HINT[ext]})")
        d.put("source", full)
        return full, "stream", None, None
    if os.path.isdir(full):
        try:
            paths = find_idx_folder(full)
        except DataError as exc:
            d.fail("source", f"{exc}; {_FOLDER_HELP}")
        d.put("source", full)
        return full, "stream", _idx_info(lambda key, msg: d.fail("source", msg), paths), None
    if _IDX_NAME.search(src):
        d.fail("source", f"{full} is one IDX file; set data.source to the folder holding the four files "
                         f"({expected_files()}), or data.source = 'idx' with data.train_images, "
                         "data.train_labels, data.test_images and data.test_labels")
    if "/" in src or os.sep in src or src.startswith((".", "~")):
        if os.path.exists(full):
            d.fail("source", f"{full}: unknown file type; expected a .npz, .csv, .parquet, .arrow or .feather "
                             f"file, or a folder holding the four MNIST-format IDX files ({expected_files()})")
        d.fail("source", f"data folder not found: {full}; expected a folder holding the four MNIST-format IDX "
                         f"files {expected_files()} (each plain or .gz); {_FOLDER_HELP}")
    close = difflib.get_close_matches(src, [*BUILTIN_SOURCES, "constant", "idx"], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    d.fail("source", f"unknown data source {src!r}{hint} (expected one of {[*BUILTIN_SOURCES, 'constant', 'idx']}, "
                     "the path of a .npz, .csv, .parquet, .arrow or .feather file, or a folder holding the four "
                     f"MNIST-format IDX files {expected_files()}; there is no folder {full})")


def unused_source_keys(source: str, protocol: str) -> dict:
    """Keys of other sources, mapped to why they are not used with this one."""
    why = {}
    if protocol != "stream" or os.path.splitext(source)[1].lower() not in TABLE_EXTS:
        why["label_column"] = "only used by a .parquet, .arrow or .feather source (the name of its label column)"
    if source != "idx":
        for key in IDX_KEYS:
            why[key] = ("only used with data.source = 'idx' (a folder source uses its four standard files: "
                        f"{expected_files()})")
    return why
