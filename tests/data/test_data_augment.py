"""Augmentation: geometry, seeding, speed, and use on training batches only."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hpsearch.data import Augmentation, load, split
from hpsearch.errors import DataError


class FixedDraws:
    """A stand-in Generator returning given angles and shifts (to test the geometry)."""

    def __init__(
        self,
        angles: list[float],
        shifts: list[list[int]] | None = None,
        mirrored: list[bool] | None = None,
    ) -> None:
        self.angles = np.array(angles, dtype=float)
        self.shifts = np.array(shifts if shifts is not None else [[0] * len(angles)] * 2)
        # random() < 0.5 mirrors an image
        self.draws = np.array([0.0 if m else 0.9 for m in mirrored or [False] * len(angles)])

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        return self.angles[:size]

    def integers(self, low: int, high: int, size: tuple[int, int], endpoint: bool) -> np.ndarray:
        return self.shifts[:, : size[1]]

    def random(self, size: int) -> np.ndarray:
        return self.draws[:size]


def _image(h: int = 7, w: int = 7) -> np.ndarray:
    image = np.zeros((h, w), np.float32)
    image[1, 2:5] = 1.0  # an asymmetric mark
    image[2:5, 4] = 0.5
    return image


def test_identity_returns_an_equal_new_float32_array() -> None:
    """Rule: with no rotation and no shift the result equals the input but is a new array."""
    X = np.random.default_rng(0).random((5, 12)).astype(np.float64)
    out = Augmentation((3, 4))(X, np.random.default_rng(0))
    assert out is not X and out.dtype == np.float32 and out.shape == X.shape
    np.testing.assert_allclose(out, X.astype(np.float32))


def test_input_is_not_modified() -> None:
    """Rule: the batch passed in is left as it was."""
    X = np.random.default_rng(0).random((6, 49)).astype(np.float32)
    before = X.copy()
    Augmentation((7, 7), rotation=15, shift=2)(X, np.random.default_rng(1))
    np.testing.assert_array_equal(X, before)


def test_shift_moves_pixels_by_whole_pixels() -> None:
    """Rule: a shift of (dy, dx) moves the image content down dy and right dx pixels."""
    image = _image()
    rng = FixedDraws([0.0], [[2], [-1]])
    out = Augmentation((7, 7), shift=2, fill=0.0)(image.reshape(1, -1), rng).reshape(7, 7)
    expected = np.zeros_like(image)
    expected[2:, :-1] = image[:-2, 1:]
    np.testing.assert_array_equal(out, expected)


def test_flip_mirrors_then_shifts() -> None:
    """Rule: a flipped image is mirrored left to right; a shift then moves the mirror."""
    image = _image()
    both = np.stack([image.ravel(), image.ravel()])
    rng = FixedDraws([0.0, 0.0], [[0, 1], [0, 2]], mirrored=[True, True])
    out = Augmentation((7, 7), shift=2, flip=True, fill=0.0)(both, rng).reshape(2, 7, 7)
    np.testing.assert_array_equal(out[0], image[:, ::-1])
    expected = np.zeros_like(image)
    expected[1:, 2:] = image[:, ::-1][:-1, :-2]
    np.testing.assert_array_equal(out[1], expected)


def test_flip_mirrors_about_half_the_images_reproducibly() -> None:
    """Rule: with flip alone each image is either itself or its mirror, about half of
    them mirrored, the same ones for the same seed."""
    X = np.random.default_rng(0).random((400, 6 * 5)).astype(np.float32)
    mirror = X.reshape(-1, 6, 5)[:, :, ::-1].reshape(len(X), -1)
    augment = Augmentation((6, 5), flip=True)
    out = augment(X, np.random.default_rng(3))
    flipped = np.all(out == mirror, axis=1)
    assert np.all(flipped | np.all(out == X, axis=1))
    assert 150 < flipped.sum() < 250
    np.testing.assert_array_equal(augment(X, np.random.default_rng(3)), out)
    assert augment.enabled and "flip=True" in repr(augment)


def test_rotation_by_90_degrees_matches_rot90() -> None:
    """Rule: rotation turns the image about its centre (90 degrees = np.rot90 up to direction)."""
    image = _image()
    rng = FixedDraws([90.0])
    out = Augmentation((7, 7), rotation=90)(image.reshape(1, -1), rng).reshape(7, 7)
    assert np.allclose(out, np.rot90(image, 1), atol=1e-5) or np.allclose(
        out, np.rot90(image, -1), atol=1e-5
    )


def test_each_image_gets_its_own_transform_and_seed_reproduces() -> None:
    """Rule: copies of one image come out differently; the same seed gives the same batch."""
    X = np.tile(_image().reshape(1, -1), (20, 1))
    augment = Augmentation((7, 7), rotation=20, shift=1)
    out = augment(X, np.random.default_rng(5))
    assert len({row.tobytes() for row in out}) > 10
    np.testing.assert_array_equal(out, augment(X, np.random.default_rng(5)))
    assert not np.array_equal(out, augment(X, np.random.default_rng(6)))


def test_values_stay_within_the_input_range() -> None:
    """Rule: interpolation never invents values outside the image's [min, max]."""
    X = np.random.default_rng(0).random((50, 64)).astype(np.float32)
    out = Augmentation((8, 8), rotation=30, shift=2)(X, np.random.default_rng(0))
    assert out.min() >= X.min() - 1e-6 and out.max() <= X.max() + 1e-6


