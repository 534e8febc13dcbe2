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


def resolve_size(value: object, n: int, what: str) -> int:
    """Turn ``value`` (an int count or a float fraction of ``n``) into a count in 1..n."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(
            f"{what}={value!r}: expected an int (a count) or a float in (0, 1) "
            "(a fraction of the training set)"
        )
    if isinstance(value, numbers.Integral):
        count = int(value)
        if count < 1:
            raise DataError(f"{what}={count}: a count must be at least 1")
        if count > n:
            raise DataError(f"{what}={count} is larger than the training set ({n} examples)")
        return count
    fraction = float(value)
    if not 0.0 < fraction < 1.0:
        raise DataError(
            f"{what}={value!r}: a fraction must be between 0 and 1 (exclusive); "
            "use an int for a count"
        )
    return max(1, round(fraction * n))


def allocate(total: int, weights: np.ndarray, caps: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``weights``, each within [minimum, cap].

    Largest-remainder rounding, ties to the lower class index; the caller has
    checked that ``minimum * len(weights) <= total <= caps.sum()``.
    """
    if not minimum * len(weights) <= total <= int(caps.sum()) or np.any(caps < minimum):
        raise ValueError(f"cannot allocate {total} within caps {caps} (minimum {minimum})")
    quota = total * weights / weights.sum()
    counts = np.clip(np.floor(quota).astype(np.int64), minimum, caps)
    behind = quota - counts  # > 0: the class got less than its share
    while (diff := total - int(counts.sum())) != 0:
        if diff > 0:
            i = int(np.argmax(np.where(counts < caps, behind, -np.inf)))
            counts[i] += 1
            behind[i] -= 1
        else:
            i = int(np.argmin(np.where(counts > minimum, behind, np.inf)))
            counts[i] -= 1
            behind[i] += 1
    return counts


def _class_label(c: int, class_names: Sequence[str]) -> str:
    return f"class {c} ({class_names[c]!r})" if c < len(class_names) else f"class {c}"


def stratified_partition(
    y: np.ndarray,
    n_first: int | None,
    n_second: int | None,
    rng: np.random.Generator,
    *,
    n_classes: int,
    class_names: Sequence[str] = (),
    names: tuple[str, str] = ("validation", "subset"),
) -> tuple[np.ndarray, np.ndarray]:
    """Draw two disjoint, stratified index sets of sizes ``n_first`` and ``n_second`` from ``y``.

    ``n_second=None`` takes every example not in the first set. Each class gets
    at least one example in each set, in proportion to its frequency in ``y``.
    """
    n = len(y)
    first_name, second_name = names
    counts = np.bincount(y, minlength=n_classes).astype(np.int64)
    # 1. every class must be able to give one example to each set
    scarce = np.flatnonzero(counts < 2)
    if scarce.size:
        listed = ", ".join(
            f"{_class_label(int(c), class_names)} has {counts[c]}" for c in scarce[:5]
        )
        more = f" and {scarce.size - 5} more" if scarce.size > 5 else ""
        raise DataError(
            f"too few examples in the training set: {listed}{more}; a stratified split needs "
            f"at least 2 of each class (one for {first_name}, one for {second_name})"
        )
    n_first = int(n_first) if n_first is not None else n
    if n_first < n_classes:
        raise DataError(
            f"{first_name}={n_first} examples is fewer than the {n_classes} classes; "
            "a stratified split needs at least one example of each class"
        )
    if n_first > n - n_classes:
        raise DataError(
            f"{first_name}={n_first} examples leaves {n - n_first} of {n} for {second_name}, "
            f"fewer than the {n_classes} classes; use at most {n - n_classes}"
        )
    if n_second is not None:
        if n_second < n_classes:
            raise DataError(
                f"{second_name}={n_second} examples is fewer than the {n_classes} classes; "
                "a stratified split needs at least one example of each class"
            )
        if n_first + n_second > n:
            raise DataError(
                f"{first_name} ({n_first}) + {second_name} ({n_second}) = "
                f"{n_first + n_second} examples, more than the {n} in the training set"
            )
    # 2. how many of each class go to each set
    first_counts = allocate(n_first, counts.astype(float), counts - 1)
    rest = counts - first_counts
    second_counts = rest if n_second is None else allocate(n_second, counts.astype(float), rest)
    # 3. shuffle each class, take from its front, then shuffle each set as a whole
    order = np.argsort(y, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    firsts, seconds = [], []
    for c in range(n_classes):
        members = rng.permutation(order[starts[c] : starts[c + 1]])
        firsts.append(members[: first_counts[c]])
        seconds.append(members[first_counts[c] : first_counts[c] + second_counts[c]])
    return rng.permutation(np.concatenate(firsts)), rng.permutation(np.concatenate(seconds))


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
            f"{_class_label(int(c), dataset.class_names)} has {counts[c]}" for c in scarce[:5]
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
