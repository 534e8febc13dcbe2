"""The arrays of a cohort: many networks' parameters side by side, and their passes.

A ``Stack`` holds K networks of the same input width, output width and dtype, each
with at least one hidden layer (their depths, hidden widths, activations and losses
may differ) in two flat buffers, weights and biases, so a penalty or an update rule
is one array operation for all K members. Layers are laid out in **stages**: stage 0
is every member's first layer, the last stage every member's output layer, and the
stages between hold the middle hidden layers of the members deep enough to have
them (a member's layers are right-aligned: its output layer is always in the last
stage, fed by its own last hidden layer, whichever stage that is):

* stage 0 is **one wide matrix** ``(n_in, H)``, the members' first-layer weights side
  by side (H = the sum of their first hidden widths): the first layer of every member
  is one GEMM over the shared mini-batch, forward and for its weight gradient;
* each later layer is one contiguous ``(n_in, n_out)`` block per member, multiplied
  on its own (a member never pays for a wider one);
* biases, activations, masks and errors of a stage are concatenated the same way,
  so a bias add is one call and an activation one call per run of members sharing it
  (members are sorted by activation and loss, ``order_key``); the output layer's
  softmax or sigmoid runs over members sharing that output, and its error is one
  one-hot subtraction for all members (one more pass for those with a quadratic loss).

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
    """Members of a stack are sorted by this key, so those sharing an activation (and
    within it an output) are neighbours: one call each for a run of them. Activations
    come first: they run on every hidden stage, forward and backward."""
    return (network.activation, network.loss_fn.output)


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
        self.one_hot = xp.empty_like(self.output)
        self.scratch_out: Any = (
            xp.empty_like(self.output) if stack.softmax_columns is not None else None
        )
        self.delta = [xp.empty((rows, h), dtype) for h in stack.H[:-1]]
        self.scratch = [xp.empty((rows, h), dtype) for h in stack.H[:-1]]
        self.dropped = [xp.empty((rows, h), dtype) for h in stack.H[:-1]]
        self.x: Any = None  # the rows of the last forward
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
        sizes = [list(n.sizes) for n in networks]
        self.sizes = sizes
        #: L: the number of stages (the deepest member's number of layers).
        self.L = max(len(s) for s in sizes) - 1
        self.n_in = first.sizes[0]
        self.n_classes = first.sizes[-1]
        #: stages[k]: the stage of each of member k's layers (its output layer: the last).
        self.stages = [[*range(len(s) - 2), self.L - 1] for s in sizes]
        #: members[s]: the members with a layer in stage s (stack order), widths[s] their
        #: widths after it and bounds[s] their column offsets in the stage's outputs.
        self.members = [[k for k in range(self.K) if s in self.stages[k]] for s in range(self.L)]
        self.widths = [
            [sizes[k][self.stages[k].index(s) + 1] for k in self.members[s]] for s in range(self.L)
        ]
        self.bounds = [[0, *itertools.accumulate(w)] for w in self.widths]
        self.H = [b[-1] for b in self.bounds]
        self._slot = [{k: i for i, k in enumerate(self.members[s])} for s in range(self.L)]
        activations = [n.activation_fn for n in networks]
        self.activation_runs = [
            _runs([activations[k] for k in self.members[s]], self.bounds[s])
            for s in range(self.L - 1)
        ]
        losses = [n.loss_fn for n in networks]
        #: (start, end, loss) output columns of consecutive members sharing a loss.
        self.loss_runs = _runs(losses, self.bounds[-1])
        #: (start, end, "softmax" or "sigmoid") column runs of the output stage.
        self.output_runs = _runs([loss.output for loss in losses], self.bounds[-1])
        #: (start, end) output columns of members with a quadratic loss.
        self.quadratic_runs = [
            (start, end)
            for start, end, quadratic in _runs(
                [loss.name == "quadratic" for loss in losses], self.bounds[-1]
            )
            if quadratic
        ]
        #: one-hot rows of the labels over every member's output columns.
        C = self.n_classes
        self.one_hot = xp.tile(xp.eye(C, dtype=self.dtype), (1, self.K))
        #: the softmax columns, when the outputs alternate (computed both ways, then picked).
        self.softmax_columns: Any = None
        if len(self.output_runs) > 2:
            self.softmax_columns = xp.repeat(
                xp.asarray([loss.output == "softmax" for loss in losses]), C
            )[None, :]
        # Flat weights: the wide first stage, then each later stage's members in turn.
        #: blocks[s]: (member, its stage before s, shape) of each weight block of stage s.
        self.blocks: list[list[tuple[int, int, tuple[int, int]]]] = [[]]
        for s in range(1, self.L):
            row = []
            for k in self.members[s]:
                j = self.stages[k].index(s)
                row.append((k, self.stages[k][j - 1], (sizes[k][j], sizes[k][j + 1])))
            self.blocks.append(row)
        counts = [self.n_in * self.H[0]] + [
            r * c for row in self.blocks[1:] for _, _, (r, c) in row
        ]
        starts = [0, *itertools.accumulate(counts)]
        self.W = xp.empty(starts[-1], self.dtype)
        self.GW = xp.empty_like(self.W)
        self.B = xp.empty(sum(self.H), self.dtype)
        self.GB = xp.empty_like(self.B)
        #: where member k's block of stage s starts in the flat weights.
        self._w_start: dict[tuple[int, int], int] = {}
        i = 1
        for s in range(1, self.L):
            for k, _, _ in self.blocks[s]:
                self._w_start[(s, k)] = starts[i]
                i += 1
        self._b_starts = [0, *itertools.accumulate(self.H)]
        shape0 = (self.n_in, self.H[0])
        self.W0, self.GW0 = (a[: counts[0]].reshape(shape0) for a in (self.W, self.GW))
        #: Wm[s][i], GWm[s][i]: the weights (gradient) of the i-th block of stage s >= 1.
        self.Wm: list[list[Any]] = [[]]
        self.GWm: list[list[Any]] = [[]]
        for s in range(1, self.L):
            self.Wm.append([self._block(self.W, s, k, shape) for k, _, shape in self.blocks[s]])
            self.GWm.append([self._block(self.GW, s, k, shape) for k, _, shape in self.blocks[s]])
        b = self._b_starts
        self.Bl = [self.B[b[s] : b[s + 1]] for s in range(self.L)]
        self.GBl = [self.GB[b[s] : b[s + 1]] for s in range(self.L)]
        #: member index of every weight / bias element and every output column.
        self.w_member = self._member_index_w()
        self.b_member = xp.concatenate(
            [xp.repeat(xp.asarray(self.members[s]), self.widths[s]) for s in range(self.L)]
        )
        self.out_member = xp.repeat(xp.arange(self.K), self.widths[-1])
        self.pack(weights, biases, self.W, self.B)

    # -- layout ---------------------------------------------------------------

    def _block(self, flat: Any, s: int, k: int, shape: tuple[int, int]) -> Any:
        start = self._w_start[(s, k)]
        return flat[start : start + shape[0] * shape[1]].reshape(shape)

    def _member_index_w(self) -> Any:
        parts = [xp.tile(xp.repeat(xp.arange(self.K), self.widths[0]), self.n_in)]
        for s in range(1, self.L):
            for k, _, (r, c) in self.blocks[s]:
                parts.append(xp.full(r * c, k))
        return xp.concatenate(parts)

    def cols(self, stage: int, k: int) -> slice:
        """Member k's columns in the concatenated outputs of ``stage``."""
        i = self._slot[stage][k]
        return slice(self.bounds[stage][i], self.bounds[stage][i + 1])

    def member_views(self, k: int, flat_w: Any, flat_b: Any) -> tuple[list[Any], list[Any]]:
        """Member k's per-layer weight and bias arrays as views of flat buffers shaped
        like ``W`` and ``B`` (parameters, gradients or optimizer state)."""
        w0 = flat_w[: self.n_in * self.H[0]].reshape(self.n_in, self.H[0])[:, self.cols(0, k)]
        weights = [w0]
        sizes = self.sizes[k]
        for j, s in enumerate(self.stages[k][1:], start=1):
            weights.append(self._block(flat_w, s, k, (sizes[j], sizes[j + 1])))
        b = self._b_starts
        biases = [flat_b[b[s] : b[s + 1]][self.cols(s, k)] for s in self.stages[k]]
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

    def per_column(self, values: Any, stage: int) -> Any:
        """A row vector of per-member ``values`` spread over ``stage``'s columns."""
        present = xp.asarray(values, dtype=self.dtype)[self.members[stage]]
        return xp.repeat(present, self.widths[stage])[None, :]

    # -- passes ---------------------------------------------------------------

    def _plan(self, buffers: Buffers, m: int, masked: bool) -> list[list[tuple[Any, ...]]]:
        """Per later stage, each block's views for its three matmuls over ``m`` rows:
        (input, weights, output, input.T, weight grad, delta, weights.T, delta below).
        Made once per (rows, masked) and kept: slicing costs as much as a small GEMM."""
        key = (m, masked)
        plan = buffers.plans.get(key)
        if plan is not None:
            return plan
        plan = [[]]
        source = buffers.dropped if masked else buffers.z
        for s in range(1, self.L):
            z = buffers.z[s][:m]
            delta = buffers.output[:m] if s == self.L - 1 else buffers.delta[s][:m]
            ops = []
            for (k, before, _), w, g in zip(self.blocks[s], self.Wm[s], self.GWm[s], strict=True):
                cin, cout = self.cols(before, k), self.cols(s, k)
                below_in = source[before][:m][:, cin]
                ops.append(
                    (
                        below_in,
                        w,
                        z[:, cout],
                        below_in.T,
                        g,
                        delta[:, cout],
                        w.T,
                        buffers.delta[before][:m][:, cin],
                    )
                )
            plan.append(ops)
        buffers.plans[key] = plan
        return plan

    def forward(self, X: Any, buffers: Buffers, masks: list[Any] | None = None) -> Any:
        """Every member's output activations for the shared rows ``X`` (``masks``:
        each hidden stage's concatenated inverted-dropout factors, or None)."""
        m = len(X)
        last = self.L - 1
        plan = self._plan(buffers, m, masks is not None)
        for s in range(self.L):
            z = buffers.z[s][:m]
            if s == 0:
                xp.matmul(X, self.W0, out=z)
            else:
                for a, w, out, *_ in plan[s]:
                    xp.matmul(a, w, out=out)
            z += self.Bl[s]
            if s == last:
                break
            for start, end, activation in self.activation_runs[s]:
                view = z[:, start:end]
                activation.apply(view, out=view)
            if masks is not None:
                xp.multiply(z, masks[s][:m], out=buffers.dropped[s][:m])
        buffers.x, buffers.masks = X, masks
        out = buffers.output[:m]
        if self.softmax_columns is None:
            for start, end, output in self.output_runs:
                self._activate(output, z[:, start:end], out[:, start:end])
        else:
            picked = buffers.scratch_out[:m]
            self._activate("sigmoid", z, out)
            self._activate("softmax", z, picked)
            xp.copyto(out, picked, where=self.softmax_columns)
        return out

    def _activate(self, output: str, z: Any, out: Any) -> None:
        """The output activation ``output`` of the columns ``z`` (whole members) into ``out``."""
        if output == "softmax":
            m, C = len(z), self.n_classes
            zs, a = z.reshape(m, -1, C), out.reshape(m, -1, C)
            xp.subtract(zs, zs.max(axis=2, keepdims=True), out=a)
            xp.exp(a, out=a)
            a /= a.sum(axis=2, keepdims=True)
        else:
            sigmoid(z, out=out)

    def backward(self, y: Any, buffers: Buffers, output_scale: Any) -> None:
        """Gradients of each member's mean loss over the last forward's rows, times its
        entry of ``output_scale`` (a row vector over the output columns, already / m)."""
        m = len(y)
        delta = buffers.output[:m]
        derivatives = [
            delta[:, s:e] - delta[:, s:e] * delta[:, s:e] for s, e in self.quadratic_runs
        ]
        delta -= xp.take(self.one_hot, y, axis=0, out=buffers.one_hot[:m], mode="clip")
        for (start, end), derivative in zip(self.quadratic_runs, derivatives, strict=True):
            delta[:, start:end] *= derivative
        delta *= output_scale
        masks = buffers.masks
        plan = self._plan(buffers, m, masks is not None)
        for s in range(self.L - 1, 0, -1):
            ops = plan[s]
            for *_, below_in_t, g, d, _, _ in ops:
                xp.matmul(below_in_t, d, out=g)
            xp.add.reduce(delta, axis=0, out=self.GBl[s])
            for *_, d, w_t, below in ops:
                xp.matmul(d, w_t, out=below)
            # Every block writing errors into stage s - 1 sits in stage s or later: done.
            below = buffers.delta[s - 1][:m]
            if masks is not None:
                below *= masks[s - 1][:m]
            a = buffers.z[s - 1][:m]
            scratch = buffers.scratch[s - 1][:m]
            for start, end, activation in self.activation_runs[s - 1]:
                activation.backprop(below[:, start:end], a[:, start:end], scratch[:, start:end])
            delta = below
        xp.matmul(buffers.x.T, delta, out=self.GW0)
        xp.add.reduce(delta, axis=0, out=self.GBl[0])
