"""Where IDX files are looked for, in order, and the decoded-array cache."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import cache_root, describe_sources, load, sources
from hpsearch.data.download import sha256_file
from hpsearch.data.idx import write_idx
from hpsearch.errors import DataError


def test_cache_root_respects_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Rule: the user cache is $XDG_CACHE_HOME/hpsearch, else ~/.cache/hpsearch."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x" / "hpsearch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "hpsearch"


@pytest.fixture
def everywhere(
    tiny_files, tmp_path: Path, tiny_source, isolated: Path, monkeypatch: pytest.MonkeyPatch
):
    """The tiny dataset, with different pixels, in each of the four places."""
    places = {
        "data_dir": tmp_path / "explicit",
        "env": tmp_path / "env-root" / "tiny",
        "cache": isolated / "tiny",
        "system": tmp_path / "usr-share" / "tiny",
    }
    for seed, folder in enumerate(places.values(), start=1):
        tiny_files.write(folder, tiny_files.arrays(seed=seed))
    monkeypatch.setenv("HPSEARCH_DATA_DIR", str(tmp_path / "env-root"))
    with_system = dataclasses.replace(tiny_source, system_dirs=(str(places["system"]),))
    monkeypatch.setitem(sources.IDX_SOURCES, "tiny", with_system)
    return places


def test_search_order_data_dir_env_cache_system(tiny_files, everywhere, monkeypatch) -> None:
    """Rule: data_dir wins, then $HPSEARCH_DATA_DIR/NAME, then the user cache, then the
    package folder; the provenance says which one was used."""
    places = everywhere
    origins = []
    for origin in ("data_dir", "env", "cache", "system"):
        data = load(
            "tiny", data_dir=places["data_dir"] if origin == "data_dir" else None, download=False
        )
        origins.append(data.provenance["origin"])
        assert data.provenance["location"] == str(places[origin])
        expected = tiny_files.arrays(seed=list(places).index(origin) + 1)["train_images"]
        np.testing.assert_array_equal(
            data.X_train, expected.reshape(len(expected), -1) / np.float32(255)
        )
        if origin == "env":
            monkeypatch.delenv("HPSEARCH_DATA_DIR")
        elif origin == "cache":
            for path in places["cache"].iterdir():
                path.unlink()
    assert origins == ["data_dir", "env", "cache", "system"]


def test_incomplete_folders_are_skipped_and_reported(
    tiny_files, tmp_path: Path, tiny_source
) -> None:
    """Rule: a folder lacking a file is passed over; if nothing is complete the error names
    each place and the missing files."""
    folder = tmp_path / "partial"
    tiny_files.write(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as caught:
        load("tiny", data_dir=folder, download=False)
    message = str(caught.value)
    assert f"data_dir {folder}: missing t10k-labels-idx1-ubyte.gz" in message
    assert "$HPSEARCH_DATA_DIR/tiny (not set)" in message
    assert "user cache" in message and "no such folder" in message


def test_raw_uncompressed_files_are_accepted(tiny_files, tmp_path: Path, tiny_source) -> None:
    """Rule: the IDX files may be raw (train-images-idx3-ubyte) instead of .gz."""
    arrays = tiny_files.arrays()
    folder = tmp_path / "raw"
    folder.mkdir()
    for role, (file_name, _) in tiny_source.files.items():
        write_idx(folder / file_name.removesuffix(".gz"), arrays[role])
    data = load("tiny", data_dir=folder, download=False)
    assert data.X_train.shape == (40, 30)
    assert data.image_shape == (6, 5)
    assert data.class_names == ("a", "b", "c", "d")


def test_decoded_arrays_are_cached_and_keyed_by_source_hash(
    tiny_files, tmp_path: Path, tiny_source, isolated: Path
) -> None:
    """Rule: the second load comes from the decoded cache with equal arrays; a changed source
    file (new SHA-256) is decoded afresh, never served stale."""
    folder = tmp_path / "src"
    tiny_files.write(folder)
    first = load("tiny", data_dir=folder)
    second = load("tiny", data_dir=folder)
    assert first.provenance["decoded_from"] == "IDX files"
    assert second.provenance["decoded_from"] == "decoded cache"
    for name in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert second.X_train.dtype == np.float32 and second.y_train.dtype == np.int64
    assert not second.X_train.flags.writeable  # shared cache entries are read-only
    tiny_files.write(folder, tiny_files.arrays(seed=9))
    third = load("tiny", data_dir=folder)
    assert third.provenance["decoded_from"] == "IDX files"
    assert not np.array_equal(third.X_train, first.X_train)
    assert len(list((isolated / "decoded").iterdir())) == 2


def test_standardized_and_scaled_are_cached_separately(
    tiny_files, tmp_path: Path, tiny_source
) -> None:
    """Rule: the cache key includes the preprocessing, so standardize=True is not served
    the scaled arrays."""
    folder = tmp_path / "src"
    tiny_files.write(folder)
    load("tiny", data_dir=folder)
    standardized = load("tiny", data_dir=folder, standardize=True)
    assert standardized.provenance["decoded_from"] == "IDX files"
    assert abs(float(standardized.X_train.mean())) < 1e-5


def test_cache_false_skips_the_decoded_cache(
    tiny_files, tmp_path: Path, tiny_source, isolated: Path
) -> None:
    """Rule: cache=False neither reads nor writes decoded arrays."""
    folder = tmp_path / "src"
    tiny_files.write(folder)
    load("tiny", data_dir=folder, cache=False)
    assert not (isolated / "decoded").exists()


def test_label_out_of_range_is_rejected(tiny_files, tmp_path: Path, tiny_source) -> None:
    """Rule: a label outside 0..K-1 of the dataset's classes names the labels file."""
    arrays = tiny_files.arrays()
    arrays["test_labels"][3] = 7
    folder = tmp_path / "src"
    tiny_files.write(folder, arrays)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: labels range over 0..7"):
        load("tiny", data_dir=folder)


def test_provenance_is_json_with_a_sha256_per_file(tiny_files, tmp_path: Path, tiny_source) -> None:
    """Rule: provenance is JSON-serialisable and records each source file's SHA-256."""
    folder = tmp_path / "src"
    paths = tiny_files.write(folder)
    data = load("tiny", data_dir=folder)
    record = json.loads(json.dumps(data.provenance))
    assert record["name"] == "tiny" and record["origin"] == "data_dir"
    hashes = {f["role"]: f["sha256"] for f in record["files"]}
    assert hashes == {role: sha256_file(path) for role, path in paths.items()}


def test_describe_sources_reports_availability(
    tiny_files, tmp_path: Path, tiny_source, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule: describe_sources says, per dataset, whether it is available and from where,
    without downloading."""
    with_mirror = dataclasses.replace(tiny_source, mirrors=("http://127.0.0.1:9/",))
    monkeypatch.setitem(sources.IDX_SOURCES, "tiny", with_mirror)
    infos = {info.name: info for info in describe_sources()}
    assert infos["digits"].available and infos["digits"].origin == "scikit-learn"
    assert not infos["tiny"].available
    assert (infos["tiny"].origin, infos["tiny"].location) == ("download", "http://127.0.0.1:9/")
    tiny_files.write(tmp_path / "root" / "tiny")
    monkeypatch.setenv("HPSEARCH_DATA_DIR", str(tmp_path / "root"))
    infos = {info.name: info for info in describe_sources()}
    assert infos["tiny"].available and infos["tiny"].location == str(tmp_path / "root" / "tiny")
