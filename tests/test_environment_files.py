"""A user's own data files (asyncpc.environment): IDX folders and files, Parquet / Arrow
tables, the class filter, stratified seeded subsets, scaling and memory."""

from __future__ import annotations

import gzip
import os
import tracemalloc

import numpy as np
import pytest
from conftest import IDX_NAMES, idx_bytes, mnist_like, write_idx

from asyncpc.environment import load_dataset
from asyncpc.environment._idx import find_idx_folder, read_idx
from asyncpc.errors import DataError

# -- IDX -----------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_reads_the_four_files_with_their_own_split(idx_folder, gz):
    d = load_dataset(idx_folder(n_train=50, n_test=20, gz=gz))
    Xtr, ytr = mnist_like(50)
    assert d.X_train.shape == (50, 784) and d.X_test.shape == (20, 784)
    assert d.X_train.dtype == np.float32 and d.image_shape == (28, 28)
    assert d.class_names == tuple(str(k) for k in range(10)) and d.n_classes == 10
    # file order is kept; pixels are scaled by the training split's pooled min and max
    np.testing.assert_array_equal(d.y_train, ytr)
    lo, hi = Xtr.min(), Xtr.max()
    np.testing.assert_allclose(d.X_train, ((Xtr.reshape(50, -1) - lo) / (hi - lo)).astype(np.float32), rtol=1e-6)
    s = d.scaling
    assert s["normalize"] == "minmax" and s["raw_dtype"] == "uint8" and s["train_range"] == [0.0, 1.0]
    assert (s["offset"], s["scale"]) == (0.0, 255.0) and s["formula"] == "x = (raw - 0) / 255"
    desc = d.describe()
    assert desc["image_shape"] == [28, 28] and desc["n_train"] == 50 and desc["input_scaling"] == dict(s)


def test_idx_gzip_is_recognised_by_content_and_plain_wins_over_gz(idx_folder, tmp_path):
    folder = idx_folder(n_train=30, n_test=10, gz=True)
    # a gzipped file without .gz in its name is still read
    plain = folder / IDX_NAMES["test_labels"]
    os.rename(str(plain) + ".gz", plain)
    assert len(load_dataset(folder).y_test) == 10
    # both present: the plain file is used
    write_idx(folder / IDX_NAMES["train_labels"], np.zeros(30, np.uint8) + np.arange(30) % 2)
    d = load_dataset(folder)
    assert sorted(set(d.y_train.tolist())) == [0, 1]


def test_explicit_idx_paths_and_a_split_without_test_files(idx_folder):
    folder = idx_folder(n_train=40, n_test=10)
    f = {k: str(folder / (v + ".gz")) for k, v in IDX_NAMES.items()}
    d = load_dataset("idx", files=f)
    assert (len(d.y_train), len(d.y_test)) == (40, 10)
    d = load_dataset("idx", files={k: f[k] for k in ("train_images", "train_labels")}, test_fraction=0.25)
    assert (len(d.y_train), len(d.y_test)) == (30, 10) and d.image_shape == (28, 28)
    rel = {k: os.path.relpath(v, folder.parent) for k, v in f.items()}
    assert len(load_dataset("idx", files=rel, base_dir=folder.parent).y_test) == 10
    with pytest.raises(DataError, match="train_labels: required") as e:
        load_dataset("idx", files={"train_images": f["train_images"]})
    assert e.value.key == "train_labels"
    with pytest.raises(DataError, match="test_labels: required with test_images"):
        load_dataset("idx", files={**{k: f[k] for k in ("train_images", "train_labels")},
                                   "test_images": f["test_images"]})


def test_generic_idx_types_and_2d_samples(tmp_path):
    X = np.arange(24, dtype=np.int16).reshape(6, 4) - 10
    write_idx(tmp_path / "x.idx", X, 0x0B)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx", "images"), X)
    F = np.linspace(-1, 1, 12).reshape(3, 2, 2)
    write_idx(tmp_path / "f.idx", F, 0x0E)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx", "images"), F)
    write_idx(tmp_path / "y.idx", [0, 1, 0, 1, 1, 0], 0x0C)
    d = load_dataset("idx", files={"train_images": tmp_path / "x.idx", "train_labels": tmp_path / "y.idx"},
                     test_fraction=0.0)
    assert d.image_shape is None and d.n_features == 4 and d.scaling["statistics"] == "per feature"


def _corrupt(tmp_path, name, data, gz=False):
    p = tmp_path / name
    if gz:
        data = gzip.compress(data)
    p.write_bytes(data)
    return p


_IMG = idx_bytes(np.zeros((5, 4, 4), np.uint8))
_LAB = idx_bytes(np.arange(5, dtype=np.uint8) % 2)


