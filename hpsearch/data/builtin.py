"""The built-in datasets: scikit-learn's 8x8 digits and the IDX datasets (Fashion-MNIST, MNIST)."""

from __future__ import annotations

import gzip
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data.cache import cache_key, cache_root, load_arrays, save_arrays
from hpsearch.data.dataset import Dataset, carve_test, preprocess
from hpsearch.data.download import sha256_file
from hpsearch.data.idx import read_idx_pair
from hpsearch.data.sources import (
    ENV_DATA_URL,
    IDX_SOURCES,
    ROLES,
    IdxSource,
    Located,
    base_urls,
    find_local,
    locate,
)
from hpsearch.errors import DataError

DIGITS_TEST_SIZE = 0.2
DIGITS_SEED = 0
DIGITS_CLASSES = tuple(str(digit) for digit in range(10))


def digits_file() -> Path | None:
    """Where scikit-learn keeps ``digits.csv.gz`` (found without importing scikit-learn)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def load_digits(
    *, standardize: bool = False, test_size: int | float = DIGITS_TEST_SIZE, seed: int = DIGITS_SEED
) -> Dataset:
    """scikit-learn's 1797 8x8 digits (pixels 0..16 scaled to [0, 1]), no download.

    The test set is a fixed stratified split (``test_size`` of the data, ``seed``).
    """
    path = digits_file()
    if path is None:
        raise DataError(
            "digits: scikit-learn's digits.csv.gz was not found; pip install scikit-learn"
        )
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.float32)
    X, y = table[:, :-1], table[:, -1].astype(np.int64)
    X_train, y_train, X_test, y_test, split_info = carve_test(
        X, y, test_size=test_size, seed=seed, class_names=DIGITS_CLASSES, source="digits"
    )
    X_train, X_test, info = preprocess(X_train, X_test, scale=16.0, standardize=standardize)
    provenance = {
        "name": "digits",
        "source": "scikit-learn (bundled, no download)",
        "origin": "sklearn",
        "files": [_file_record("data", path)],
        "preprocessing": {**info, **split_info},
    }
    return Dataset(
        name="digits",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        class_names=DIGITS_CLASSES,
        image_shape=(8, 8),
        provenance=provenance,
    )


def _file_record(role: str, path: Path, published: str | None = None) -> dict[str, Any]:
    sha256 = sha256_file(path)
    record: dict[str, Any] = {
        "role": role,
        "name": path.name,
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256": sha256,
    }
    if published is not None:
        record["matches_published_sha256"] = sha256 == published
    return record


def _describe_origin(source: IdxSource, located: Located) -> str:
    if located.origin == "system" and source.apt_package:
        return f"Debian package {source.apt_package} ({located.directory})"
    if located.origin == "download":
        return f"downloaded from {located.url} into {located.directory}"
    labels = {"data_dir": "data_dir", "env": "$HPSEARCH_DATA_DIR", "cache": "user cache"}
    return f"{labels.get(located.origin, located.origin)} ({located.directory})"


def _decode(source: IdxSource, located: Located) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    files = located.files
    train_images, train_labels = read_idx_pair(files["train_images"], files["train_labels"])
    test_images, test_labels = read_idx_pair(files["test_images"], files["test_labels"])
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"{files['train_images']} holds {train_images.shape[1:]} images but "
            f"{files['test_images']} holds {test_images.shape[1:]} images; they must match"
        )
    k = len(source.class_names)
    for role, labels in (("train_labels", train_labels), ("test_labels", test_labels)):
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise DataError(
                f"{files[role]}: labels range over {labels.min()}..{labels.max()}, "
                f"but {source.name} has {k} classes (0..{k - 1})"
            )
    height, width = (int(d) for d in train_images.shape[1:])
    arrays = {
        "X_train": train_images.reshape(len(train_images), -1),
        "y_train": train_labels.astype(np.int64),
        "X_test": test_images.reshape(len(test_images), -1),
        "y_test": test_labels.astype(np.int64),
    }
    return arrays, (height, width)


def load_idx(
    name: str,
    *,
    standardize: bool = False,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    base_url: str | None = None,
    progress: bool | None = None,
    cache: bool = True,
) -> Dataset:
    """An IDX dataset (``fashion-mnist``, ``mnist``) with pixels 0..255 scaled to [0, 1].

    Files are found or downloaded as ``hpsearch.data.sources`` describes; the
    decoded arrays are cached under ``cache_root(cache_dir)/decoded`` (``cache=False``
    skips that cache).
    """
    source = IDX_SOURCES[name]
    located = locate(
        source,
        data_dir=data_dir,
        cache_dir=cache_dir,
        download_missing=download,
        base_url=base_url,
        progress=progress,
    )
    records = [_file_record(role, located.files[role], source.files[role][1]) for role in ROLES]
    root = cache_root(cache_dir)
    key = cache_key(
        {
            "name": name,
            "sources": [record["sha256"] for record in records],
            "standardize": bool(standardize),
        }
    )
    hit = load_arrays(root, key) if cache else None
    if hit is not None:
        arrays, meta = hit
        info, image_shape = meta["preprocessing"], tuple(meta["image_shape"])
        decoded_from = "decoded cache"
    else:
        arrays, image_shape = _decode(source, located)
        arrays["X_train"], arrays["X_test"], info = preprocess(
            arrays["X_train"], arrays["X_test"], scale=255.0, standardize=standardize
        )
        if cache:
            save_arrays(root, key, arrays, {"preprocessing": info, "image_shape": image_shape})
        decoded_from = "IDX files"
    provenance = {
        "name": name,
        "source": _describe_origin(source, located),
        "origin": located.origin,
        "location": str(located.directory),
        "url": located.url,
        "files": records,
        "preprocessing": info,
        "decoded_from": decoded_from,
        "cache_key": key,
    }
    return Dataset(
        name=name,
        X_train=arrays["X_train"],
        y_train=arrays["y_train"],
        X_test=arrays["X_test"],
        y_test=arrays["y_test"],
        class_names=source.class_names,
        image_shape=(int(image_shape[0]), int(image_shape[1])),
        provenance=provenance,
    )


@dataclass(frozen=True)
class SourceInfo:
    """One line of ``hpsearch data list``."""

    name: str
    description: str
    available: bool
    origin: str
    location: str


def describe_sources(*, cache_dir: str | Path | None = None) -> list[SourceInfo]:
    """Say, for each built-in dataset, whether it is available now and from where (no download).

    IDX datasets are looked for as ``load`` does, without an explicit ``data_dir``
    (one folder cannot hold both MNIST and Fashion-MNIST: their file names are the same).
    """
    infos: list[SourceInfo] = []
    path = digits_file()
    infos.append(
        SourceInfo(
            name="digits",
            description="scikit-learn's 8x8 digits, 10 classes, 1797 images (fixed test split)",
            available=path is not None,
            origin="scikit-learn" if path is not None else "missing",
            location=str(path) if path is not None else "pip install scikit-learn",
        )
    )
    for source in IDX_SOURCES.values():
        located, _ = find_local(source, None, cache_dir)
        if located is not None:
            infos.append(
                SourceInfo(
                    source.name,
                    source.description,
                    True,
                    _describe_origin(source, located).split(" (")[0],
                    str(located.directory),
                )
            )
            continue
        via = "" if not os.environ.get(ENV_DATA_URL) else f" (${ENV_DATA_URL})"
        urls = base_urls(source)
        infos.append(
            SourceInfo(
                source.name,
                source.description,
                False,
                "download" + via if urls else "not available",
                urls[0] if urls else "no download location known",
            )
        )
    return infos
