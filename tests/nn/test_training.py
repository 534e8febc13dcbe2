"""The training loop: early stopping, schedule, callbacks, divergence, determinism, persistence."""

from __future__ import annotations

import itertools
from typing import ClassVar

import numpy as np
import pytest

from hpsearch.errors import ConfigError
from hpsearch.nn import Network, StopReason, train


def test_early_stopping_stops_after_patience_and_restores_best(digits) -> None:
    """Rule: with patience p, training stops p epochs after the best validation accuracy
    and the network returned is the best epoch's (its accuracy equals the best)."""
    network = Network([64, 30, 10], loss="log_likelihood", seed=0)
    history = train(
        network,
        (digits["X_train"], digits["y_train"]),
        (digits["X_val"], digits["y_val"]),
        epochs=200,
        batch_size=10,
        eta=0.5,
        patience=3,
        seed=0,
    )
    assert history.stop_reason == StopReason.EARLY_STOP
    assert history.epochs_run == history.best_epoch + 3
    accuracies = history.validation_accuracy
    assert max(accuracies) == history.best_validation_accuracy
    assert accuracies.index(max(accuracies)) + 1 == history.best_epoch  # first best kept
    assert all(a <= history.best_validation_accuracy for a in accuracies[history.best_epoch :])
    _, accuracy = network.evaluate(digits["X_val"], digits["y_val"])
    assert accuracy == history.best_validation_accuracy


def test_callback_receives_metrics_and_can_stop(digits) -> None:
    """Rule: callback(epoch, metrics) runs after every epoch; a truthy return stops training."""
    seen = []

    def callback(epoch, metrics):
        seen.append((epoch, metrics["validation_accuracy"]))
        return epoch == 3

    history = train(
        Network([64, 10, 10], seed=0),
        (digits["X_train"], digits["y_train"]),
        (digits["X_val"], digits["y_val"]),
        epochs=10,
        batch_size=20,
        eta=1.0,
        callback=callback,
        seed=0,
    )
    assert [e for e, _ in seen] == [1, 2, 3]
    assert history.stop_reason == StopReason.CALLBACK
    assert [a for _, a in seen] == history.validation_accuracy


def test_halve_on_plateau_schedule(digits) -> None:
    """Rule: eta halves after each `patience` epochs without a new best, and training
    stops once eta < eta0 / 1024."""
    history = train(
        Network([64, 10, 10], seed=0),
        (digits["X_train"][:200], digits["y_train"][:200]),
        (digits["X_val"], digits["y_val"]),
        epochs=500,
        batch_size=50,
        eta=0.4,
        patience=1,
        schedule="halve_on_plateau",
        seed=0,
    )
    assert history.stop_reason == StopReason.SCHEDULE_END
    etas = history.eta
    assert etas[0] == 0.4
    for before, after in itertools.pairwise(etas):
        assert after in (before, before / 2)
    # every halving follows an epoch that did not set a new best
    best_so_far = -1.0
    for record, next_eta in zip(history.records, etas[1:], strict=False):
        improved = record.validation_accuracy > best_so_far
        best_so_far = max(best_so_far, record.validation_accuracy)
        if next_eta < record.eta:
            assert not improved
    assert etas[-1] / 2 < 0.4 / 1024 <= etas[-1]