def test_bad_arguments_are_clear_errors() -> None:
    """Rule: a bad image shape, rotation, shift or batch width names the value."""
    with pytest.raises(DataError, match=r"rotation must be between 0 and 180"):
        Augmentation((8, 8), rotation=-1)
    with pytest.raises(DataError, match=r"shift must be a whole number"):
        Augmentation((8, 8), shift=1.5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"image_shape=\(height, width\)"):
        Augmentation(None)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"needs a batch of shape \(n, 64\), got \(2, 10\)"):
        Augmentation((8, 8), shift=1)(np.zeros((2, 10)), np.random.default_rng(0))


def test_vectorised_speed() -> None:
    """Rule: augmentation is vectorised: 10000 28x28 images take well under 3 s."""
    X = np.random.default_rng(0).random((10_000, 784)).astype(np.float32)
    augment = Augmentation((28, 28), rotation=10, shift=2)
    started = time.perf_counter()
    augment(X, np.random.default_rng(0))
    assert time.perf_counter() - started < 3.0


class RecordingAugmentation(Augmentation):
    """Remembers every batch it was asked to transform."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[np.ndarray] = []

    def __call__(self, X_batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.seen.append(np.array(X_batch, copy=True))
        return super().__call__(X_batch, rng)


def test_training_augments_training_batches_only() -> None:
    """Rule: train() applies the augmentation to training mini-batches only: every row it
    sees is a training row, each once per epoch, never a validation or test row; labels
    are not passed to it."""
    nn = pytest.importorskip("hpsearch.nn")
    data = load("digits")
    part = split(data, validation=200, subset=300, seed=0)
    augment = RecordingAugmentation(part.image_shape, rotation=10, shift=1)
    network = nn.Network([64, 16, 10], loss="log_likelihood", seed=0)
    epochs = 2
    nn.train(
        network,
        (part.X_train, part.y_train),
        (part.X_validation, part.y_validation),
        epochs=epochs,
        batch_size=32,
        eta=0.1,
        seed=0,
        augment=augment,
    )
    seen = np.concatenate(augment.seen)
    assert len(seen) == epochs * len(part.y_train)
    train_rows = {row.tobytes() for row in part.X_train}
    assert all(row.tobytes() in train_rows for row in seen)
    unseen = {row.tobytes() for row in part.X_validation} | {row.tobytes() for row in data.X_test}
    assert not (unseen - train_rows) & {row.tobytes() for row in seen}