@pytest.mark.parametrize("data,kind,gz,match", [
    (b"\x1f\x8b\x08\x00junk" * 3, "images", False, "corrupt gzip stream|truncated gzip stream"),
    (_IMG[:-7], "images", False, r"truncated: holds 4 of the 5 images its header announces"),
    (_IMG[:-7], "images", True, r"truncated: holds 4 of the 5 images"),
    (gzip.compress(_IMG)[:-30], "images", False, "truncated gzip stream"),
    (_IMG + b"\x00", "images", False, "longer than its header says"),
    (_IMG[:10], "images", False, "truncated header: magic number 0x00000803 announces 3 dimensions"),
    (b"\x00\x00", "images", False, "2 bytes; expected an IDX file"),
    (b"PK\x03\x04" + bytes(40), "images", False, "not an IDX file: magic number 0x504B0304"),
    (b"\x00\x00\x07\x03" + bytes(40), "images", False, "not an IDX file: magic number 0x00000703"),
    (_LAB, "images", False, "says 1 dimension.*expected an images file: 0x00000803"),
    (_IMG, "labels", False, r"says 3 dimensions \(this looks like an images file\); expected a labels file"),
    (idx_bytes(np.zeros(5), 0x0D), "labels", False, "labels of type float32; expected integer class labels"),
    (idx_bytes(np.zeros((5, 0, 3), np.uint8)), "images", False, "images of size 0 x 3"),
])
def test_bad_idx_files_are_one_line_naming_the_file(tmp_path, data, kind, gz, match):
    p = _corrupt(tmp_path, "f-idx", data, gz)
    with pytest.raises(DataError, match=match) as e:
        read_idx(p, kind)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_a_header_announcing_too_much_data_is_a_data_error(tmp_path):
    head = b"\x00\x00\x08\x03" + (2**31).to_bytes(4, "big") + (2**16).to_bytes(4, "big") * 2
    p = _corrupt(tmp_path, "huge-idx.gz", head, gz=True)
    with pytest.raises(DataError, match="more than fit in memory|truncated"):
        read_idx(p, "images")
    p = _corrupt(tmp_path, "huge-idx", head)  # plain: the file's size tells before allocating
    with pytest.raises(DataError, match="truncated: holds 0 of the 2,147,483,648 images"):
        read_idx(p, "images")


