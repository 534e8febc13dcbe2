"""The ``Dataset`` every loader returns, and the preprocessing they share.

Features are float32 rows (images flattened), scaled to [0, 1] or standardized
with statistics fitted on the training set only; labels are int64 class indices
into ``class_names``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpsearch.data.partition import resolve_size, stratified_partition
from hpsearch.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled dataset with a fixed train/test division.

    ``provenance`` is JSON-serialisable: where the data came from, the SHA-256
    of each source file and the preprocessing applied.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    image_shape: tuple[int, int] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
            if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
                raise DataError(
                    f"{self.name}: X_{part} must be (n, features) and y_{part} (n,), "
                    f"got {X.shape} and {y.shape}"
                )
        if self.X_train.shape[1] != self.X_test.shape[1]:
            raise DataError(
                f"{self.name}: X_train has {self.X_train.shape[1]} features but X_test has "
                f"{self.X_test.shape[1]}"
            )
        if self.image_shape is not None:
            height, width = self.image_shape
            if height * width != self.n_features:
                raise DataError(
                    f"{self.name}: image_shape {self.image_shape} has {height * width} pixels "
                    f"but there are {self.n_features} features"
                )

    @property
    def n_classes(self) -> int:
        """The number of classes (the network's output size)."""
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        """The number of input features (pixels for images)."""
        return int(self.X_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}, "
            f"n_classes={self.n_classes}, image_shape={self.image_shape})"
        )


def encode_labels(
    y_train: np.ndarray, y_test: np.ndarray, class_names: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Map labels to int64 indices 0..K-1 and name the classes.

    With ``class_names``, integer labels must be indices into them. Without,
    integer labels that already are 0..K-1 (each present) keep their values;
    any other labels (strings, 1..10, ...) become indices into their sorted
    distinct values, which also become the class names.
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if y_train.size == 0:
        raise DataError("there are no training labels")
    if y_train.dtype.kind in "iu" and y_test.dtype.kind in "iu":
        present = np.union1d(y_train, y_test)
        low, top = int(present[0]), int(present[-1])
        if class_names is None:
            if low == 0 and len(present) == top + 1:  # already 0..K-1, every class present
                names = tuple(str(i) for i in range(top + 1))
                return y_train.astype(np.int64), y_test.astype(np.int64), names
        else:
            k = len(class_names)
            if low >= 0 and top < k:
                return y_train.astype(np.int64), y_test.astype(np.int64), class_names
            raise DataError(
                f"labels range over {low}..{top} but there are {k} class names; "
                f"labels must be 0..{k - 1}"
            )
    if y_train.dtype.kind in "fb" or y_test.dtype.kind in "fb":
        for y in (y_train, y_test):
            if y.size and not np.all(np.isfinite(y) & (y == np.round(y))):
                raise DataError("labels must be integers or strings, got non-integer numbers")
        return encode_labels(y_train.astype(np.int64), y_test.astype(np.int64), class_names)
    values = np.unique(np.concatenate([y_train, y_test]))
    names = tuple(str(v.item() if hasattr(v, "item") else v) for v in values)
    return (
        np.searchsorted(values, y_train).astype(np.int64),
        np.searchsorted(values, y_test).astype(np.int64),
        names,
    )


def auto_scale(X_train: np.ndarray) -> tuple[float | None, str]:
    """Choose the pixel scale for numeric data: /255 for bytes, /1 for [0, 1] data.

    Returns ``(divisor, description)``; ``divisor=None`` means per-feature min-max.
    """
    low, high = float(X_train.min(initial=0)), float(X_train.max(initial=0))
    if X_train.dtype == np.uint8 or (low >= 0 and 1 < high <= 255 and _integral(X_train)):
        return 255.0, "divided by 255 (8-bit pixels)"
    if low >= 0 and high <= 1:
        return 1.0, "already in [0, 1]"
    return None, "min-max per feature (fitted on X_train)"


def _integral(X: np.ndarray) -> bool:
    return X.dtype.kind in "iub" or bool(np.all(np.round(X) == X))


def preprocess(
    X_train: np.ndarray,
    X_test: np.ndarray,
    *,
    scale: float | str | None,
    standardize: bool,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Return float32 copies of the features and a JSON description of what was done.

    ``scale``: a divisor (255 for bytes), ``"auto"`` (see ``auto_scale``) or
    None (leave values as they are). ``standardize``: then subtract the mean and
    divide by the standard deviation of each feature, both fitted on ``X_train``
    (constant features are only centred).
    """
    info: dict[str, Any] = {}
    if scale == "auto":
        divisor, info["scale"] = auto_scale(X_train)
    elif scale is None:
        divisor, info["scale"] = 1.0, "none"
    elif isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0:
        divisor, info["scale"] = float(scale), f"divided by {scale:g}"
    else:
        raise DataError(f"scale={scale!r}: expected 'auto', None or a positive number")
    if divisor is None:
        X_train, X_test = _min_max(X_train, X_test)
    else:
        X_train = _scaled(X_train, divisor)
        X_test = _scaled(X_test, divisor)
    info["standardize"] = standardize_features(X_train, X_test) if standardize else False
    return X_train, X_test, info


def _min_max(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature min-max scaling fitted on ``X_train``, computed in float64 on halved
    values: data near the float64 limit (1e300, where float32 overflows and even
    ``max - min`` can) scale to [0, 1] instead of to NaN."""
    half = X_train.astype(np.float64) / 2
    low, high = half.min(axis=0), half.max(axis=0)
    span = high - low
    span[span == 0] = 1.0
    scaled = [
        ((X.astype(np.float64) / 2 - low) / span).astype(np.float32) for X in (X_train, X_test)
    ]
    return scaled[0], scaled[1]


def standardize_features(X_train: np.ndarray, X_test: np.ndarray) -> dict[str, Any]:
    """Standardize both float32 arrays in place with ``X_train``'s per-feature mean and
    standard deviation (constant features are only centred); returns what was done."""
    mean = X_train.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = X_train.std(axis=0, dtype=np.float64).astype(np.float32)
    std[std < 1e-6] = 1.0
    for X in (X_train, X_test):
        X -= mean
        X /= std
    return {"fitted_on": "X_train", "n": len(X_train)}


def _scaled(X: np.ndarray, divisor: float) -> np.ndarray:
    out = np.asarray(X, dtype=np.float32).copy() if X.dtype == np.float32 else X.astype(np.float32)
    if divisor != 1.0:
        out /= np.float32(divisor)
    return out


def carve_test(
    X: np.ndarray,
    y: np.ndarray,
    *,
    test_size: int | float,
    seed: int,
    class_names: tuple[str, ...],
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Split (X, y) into stratified train and test parts with a fixed ``seed``."""
    n_test = resolve_size(test_size, len(y), f"{source}: test_size")
    rng = np.random.default_rng(seed)
    test, train = stratified_partition(
        y,
        n_test,
        None,
        rng,
        n_classes=len(class_names),
        class_names=class_names,
        names=("test", "training"),
    )
    train.sort()
    test.sort()
    info = {"test_split": {"test_size": n_test, "seed": seed, "stratified": True}}
    return X[train], y[train], X[test], y[test], info
