"""The live stack of a cohort group: its buffers, optimizer, penalties, dropout masks,
one training step and the evaluation of every member at once."""

from __future__ import annotations

from typing import Any

from hpsearch.nn.backend import xp
from hpsearch.nn.cohort_member import MemberState
from hpsearch.nn.network import EVAL_CHUNK
from hpsearch.nn.stack import Buffers, Stack, order_key
from hpsearch.nn.stack_optimizers import StackOptimizer, at, spread
from hpsearch.nn.training import PROBE_SIZE

#: Weights updated at once (penalty and update rule, block by block): a block and its
#: gradient and state stay in cache, where one pass over a big stack would not.
BLOCK_ELEMENTS = 2**16
#: Elements of dropout factors drawn per layer at once (a member's rows in bulk).
MASK_CHUNK_ELEMENTS = 2**20


class StackGroup:
    """The stack of a group's live members, its buffers, optimizer and coefficients."""

    def __init__(
        self, live: list[MemberState], batch_size: int, eval_rows: int, optimizer: StackOptimizer
    ) -> None:
        self.live = sorted(live, key=lambda m: order_key(m.network))
        self.stack = Stack(
            [m.network for m in self.live],
            [m.weights for m in self.live],
            [m.biases for m in self.live],
        )
        stack = self.stack
        self.train_buffers = Buffers(stack, batch_size)
        self.eval_buffers = Buffers(stack, eval_rows)
        self.optimizer = optimizer
        optimizer.state = []
        if optimizer.n_states and self.live[0].state:
            optimizer.state = []
            for s in range(optimizer.n_states):
                w = xp.empty_like(stack.W)
                b = xp.empty_like(stack.B)
                stack.pack(
                    [m.state[s][0] for m in self.live], [m.state[s][1] for m in self.live], w, b
                )
                optimizer.state.append([w, b])
        # Blocks of about BLOCK_ELEMENTS (a small stack is one block: fewer calls).
        size = stack.W.size
        step = -(-size // max(1, round(size / BLOCK_ELEMENTS)))
        self.blocks = [(0, slice(s, s + step)) for s in range(0, size, step)]
        self.blocks.append((1, slice(None)))
        dropout = [m.network.dropout for m in self.live]
        self.dropout = stack.L > 1 and any(p > 0 for p in dropout)
        if self.dropout:
            dtype = stack.dtype
            self.keep_below = [stack.per_column(dropout, layer) for layer in range(stack.L - 1)]
            self.keep_scale = [
                stack.per_column([1.0 / (1.0 - p) for p in dropout], layer)
                for layer in range(stack.L - 1)
            ]
            per_row = max(1, MASK_CHUNK_ELEMENTS // max(1, max(stack.H[:-1]) * batch_size))
            self.mask_rows = min(per_row * batch_size, self.live[0].n)  # at most an epoch
            self.masks = [xp.zeros((self.mask_rows, h), dtype) for h in stack.H[:-1]]
            self.mask_start = self.mask_end = 0
        self.configure()

    def configure(self) -> None:
        """Per-member coefficients after eta changed (or the stack was rebuilt)."""
        stack, opt = self.stack, self.optimizer
        etas = xp.array([m.current_eta for m in self.live], dtype=xp.float64)
        scale = etas if opt.prescaled else xp.ones_like(etas)
        self.scale = scale
        self._output_scales: dict[int, Any] = {}
        opt.configure(
            etas,
            xp.array([m.member.momentum for m in self.live], dtype=xp.float64),
            [stack.w_member, stack.b_member],
            stack.dtype,
        )
        member = self.live[0].member
        strength = xp.array(
            [m.member.l2 if member.l2 > 0 else m.member.l1 for m in self.live], dtype=xp.float64
        )
        self.penalty = "l2" if member.l2 > 0 else "l1" if member.l1 > 0 else None
        if self.penalty:
            n = self.live[0].n
            coefficient = xp.array([s * st / n for s, st in zip(scale, strength, strict=True)])
            self.penalty_coefficient = spread(coefficient.astype(stack.dtype), stack.w_member)
            self.penalty_scratch = xp.empty_like(stack.W)

    def output_scale(self, m: int) -> Any:
        """The row vector scale / m over the output columns (as ``Workspace.backward``)."""
        vector = self._output_scales.get(m)
        if vector is None:
            per_member = xp.array([s / m for s in self.scale])
            vector = per_member.astype(self.stack.dtype)[self.stack.out_member][None, :]
            self._output_scales[m] = vector
        return vector

    def masks_for(self, start: int, m: int, n: int) -> list[Any]:
        """Each hidden layer's dropout factors for rows ``start..start+m`` of the epoch,
        drawn in bulk from each member's own dropout streams."""
        if start >= self.mask_end:
            rows = min(self.mask_rows, n - start)
            stack = self.stack
            for layer, buffer in enumerate(self.masks):
                block = buffer[:rows]
                for k, h in zip(stack.members[layer], stack.widths[layer], strict=True):
                    live = self.live[k]
                    if live.network.dropout > 0:
                        draw = xp.empty((rows, h), stack.dtype)
                        live.streams.dropout[layer].random(out=draw, dtype=stack.dtype)
                        block[:, stack.cols(layer, k)] = draw
                xp.greater_equal(block, self.keep_below[layer], out=block)
                block *= self.keep_scale[layer]
            self.mask_start, self.mask_end = start, start + rows
        offset = start - self.mask_start
        return [buffer[offset : offset + m] for buffer in self.masks]

    def new_epoch(self) -> None:
        if self.dropout:
            self.mask_start = self.mask_end = 0

    def step(self, xb: Any, yb: Any, masks: list[Any] | None) -> None:
        stack = self.stack
        self.stack.forward(xb, self.train_buffers, masks)
        stack.backward(yb, self.train_buffers, self.output_scale(len(yb)))
        penalize = self._penalize if self.penalty else None
        self.optimizer.step([stack.W, stack.B], [stack.GW, stack.GB], self.blocks, penalize)

    def _penalize(self, g: Any, w: Any, sl: slice) -> None:
        """The L2 or L1 gradient term of one block of the weights, rounded as
        ``regularizers`` rounds it (a fused axpy would round differently)."""
        scratch, coefficient = self.penalty_scratch[sl], at(self.penalty_coefficient, sl)
        if self.penalty == "l2":
            xp.multiply(w, coefficient, out=scratch)
        else:
            xp.sign(w, out=scratch)
            scratch *= coefficient
        g += scratch

    def evaluate(
        self, X: Any, y: Any, probe: int = 0
    ) -> tuple[list[tuple[float, float]], list[list[float]] | None]:
        """Every member's (mean loss, accuracy) over ``X, y`` (as ``Network.evaluate``),
        and with ``probe`` > 0 its gradient norms on the first ``probe`` rows
        back-propagated from the first chunk's forward pass (``eval_rows`` keeps it at
        least ``probe`` rows long)."""
        stack = self.stack
        totals = xp.zeros(stack.K)
        correct = xp.zeros(stack.K, dtype=xp.int64)
        chunk_rows = self.eval_buffers.rows
        C = stack.n_classes
        last = stack.L - 1
        norms = None
        for start in range(0, len(X), chunk_rows):
            chunk, labels = X[start : start + chunk_rows], y[start : start + chunk_rows]
            m = len(chunk)
            a = stack.forward(chunk, self.eval_buffers)
            z = self.eval_buffers.z[last][:m]
            for s, e, loss in stack.loss_runs:
                k0, k1 = s // C, e // C
                values = loss.values(
                    z[:, s:e].reshape(m, -1, C), a[:, s:e].reshape(m, -1, C), labels
                )
                totals[k0:k1] += values * m
            correct += (a.reshape(m, stack.K, C).argmax(axis=2) == labels[:, None]).sum(axis=0)
            if start == 0 and 0 < probe <= m:
                self.eval_buffers.x = chunk[:probe]
                norms = self._norms(labels[:probe])
        n = len(X)
        return [(float(totals[k]) / n, int(correct[k]) / n) for k in range(stack.K)], norms

    def _norms(self, y: Any) -> list[list[float]]:
        """Gradient norms back-propagated from the last forward pass over ``len(y)`` rows."""
        stack = self.stack
        ones = xp.ones(stack.K)
        scale = (ones / len(y)).astype(stack.dtype)[stack.out_member][None, :]
        stack.backward(y, self.eval_buffers, scale)
        norms = []
        for k in range(stack.K):
            grads, _ = stack.member_views(k, stack.GW, stack.GB)
            norms.append([float(xp.linalg.norm(g)) for g in grads])
        return norms

    def sync_members(self) -> None:
        """Point each live member's weight/bias lists at its views in the stack."""
        for k, live in enumerate(self.live):
            live.weights, live.biases = self.stack.member_views(k, self.stack.W, self.stack.B)

    def save_state(self) -> None:
        """Copy each live member's parameters and optimizer state out of the stack."""
        stack = self.stack
        for k, live in enumerate(self.live):
            live.weights, live.biases = stack.unpack(k, stack.W, stack.B)
            live.state = [stack.unpack(k, w, b) for w, b in self.optimizer.state]


def eval_rows(rows: int, lives: list[MemberState]) -> int:
    """Rows evaluated at once: ``EVAL_CHUNK`` at most, fewer when the stack is wide, but
    never fewer than the gradient-norm probe, which back-propagates from the first chunk."""
    width = sum(sum(live.network.sizes[1:]) for live in lives)
    return max(1, min(rows, EVAL_CHUNK, max(PROBE_SIZE, 2**22 // max(1, width))))
