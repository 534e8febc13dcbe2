"""The claims of the book's ch. 3, checked on scikit-learn's digits."""

from __future__ import annotations

import numpy as np

from hpsearch.nn import Network, train


def _fit(digits, network, n_train=None, **kwargs):
    n = n_train or len(digits["X_train"])
    options = {"epochs": 1, "batch_size": 10, "eta": 0.5, "seed": 0, **kwargs}
    history = train(
        network,
        (digits["X_train"][:n], digits["y_train"][:n]),
        (digits["X_val"], digits["y_val"]),
        **options,
    )
    return history


def test_cross_entropy_learns_faster_than_quadratic_from_a_saturated_start(digits) -> None:
    """Rule (ch. 3, 'the cross-entropy cost'): with sigmoid outputs saturated by a large
    start, cross-entropy's delta a - y has no sigma'(z) factor, so it learns faster."""
    accuracies = {}
    for loss in ("quadratic", "cross_entropy"):
        network = Network([64, 30, 10], loss=loss, init="large", seed=0)
        for w in network.weights:
            w *= 3.0  # drive the output neurons deep into saturation
        history = _fit(digits, network, epochs=2)
        accuracies[loss] = history.validation_accuracy[-1]
    assert accuracies["cross_entropy"] > accuracies["quadratic"] + 0.2, accuracies


def test_scaled_init_is_ahead_of_large_init_after_one_epoch(digits) -> None:
    """Rule (ch. 3, 'weight initialization'): N(0, 1/n_in) weights beat N(0, 1) after 1 epoch.

    The inputs are standardized, so with N(0, 1) weights each hidden z has a standard
    deviation of about sqrt(64) = 8: the saturation the book describes for MNIST.
    """
    mean, std = digits["X_train"].mean(axis=0), digits["X_train"].std(axis=0) + 1e-3
    standardized = {
        **digits,
        "X_train": (digits["X_train"] - mean) / std,
        "X_val": (digits["X_val"] - mean) / std,
    }
    accuracy = {}
    for init in ("large", "scaled"):
        results = [
            _fit(
                standardized, Network([64, 100, 10], init=init, seed=s), eta=0.1
            ).validation_accuracy[0]
            for s in range(3)
        ]
        accuracy[init] = float(np.mean(results))
    assert accuracy["scaled"] > accuracy["large"] + 0.05, accuracy


def test_dropout_and_l2_narrow_the_overfitting_gap(digits) -> None:
    """Rule (ch. 3, 'overfitting and regularization'): a big network on 150 examples
    overfits; L2 and dropout each shrink the gap between training and validation
    accuracy (mean over three seeds)."""

    def gap(dropout: float = 0.0, l2: float = 0.0) -> float:
        gaps = []
        for seed in range(3):
            network = Network([64, 300, 300, 10], loss="log_likelihood", dropout=dropout, seed=seed)
            history = _fit(digits, network, n_train=150, epochs=40, l2=l2, seed=seed)
            gaps.append(history.train_accuracy[-1] - history.validation_accuracy[-1])
        return float(np.mean(gaps))

    plain, with_l2, with_dropout = gap(), gap(l2=5.0), gap(dropout=0.5)
    assert with_l2 < plain - 0.02 and with_dropout < plain - 0.02, (plain, with_l2, with_dropout)


def test_64_30_10_reaches_95_percent_test_accuracy(digits) -> None:
    """Rule: the book's setup ([64, 30, 10], sigmoid, cross-entropy, eta 0.5, mini-batch 10)
    with early stopping reaches >= 95% accuracy on held-out digits."""
    network = Network([64, 30, 10], loss="cross_entropy", seed=0)
    _fit(digits, network, epochs=60, patience=10)
    _, accuracy = network.evaluate(digits["X_test"], digits["y_test"])
    assert accuracy >= 0.95, accuracy
