"""Backpropagation against central differences, and the losses' numerical edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from hpsearch.nn import ACTIVATIONS, LOSSES, Network
from hpsearch.nn.losses import get_loss


def _numerical_gradient(network: Network, X, y, param, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(param)
    for index in np.ndindex(param.shape):
        original = param[index]
        param[index] = original + eps
        plus, _, _ = network.gradients(X, y)
        param[index] = original - eps
        minus, _, _ = network.gradients(X, y)
        param[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_backprop_matches_central_differences(activation: str, loss: str) -> None:
    """Rule: for every activation x loss, with two hidden layers, the analytic gradient of
    the mean batch loss equals the central-difference gradient (float64, rtol 1e-6, atol 1e-9)."""
    rng = np.random.default_rng(1)
    network = Network(
        [5, 4, 3, 3], activation=activation, loss=loss, init="glorot", seed=2, dtype="float64"
    )
    for b in network.biases:  # nonzero biases keep ReLU units away from the kink at 0
        b[...] = rng.uniform(0.1, 0.3, b.shape)
    X = rng.normal(size=(7, 5))
    y = rng.integers(0, 3, 7)
    _, grad_w, grad_b = network.gradients(X, y)
    for param, analytic in zip(network.weights + network.biases, grad_w + grad_b, strict=True):
        numeric = _numerical_gradient(network, X, y, param)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_gradients_keep_float64() -> None:
    """Rule: a float64 network computes its gradients in float64."""
    network = Network([3, 2, 2], dtype="float64", seed=0)
    _, grad_w, grad_b = network.gradients(np.ones((2, 3)), np.array([0, 1]))
    assert all(g.dtype == np.float64 for g in grad_w + grad_b)


def test_log_likelihood_is_stable_for_huge_logits() -> None:
    """Rule: softmax + log-likelihood gives exact, finite values for logits of 1e4."""
    loss = get_loss("log_likelihood")
    z = np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]], dtype=np.float32)
    a = loss.activate(z, np.empty_like(z))
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a[0], [1.0, 0.0, 0.0])
    value = loss.value(z, a, np.array([0, 2]))
    assert value == pytest.approx((0.0 + 2e4) / 2)
    delta = loss.delta(z, a, np.array([0, 2]), np.empty_like(z))
    np.testing.assert_allclose(delta, [[0, 0, 0], [1, 0, -1]])


def test_cross_entropy_is_finite_for_saturated_outputs() -> None:
    """Rule: cross-entropy of a saturated sigmoid (z = +-1e4) is finite, not ln(0)."""
    loss = get_loss("cross_entropy")
    z = np.array([[1e4, -1e4]])
    a = loss.activate(z, np.empty_like(z))
    assert loss.value(z, a, np.array([1])) == pytest.approx(2e4)
