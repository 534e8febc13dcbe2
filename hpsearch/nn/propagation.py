"""Forward and backward passes over one batch, into preallocated buffers.

A ``Workspace`` owns every array a training step writes, sized for the largest
batch; a smaller batch uses leading row views of the same buffers (still
contiguous). After ``forward`` + ``backward`` the gradients of the mean batch
loss, times ``scale``, are in ``grad_weights`` / ``grad_biases``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hpsearch.nn.activations import Activation
from hpsearch.nn.backend import xp
from hpsearch.nn.losses import Loss


class Layers(Protocol):
    """What the passes read of a network (``hpsearch.nn.Network`` has it all)."""

    dtype: Any
    sizes: list[int]
    weights: list[Any]
    biases: list[Any]
    dropout: float
    activation_fn: Activation
    loss_fn: Loss


class Workspace:
    """Buffers and the two passes of backpropagation for one network and batch size."""

    def __init__(self, network: Layers, batch_size: int) -> None:
        self.network = network
        dtype = network.dtype
        widths = network.sizes[1:]
        self.z = [xp.empty((batch_size, w), dtype) for w in widths]
        self.output = xp.empty((batch_size, widths[-1]), dtype)
        self.delta = [xp.empty((batch_size, w), dtype) for w in widths[:-1]]
        self.scratch = [xp.empty((batch_size, w), dtype) for w in widths[:-1]]
        self.grad_weights = [xp.empty_like(w) for w in network.weights]
        self.grad_biases = [xp.empty_like(b) for b in network.biases]
        self.dropout = network.dropout
        if self.dropout > 0:
            self.keep = [xp.empty((batch_size, w), dtype) for w in widths[:-1]]
            self.dropped = [xp.empty((batch_size, w), dtype) for w in widths[:-1]]
        self._inputs: list[Any] = []
        self._dropped = False

    def forward(self, X: Any, *, rngs: Sequence[xp.random.Generator] | None = None) -> Any:
        """Output activations for ``X``; dropout is applied only when ``rngs`` is given:
        hidden layer l draws its mask from ``rngs[l]`` (``streams.member_streams``)."""
        network = self.network
        m = len(X)
        last = len(network.weights) - 1
        inputs = [X]
        self._dropped = rngs is not None and self.dropout > 0
        for layer, (w, b) in enumerate(zip(network.weights, network.biases, strict=True)):
            z = xp.matmul(inputs[-1], w, out=self.z[layer][:m])
            z += b
            if layer == last:
                break
            network.activation_fn.apply(z, out=z)  # hidden layers keep a in place of z
            if self._dropped and rngs is not None:
                inputs.append(self._drop(layer, z, rngs[layer]))
            else:
                inputs.append(z)
        self._inputs = inputs
        return network.loss_fn.activate(z, out=self.output[:m])

    def _drop(self, layer: int, a: Any, rng: xp.random.Generator) -> Any:
        # Inverted dropout: keep with probability 1 - p and scale by 1/(1 - p).
        m = len(a)
        keep = self.keep[layer][:m]
        rng.random(out=keep, dtype=keep.dtype)
        xp.greater_equal(keep, self.dropout, out=keep)
        keep *= 1.0 / (1.0 - self.dropout)
        return xp.multiply(a, keep, out=self.dropped[layer][:m])

    def backward(self, y: Any, *, scale: float | None = None) -> None:
        """Gradients of the mean loss over the batch last seen by ``forward``, times ``scale``.

        ``scale`` defaults to 1; it is folded into the output error, so a plain SGD
        step can ask for ``eta``-scaled gradients at no extra cost.
        """
        network = self.network
        inputs = self._inputs
        m = len(y)
        last = len(network.weights) - 1
        # The output activations are not needed any more: the error overwrites them.
        output = self.output[:m]
        delta = network.loss_fn.delta(self.z[last][:m], output, y, out=output)
        delta *= (1.0 if scale is None else scale) / m
        for layer in range(last, -1, -1):
            xp.matmul(inputs[layer].T, delta, out=self.grad_weights[layer])
            xp.sum(delta, axis=0, out=self.grad_biases[layer])
            if layer == 0:
                break
            below = xp.matmul(delta, network.weights[layer].T, out=self.delta[layer - 1][:m])
            if self._dropped:
                below *= self.keep[layer - 1][:m]
            network.activation_fn.backprop(
                below, self.z[layer - 1][:m], self.scratch[layer - 1][:m]
            )
            delta = below