def test_divergence_stops_with_reason_instead_of_garbage() -> None:
    """Rule: a NaN/inf loss ends training with stop reason 'diverged', no exception."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 5)).astype(np.float32) * 100
    y = rng.integers(0, 3, 100)
    network = Network([5, 20, 3], activation="relu", loss="log_likelihood", init="large", seed=0)
    history = train(network, (X, y), epochs=50, batch_size=10, eta=1e30, seed=0)
    assert history.stop_reason == StopReason.DIVERGED
    assert history.epochs_run < 50


def test_same_seed_gives_bit_identical_weights_and_history(digits) -> None:
    """Rule: the same seeds give bit-identical weights and metrics (dropout included)."""

    def run():
        network = Network([64, 30, 10], dropout=0.2, seed=5)
        history = train(
            network,
            (digits["X_train"], digits["y_train"]),
            (digits["X_val"], digits["y_val"]),
            epochs=3,
            batch_size=10,
            eta=0.5,
            optimizer="momentum",
            l2=1.0,
            seed=7,
        )
        records = [{k: v for k, v in vars(r).items() if k != "seconds"} for r in history.records]
        return network, records

    (net_a, hist_a), (net_b, hist_b) = run(), run()
    assert hist_a == hist_b
    for a, b in zip(net_a.weights + net_a.biases, net_b.weights + net_b.biases, strict=True):
        assert np.array_equal(a, b)


def test_history_records_gradient_norms_per_layer(digits) -> None:
    """Rule: each epoch records one gradient norm per layer; with a saturated sigmoid
    start the first layer's gradient is smaller than the last's (vanishing gradient)."""
    network = Network([64, 30, 30, 30, 10], init="large", seed=0)
    history = train(
        network, (digits["X_train"], digits["y_train"]), epochs=1, batch_size=10, eta=0.1, seed=0
    )
    norms = history.gradient_norms[0]
    assert len(norms) == 4 and all(n > 0 for n in norms)
    assert norms[0] < norms[-1]


def test_history_round_trips_through_dict(digits) -> None:
    """Rule: History.to_dict() is what is stored; from_dict gives the same history."""
    from hpsearch.nn import History

    history = train(
        Network([64, 10, 10], seed=0),
        (digits["X_train"], digits["y_train"]),
        (digits["X_val"], digits["y_val"]),
        epochs=2,
        batch_size=50,
        eta=0.5,
        seed=0,
    )
    assert History.from_dict(history.to_dict()) == history


def test_save_and_load_predict_identically(tmp_path, digits) -> None:
    """Rule: a saved and loaded network has the same configuration and the same outputs."""
    network = Network(
        [64, 20, 10], activation="tanh", loss="log_likelihood", init="glorot", dropout=0.1, seed=3
    )
    train(network, (digits["X_train"], digits["y_train"]), epochs=1, batch_size=10, eta=0.1, seed=0)
    path = network.save(tmp_path / "model.npz")
    loaded = Network.load(path)
    assert loaded.config == network.config
    assert np.array_equal(loaded.forward(digits["X_test"]), network.forward(digits["X_test"]))


def test_load_rejects_a_file_that_is_not_a_network(tmp_path) -> None:
    """Rule: loading something else is a clear ConfigError naming the file."""
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"junk\.npz"):
        Network.load(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eta": -1.0}, "eta must be a positive number"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"optimizer": "sgdd"}, "optimizer must be one of"),
        ({"schedule": "cosine"}, "schedule must be None or one of"),
        ({"patience": 3, "validation": None}, "need a validation set"),
        ({"l2": 1.0, "l1": 1.0}, "either l2 or l1"),
    ],
)
def test_bad_training_arguments_are_clear_errors(kwargs, message) -> None:
    """Rule: a bad argument raises ConfigError naming it and what is valid."""
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    arguments = {"epochs": 1, "batch_size": 2, "eta": 0.1, "validation": (X, y), **kwargs}
    validation = arguments.pop("validation")
    with pytest.raises(ConfigError, match=message):
        train(Network([3, 2]), (X, y), validation, **arguments)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation": "softsign"}, "activation must be one of"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"init": "zeros"}, "init must be one of"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"dtype": "int8"}, "dtype must be one of"),
    ],
)
def test_bad_network_arguments_are_clear_errors(kwargs, message) -> None:
    """Rule: unknown names list the valid ones."""
    with pytest.raises(ConfigError, match=message):
        Network([3, 2], **kwargs)


def test_labels_out_of_range_are_rejected() -> None:
    """Rule: labels must be class indices of the output layer."""
    with pytest.raises(ConfigError, match=r"labels must be in 0\.\.1"):
        train(
            Network([3, 2]), (np.zeros((2, 3)), np.array([0, 2])), epochs=1, batch_size=1, eta=0.1
        )


class _RecordingWorkspace:
    """Wraps the training loop's ``Workspace``: keeps a copy of every batch it runs forward."""

    seen: ClassVar[list[np.ndarray]] = []

    def __init__(self, network, batch_size) -> None:
        from hpsearch.nn.propagation import Workspace

        self._inner = Workspace(network, batch_size)
        self.grad_weights, self.grad_biases = self._inner.grad_weights, self._inner.grad_biases

    def forward(self, xb, **kwargs):
        _RecordingWorkspace.seen.append(np.array(xb, copy=True))
        return self._inner.forward(xb, **kwargs)

    def backward(self, yb, **kwargs):
        return self._inner.backward(yb, **kwargs)


@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_input_noise_adds_fresh_gaussian_noise_to_training_batches(
    monkeypatch: pytest.MonkeyPatch, sigma: float
) -> None:
    """Rule: input_noise=sigma adds N(0, sigma^2) noise to every input of every training
    batch, a fresh draw each time, and leaves the training data itself untouched; 0 adds
    none. (All-zero inputs make what the network sees the noise itself.)"""
    import hpsearch.nn.training as training

    monkeypatch.setattr(training, "Workspace", _RecordingWorkspace)
    _RecordingWorkspace.seen = []
    X = np.zeros((300, 64), dtype=np.float32)
    y = np.arange(300) % 10
    train(
        Network([64, 8, 10], seed=0),
        (X, y),
        epochs=2,
        batch_size=32,
        eta=0.1,
        input_noise=sigma,
        seed=0,
    )
    seen = np.concatenate(_RecordingWorkspace.seen)
    assert seen.shape == (2 * 300, 64)
    assert not X.any()  # the training set is not modified in place
    if sigma == 0:
        assert not seen.any()
        return
    assert abs(float(seen.mean())) < 0.01
    assert float(seen.std()) == pytest.approx(sigma, rel=0.02)
    assert not np.array_equal(seen[:300], seen[300:])  # each epoch draws anew


def test_input_noise_changes_training_and_stays_reproducible(digits) -> None:
    """Rule: a seeded run with input noise is reproducible, and differs from the same run
    without noise; the noise is drawn only during training, so evaluation is unaffected."""

    def run(sigma: float) -> Network:
        network = Network([64, 20, 10], loss="log_likelihood", seed=3)
        train(
            network,
            (digits["X_train"], digits["y_train"]),
            epochs=2,
            batch_size=16,
            eta=0.3,
            input_noise=sigma,
            seed=3,
        )
        return network

    noisy, again, clean = run(0.3), run(0.3), run(0.0)
    assert all(np.array_equal(a, b) for a, b in zip(noisy.weights, again.weights, strict=True))
    assert not np.array_equal(noisy.weights[0], clean.weights[0])
    first = noisy.evaluate(digits["X_val"], digits["y_val"])
    assert noisy.evaluate(digits["X_val"], digits["y_val"]) == first


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_input_noise_must_be_a_finite_number_at_least_zero(digits, bad: float) -> None:
    """Rule: a negative or non-finite input_noise is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"input_noise must be a number >= 0"):
        train(
            Network([64, 10], seed=0),
            (digits["X_train"], digits["y_train"]),
            epochs=1,
            batch_size=10,
            eta=0.1,
            input_noise=bad,
        )
