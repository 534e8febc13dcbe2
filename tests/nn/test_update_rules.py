"""One training step of each update rule, against numbers worked out by hand.

The network is one layer, 1 input -> 2 sigmoid outputs with cross-entropy, so the
output error is a - y and every number below follows from sigma(z) by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpsearch.nn import Network, optimizers, train
from hpsearch.nn.optimizers import flush_tiny, make_optimizer


def sigma(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def one_layer(weights, biases) -> Network:
    network = Network([1, len(weights)], loss="cross_entropy", dtype="float64")
    network.weights[0][0] = weights
    network.biases[0][...] = biases
    return network


def step(network: Network, X, y, **kwargs) -> None:
    train(network, (np.array(X, float), np.array(y)), epochs=1, batch_size=len(y), **kwargs)


def test_sgd_step() -> None:
    """Rule: w <- w - eta * x (a - y); b <- b - eta (a - y), on one example."""
    network = one_layer([0.0, 0.0], [0.0, 0.0])
    step(network, [[1.0]], [0], eta=0.1)
    # a = (0.5, 0.5), y = (1, 0): a - y = (-0.5, 0.5)
    np.testing.assert_allclose(network.weights[0], [[0.05, -0.05]])
    np.testing.assert_allclose(network.biases[0], [0.05, -0.05])


def test_sgd_step_averages_over_the_batch() -> None:
    """Rule: the step uses the mean gradient of the mini-batch, not the sum."""
    network = one_layer([0.0, 0.0], [0.0, 0.0])
    step(network, [[1.0], [3.0]], [0, 0], eta=0.1)
    # both examples: a - y = (-0.5, 0.5); mean x = 2
    np.testing.assert_allclose(network.weights[0], [[0.1, -0.1]])
    np.testing.assert_allclose(network.biases[0], [0.05, -0.05])


def test_momentum_steps() -> None:
    """Rule: v <- mu v - eta g; w <- w + v (two steps, so the velocity carries over)."""
    network = one_layer([0.0, 0.0], [0.0, 0.0])
    eta, mu = 0.1, 0.9
    train(
        network,
        (np.array([[1.0]]), np.array([0])),
        epochs=2,
        batch_size=1,
        eta=eta,
        optimizer="momentum",
        momentum=mu,
    )
    # step 1: g = (-0.5, 0.5), v = (0.05, -0.05), w = b = (0.05, -0.05)
    # step 2: z = w + b = (0.1, -0.1)
    g = [sigma(0.1) - 1.0, sigma(-0.1)]
    v = [mu * 0.05 - eta * g[0], mu * -0.05 - eta * g[1]]
    np.testing.assert_allclose(network.weights[0], [[0.05 + v[0], -0.05 + v[1]]])
    np.testing.assert_allclose(network.biases[0], [0.05 + v[0], -0.05 + v[1]])


def test_l2_weight_decay_step() -> None:
    """Rule: w <- (1 - eta lambda / n) w - eta dC0/dw, n = training-set size; biases not decayed."""
    network = one_layer([1.0, -2.0], [1.0, 1.0])
    eta, lmbda, n = 0.1, 1.0, 2
    # x = 0, so dC0/dw = 0 and only the decay moves w
    step(network, [[0.0], [0.0]], [0, 1], eta=eta, l2=lmbda)
    decay = 1 - eta * lmbda / n
    np.testing.assert_allclose(network.weights[0], [[1.0 * decay, -2.0 * decay]])
    a = sigma(1.0)  # both outputs; mean (a - y) over y = 0 and y = 1 is a - 0.5
    np.testing.assert_allclose(network.biases[0], [1.0 - eta * (a - 0.5)] * 2)


def test_l1_step() -> None:
    """Rule: w <- w - (eta lambda / n) sgn(w), with sgn(0) = 0 (zero weights stay zero)."""
    network = one_layer([0.5, -0.5, 0.0], [0.0, 0.0, 0.0])
    step(network, [[0.0], [0.0]], [0, 1], eta=0.1, l1=1.0)
    np.testing.assert_allclose(network.weights[0], [[0.45, -0.45, 0.0]])


@pytest.mark.parametrize("optimizer", ["nesterov", "adagrad", "rmsprop", "adam"])
def test_other_optimizers_descend(optimizer: str) -> None:
    """Rule: every optimizer lowers the training loss on a tiny separable problem."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int)
    network = Network([4, 8, 2], loss="log_likelihood", seed=0, dtype="float64")
    before, _ = network.evaluate(X, y)
    train(network, (X, y), epochs=20, batch_size=8, eta=0.05, optimizer=optimizer, seed=0)
    after, _ = network.evaluate(X, y)
    assert after < before * 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_tiny_zeroes_only_values_whose_square_underflows(dtype: type) -> None:
    """|x| < sqrt(finfo.tiny) becomes 0 (subnormals included); the bound itself and
    everything larger keep their value and sign."""
    floor = np.sqrt(np.finfo(dtype).tiny)
    a = np.array([floor / 2, -floor / 2, np.finfo(dtype).tiny / 8, floor, -floor, 1e-3], dtype)
    flush_tiny([a])
    np.testing.assert_array_equal(a, np.array([0, 0, 0, floor, -floor, 1e-3], dtype))


@pytest.mark.parametrize("rule", ["adagrad", "rmsprop", "adam"])
def test_adaptive_rules_sweep_tiny_weights_and_state_every_flush_every_steps(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A weight of 1e-25 with a zero gradient is left alone for FLUSH_EVERY - 1 steps and
    is 0 after the FLUSH_EVERY-th, as is its state; a weight with a real gradient moves
    exactly as it does with the sweep off."""
    monkeypatch.setattr(optimizers, "FLUSH_EVERY", 4)

    def run(steps: int) -> tuple[np.ndarray, list[np.ndarray]]:
        optimizer = make_optimizer(rule)
        weights = np.array([1e-25, 0.5], np.float32)
        for _ in range(steps):
            optimizer.step([weights], [np.array([0.0, 0.1], np.float32)], 0.01)
        return weights, optimizer.state

    weights, _ = run(3)
    assert weights[0] == np.float32(1e-25)
    weights, state = run(4)
    assert weights[0] == 0 and state[0][0] == 0
    swept = weights[1]
    monkeypatch.setattr(optimizers, "FLUSH_EVERY", 0)
    assert run(4)[0][1] == swept
