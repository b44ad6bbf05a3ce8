"""IDX files, the format of MNIST and its family (Fashion-MNIST, KMNIST, EMNIST).

An IDX file is a 4-byte magic number -- two zero bytes, a type byte, the number of
dimensions -- then one big-endian uint32 per dimension, then the data, big-endian, in
C order. MNIST's images are ``0x00000803`` (unsigned bytes, 3 dimensions: count, rows,
cols), its labels ``0x00000801`` (unsigned bytes, 1 dimension). A file may be gzipped
(recognised by its first two bytes, whatever its name).

Reading is built for size: the data go from the (decompressed) stream straight into one
preallocated array of the file's own type (uint8 for MNIST: 47 MB for 60,000 images), so a
loader holds no other copy.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ..errors import DataError

__all__ = ["IDX_FILES", "IDX_KEYS", "check_idx", "expected_files", "find_idx_folder", "read_idx", "write_idx"]

#: The ``[data]`` keys of the four files, and their standard (MNIST) names in a folder.
IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
IDX_KEYS = tuple(IDX_FILES)
#: IDX type byte -> big-endian numpy dtype.
_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_TYPE_NAMES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
               0x0E: "float64"}
_CHUNK = 1 << 22  # bytes per read: the stream is never held twice


def expected_files() -> str:
    """The four standard names, for messages."""
    return ", ".join(IDX_FILES.values())


def find_idx_folder(folder) -> dict:
    """The four standard files in ``folder`` (each plain or ``.gz``; the plain one if both
    exist), as ``{key: path}``; a :class:`DataError` listing what is missing otherwise."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: data folder not found; expected a folder holding the four MNIST-format "
                        f"IDX files {expected_files()} (each plain or .gz)")
    found, missing = {}, []
    for key, name in IDX_FILES.items():
        for cand in (name, name + ".gz"):
            p = os.path.join(folder, cand)
            if os.path.isfile(p):
                found[key] = p
                break
        else:
            missing.append(name)
    if missing:
        raise DataError(f"{folder}: no {' / '.join(missing)} (plain or .gz) in this folder; expected the four "
                        f"MNIST-format IDX files {expected_files()}")
    return found


