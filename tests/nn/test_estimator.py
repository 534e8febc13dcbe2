"""``NeuralNetClassifier`` behaves as a scikit-learn classifier over ``Network`` + ``train``."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from hpsearch.nn.estimator import NeuralNetClassifier
from hpsearch.nn.history import History
from hpsearch.nn.network import Network


@cache
def _digits() -> tuple[Any, Any, Any, Any]:
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


@parametrize_with_checks([NeuralNetClassifier(max_epochs=20, random_state=0)])
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    """Every scikit-learn estimator check passes, with none marked as an expected failure."""
    check(estimator)


def test_fit_returns_self_with_learned_state() -> None:
    """``fit`` returns the estimator; learned state ends in ``_``, labels come back decoded."""
    X, y = _digits()[0][:200], _digits()[2][:200]
    labels = np.array([f"digit-{d}" for d in y])
    model = NeuralNetClassifier(max_epochs=3, random_state=0)
    assert model.fit(X, labels) is model
    assert list(model.classes_) == sorted(set(labels))
    assert model.n_features_in_ == 64
    assert isinstance(model.network_, Network)
    assert model.network_.sizes == [64, 30, 10]
    assert isinstance(model.history_, History) and model.history_.epochs_run == 3
    assert model.best_validation_score_ is None
    assert set(model.predict(X)) <= set(labels)


def test_reaches_90_percent_on_digits() -> None:
    """The default network reaches >= 0.9 accuracy on the held-out quarter of digits."""
    X_train, X_test, y_train, y_test = _digits()
    model = NeuralNetClassifier(max_epochs=15, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.9


def test_pipeline_with_standard_scaler() -> None:
    """It works as the last step of a Pipeline after StandardScaler."""
    X_train, X_test, y_train, y_test = _digits()
    pipeline = make_pipeline(
        StandardScaler(), NeuralNetClassifier(learning_rate=0.1, max_epochs=10, random_state=0)
    )
    pipeline.fit(X_train * 16.0, y_train)
    assert pipeline.score(X_test * 16.0, y_test) >= 0.9


def test_grid_search_cv() -> None:
    """GridSearchCV clones, sets parameters, cross-validates and refits it."""
    X_train, X_test, y_train, y_test = _digits()
    X_small, y_small = X_train[:400], y_train[:400]
    search = GridSearchCV(
        NeuralNetClassifier(max_epochs=5, random_state=0),
        {"learning_rate": [0.5, 1e-4], "hidden_layer_sizes": [(10,), (20,)]},
        cv=2,
    )
    search.fit(X_small, y_small)
    assert search.best_params_["learning_rate"] == 0.5  # 1e-4 barely moves in 5 epochs
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.network_.sizes[1] == search.best_params_["hidden_layer_sizes"][0]
    assert search.score(X_test, y_test) >= 0.8


def test_patience_sets_best_validation_score() -> None:
    """With ``patience`` a validation split is held out and its best accuracy recorded."""
    X_train, _, y_train, _ = _digits()
    model = NeuralNetClassifier(
        max_epochs=30, patience=2, validation_fraction=0.2, random_state=0
    ).fit(X_train, y_train)
    history = model.history_
    assert model.best_validation_score_ == history.best_validation_accuracy
    assert 0.8 <= model.best_validation_score_ <= 1.0
    assert model.best_validation_score_ == max(history.validation_accuracy)
    assert history.epochs_run < 30  # patience 2 stops well before 30 epochs on digits


def test_schedule_also_holds_out_validation() -> None:
    """``schedule`` alone also holds out a validation split."""
    X_train, _, y_train, _ = _digits()
    model = NeuralNetClassifier(max_epochs=2, schedule="halve_on_plateau", random_state=0)
    model.fit(X_train[:300], y_train[:300])
    assert model.best_validation_score_ is not None


def test_same_random_state_same_model() -> None:
    """The same ``random_state`` gives the same weights and predictions (split included)."""
    X_train, X_test, y_train, _ = _digits()
    X, y = X_train[:300], y_train[:300]

    def fit(seed: int) -> NeuralNetClassifier:
        model = NeuralNetClassifier(max_epochs=3, patience=2, dropout=0.2, random_state=seed)
        return model.fit(X, y)

    first, second, other = fit(7), fit(7), fit(8)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    assert first.history_.train_loss == second.history_.train_loss
    assert first.best_validation_score_ == second.best_validation_score_
    assert not np.array_equal(first.network_.weights[0], other.network_.weights[0])


def test_validation_split_without_stratification() -> None:
    """A class with a single sample cannot be stratified: the split falls back to a plain one."""
    X_train, _, y_train, _ = _digits()
    X = np.vstack([X_train[:60], X_train[:1]])
    y = np.concatenate([y_train[:60] % 2, [2]])  # class 2 has one sample
    model = NeuralNetClassifier(max_epochs=2, patience=1, random_state=0).fit(X, y)
    assert list(model.classes_) == [0, 1, 2]
    assert model.best_validation_score_ is not None


def test_divergence_warns() -> None:
    """A run whose loss becomes non-finite warns with a ConvergenceWarning naming the cause."""
    X = np.random.default_rng(0).normal(size=(100, 5)) * 100
    y = (X[:, 0] > 0).astype(int)
    model = NeuralNetClassifier(
        activation="relu", learning_rate=1e6, optimizer="momentum", max_epochs=5, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.fit(X, y)


@pytest.mark.parametrize("loss", ["log_likelihood", "cross_entropy", "quadratic"])
def test_predict_proba_rows_sum_to_one(loss: str) -> None:
    """``predict_proba`` rows are probabilities summing to 1 for every loss; argmax is predict."""
    X_train, X_test, y_train, _ = _digits()
    model = NeuralNetClassifier(loss=loss, max_epochs=2, random_state=0)
    model.fit(X_train[:300], y_train[:300])
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X_test))


def test_single_class_is_rejected() -> None:
    """A target with one class fails with a ValueError that says so."""
    with pytest.raises(ValueError, match=r"at least 2 classes.*one class"):
        NeuralNetClassifier().fit(np.ones((5, 2)), ["a"] * 5)


def test_regression_target_is_rejected() -> None:
    """A continuous target fails with scikit-learn's ValueError."""
    with pytest.raises(ValueError, match="Unknown label type"):
        NeuralNetClassifier().fit(np.ones((5, 2)), [0.5, 1.5, 2.25, 0.1, 3.3])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"activation": "softplus"}, "'activation' parameter"),
        ({"optimizer": "lbfgs"}, "'optimizer' parameter"),
        ({"learning_rate": 0}, "'learning_rate' parameter"),
        ({"dropout": 1.0}, "'dropout' parameter"),
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes must be positive"),
        ({"l1": 0.1, "l2": 0.1}, "either l2 or l1"),
    ],
)
def test_bad_parameters_fail_in_fit(params: dict[str, Any], match: str) -> None:
    """The constructor stores anything; ``fit`` rejects bad values naming the parameter."""
    model = NeuralNetClassifier(**params)
    assert model.get_params()[next(iter(params))] == params[next(iter(params))]
    with pytest.raises(ValueError, match=match):
        model.fit(np.eye(4), [0, 1, 0, 1])


def test_empty_hidden_layers_fit_a_linear_model() -> None:
    """``hidden_layer_sizes=()`` is a softmax regression: input wired straight to output."""
    X_train, X_test, y_train, y_test = _digits()
    model = NeuralNetClassifier(hidden_layer_sizes=(), max_epochs=5, random_state=0)
    model.fit(X_train, y_train)
    assert model.network_.sizes == [64, 10]
    assert model.score(X_test, y_test) >= 0.85
