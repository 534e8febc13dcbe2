"""npz:PATH and csv:PATH datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import load
from hpsearch.errors import DataError


def _blobs(n: int = 60, k: int = 3, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.integers(0, 256, size=(n, features)).astype(np.uint8)
    return X, y


def test_npz_with_fixed_train_and_test(tmp_path: Path) -> None:
    """Rule: an npz with X_train, y_train, X_test, y_test keeps that division; (n, h, w)
    images are flattened and give image_shape; class_names are used; bytes become [0, 1]."""
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(
        path,
        X_train=rng.integers(0, 256, (12, 3, 4), dtype=np.uint8),
        y_train=np.arange(12) % 2,
        X_test=rng.integers(0, 256, (6, 3, 4), dtype=np.uint8),
        y_test=np.arange(6) % 2,
        class_names=np.array(["cat", "dog"]),
    )
    data = load(f"npz:{path}")
    assert data.X_train.shape == (12, 12) and data.X_test.shape == (6, 12)
    assert data.image_shape == (3, 4)
    assert data.class_names == ("cat", "dog")
    assert data.X_train.dtype == np.float32 and 0 <= data.X_train.min() <= data.X_train.max() <= 1
    assert data.provenance["files"][0]["sha256"]
    assert data.name == f"npz:{path}"


def test_npz_with_x_y_carves_a_seeded_stratified_test_set(tmp_path: Path) -> None:
    """Rule: an npz with only X, y gets a stratified test split of test_size, fixed by seed."""
    X, y = _blobs(n=100, k=4)
    path = tmp_path / "xy.npz"
    np.savez(path, X=X, y=y)
    data = load(f"npz:{path}", test_size=0.25)
    assert len(data.y_test) == 25 and len(data.y_train) == 75
    assert np.all(np.bincount(data.y_test) >= 6)
    again = load(f"npz:{path}", test_size=0.25)
    np.testing.assert_array_equal(data.X_test, again.X_test)
    other = load(f"npz:{path}", test_size=0.25, seed=1)
    assert not np.array_equal(data.X_test, other.X_test)


def test_npz_labels_that_are_not_0_to_k_are_renumbered(tmp_path: Path) -> None:
    """Rule: labels like 1..3 or strings become indices 0..K-1; the originals name the classes."""
    X, y = _blobs(n=30, k=3)
    path = tmp_path / "l.npz"
    np.savez(path, X=X, y=y + 1)
    data = load(f"npz:{path}")
    assert data.class_names == ("1", "2", "3")
    assert set(np.unique(data.y_train)) == {0, 1, 2}


def test_npz_image_shape_option_for_flat_data(tmp_path: Path) -> None:
    """Rule: image_shape=(h, w) marks flat rows as images; a wrong size is an error."""
    X, y = _blobs(n=30, k=3, features=6)
    path = tmp_path / "f.npz"
    np.savez(path, X=X, y=y)
    assert load(f"npz:{path}", image_shape=(2, 3)).image_shape == (2, 3)
    with pytest.raises(DataError, match=r"image_shape=\(2, 2\) has 4 pixels but the data has 6"):
        load(f"npz:{path}", image_shape=(2, 2))


def test_npz_with_the_wrong_arrays_lists_what_is_expected(tmp_path: Path) -> None:
    """Rule: an npz without either set of arrays names what it holds and what is expected."""
    path = tmp_path / "w.npz"
    np.savez(path, images=np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"holds arrays \['images'\]; expected X_train, y_train"):
        load(f"npz:{path}")


def test_npz_that_is_not_an_npz(tmp_path: Path) -> None:
    """Rule: a file that is not an npz archive is a DataError naming it."""
    path = tmp_path / "junk.npz"
    path.write_text("not a zip")
    with pytest.raises(DataError, match=r"junk.npz: not a readable .npz file"):
        load(f"npz:{path}")


def test_npz_with_nan_is_rejected(tmp_path: Path) -> None:
    """Rule: NaN or infinite features are an error, not a silently broken training run."""
    X = np.ones((20, 3))
    X[4, 1] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, X=X, y=np.arange(20) % 2)
    with pytest.raises(DataError, match=r"NaN or infinite"):
        load(f"npz:{path}")


def _write_csv(path: Path, header: str | None, rows: list[str]) -> Path:
    path.write_text("\n".join(([header] if header else []) + rows) + "\n")
    return path


def test_csv_label_by_name_index_and_default(tmp_path: Path) -> None:
    """Rule: the label column is chosen by name, by index (negative from the end), or by
    default the header column called label/class/target/y."""
    rows = [f"{i % 3},{i},{i * 2},{(i * 7) % 5}" for i in range(30)]
    path = _write_csv(tmp_path / "t.csv", "label,a,b,c", rows)
    by_default = load(f"csv:{path}")
    by_name = load(f"csv:{path}", label="label")
    by_index = load(f"csv:{path}", label=0)
    for data in (by_default, by_name, by_index):
        assert data.n_features == 3 and data.n_classes == 3
        np.testing.assert_array_equal(data.X_train, by_default.X_train)
    last = load(f"csv:{path}", label=-1)
    assert last.n_classes == 5 and last.provenance["label_column"] == "c"


def test_csv_string_labels_and_min_max_scaling(tmp_path: Path) -> None:
    """Rule: string labels name the classes (sorted); features outside [0, 255] are min-max
    scaled with training statistics."""
    species = ["setosa", "versicolor", "virginica"]
    rows = [f"{5 + i * 0.1:.1f},{-3 + i},{species[i % 3]}" for i in range(30)]
    path = _write_csv(tmp_path / "iris.csv", "sepal,offset,species", rows)
    data = load(f"csv:{path}", label="species")
    assert data.class_names == tuple(species)
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0
    assert "min-max" in data.provenance["preprocessing"]["scale"]


def test_csv_without_header_needs_a_label_index(tmp_path: Path) -> None:
    """Rule: a headerless CSV has no names, so label=INDEX is required and then works."""
    path = _write_csv(tmp_path / "n.csv", None, [f"{i % 2},{i}" for i in range(20)])
    with pytest.raises(
        DataError, match=r"no header row; add one that names the label column label"
    ):
        load(f"csv:{path}")
    assert load(f"csv:{path}", label=0).n_features == 1
    assert load(f"csv:{path}", label="0").n_features == 1  # from a CLI or spec string


def test_csv_bad_label_and_bad_values(tmp_path: Path) -> None:
    """Rule: an unknown label column lists the columns; non-numeric features name the file."""
    path = _write_csv(tmp_path / "b.csv", "x,y", [f"{i},{i % 2}" for i in range(10)])
    with pytest.raises(DataError, match=r"label='kind' is not a column; columns: x, y"):
        load(f"csv:{path}", label="kind")
    with pytest.raises(DataError, match=r"label=5: the file has 2 columns"):
        load(f"csv:{path}", label=5)
    bad = _write_csv(tmp_path / "v.csv", "label,x", ["0,1", "1,oops"] * 5)
    with pytest.raises(DataError, match=r"v.csv: .*every feature column must hold numbers"):
        load(f"csv:{bad}")
    no_label = _write_csv(tmp_path / "nl.csv", "a,b", ["0,1"] * 4)
    with pytest.raises(
        DataError, match=r"no label column among the header's a, b; name the label column label"
    ):
        load(f"csv:{no_label}")


def test_csv_too_small_for_a_stratified_test_split(tmp_path: Path) -> None:
    """Rule: a class with a single example cannot be in both train and test: a clear error."""
    path = _write_csv(tmp_path / "s.csv", "label,x", ["0,1", "0,2", "0,3", "1,4"])
    with pytest.raises(DataError, match=r"class 1 \('1'\) has 1"):
        load(f"csv:{path}", test_size=2)