def _open(path):
    """A binary stream of the file's IDX bytes (gunzipped if it starts like gzip)."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; expected an IDX file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror}); expected an IDX file") from None
    if fh.read(2) == b"\x1f\x8b":
        fh.seek(0)
        return gzip.GzipFile(fileobj=fh, mode="rb"), fh, True
    fh.seek(0)
    return fh, fh, False


def _stream_error(path, exc, gz: bool) -> DataError:
    if isinstance(exc, EOFError) or "end-of-stream" in str(exc):
        return DataError(f"{path}: truncated gzip stream (the file ends before its compressed data do); "
                         "download it again")
    what = "corrupt gzip stream" if gz else "cannot read"
    return DataError(f"{path}: {what} ({type(exc).__name__}: {exc}); expected an IDX file")


def _read_header(path, stream, gz):
    try:
        head = stream.read(4)
    except (OSError, EOFError, zlib.error) as exc:
        raise _stream_error(path, exc, gz) from None
    if len(head) < 4:
        raise DataError(f"{path}: {len(head)} bytes; expected an IDX file (a 4-byte magic number, the "
                        "dimensions, the data)")
    magic = int.from_bytes(head, "big")
    if head[0] != 0 or head[1] != 0 or head[2] not in _TYPES or head[3] == 0:
        raise DataError(f"{path}: not an IDX file: magic number 0x{magic:08X}; expected 0x00000803 (images) "
                        "or 0x00000801 (labels), i.e. two zero bytes, a type byte 0x08-0x0E and a "
                        "dimension count")
    ndim = head[3]
    try:
        dims_raw = stream.read(4 * ndim)
    except (OSError, EOFError, zlib.error) as exc:
        raise _stream_error(path, exc, gz) from None
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{path}: truncated header: magic number 0x{magic:08X} announces {ndim} dimensions "
                        f"but the file ends after {len(dims_raw) // 4}")
    dims = tuple(int.from_bytes(dims_raw[4 * i:4 * i + 4], "big") for i in range(ndim))
    return magic, head[2], dims


def _header(path):
    """``(magic, type byte, dims)`` of an IDX file, reading its header only."""
    stream, fh, gz = _open(path)
    try:
        return _read_header(path, stream, gz)
    finally:
        fh.close()


def _check_kind(path, magic, code, dims, kind):
    if kind == "images":
        if len(dims) not in (2, 3):
            raise DataError(f"{path}: magic number 0x{magic:08X} says {len(dims)} dimension(s); expected an "
                            "images file: 0x00000803 (count x rows x cols) or 2 dimensions (count x features)")
        if any(d == 0 for d in dims[1:]):
            raise DataError(f"{path}: images of size {' x '.join(map(str, dims[1:]))}; expected at least one pixel")
    else:
        if len(dims) != 1:
            hint = " (this looks like an images file)" if len(dims) == 3 else ""
            raise DataError(f"{path}: magic number 0x{magic:08X} says {len(dims)} dimensions{hint}; expected a "
                            "labels file: 0x00000801 (one dimension: the count)")
        if code in (0x0D, 0x0E):
            raise DataError(f"{path}: labels of type {_TYPE_NAMES[code]}; expected integer class labels "
                            "(magic number 0x00000801)")


def check_idx(path, kind: str):
    """Check an IDX file's header for ``kind`` (``"images"`` or ``"labels"``) without reading its
    data; returns ``(count, sample shape)``."""
    magic, code, dims = _header(path)
    _check_kind(path, magic, code, dims, kind)
    return dims[0], dims[1:]


def read_idx(path, kind: str) -> np.ndarray:
    """The data of an IDX file, checked, as one array in native byte order.

    ``kind`` is ``"images"`` (2 or 3 dimensions; uint8 for MNIST) or ``"labels"``
    (1 dimension, integers). A file that ends early, or holds more than its header
    announces, is a :class:`DataError` naming the file and the counts.
    """
    stream, fh, gz = _open(path)
    try:
        magic, code, dims = _read_header(path, stream, gz)
        _check_kind(path, magic, code, dims, kind)
        dtype = np.dtype(_TYPES[code])
        n_items = 1
        for k in dims:  # Python ints: a corrupt header must not overflow
            n_items *= k
        nbytes = n_items * dtype.itemsize
        what = "images" if kind == "images" else "labels"
        if not gz:
            have = os.fstat(fh.fileno()).st_size - 4 - 4 * len(dims)
            if have < nbytes:
                per = nbytes // max(dims[0], 1) or 1
                raise DataError(f"{path}: truncated: holds {have // per:,} of the {dims[0]:,} {what} its header "
                                f"announces ({have:,} of {nbytes:,} data bytes)")
        try:
            out = np.empty(n_items, dtype.newbyteorder("="))
        except (MemoryError, ValueError):
            raise DataError(f"{path}: the header announces {' x '.join(map(str, dims))} values ({nbytes / 1e9:.1f} GB), "
                            "more than fit in memory; corrupt header?") from None
        buf = out.view(np.uint8)
        got = 0
        try:
            while got < nbytes:
                k = stream.readinto(buf[got:got + _CHUNK])
                if not k:
                    break
                got += k
            extra = stream.read(1) if got == nbytes else b""
        except (OSError, EOFError, zlib.error) as exc:
            raise _stream_error(path, exc, gz) from None
    finally:
        fh.close()
    if got < nbytes:
        per = nbytes // max(dims[0], 1) or 1
        raise DataError(f"{path}: truncated: holds {got // per:,} of the {dims[0]:,} {what} its header announces "
                        f"({got:,} of {nbytes:,} data bytes)")
    if extra:
        raise DataError(f"{path}: longer than its header says ({dims[0]:,} {what} of "
                        f"{' x '.join(map(str, dims[1:])) or 'one value'}); wrong header or not an IDX file")
    if dtype.byteorder == ">" and dtype.itemsize > 1:
        out.byteswap(inplace=True)  # big-endian on disk -> native, in place
    return out.reshape(dims)


_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B, np.dtype(np.int32): 0x0C,
          np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def write_idx(path, a, gz: bool | None = None) -> None:
    """Write array ``a`` as an IDX file (the MNIST family's format: magic number, big-endian
    dimensions, big-endian data), gzipped when ``gz`` (default: when ``path`` ends in
    ``.gz``). Its dtype must be one IDX has: uint8, int8, int16, int32, float32, float64.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from asyncpc.environment import read_idx, write_idx
    >>> p = os.path.join(tempfile.mkdtemp(), "t10k-labels-idx1-ubyte.gz")
    >>> write_idx(p, np.arange(5, dtype=np.uint8))
    >>> read_idx(p, "labels").tolist()
    [0, 1, 2, 3, 4]
    """
    import gzip
    import struct

    a = np.asarray(a)
    code = _CODES.get(a.dtype)
    if code is None:
        raise DataError(f"{path}: IDX holds uint8, int8, int16, int32, float32 or float64, not {a.dtype}")
    head = struct.pack(">BBBB", 0, 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    gz = str(path).endswith(".gz") if gz is None else gz
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as fh:
        fh.write(head + a.astype(_TYPES[code]).tobytes())
