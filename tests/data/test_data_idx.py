"""The IDX reader: round trips, and every kind of broken file named in its error."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data.idx import encode_idx, read_idx, read_idx_pair, write_idx
from hpsearch.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a-idx3-ubyte.gz", "a-idx3-ubyte"])
def test_round_trip_gzip_and_raw(tmp_path: Path, dtype: type, name: str) -> None:
    """Rule: what write_idx writes (gzip or raw, any IDX dtype), read_idx reads back exactly."""
    array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    if np.dtype(dtype).kind == "u":
        array = np.arange(24, dtype=dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, array)


def test_gzip_is_detected_by_content_not_by_name(tmp_path: Path) -> None:
    """Rule: a gzip file without .gz (or a raw file with .gz) is still read correctly."""
    array = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(encode_idx(array)))
    np.testing.assert_array_equal(read_idx(path), array)


def test_wrong_magic_number_names_file_and_problem(tmp_path: Path) -> None:
    """Rule: a file not starting with 0x0000 is rejected as 'not an IDX file' with its magic."""
    path = tmp_path / "bad-magic"
    path.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError, match=r"bad-magic: not an IDX file: magic number 0x12340801"):
        read_idx(path)


def test_unknown_dtype_code_lists_valid_codes(tmp_path: Path) -> None:
    """Rule: an unknown type code is rejected, naming the file, the code and the valid codes."""
    path = tmp_path / "bad-type"
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError, match=r"bad-type: unknown IDX type code 0x07; valid codes: 0x08"):
        read_idx(path)


def test_truncated_data_is_rejected(tmp_path: Path) -> None:
    """Rule: fewer data bytes than the header's shape needs is a 'truncated' error."""
    data = encode_idx(np.zeros((3, 4, 4), dtype=np.uint8))
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(data[:-5]))
    with pytest.raises(DataError, match=r"short.gz: truncated IDX file: .*\(3, 4, 4\)"):
        read_idx(path)


def test_truncated_header_is_rejected(tmp_path: Path) -> None:
    """Rule: a header cut short (fewer dimension sizes than announced) is a 'truncated' error."""
    path = tmp_path / "short-header"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 3))
    with pytest.raises(DataError, match=r"short-header: truncated IDX header"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match=r"short-header: truncated IDX file"):
        read_idx(path)


def test_truncated_gzip_stream_is_rejected(tmp_path: Path) -> None:
    """Rule: a gzip stream cut short (an interrupted copy) is a clear error naming the file."""
    compressed = gzip.compress(encode_idx(np.arange(5000, dtype=np.int32)))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match=r"cut.gz: truncated gzip file"):
        read_idx(path)


def test_trailing_bytes_are_rejected(tmp_path: Path) -> None:
    """Rule: more bytes than the shape needs means a corrupt file, not silently ignored data."""
    path = tmp_path / "long"
    path.write_bytes(encode_idx(np.zeros(4, dtype=np.uint8)) + b"\x01\x02")
    with pytest.raises(DataError, match=r"long: IDX file has 2 unexpected bytes"):
        read_idx(path)


def test_expected_number_of_dimensions(tmp_path: Path) -> None:
    """Rule: a labels file where images are expected (or vice versa) is named as such."""
    path = write_idx(tmp_path / "labels", np.zeros(4, dtype=np.uint8))
    with pytest.raises(
        DataError, match=r"labels: IDX file has 1 dimensions, expected 3 \(images\)"
    ):
        read_idx(path, ndim=3)


def test_image_label_count_mismatch_names_both_files(tmp_path: Path) -> None:
    """Rule: images and labels must pair up one to one; a mismatch names both files and counts."""
    images = write_idx(tmp_path / "imgs.gz", np.zeros((5, 2, 2), dtype=np.uint8))
    labels = write_idx(tmp_path / "lbls.gz", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataError, match=r"imgs.gz holds 5 images but .*lbls.gz holds 4 labels"):
        read_idx_pair(images, labels)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    """Rule: an unreadable path is a DataError naming it, not a bare OSError."""
    with pytest.raises(DataError, match=r"nothing-here: cannot read"):
        read_idx(tmp_path / "nothing-here")
