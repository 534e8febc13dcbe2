"""The IDX file format of MNIST and Fashion-MNIST: read (gzip or raw) and write.

An IDX file is a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then NDIM
big-endian uint32 dimension sizes, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from hpsearch.errors import DataError

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _valid_codes() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())


def read_bytes(path: str | Path) -> bytes:
    """Return the content of ``path``, decompressed when it is gzip (by magic, not by name)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except EOFError as error:
        raise DataError(
            f"{path}: truncated gzip file ({len(data)} bytes); download or copy it again"
        ) from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: corrupt gzip data ({error})") from error


def parse_idx(data: bytes, source: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """Decode IDX ``data`` into a native-endian array; ``source`` names it in errors.

    ``ndim``, when given, is the number of dimensions the caller expects
    (3 for images, 1 for labels).
    """
    if len(data) < 4:
        raise DataError(f"{source}: truncated IDX file: {len(data)} bytes, no room for the header")
    zero, code, n_dims = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise DataError(
            f"{source}: not an IDX file: magic number 0x{data[:4].hex().upper()} "
            "(an IDX file starts with 0x0000, then a type code and the number of dimensions)"
        )
    if code not in IDX_DTYPES:
        raise DataError(
            f"{source}: unknown IDX type code 0x{code:02X}; valid codes: {_valid_codes()}"
        )
    if ndim is not None and n_dims != ndim:
        raise DataError(
            f"{source}: IDX file has {n_dims} dimensions, expected {ndim} "
            f"({'images' if ndim == 3 else 'labels' if ndim == 1 else 'arrays'})"
        )
    header_size = 4 + 4 * n_dims
    if len(data) < header_size:
        raise DataError(
            f"{source}: truncated IDX header: {n_dims} dimensions need {header_size} bytes, "
            f"the file has {len(data)}"
        )
    shape = struct.unpack(f">{n_dims}I", data[4:header_size])
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no int64 wrap-around
    actual = len(data) - header_size
    if actual < expected:
        raise DataError(
            f"{source}: truncated IDX file: the header promises shape {shape} "
            f"({expected} bytes of {dtype.name}), the file holds {actual}"
        )
    if actual > expected:
        raise DataError(
            f"{source}: IDX file has {actual - expected} unexpected bytes after the "
            f"{expected} bytes that shape {shape} needs"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=dtype.itemsize > 1)


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw); every problem is a ``DataError`` naming ``path``."""
    return parse_idx(read_bytes(path), str(path), ndim)


def read_idx_pair(
    images_path: str | Path, labels_path: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Read matching image (N, H, W) and label (N,) files; their counts must agree."""
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; the two files must have one label per image"
        )
    return images, labels


def encode_idx(array: np.ndarray) -> bytes:
    """Return ``array`` as IDX bytes (the inverse of ``parse_idx``)."""
    array = np.asarray(array)
    codes = [
        code
        for code, dtype in IDX_DTYPES.items()
        if dtype.kind == array.dtype.kind and dtype.itemsize == array.dtype.itemsize
    ]
    if not codes:
        raise DataError(f"cannot write dtype {array.dtype} as IDX; valid dtypes: {_valid_codes()}")
    code = codes[0]
    dtype = IDX_DTYPES[code]
    header = struct.pack(">HBB", 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip when ``compress`` (default: name ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
