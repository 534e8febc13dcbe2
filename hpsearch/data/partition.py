"""Seeded, stratified partitions of labelled rows: how many go where, and which.

The arithmetic under every split of hpsearch (test carving, validation, folds), kept
apart from ``Dataset`` and ``Split`` so both can use it.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from hpsearch.errors import DataError


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


def class_label(c: int, class_names: Sequence[str]) -> str:
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
            f"{class_label(int(c), class_names)} has {counts[c]}" for c in scarce[:5]
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