def test_folder_errors_name_the_folder_and_the_files(idx_folder, tmp_path):
    with pytest.raises(DataError, match=r"data folder not found; expected a folder holding the four MNIST-format "
                                        r"IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                        r"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"):
        find_idx_folder(tmp_path / "nope")
    folder = idx_folder()
    os.remove(folder / (IDX_NAMES["test_images"] + ".gz"))
    with pytest.raises(DataError, match=r"no t10k-images-idx3-ubyte \(plain or .gz\) in this folder") as e:
        load_dataset(folder)
    assert str(folder) in str(e.value)
    # labels that do not match the images
    folder = idx_folder(name="m2")
    write_idx(folder / (IDX_NAMES["train_labels"] + ".gz"), np.zeros(59, np.uint8))
    with pytest.raises(DataError, match="holds 59 labels but .* holds 60 images") as e:
        load_dataset(folder)
    assert e.value.key is None  # the folder (data.source) gave the path
    f = {k: str(folder / (v + ".gz")) for k, v in IDX_NAMES.items()}
    with pytest.raises(DataError, match="holds 59 labels") as e:
        load_dataset("idx", files=f)
    assert e.value.key == "train_labels"
    folder = idx_folder(name="m3")
    write_idx(folder / (IDX_NAMES["test_images"] + ".gz"), np.zeros((20, 14, 14), np.uint8))
    with pytest.raises(DataError, match="samples of shape 14 x 14 but .* has 28 x 28"):
        load_dataset(folder)


# -- choosing samples ----------------------------------------------------------------------

def test_n_train_n_test_are_stratified_seeded_subsets(idx_folder):
    folder = idx_folder(n_train=200, n_test=100)
    d = load_dataset(folder, n_train=50, n_test=30, seed=4)
    assert (len(d.y_train), len(d.y_test)) == (50, 30)
    assert np.bincount(d.y_train, minlength=10).tolist() == [5] * 10
    assert np.bincount(d.y_test, minlength=10).tolist() == [3] * 10
    again = load_dataset(folder, n_train=50, n_test=30, seed=4)
    np.testing.assert_array_equal(d.X_train, again.X_train)
    other = load_dataset(folder, n_train=50, n_test=30, seed=5)
    assert not np.array_equal(d.X_train, other.X_train)
    # the chosen images are rows of the file, in file order
    full = load_dataset(folder)
    rows = [int(np.flatnonzero((full.X_train == x).all(1))[0]) for x in d.X_train]
    assert rows == sorted(rows)
    # uneven shares: largest remainders; every class keeps its share to within one
    d = load_dataset("sklearn:digits", n_train=101, seed=0)
    share = np.bincount(load_dataset("sklearn:digits").y_train) * 101 / 1437
    assert np.all(np.abs(np.bincount(d.y_train) - share) < 1) and len(d.y_train) == 101
    with pytest.raises(DataError, match="n_train: 201 is more than the 200 training samples") as e:
        load_dataset(folder, n_train=201)
    assert e.value.key == "n_train"
    with pytest.raises(DataError, match="n_test: must be an integer >= 1"):
        load_dataset(folder, n_test=0)


def test_class_filter_keeps_and_relabels_the_listed_classes(idx_folder):
    folder = idx_folder(n_train=100, n_test=40)
    d = load_dataset(folder, classes=[7, 2])
    assert d.class_names == ("2", "7") and d.n_classes == 2
    assert (len(d.y_train), len(d.y_test)) == (20, 8)
    assert sorted(set(d.y_train.tolist())) == [0, 1]
    d = load_dataset(folder, classes=[0, 1, 2], n_train=12, seed=1)
    assert np.bincount(d.y_train).tolist() == [4, 4, 4]
    with pytest.raises(DataError, match=r"classes: no class 12 in .*; its classes are 0, 1, 2") as e:
        load_dataset(folder, classes=[3, 12])
    assert e.value.key == ("classes", 1)
    with pytest.raises(DataError, match="two or more different classes"):
        load_dataset(folder, classes=[3, 3])
    d = load_dataset("sklearn:iris", classes=[0, 2])
    assert d.class_names == ("setosa", "virginica")


def test_normalize_modes_on_idx_and_train_statistics_only(idx_folder):
    folder = idx_folder(n_train=100, n_test=30)
    raw = load_dataset(folder, normalize="none")
    assert raw.X_train.max() == 255.0 and raw.scaling["formula"] == "x = raw"
    z = load_dataset(folder, normalize="zscore")
    mu, sd = raw.X_train.astype(np.float64).mean(), raw.X_train.astype(np.float64).std()
    np.testing.assert_allclose(z.X_train, (raw.X_train - mu) / sd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z.X_test, (raw.X_test - mu) / sd, rtol=1e-5, atol=1e-5)
    assert z.scaling["offset"] == pytest.approx(mu) and z.scaling["scale"] == pytest.approx(sd)


def test_chunked_statistics_equal_whole_array_ones(monkeypatch):
    from asyncpc.environment import _scale

    rng = np.random.default_rng(0)
    X = rng.normal(3, 2, size=(1000, 7))
    whole = _scale.statistics(X, None, "zscore", pooled=False)
    monkeypatch.setattr(_scale, "_CHUNK_BYTES", 8 * 7 * 33)  # chunks of 33 rows
    parts = _scale.statistics(X, None, "zscore", pooled=False)
    np.testing.assert_allclose(parts.offset, whole.offset, rtol=1e-12)
    np.testing.assert_allclose(parts.scale, whole.scale, rtol=1e-12)
    pooled = _scale.statistics(X, np.arange(0, 1000, 3), "minmax", pooled=True)
    assert (pooled.offset, pooled.scale) == (X[::3].min(), X[::3].max() - X[::3].min())


def test_loading_holds_one_float32_copy(tmp_path):
    """Peak memory of loading n 28x28 images: the float32 dataset (4 bytes a pixel), the uint8
    images as read (1 byte) and a few MB of chunks and buffers; no float64 copy of a split
    (8 bytes a pixel). tools/data_memory.py measures full MNIST the same way."""
    n_tr, n_te = 20000, 2000
    rng = np.random.default_rng(0)
    for key, n in (("train", n_tr), ("t10k", n_te)):
        write_idx(tmp_path / f"{key}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  level=1)
        write_idx(tmp_path / f"{key}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    float32_copy = (n_tr + n_te) * 784 * 4
    tracemalloc.start()
    try:
        d = load_dataset(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert d.X_train.dtype == np.float32
    assert d.X_train.nbytes + d.X_test.nbytes == float32_copy
    assert peak < 1.25 * float32_copy + 12e6, f"peak {peak / 1e6:.1f} MB for {float32_copy / 1e6:.1f} MB of float32"


# -- Parquet / Arrow -----------------------------------------------------------------------

def _table(n=30, strings=False):
    import pyarrow as pa

    rng = np.random.default_rng(1)
    labels = np.arange(n) % 3
    cols = {"a": rng.normal(size=n), "b": rng.integers(0, 9, n).astype(np.int32),
            "label": [["cat", "dog", "eel"][k] for k in labels] if strings else labels,
            "c": rng.random(n) > 0.5}
    return pa.table(cols)


@pytest.mark.parametrize("ext", [".parquet", ".arrow", ".feather", ".stream.arrow"])
def test_tables_label_column_and_feature_columns(tmp_path, ext):
    import pyarrow.feather as feather
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    t = _table()
    p = tmp_path / f"t{ext}"
    if ext == ".parquet":
        pq.write_table(t, p, row_group_size=7)
    elif ext == ".stream.arrow":
        with ipc.new_stream(str(p), t.schema) as w:
            w.write_table(t, max_chunksize=8)
    else:
        feather.write_feather(t, p, chunksize=8)  # Feather v2 = Arrow IPC file, lz4-compressed
    d = load_dataset(p, normalize="none", test_fraction=0.0)
    assert d.n_features == 3 and d.n_classes == 3 and d.X_train.dtype == np.float32
    np.testing.assert_allclose(d.X_train[:, 0], t.column("a").to_numpy().astype(np.float32))
    np.testing.assert_array_equal(d.X_train[:, 2], t.column("c").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(d.y_train, np.arange(30) % 3)


def test_a_split_table_is_scaled_in_place_and_keeps_every_row_once(tmp_path):
    import pyarrow.parquet as pq

    t = _table(n=200)
    pq.write_table(t, tmp_path / "t.parquet", row_group_size=64)
    d = load_dataset(tmp_path / "t.parquet", normalize="none", test_fraction=0.25, seed=2)
    a = t.column("a").to_numpy().astype(np.float32)
    rows = [int(np.flatnonzero(a == x)[0]) for x in d.X_train[:, 0]]
    test_rows = [int(np.flatnonzero(a == x)[0]) for x in d.X_test[:, 0]]
    assert rows == sorted(rows) and sorted(rows + test_rows) == list(range(200)) and len(test_rows) == 50
    np.testing.assert_array_equal(d.y_train, (np.arange(200) % 3)[rows])
    np.testing.assert_array_equal(d.X_train[:, 1], t.column("b").to_numpy()[rows])
    m = load_dataset(tmp_path / "t.parquet", normalize="minmax", test_fraction=0.25, seed=2)
    lo, hi = d.X_train.min(0), d.X_train.max(0)
    np.testing.assert_allclose(m.X_train, (d.X_train - lo) / (hi - lo), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(m.X_test, (d.X_test - lo) / (hi - lo), rtol=1e-6, atol=1e-7)


def test_table_with_string_labels_a_named_label_column_and_a_split(tmp_path):
    import pyarrow.parquet as pq

    t = _table(strings=True).rename_columns(["a", "b", "kind", "c"])
    pq.write_table(t, tmp_path / "s.parquet")
    d = load_dataset(tmp_path / "s.parquet", label_column="kind", test_fraction=0.2, classes=["eel", "cat"])
    assert d.class_names == ("cat", "eel") and len(d.y_train) + len(d.y_test) == 20
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0
    with pytest.raises(DataError, match=r"no column 'label' \(the labels\); its columns are \['a', 'b', 'kind', 'c'\]; "
                                        "set data.label_column") as e:
        load_dataset(tmp_path / "s.parquet")
    assert e.value.key == "label_column"
    with pytest.raises(DataError, match="did you mean 'kind'"):
        load_dataset(tmp_path / "s.parquet", label_column="kinds")


@pytest.mark.parametrize("change,match", [
    (lambda t: t.append_column("name", __import__("pyarrow").array(["x"] * 30)),
     r"column 'name' has type string; expected numbers in every feature column"),
    (lambda t: t.set_column(0, "a", __import__("pyarrow").array([1.0] * 29 + [None])),
     r"column 'a' is empty in row 30"),
    (lambda t: t.set_column(0, "a", __import__("pyarrow").array([1.0] * 28 + [np.inf, 1.0])),
     r"column 'a' holds inf in row 29"),
    (lambda t: t.set_column(2, "label", __import__("pyarrow").array([0.5] * 30)),
     r"column 'label' \(the labels\) holds 0.5 in row 1; expected integer class labels"),
    (lambda t: t.select(["label"]), "only the label column"),
    (lambda t: t.slice(0, 0), "no rows"),
])
def test_bad_tables_name_the_file_and_the_column(tmp_path, change, match):
    import pyarrow.parquet as pq

    p = tmp_path / "bad.parquet"
    pq.write_table(change(_table()), p)
    with pytest.raises(DataError, match=match) as e:
        load_dataset(p, test_fraction=0.0)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_unreadable_tables(tmp_path):
    for name in ("x.parquet", "x.arrow", "x.feather"):
        (tmp_path / name).write_bytes(b"certainly not a table")
        with pytest.raises(DataError, match=r"not a readable (Parquet|Arrow IPC \(Feather v2\)) file") as e:
            load_dataset(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="file not found"):
        load_dataset(tmp_path / "missing.parquet")
