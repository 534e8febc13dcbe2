"""Fashion-MNIST from the Debian package dataset-fashion-mnist (skipped without it, unless
HPSEARCH_REQUIRE_DATASETS is set)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np

from hpsearch.data import load, split
from hpsearch.data.download import sha256_file


def test_fashion_mnist_from_the_debian_package(fashion_dir: Path) -> None:
    """Rule: with nothing else configured, fashion-mnist comes from the package folder:
    60000/10000 28x28 images scaled to [0, 1], 6000 per class, the ten class names, and
    provenance with each file's SHA-256."""
    data = load("fashion-mnist", progress=False)
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    assert data.X_train.dtype == np.float32 and data.image_shape == (28, 28)
    assert float(data.X_train.min()) == 0.0 and float(data.X_train.max()) == 1.0
    assert np.all(np.bincount(data.y_train) == 6000)
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
    assert data.provenance["origin"] == "system"
    assert "dataset-fashion-mnist" in data.provenance["source"]
    for record in data.provenance["files"]:
        assert record["sha256"] == sha256_file(fashion_dir / record["name"])
    # the first training image, decoded by hand from the IDX bytes
    raw = gzip.decompress((fashion_dir / "train-images-idx3-ubyte.gz").read_bytes())
    first = np.frombuffer(raw, np.uint8, count=784, offset=16)
    np.testing.assert_array_equal(data.X_train[0], first / np.float32(255))


def test_second_load_is_fast(fashion_dir: Path) -> None:
    """Rule: the decoded arrays are cached, so a second load takes less than 0.5 s and
    gives the same arrays."""
    first = load("fashion-mnist", progress=False)
    started = time.perf_counter()
    second = load("fashion-mnist", progress=False)
    elapsed = time.perf_counter() - started
    assert second.provenance["decoded_from"] == "decoded cache"
    assert elapsed < 0.5, f"second load took {elapsed:.2f} s"
    np.testing.assert_array_equal(first.y_test, second.y_test)
    np.testing.assert_array_equal(first.X_test[:100], second.X_test[:100])
    part = split(second, validation=5000, subset=10000, seed=0)
    assert part.X_train.shape == (10000, 784) and part.X_train.flags.writeable
