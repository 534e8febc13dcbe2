"""Deskewing: images sheared upright by their ink moments, and load(..., deskew=True)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import load, load_options
from hpsearch.data.deskew import deskew
from hpsearch.errors import DataError

SHAPE = (8, 8)


def _moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: total ink, ink-weighted column centroid, and cov(row, col) of the ink."""
    images = X.reshape(-1, *SHAPE).astype(np.float64)
    rows, cols = np.indices(SHAPE)
    ink = images.sum(axis=(1, 2))
    centre_row = (images * rows).sum(axis=(1, 2)) / ink
    centre_col = (images * cols).sum(axis=(1, 2)) / ink
    cov = (images * (rows - centre_row[:, None, None]) * (cols - centre_col[:, None, None])).sum(
        axis=(1, 2)
    ) / ink
    return ink, centre_col, cov


def test_a_slanted_stroke_is_sheared_upright_with_its_ink_and_centre_kept() -> None:
    """Rule: a slanted stroke comes out upright (no row/column covariance left); its total
    ink and its column centroid stay where they were (no ink falls off the edges here)."""
    image = np.zeros(SHAPE, dtype=np.float32)
    for r in range(1, 7):
        image[r, r] = 1.0  # a 45-degree stroke through the middle
    X = image.reshape(1, -1)
    ink, centre, cov = _moments(X)
    assert cov[0] > 1.0
    out = deskew(X, SHAPE)
    ink_out, centre_out, cov_out = _moments(out)
    assert abs(cov_out[0]) < 1e-6
    assert ink_out[0] == pytest.approx(ink[0])
    assert centre_out[0] == pytest.approx(centre[0])
    assert out.dtype == np.float32 and X[0, 9] == 1.0  # a copy: the input is untouched


def test_upright_and_blank_images_are_unchanged() -> None:
    """Rule: an image with no slant (a vertical bar) comes back as it was, and a blank image
    stays blank (no division by zero, no NaN)."""
    bar = np.zeros(SHAPE, dtype=np.float32)
    bar[1:7, 3] = 1.0
    X = np.stack([bar.ravel(), np.zeros(64, dtype=np.float32)])
    np.testing.assert_array_equal(deskew(X, SHAPE), X)


def test_deskewing_the_digits_removes_most_of_their_slant() -> None:
    """Rule: on the real digits, deskewing cuts the mean |cov(row, col)| of the ink, the
    slant, by more than half, and keeps nearly all of the ink."""
    X = load("digits").X_train
    ink, _, cov = _moments(X)
    ink_out, _, cov_out = _moments(deskew(X, SHAPE))
    assert np.abs(cov_out).mean() < 0.5 * np.abs(cov).mean()
    assert ink_out.sum() > 0.97 * ink.sum()


def test_load_deskews_then_standardizes_with_training_statistics() -> None:
    """Rule: load(name, deskew=True, standardize=True) deskews the training and test images
    alike, then standardizes both with the deskewed training set's mean and std; the
    provenance says so, and every dataset lists deskew among its options."""
    scaled = load("digits")
    data = load("digits", deskew=True, standardize=True)
    train, test = deskew(scaled.X_train, SHAPE), deskew(scaled.X_test, SHAPE)
    mean, std = train.mean(axis=0, dtype=np.float64), train.std(axis=0, dtype=np.float64)
    std[std < 1e-6] = 1.0
    np.testing.assert_allclose(data.X_train, (train - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(data.X_test, (test - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(data.y_test, scaled.y_test)
    preprocessing = data.provenance["preprocessing"]
    assert "deskew" in preprocessing and preprocessing["standardize"]["fitted_on"] == "X_train"
    np.testing.assert_array_equal(load("digits", deskew=True).X_train, train)
    assert "deskew" in load_options("digits") and "deskew" in load_options("fashion-mnist")


def test_deskew_needs_images_and_a_boolean(tmp_path: Path) -> None:
    """Rule: deskew on data without an image shape, or a deskew that is not a boolean, is a
    one-line DataError that says what would be valid."""
    path = tmp_path / "table.csv"
    path.write_text("label,a,b,c\n" + "".join(f"{i % 2},{i},{i + 1},{i + 2}\n" for i in range(20)))
    with pytest.raises(DataError, match=r"no image shape, so it cannot be deskewed"):
        load(f"csv:{path}", deskew=True)
    with pytest.raises(DataError, match=r"deskew must be true or false, got 'yes'"):
        load("digits", deskew="yes")
