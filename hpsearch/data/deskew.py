"""Deskewing: shear each image so that its ink stands upright.

A handwritten digit's slant is the classic nuisance variation of such data (LeCun et
al. deskew MNIST for their kNN, SVM and MLP baselines). From the image's ink moments,
the slant is ``alpha = cov(row, col) / var(row)``; shearing each row sideways by
``alpha * (row - centroid_row)`` pixels, with linear interpolation, removes it and
keeps the ink's centroid where it was. It is a fixed per-image transform, fitted on
nothing, so training and test images go through it alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hpsearch.data.dataset import Dataset, standardize_features
from hpsearch.errors import DataError

__all__ = ["deskew", "deskewed"]

# Images per vectorised step: bounds the (rows, height, width) float64 temporaries.
_CHUNK_ROWS = 4096


def deskew(X: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """Return a float32 copy of ``X`` (one flattened image per row) with each image deskewed.

    Ink is taken to be the pixel values, so ``X`` should be non-negative (scaled
    pixels, before any standardization); a blank image stays blank.
    """
    height, width = image_shape
    if X.ndim != 2 or X.shape[1] != height * width:
        raise DataError(f"deskew: rows of {height}x{width} images expected, got {X.shape}")
    out = np.empty(X.shape, dtype=np.float32)
    rows, cols = np.indices((height, width), dtype=np.float64)
    for start in range(0, len(X), _CHUNK_ROWS):
        images = X[start : start + _CHUNK_ROWS].reshape(-1, height, width).astype(np.float64)
        ink = images.sum(axis=(1, 2))
        ink[ink == 0] = 1.0  # blank: every moment is 0, so alpha is 0 and it stays blank
        centre_row = (images * rows).sum(axis=(1, 2)) / ink
        centre_col = (images * cols).sum(axis=(1, 2)) / ink
        dr = rows - centre_row[:, None, None]
        dc = cols - centre_col[:, None, None]
        var_row = (images * dr * dr).sum(axis=(1, 2)) / ink
        cov = (images * dr * dc).sum(axis=(1, 2)) / ink
        alpha = np.divide(cov, var_row, out=np.zeros_like(cov), where=var_row > 1e-9)
        # Output pixel (r, c) samples the input row r at column c + alpha * (r - centre_row).
        source = cols + alpha[:, None, None] * dr
        left = np.floor(source).astype(np.intp)
        weight_right = source - left
        sheared = np.zeros_like(images)
        index = np.arange(len(images))[:, None, None], rows.astype(np.intp)[None]
        for column, weight in ((left, 1.0 - weight_right), (left + 1, weight_right)):
            inside = (column >= 0) & (column < width)
            values = images[(*index, np.clip(column, 0, width - 1))]
            sheared += np.where(inside, values * weight, 0.0)
        out[start : start + len(images)] = sheared.reshape(len(images), -1)
    return out


def deskewed(dataset: Dataset, *, standardize: bool = False) -> Dataset:
    """``dataset`` with its training and test images deskewed, then standardized if asked
    (statistics fitted on the deskewed training set). ``dataset`` must be an image
    dataset and not yet standardized."""
    if dataset.image_shape is None:
        raise DataError(
            f"dataset {dataset.name!r} has no image shape, so it cannot be deskewed; "
            "deskew works on image datasets (digits, fashion-mnist, mnist, or npz/csv images)"
        )
    X_train = deskew(dataset.X_train, dataset.image_shape)
    X_test = deskew(dataset.X_test, dataset.image_shape)
    preprocessing = dict(dataset.provenance.get("preprocessing", {}))
    preprocessing["deskew"] = "sheared upright by ink moments, before standardizing"
    preprocessing["standardize"] = standardize_features(X_train, X_test) if standardize else False
    provenance = {**dataset.provenance, "preprocessing": preprocessing}
    return dataclasses.replace(dataset, X_train=X_train, X_test=X_test, provenance=provenance)
