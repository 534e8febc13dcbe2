"""load(): digits, preprocessing, names and options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import DATASET_NAMES, Dataset, check_name, load, load_options
from hpsearch.errors import DataError, HpsearchError


def test_dataset_names_are_the_builtins() -> None:
    """Rule: DATASET_NAMES lists the built-in names the study spec may use."""
    assert DATASET_NAMES == ("digits", "fashion-mnist", "mnist")


def test_digits_is_bundled_scaled_and_split() -> None:
    """Rule: digits needs no download; pixels 0..16 become float32 in [0, 1]; 8x8 images;
    10 classes named '0'..'9'; every class is in both parts."""
    data = load("digits")
    assert isinstance(data, Dataset)
    assert data.X_train.dtype == np.float32 and data.X_test.dtype == np.float32
    assert data.y_train.dtype == np.int64
    assert len(data.y_train) + len(data.y_test) == 1797
    assert data.X_train.shape[1] == 64 and data.image_shape == (8, 8)
    assert float(data.X_train.min()) == 0.0 and float(data.X_train.max()) == 1.0
    assert data.n_classes == 10 and data.class_names == tuple("0123456789")
    assert set(np.unique(data.y_test)) == set(range(10))
    assert data.provenance["origin"] == "sklearn"


def test_digits_test_split_is_fixed() -> None:
    """Rule: the digits test split is seeded: two loads give the same arrays."""
    first, second = load("digits"), load("digits")
    np.testing.assert_array_equal(first.X_test, second.X_test)
    np.testing.assert_array_equal(first.y_train, second.y_train)
    assert first.provenance["preprocessing"]["test_split"]["seed"] == 0


def test_digits_test_split_is_stratified() -> None:
    """Rule: each class's share of the test set matches its share of the data (within 1)."""
    data = load("digits")
    total = np.bincount(np.concatenate([data.y_train, data.y_test]))
    expected = total * len(data.y_test) / total.sum()
    assert np.all(np.abs(np.bincount(data.y_test) - expected) <= 1)


def test_standardize_uses_training_statistics_only() -> None:
    """Rule: standardize=True gives each training feature mean 0 and std 1 (constant
    features are only centred), and the test set is transformed with the *training*
    mean and std."""
    plain = load("digits")
    data = load("digits", standardize=True)
    mean = plain.X_train.mean(axis=0, dtype=np.float64)
    std = plain.X_train.std(axis=0, dtype=np.float64)
    varying = std > 1e-6
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.X_train.std(axis=0)[varying], 1, rtol=1e-4)
    expected_test = (plain.X_test - mean) / np.where(varying, std, 1.0)
    np.testing.assert_allclose(data.X_test, expected_test, atol=1e-5)
    assert data.provenance["preprocessing"]["standardize"]["fitted_on"] == "X_train"


def test_provenance_is_json_serialisable_with_source_hash() -> None:
    """Rule: provenance names the source and the SHA-256 of each source file, as JSON."""
    data = load("digits")
    record = json.loads(json.dumps(data.provenance))
    (file,) = record["files"]
    assert file["name"] == "digits.csv.gz" and len(file["sha256"]) == 64
    assert "scikit-learn" in record["source"]


def test_unknown_option_lists_the_valid_ones() -> None:
    """Rule: an option a dataset does not take is an error listing the ones it does."""
    with pytest.raises(
        DataError, match=r"unknown option\(s\) data_dir; valid options: standardize"
    ):
        load("digits", data_dir="/tmp")
    assert "data_dir" in load_options("fashion-mnist")
    assert "label" in load_options("csv:" + __file__)


def test_unknown_name_is_a_clear_error() -> None:
    """Rule: load of an unknown name fails with the valid names and the file forms."""
    with pytest.raises(DataError, match=r"unknown dataset 'cifar'.*digits, fashion-mnist, mnist"):
        load("cifar")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("digits", None),
        ("fashion-mnist", None),
        ("mnist", None),
        ("Fashion_MNIST", "did you mean 'fashion-mnist'?"),
        ("imagenet", "npz:PATH or csv:PATH"),
        ("npz:", "needs a path after 'npz:'"),
        ("npz:/no/such/file.npz", "no such file /no/such/file.npz"),
        ("csv:/no/such.csv", "no such file"),
        (42, "dataset must be a string"),
    ],
)
def test_check_name(name: object, problem: str | None) -> None:
    """Rule: check_name returns None for a usable name, else one line naming the problem."""
    result = check_name(name)  # type: ignore[arg-type]
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result and "\n" not in result


def test_check_name_accepts_existing_files_and_rejects_folders(tmp_path: Path) -> None:
    """Rule: npz:PATH / csv:PATH are fine when the file exists; a folder is a problem."""
    (tmp_path / "d.npz").write_bytes(b"")
    assert check_name(f"npz:{tmp_path / 'd.npz'}") is None
    assert "is a folder" in (check_name(f"csv:{tmp_path}") or "")


def test_data_error_is_an_hpsearch_error() -> None:
    """Rule: data errors belong to the one family the CLI turns into a one-line message."""
    assert issubclass(DataError, HpsearchError)


def test_dataset_rejects_inconsistent_arrays() -> None:
    """Rule: a Dataset with mismatched rows, features or image shape cannot be built."""
    X, y = np.zeros((4, 6), np.float32), np.zeros(4, np.int64)
    with pytest.raises(DataError, match=r"X_train must be"):
        Dataset("d", X, y[:3], X, y, ("a",))
    with pytest.raises(DataError, match=r"image_shape \(2, 2\) has 4 pixels"):
        Dataset("d", X, y, X, y, ("a",), image_shape=(2, 2))
