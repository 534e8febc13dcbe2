"""Random small rotations, shifts and mirror flips of image batches, vectorised over the batch.

The training loop calls an ``Augmentation`` on each training mini-batch (never
on validation or test data); labels are untouched, since a slightly rotated or
shifted digit or garment keeps its class (a mirrored garment too; not a mirrored digit).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from hpsearch.errors import DataError

# Rows per gather: bounds the temporary index arrays (4 x rows x pixels int64)
# when a caller augments a whole training set at once.
_CHUNK_ROWS = 4096


class Augmentation:
    """Rotate each image by a random angle in [-rotation, rotation] degrees and shift it by
    a random whole number of pixels in [-shift, shift] along each axis; with ``flip``,
    mirror it left to right with probability 1/2.

    Each image gets its own angle and shift, drawn from the ``rng`` passed to
    ``__call__``, so a seeded run is reproducible. Pixels are resampled
    bilinearly from the inverse-mapped position; positions outside the image
    take ``fill`` (None: the nearest edge pixel, which suits scaled and
    standardized data alike).
    """

    image_shape: tuple[int, int]
    rotation: float
    shift: int
    flip: bool
    fill: float | None
    _centre: tuple[np.float32, np.float32]
    _rows: np.ndarray
    _cols: np.ndarray

    def __init__(
        self,
        image_shape: tuple[int, int],
        rotation: float = 0.0,
        shift: int = 0,
        fill: float | None = None,
        flip: bool = False,
    ) -> None:
        try:
            height, width = (int(d) for d in image_shape)
        except (TypeError, ValueError):
            raise DataError(
                f"Augmentation needs image_shape=(height, width), got {image_shape!r}"
            ) from None
        if height < 1 or width < 1:
            raise DataError(f"image_shape must be positive, got {image_shape!r}")
        if not (isinstance(rotation, numbers.Real) and math.isfinite(rotation)) or not (
            0 <= rotation <= 180
        ):
            raise DataError(f"rotation must be between 0 and 180 degrees, got {rotation!r}")
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
            raise DataError(f"shift must be a whole number of pixels >= 0, got {shift!r}")
        if shift >= max(height, width):
            raise DataError(f"shift={shift} is not smaller than the image {height}x{width}")
        self.image_shape = (height, width)
        self.rotation = float(rotation)
        self.shift = int(shift)
        self.flip = bool(flip)
        self.fill = None if fill is None else float(fill)
        rows, cols = np.indices(self.image_shape, dtype=np.float32)
        # Output pixel coordinates relative to the image centre, flattened.
        self._centre = np.float32((height - 1) / 2), np.float32((width - 1) / 2)
        self._rows = (rows.ravel() - self._centre[0])[None, :]
        self._cols = (cols.ravel() - self._centre[1])[None, :]

    def __repr__(self) -> str:
        fill = "" if self.fill is None else f", fill={self.fill}"
        flip = ", flip=True" if self.flip else ""
        return (
            f"Augmentation(image_shape={self.image_shape}, rotation={self.rotation:g}, "
            f"shift={self.shift}{fill}{flip})"
        )

    @property
    def enabled(self) -> bool:
        """False when the augmentation is the identity (no rotation, shift or flip)."""
        return self.rotation > 0 or self.shift > 0 or self.flip

    def __call__(self, X_batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a new float32 array: each row of ``X_batch`` is a flattened image, transformed."""
        X = np.asarray(X_batch)
        height, width = self.image_shape
        if X.ndim != 2 or X.shape[1] != height * width:
            raise DataError(
                f"Augmentation for {height}x{width} images needs a batch of shape "
                f"(n, {height * width}), got {X.shape}"
            )
        n = len(X)
        angles = (
            rng.uniform(-self.rotation, self.rotation, size=n) if self.rotation else np.zeros(n)
        )
        shifts = (
            rng.integers(-self.shift, self.shift, size=(2, n), endpoint=True)
            if self.shift
            else np.zeros((2, n), dtype=np.int64)
        )
        # Drawn last, so a spec that turns flip on keeps the angles and shifts it had.
        mirrored = rng.random(n) < 0.5 if self.flip else np.zeros(n, dtype=bool)
        X = X.astype(np.float32, copy=False)
        out = np.empty((n, height * width), dtype=np.float32)
        for start in range(0, n, _CHUNK_ROWS):
            rows = slice(start, start + _CHUNK_ROWS)
            out[rows] = self._transform(
                X[rows], angles[rows], shifts[0, rows], shifts[1, rows], mirrored[rows]
            )
        return out

    def _padded(self, X: np.ndarray) -> np.ndarray:
        """The images with a one-pixel border (edge copies or ``fill``), flattened per image.

        Clamping source positions into the padded frame makes every neighbour a
        valid index: far-away positions read the border, i.e. the fill or the edge.
        """
        height, width = self.image_shape
        images = X.reshape(len(X), height, width)
        if self.fill is None:
            padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
        else:
            padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), constant_values=self.fill)
        return padded.reshape(-1)

    def _transform(
        self,
        X: np.ndarray,
        degrees: np.ndarray,
        dy: np.ndarray,
        dx: np.ndarray,
        mirrored: np.ndarray,
    ) -> np.ndarray:
        height, width = self.image_shape
        stride = width + 2
        source = self._padded(X)
        first = (np.arange(len(X), dtype=np.int64) * ((height + 2) * stride))[:, None]
        # 1. inverse map: the output pixel p came from R(-angle) (p - shift) about the centre,
        #    in the padded frame (+1), clamped to it
        r = self._rows - dy.astype(np.float32)[:, None]
        c = self._cols - dx.astype(np.float32)[:, None]
        if mirrored.any():  # a mirrored image reads column -c about the centre
            c[mirrored] *= -1
        if not self.rotation:  # whole-pixel shifts: one gather, no interpolation
            src_r = np.clip(r + (self._centre[0] + 1), 0, height + 1).astype(np.int64)
            src_c = np.clip(c + (self._centre[1] + 1), 0, width + 1).astype(np.int64)
            return source[first + src_r * stride + src_c]
        theta = np.deg2rad(degrees).astype(np.float32)[:, None]
        cos, sin = np.cos(theta), np.sin(theta)
        src_r = cos * r - sin * c
        src_r += self._centre[0] + 1
        src_c = sin * r + cos * c
        src_c += self._centre[1] + 1
        np.clip(src_r, 0, height + 1, out=src_r)
        np.clip(src_c, 0, width + 1, out=src_c)
        # 2. top-left neighbour (kept one short of the last row/column) and bilinear weights
        r0 = np.minimum(np.floor(src_r), height).astype(np.int64)
        c0 = np.minimum(np.floor(src_c), width).astype(np.int64)
        src_r -= r0
        src_c -= c0
        # 3. gather the four neighbours of every pixel of every image at once, then blend
        index = first + r0 * stride + c0
        top_left, top_right = source[index], source[index + 1]
        index += stride
        bottom_left, bottom_right = source[index], source[index + 1]
        top_right -= top_left
        top_right *= src_c
        top_left += top_right
        bottom_right -= bottom_left
        bottom_right *= src_c
        bottom_left += bottom_right
        bottom_left -= top_left
        bottom_left *= src_r
        top_left += bottom_left
        return top_left
