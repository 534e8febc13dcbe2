"""The arrays of a cohort: many networks' parameters side by side, and their passes.

A ``Stack`` holds K networks of the same depth, input width and dtype (their hidden
widths, activations and losses may differ) in two flat buffers, weights and biases,
so a penalty or an update rule is one array operation for all K members:

* layer 0 is **one wide matrix** ``(n_in, H)``, the members' first-layer weights side
  by side (H = the sum of their first hidden widths): the first layer of every member
  is one GEMM over the shared mini-batch, forward and for its weight gradient;
* each later layer is one contiguous ``(n_in, n_out)`` block per member, multiplied
  on its own (a member never pays for a wider one);
* biases, activations, masks and errors of a layer are concatenated the same way,
  so a bias add is one call and an activation one call per run of members sharing it
  (members are sorted by loss and activation, ``order_key``).

The arithmetic per member is that of ``propagation.Workspace``, operation for
operation, so a member learns what it learns alone (up to the rounding of the wider
GEMM's blocking, far below float64's 1e-9).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from hpsearch.nn.backend import sigmoid, xp
from hpsearch.nn.network import Network


def order_key(network: Network) -> tuple[str, str]:
    """Members of a stack are sorted by this key, so those sharing a loss (and within it
    an activation) are neighbours: one call each for a run of them."""
    return (network.loss, network.activation)


def _runs(keys: Sequence[Any], bounds: Sequence[int]) -> list[tuple[int, int, Any]]:
    """(start, end, key) column ranges of consecutive members with equal keys."""
    runs: list[tuple[int, int, Any]] = []
    for key, group in itertools.groupby(range(len(keys)), key=lambda k: keys[k]):
        members = list(group)
        runs.append((bounds[members[0]], bounds[members[-1] + 1], key))
    return runs


class Buffers:
    """Everything a pass writes for up to ``rows`` examples (like ``Workspace``)."""

    def __init__(self, stack: Stack, rows: int) -> None:
        dtype = stack.dtype
        self.rows = rows
        self.z = [xp.empty((rows, h), dtype) for h in stack.H]
        self.output = xp.empty((rows, stack.H[-1]), dtype)
        self.delta = [xp.empty((rows, h), dtype) for h in stack.H[:-1]]
        self.scratch = [xp.empty((rows, h), dtype) for h in stack.H[:-1]]
        self.dropped = [xp.empty((rows, h), dtype) for h in stack.H[:-1]]
        self.inputs: list[Any] = []
        self.masks: list[Any] | None = None
        self.plans: dict[tuple[int, bool], list[list[tuple[Any, ...]]]] = {}


class Stack:
    """K members' parameters in flat buffers, and forward/backward over a shared batch."""

    def __init__(
        self,
        networks: Sequence[Network],
        weights: Sequence[Sequence[Any]],
        biases: Sequence[Sequence[Any]],
    ) -> None:
        first = networks[0]
        self.dtype = first.dtype
        self.K = len(networks)
        self.L = len(first.sizes) - 1
        self.n_in = first.sizes[0]
        self.n_classes = first.sizes[-1]
        sizes = [n.sizes for n in networks]
        #: widths[l][k]: member k's width after layer l; bounds[l]: its column offsets.
        self.widths = [[s[layer + 1] for s in sizes] for layer in range(self.L)]
        self.bounds = [[0, *itertools.accumulate(w)] for w in self.widths]
        self.H = [b[-1] for b in self.bounds]
        self.sizes = sizes
        activations = [n.activation_fn for n in networks]
        self.activation_runs = [_runs(activations, b) for b in self.bounds[:-1]]
        self.loss_runs = [
            (start, end, loss)
            for start, end, loss in _runs([n.loss_fn for n in networks], self.bounds[-1])
        ]
        # Flat weights: the wide first layer, then each member's later layers in turn.
        shapes = [(self.n_in, self.H[0])] + [
            (sizes[k][layer], sizes[k][layer + 1])
            for layer in range(1, self.L)
            for k in range(self.K)
        ]
        counts = [r * c for r, c in shapes]
        starts = [0, *itertools.accumulate(counts)]
        self.W = xp.empty(starts[-1], self.dtype)
        self.GW = xp.empty_like(self.W)
        self.B = xp.empty(sum(self.H), self.dtype)
        self.GB = xp.empty_like(self.B)
        self._w_layout = list(zip(starts, shapes, strict=False))
        self.W0, self.GW0 = (a[: counts[0]].reshape(shapes[0]) for a in (self.W, self.GW))
        self.Wm: list[list[Any]] = [[]]  # Wm[l][k], l >= 1
        self.GWm: list[list[Any]] = [[]]
        block = 1
        for _layer in range(1, self.L):
            row_w, row_g = [], []
            for _k in range(self.K):
                start, shape = self._w_layout[block]
                row_w.append(self.W[start : start + shape[0] * shape[1]].reshape(shape))
                row_g.append(self.GW[start : start + shape[0] * shape[1]].reshape(shape))
                block += 1
            self.Wm.append(row_w)
            self.GWm.append(row_g)
        b_starts = [0, *itertools.accumulate(self.H)]
        self.Bl = [self.B[b_starts[i] : b_starts[i + 1]] for i in range(self.L)]
        self.GBl = [self.GB[b_starts[i] : b_starts[i + 1]] for i in range(self.L)]
        #: member index of every weight / bias element and every output column.
        self.w_member = self._member_index_w()
        self.b_member = xp.concatenate(
            [xp.repeat(xp.arange(self.K), self.widths[layer]) for layer in range(self.L)]
        )
        self.out_member = xp.repeat(xp.arange(self.K), self.widths[-1])
        self.pack(weights, biases, self.W, self.B)

    # -- layout ---------------------------------------------------------------

    def _member_index_w(self) -> Any:
        parts = [xp.tile(xp.repeat(xp.arange(self.K), self.widths[0]), self.n_in)]
        for layer in range(1, self.L):
            for k in range(self.K):
                parts.append(xp.full(self.sizes[k][layer] * self.sizes[k][layer + 1], k))
        return xp.concatenate(parts)

    def cols(self, layer: int, k: int) -> slice:
        """Member k's columns in the concatenated output of ``layer``."""
        return slice(self.bounds[layer][k], self.bounds[layer][k + 1])

    def member_views(self, k: int, flat_w: Any, flat_b: Any) -> tuple[list[Any], list[Any]]:
        """Member k's per-layer weight and bias arrays as views of flat buffers shaped
        like ``W`` and ``B`` (parameters, gradients or optimizer state)."""
        w0 = flat_w[: self.n_in * self.H[0]].reshape(self.n_in, self.H[0])[:, self.cols(0, k)]
        weights = [w0]
        for layer in range(1, self.L):
            start, shape = self._w_layout[1 + (layer - 1) * self.K + k]
            weights.append(flat_w[start : start + shape[0] * shape[1]].reshape(shape))
        b_starts = [0, *itertools.accumulate(self.H)]
        biases = [
            flat_b[b_starts[layer] : b_starts[layer + 1]][self.cols(layer, k)]
            for layer in range(self.L)
        ]
        return weights, biases

    def pack(
        self,
        weights: Sequence[Sequence[Any]],
        biases: Sequence[Sequence[Any]],
        flat_w: Any,
        flat_b: Any,
    ) -> None:
        """Write per-member weight and bias lists into flat buffers shaped like W, B."""
        for k in range(self.K):
            targets_w, targets_b = self.member_views(k, flat_w, flat_b)
            for target, source in zip(
                targets_w + targets_b, [*weights[k], *biases[k]], strict=True
            ):
                target[...] = source

    def unpack(self, k: int, flat_w: Any, flat_b: Any) -> tuple[list[Any], list[Any]]:
        """Copies of member k's arrays in flat buffers shaped like W, B."""
        weights, biases = self.member_views(k, flat_w, flat_b)
        return [w.copy() for w in weights], [b.copy() for b in biases]

    def per_column(self, values: Any, layer: int) -> Any:
        """A row vector of per-member ``values`` spread over ``layer``'s columns."""
        return xp.repeat(xp.asarray(values, dtype=self.dtype), self.widths[layer])[None, :]

    # -- passes ---------------------------------------------------------------

    def _plan(self, buffers: Buffers, m: int, masked: bool) -> list[list[tuple[Any, ...]]]:
        """Per later layer, each member's views for its three matmuls over ``m`` rows:
        (input, weights, output, input.T, weight grad, delta, weights.T, delta below).
        Made once per (rows, masked) and kept: slicing costs as much as a small GEMM."""
        key = (m, masked)
        plan = buffers.plans.get(key)
        if plan is not None:
            return plan
        plan = [[]]
        for layer in range(1, self.L):
            source = buffers.dropped if masked else buffers.z
            below_in = source[layer - 1][:m]
            z = buffers.z[layer][:m]
            delta = buffers.output[:m] if layer == self.L - 1 else buffers.delta[layer][:m]
            below = buffers.delta[layer - 1][:m]
            ops = []
            for k in range(self.K):
                cin, cout = self.cols(layer - 1, k), self.cols(layer, k)
                w, g = self.Wm[layer][k], self.GWm[layer][k]
                ops.append(
                    (
                        below_in[:, cin],
                        w,
                        z[:, cout],
                        below_in[:, cin].T,
                        g,
                        delta[:, cout],
                        w.T,
                        below[:, cin],
                    )
                )
            plan.append(ops)
        buffers.plans[key] = plan
        return plan

    def forward(self, X: Any, buffers: Buffers, masks: list[Any] | None = None) -> Any:
        """Every member's output activations for the shared rows ``X`` (``masks``:
        each hidden layer's concatenated inverted-dropout factors, or None)."""
        m = len(X)
        inputs = [X]
        last = self.L - 1
        plan = self._plan(buffers, m, masks is not None)
        for layer in range(self.L):
            z = buffers.z[layer][:m]
            if layer == 0:
                xp.matmul(X, self.W0, out=z)
            else:
                for a, w, out, *_ in plan[layer]:
                    xp.matmul(a, w, out=out)
            z += self.Bl[layer]
            if layer == last:
                break
            for start, end, activation in self.activation_runs[layer]:
                view = z[:, start:end]
                activation.apply(view, out=view)
            if masks is not None:
                inputs.append(xp.multiply(z, masks[layer][:m], out=buffers.dropped[layer][:m]))
            else:
                inputs.append(z)
        buffers.inputs, buffers.masks = inputs, masks
        out = buffers.output[:m]
        C = self.n_classes
        for start, end, loss in self.loss_runs:
            zs = z[:, start:end].reshape(m, -1, C)
            a = out[:, start:end].reshape(m, -1, C)
            if loss.output == "softmax":
                xp.subtract(zs, zs.max(axis=2, keepdims=True), out=a)
                xp.exp(a, out=a)
                a /= a.sum(axis=2, keepdims=True)
            else:
                sigmoid(zs, out=a)
        return out

    def backward(self, y: Any, buffers: Buffers, output_scale: Any) -> None:
        """Gradients of each member's mean loss over the last forward's rows, times its
        entry of ``output_scale`` (a row vector over the output columns, already / m)."""
        m = len(y)
        rows = xp.arange(m)
        C = self.n_classes
        delta = buffers.output[:m]
        for start, end, loss in self.loss_runs:
            a = delta[:, start:end].reshape(m, -1, C)
            if loss.name == "quadratic":
                derivative = a - a * a
                a[rows, :, y] -= 1
                a *= derivative
            else:
                a[rows, :, y] -= 1
        delta *= output_scale
        inputs, masks = buffers.inputs, buffers.masks
        for layer in range(self.L - 1, -1, -1):
            below_in = inputs[layer]
            if layer == 0:
                xp.matmul(below_in.T, delta, out=self.GW0)
            else:
                for k, g in enumerate(self.GWm[layer]):
                    xp.matmul(
                        below_in[:, self.cols(layer - 1, k)].T,
                        delta[:, self.cols(layer, k)],
                        out=g,
                    )
            xp.sum(delta, axis=0, out=self.GBl[layer])
            if layer == 0:
                break
            below = buffers.delta[layer - 1][:m]
            for k, w in enumerate(self.Wm[layer]):
                xp.matmul(delta[:, self.cols(layer, k)], w.T, out=below[:, self.cols(layer - 1, k)])
            if masks is not None:
                below *= masks[layer - 1][:m]
            a = buffers.z[layer - 1][:m]
            scratch = buffers.scratch[layer - 1][:m]
            for start, end, activation in self.activation_runs[layer - 1]:
                activation.backprop(below[:, start:end], a[:, start:end], scratch[:, start:end])
            delta = below
