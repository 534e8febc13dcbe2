"""Bad data is refused with one clear line, and a fuzz over npz, CSV and IDX files.

Cases of issue 19: a dataset of one class, a ragged CSV row, values near the float64
limit, a non-UTF-8 CSV, CSV messages that name what a spec can do. The fuzz mutates
valid files byte by byte and structurally; every load must return a Dataset (or an
array) or raise ``DataError``, nothing else.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import load
from hpsearch.data.idx import parse_idx
from hpsearch.errors import DataError

#: Cases per run of each fuzz (CI runs them all); HPSEARCH_FUZZ_SEED replays a run.
FUZZ_CASES = 400
SEED = int(os.environ.get("HPSEARCH_FUZZ_SEED", random.SystemRandom().randrange(2**32)))


def _csv(path: Path, text: str) -> str:
    path.write_text(text)
    return f"csv:{path}"


def test_a_dataset_of_one_class_is_refused(tmp_path: Path) -> None:
    one = _csv(tmp_path / "one.csv", "label,a,b\n" + "".join(f"7,{i},{i}\n" for i in range(50)))
    with pytest.raises(
        DataError, match=r"only one class \('7'\); a classifier needs .* at least 2"
    ):
        load(one)
    path = tmp_path / "one.npz"
    np.savez(path, X=np.random.default_rng(0).random((40, 3)), y=np.zeros(40, dtype=int))
    with pytest.raises(DataError, match="only one class"):
        load(f"npz:{path}")


def test_a_ragged_csv_row_is_refused_with_its_row_number(tmp_path: Path) -> None:
    rows = [f"{i % 2},{i},{i}" for i in range(20)]
    rows[6] = "1,5"  # file line 8: header + 6 rows before it
    ragged = _csv(tmp_path / "r.csv", "label,a,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"row 8 has 2 fields but the first row has 3"):
        load(ragged)


def test_a_non_number_names_its_row_and_column(tmp_path: Path) -> None:
    rows = [f"{i % 2},{i},{i}" for i in range(20)]
    rows[2] = "0,1,oops"
    bad = _csv(tmp_path / "b.csv", "label,a,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"row 4, column 3: 'oops' is not a number"):
        load(bad)


def test_csv_messages_say_what_a_spec_can_do(tmp_path: Path) -> None:
    """A spec cannot pass label=INDEX: the message says to name the label column."""
    bare = _csv(tmp_path / "n.csv", "".join(f"{i % 2},{i}\n" for i in range(20)))
    with pytest.raises(DataError) as error:
        load(bare)
    assert "label=" not in str(error.value) and "header row" in str(error.value)


def test_a_non_utf8_csv_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(b"label,caf\xe9\n" + b"".join(b"%d,%d\n" % (i % 2, i) for i in range(20)))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 9\)"):
        load(f"csv:{path}")


def test_values_near_the_float64_limit_scale_without_overflow(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(60, 5)) * 1.7e308
    path = tmp_path / "huge.npz"
    np.savez(path, X=X, y=np.arange(60) % 3)
    data = load(f"npz:{path}")
    assert np.all(np.isfinite(data.X_train)) and np.all(np.isfinite(data.X_test))
    assert data.X_train.min() >= 0 and data.X_train.max() <= 1  # fitted on X_train
    assert data.X_train.min(axis=0) == pytest.approx(0, abs=1e-6)
    csv = _csv(tmp_path / "h.csv", "y,a\n" + "".join(f"{i % 2},{i}e300\n" for i in range(1, 41)))
    assert np.all(np.isfinite(load(csv).X_train))


# --- fuzz ----------------------------------------------------------------------------------


def _valid_csv() -> bytes:
    rows = "".join(f"{i % 3},{i},{(i * 7) % 11}.5,{i % 5}\n" for i in range(40))
    return ("label,a,b,c\n" + rows).encode()


def _valid_npz() -> bytes:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    np.savez(out, X=rng.integers(0, 256, (40, 2, 3), dtype=np.uint8), y=np.arange(40) % 4)
    return out.getvalue()


def _valid_idx() -> bytes:
    images = np.arange(6 * 4 * 4, dtype=np.uint8).reshape(6, 4, 4)
    return struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", 6, 4, 4) + images.tobytes()


_INTERESTING = [b"", b"\x00", b"\xff", b",", b"\n", b"nan", b"inf", b"-1e400", b"1e308", b"\xe9"]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits: truncate, flip, insert or delete bytes, duplicate a slice."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(len(out) + 1)
        kind = rng.randrange(6)
        if kind == 0:
            del out[where:]
        elif kind == 1 and out:
            out[min(where, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 2:
            out[where:where] = rng.choice(_INTERESTING)
        elif kind == 3:
            del out[where : where + rng.randint(1, 16)]
        elif kind == 4:
            out[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            start = rng.randrange(len(out) + 1)
            out[where:where] = out[start : start + rng.randint(1, 64)]
    return bytes(out)


def _npz_structural(rng: random.Random) -> bytes:
    """A well-formed npz whose arrays are wrong in one way (shape, dtype, keys, values)."""
    n = rng.choice([0, 1, 2, 5, 40])
    X: np.ndarray = rng.choice(
        [
            np.zeros((n, 3)),
            np.full((n, 3), np.nan),
            np.full((n, 3), 1e308),
            np.zeros((n,)),
            np.zeros((n, 2, 2, 2)),
            np.array(["a"] * n),
            np.zeros((n, 0)),
        ]
    )
    y: np.ndarray = rng.choice(
        [np.arange(n) % 2, np.zeros(n), np.arange(n + 1) % 2, np.full(n, 0.5), np.array(["x"] * n)]
    )
    keys = rng.choice([("X", "y"), ("X_train", "y_train"), ("X", "labels")])
    out = io.BytesIO()
    arrays = {keys[0]: X, keys[1]: y}
    if keys[0] == "X_train":
        arrays.update(X_test=X, y_test=y)
    np.savez(out, **arrays)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["csv", "npz", "idx"])
def test_data_fuzz_every_broken_file_is_a_data_error(kind: str, tmp_path: Path) -> None:
    """FUZZ_CASES mutated files per kind: load (or parse_idx) returns or raises DataError."""
    rng = random.Random(f"{SEED}-{kind}")
    valid = {"csv": _valid_csv, "npz": _valid_npz, "idx": _valid_idx}[kind]()
    outcomes = {"loaded": 0, "DataError": 0}
    for case in range(FUZZ_CASES):
        structural = kind == "npz" and case % 4 == 0
        data = _npz_structural(rng) if structural else _mutate(valid, rng)
        try:
            if kind == "idx":
                if case % 2:
                    data = gzip.compress(data)
                parse_idx(gzip.decompress(data) if case % 2 else data, "fuzz.idx")
            else:
                path = tmp_path / f"fuzz.{kind}"
                path.write_bytes(data)
                load(f"{kind}:{path}")
            outcomes["loaded"] += 1
        except DataError:
            outcomes["DataError"] += 1
        except Exception as error:  # the escape this test exists to catch
            raise AssertionError(
                f"{kind} case {case} (HPSEARCH_FUZZ_SEED={SEED}) escaped: "
                f"{type(error).__name__}: {error}; file bytes {data[:200]!r}"
            ) from error
    assert sum(outcomes.values()) == FUZZ_CASES
    assert outcomes["DataError"] > 0  # the mutations do break files


def test_an_idx_shape_whose_size_wraps_int64_is_a_data_error() -> None:
    """The fuzz case HPSEARCH_FUZZ_SEED=1809556475 found: dimensions whose product is
    2**64 times 60 wrapped to 0 bytes in int64 and passed the size check."""
    header = bytes.fromhex("00000803") + struct.pack(">3I", 10 << 24, 6 << 24, 1 << 26)
    with pytest.raises(DataError, match="truncated IDX file"):
        parse_idx(header, "wrap.idx")
