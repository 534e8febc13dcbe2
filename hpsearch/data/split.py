"""Stratified, seeded splits of a training set into a training subset and a validation set.

A search only ever sees a ``Split``: it has no test arrays, so the test set of a
``Dataset`` cannot leak into model selection.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hpsearch.data.partition import class_label, resolve_size, stratified_partition
from hpsearch.errors import DataError

if TYPE_CHECKING:
    from hpsearch.data.dataset import Dataset


@dataclass(frozen=True, eq=False)
class Split:
    """The data of one search: a training subset and a disjoint validation set.

    ``train_indices`` and ``validation_indices`` are rows of the dataset's
    ``X_train``, so a split can be recorded and reproduced.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_validation: np.ndarray
    y_validation: np.ndarray
    image_shape: tuple[int, int] | None
    n_classes: int
    class_names: tuple[str, ...]
    train_indices: np.ndarray
    validation_indices: np.ndarray


def split(
    dataset: Dataset,
    *,
    validation: int | float,
    subset: int | float | None = None,
    seed: int,
) -> Split:
    """Carve a stratified validation set and a disjoint training subset out of ``dataset.X_train``.

    ``validation`` and ``subset`` are counts (int) or fractions of the training
    set (float in (0, 1)); ``subset=None`` trains on everything not in the
    validation set. The same ``seed`` gives the same split. The test set is not used.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DataError(f"seed={seed!r}: expected an int")
    n = len(dataset.y_train)
    n_validation = resolve_size(validation, n, "validation")
    n_subset = None if subset is None else resolve_size(subset, n, "subset")
    rng = np.random.default_rng(int(seed))
    validation_indices, train_indices = stratified_partition(
        dataset.y_train,
        n_validation,
        n_subset,
        rng,
        n_classes=dataset.n_classes,
        class_names=dataset.class_names,
    )
    return _split_of(dataset, train_indices, validation_indices)


def _split_of(dataset: Dataset, train_indices: np.ndarray, validation_indices: np.ndarray) -> Split:
    """The ``Split`` of ``dataset``'s training rows into these training and validation rows."""
    return Split(
        X_train=dataset.X_train[train_indices],
        y_train=dataset.y_train[train_indices],
        X_validation=dataset.X_train[validation_indices],
        y_validation=dataset.y_train[validation_indices],
        image_shape=dataset.image_shape,
        n_classes=dataset.n_classes,
        class_names=dataset.class_names,
        train_indices=train_indices,
        validation_indices=validation_indices,
    )


@dataclass(frozen=True, eq=False)
class Folds(Sequence[Split]):
    """Stratified k-fold cross-validation over a training set: ``folds[i]`` is the ``Split``
    whose validation set is fold ``i`` and whose training set is every other fold.

    The folds are disjoint and together cover the chosen rows (all of ``X_train``, or a
    stratified ``subset``); each holds every class in proportion, within one example.
    A fold's arrays are gathered when it is asked for, so k folds never hold k copies.
    """

    dataset: Dataset
    rows: np.ndarray  # the training-set rows cross-validated (shuffled)
    fold_of_row: np.ndarray  # fold index of each entry of ``rows``

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return self.dataset.image_shape

    def __len__(self) -> int:
        return int(self.fold_of_row.max()) + 1

    def __getitem__(self, fold: int) -> Split:  # type: ignore[override]
        if not 0 <= fold < len(self):
            raise IndexError(f"fold {fold} of {len(self)}")
        held_out = self.fold_of_row == fold
        return _split_of(self.dataset, self.rows[~held_out], self.rows[held_out])


def k_folds(dataset: Dataset, *, folds: int, subset: int | float | None = None, seed: int) -> Folds:
    """Deal the training set (or a stratified ``subset`` of it) into ``folds`` stratified folds.

    Each class is shuffled and dealt round-robin, continuing where the previous class
    stopped, so fold sizes differ by at most one. The same ``seed`` gives the same folds.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DataError(f"seed={seed!r}: expected an int")
    if isinstance(folds, bool) or not isinstance(folds, numbers.Integral) or folds < 2:
        raise DataError(f"folds={folds!r}: expected an int >= 2")
    y = dataset.y_train
    rng = np.random.default_rng(int(seed))
    rows = np.arange(len(y))
    if subset is not None:
        n_subset = resolve_size(subset, len(y), "subset")
        if n_subset < len(y):
            rows, _ = stratified_partition(
                y,
                n_subset,
                None,
                rng,
                n_classes=dataset.n_classes,
                class_names=dataset.class_names,
                names=("subset", "the rest"),
            )
    counts = np.bincount(y[rows], minlength=dataset.n_classes)
    scarce = np.flatnonzero(counts < folds)
    if scarce.size:
        listed = ", ".join(
            f"{class_label(int(c), dataset.class_names)} has {counts[c]}" for c in scarce[:5]
        )
        raise DataError(
            f"too few examples for {folds} folds: {listed}; every class needs at least one "
            f"example per fold (use fewer folds, or a larger subset)"
        )
    dealt, fold_of_row = [], []
    start = 0
    for c in range(dataset.n_classes):
        members = rng.permutation(rows[y[rows] == c])
        dealt.append(members)
        fold_of_row.append((start + np.arange(len(members))) % folds)
        start += len(members)
    order = rng.permutation(len(rows))
    return Folds(dataset, np.concatenate(dealt)[order], np.concatenate(fold_of_row)[order])
