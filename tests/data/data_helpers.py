"""Helpers shared by the data tests: a tiny IDX dataset written to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpsearch.data.idx import write_idx

TINY_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def tiny_arrays(seed: int = 0, n_train: int = 40, n_test: int = 20) -> dict[str, np.ndarray]:
    """A small image dataset, 4 classes of 6x5 bytes, each class in both parts."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(n_train, 6, 5), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 4).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 6, 5), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 4).astype(np.uint8),
    }


def write_tiny(folder: Path, arrays: dict[str, np.ndarray] | None = None) -> dict[str, Path]:
    """Write the tiny dataset as four .gz IDX files into ``folder``."""
    arrays = tiny_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    return {role: write_idx(folder / name, arrays[role]) for role, name in TINY_FILES.items()}
