"""split(): stratified, seeded, disjoint, test-free, with clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpsearch.data import Dataset, Split, k_folds, load, split
from hpsearch.data.partition import allocate
from hpsearch.errors import DataError


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load("digits")


def test_split_has_no_test_set(digits: Dataset) -> None:
    """Rule: a Split carries training and validation data only, never the test set."""
    fields = {f.name for f in dataclasses.fields(Split)}
    assert not any("test" in name for name in fields)
    part = split(digits, validation=100, seed=0)
    assert part.image_shape == (8, 8) and part.n_classes == 10


def test_validation_and_subset_are_disjoint_rows_of_the_training_set(digits: Dataset) -> None:
    """Rule: validation and training subset are disjoint rows of dataset.X_train, with the
    requested sizes (counts or fractions)."""
    part = split(digits, validation=0.2, subset=500, seed=3)
    n = len(digits.y_train)
    assert len(part.y_validation) == round(0.2 * n) and len(part.y_train) == 500
    assert not set(part.train_indices) & set(part.validation_indices)
    np.testing.assert_array_equal(part.X_train, digits.X_train[part.train_indices])
    np.testing.assert_array_equal(part.y_validation, digits.y_train[part.validation_indices])


def test_default_subset_is_everything_not_in_validation(digits: Dataset) -> None:
    """Rule: subset=None trains on every training example outside the validation set."""
    part = split(digits, validation=300, seed=0)
    both = np.sort(np.concatenate([part.train_indices, part.validation_indices]))
    np.testing.assert_array_equal(both, np.arange(len(digits.y_train)))


def test_split_is_stratified(digits: Dataset) -> None:
    """Rule: each class's count in validation and in the subset is its share of the training
    set, within one example."""
    part = split(digits, validation=250, subset=400, seed=1)
    share = np.bincount(digits.y_train) / len(digits.y_train)
    assert np.all(np.abs(np.bincount(part.y_validation, minlength=10) - 250 * share) <= 1)
    assert np.all(np.abs(np.bincount(part.y_train, minlength=10) - 400 * share) <= 1)


def test_split_is_deterministic_for_a_seed(digits: Dataset) -> None:
    """Rule: the same seed gives the same split; another seed a different one."""
    a = split(digits, validation=200, subset=300, seed=7)
    b = split(digits, validation=200, subset=300, seed=7)
    c = split(digits, validation=200, subset=300, seed=8)
    np.testing.assert_array_equal(a.train_indices, b.train_indices)
    np.testing.assert_array_equal(a.validation_indices, b.validation_indices)
    assert not np.array_equal(a.train_indices, c.train_indices)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"validation": 5000}, r"validation=5000 is larger than the training set \(1438"),
        ({"validation": 400, "subset": 1100}, r"validation \(400\) \+ subset \(1100\) = 1500"),
        ({"validation": 5}, r"validation=5 examples is fewer than the 10 classes"),
        ({"validation": 100, "subset": 3}, r"subset=3 examples is fewer than the 10 classes"),
        ({"validation": 1.5}, r"a fraction must be between 0 and 1"),
        ({"validation": 0}, r"validation=0: a count must be at least 1"),
        ({"validation": True}, r"expected an int \(a count\) or a float"),
        ({"validation": "10%"}, r"expected an int \(a count\) or a float"),
        ({"validation": 1435}, r"leaves 3 of 1438 for subset"),
    ],
)
def test_bad_sizes_are_clear_errors(digits: Dataset, kwargs: dict, message: str) -> None:
    """Rule: sizes larger than the data, below one per class, or of the wrong type are
    errors naming the value and the limit."""
    with pytest.raises(DataError, match=message):
        split(digits, seed=0, **kwargs)


def test_class_with_too_few_examples_is_named(digits: Dataset) -> None:
    """Rule: a class with fewer than 2 training examples cannot be stratified: the error
    names the class."""
    keep = (digits.y_train != 4) | (np.cumsum(digits.y_train == 4) == 1)
    thin = dataclasses.replace(digits, X_train=digits.X_train[keep], y_train=digits.y_train[keep])
    with pytest.raises(DataError, match=r"class 4 \('4'\) has 1; a stratified split needs"):
        split(thin, validation=50, seed=0)


def test_seed_must_be_an_int(digits: Dataset) -> None:
    """Rule: the seed is an int (a Generator would make the split irreproducible)."""
    with pytest.raises(DataError, match=r"seed=.* expected an int"):
        split(digits, validation=100, seed=np.random.default_rng(0))  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(2, 50), min_size=1, max_size=8),
    data=st.data(),
)
def test_allocate_respects_total_caps_and_minimum(counts: list[int], data) -> None:
    """Rule: allocate hands out exactly `total`, at least 1 and at most the cap per class."""
    caps = np.array(counts) - 1
    total = data.draw(st.integers(len(counts), int(caps.sum())))
    result = allocate(total, np.array(counts, float), caps)
    assert result.sum() == total
    assert np.all(result >= 1) and np.all(result <= caps)


@pytest.mark.parametrize(("folds", "subset"), [(5, None), (3, 600), (4, 0.5)])
def test_k_folds_partition_the_rows_stratified(digits: Dataset, folds: int, subset) -> None:
    """Rule: the folds' validation sets are disjoint and cover the cross-validated rows
    (all, or a stratified subset); each fold's training set is exactly the other folds;
    fold sizes and each class's count per fold differ by at most one."""
    cv = k_folds(digits, folds=folds, subset=subset, seed=3)
    n = len(digits.y_train) if subset is None else (subset if isinstance(subset, int) else 719)
    assert len(cv) == folds and len(cv.rows) == n == len(set(cv.rows))
    held_out = [cv[i].validation_indices for i in range(folds)]
    assert sorted(np.concatenate(held_out)) == sorted(cv.rows)
    for i, part in enumerate(cv):
        assert sorted(part.train_indices) == sorted(
            np.concatenate(held_out[:i] + held_out[i + 1 :])
        )
        np.testing.assert_array_equal(part.X_validation, digits.X_train[part.validation_indices])
    sizes = [len(v) for v in held_out]
    assert max(sizes) - min(sizes) <= 1
    per_class = np.array([np.bincount(digits.y_train[v], minlength=10) for v in held_out])
    assert (per_class.max(axis=0) - per_class.min(axis=0)).max() <= 1


def test_k_folds_are_seeded(digits: Dataset) -> None:
    """Rule: the same seed gives the same folds; another seed, other folds."""
    a, b, c = (k_folds(digits, folds=5, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.fold_of_row, b.fold_of_row)
    assert not np.array_equal(a[0].validation_indices, c[0].validation_indices)


def test_k_folds_clear_errors(digits: Dataset) -> None:
    """Rule: too few folds, or fewer examples of a class than folds, is a DataError that
    says what would be valid."""
    with pytest.raises(DataError, match="folds=1: expected an int >= 2"):
        k_folds(digits, folds=1, seed=0)
    with pytest.raises(DataError, match=r"too few examples for 8 folds: class 0 .* has 7"):
        k_folds(digits, folds=8, subset=70, seed=0)
