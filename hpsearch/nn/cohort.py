"""Cohorts: many networks trained in lockstep over one stream of mini-batches.

Small networks spend most of a training step on Python and NumPy call overhead, not
on arithmetic. ``train_cohort`` trains K members in one step (``stack.Stack``: one
wide GEMM for all first layers, flat buffers so a penalty or update is one call for
all), which pays that overhead once for K. Each member keeps its own
hyperparameters (eta, L2/L1, momentum, dropout, input noise, init and seed, widths,
activation, loss), its own early stopping, schedule, best-weights restore,
divergence detection and callback (pruning), and gets the ``History`` ``train()``
would give it: with the same seeds (``seed`` per member, ``data_seed`` for the
cohort) a member learns exactly what ``train()`` teaches it alone (``streams``).
A member that stops leaves the stack at the end of that epoch.

Grouping is done here (``group_members``): members share a step when they have the
same batch size, optimizer, penalty kind and dtype (depths mix: ``stack``'s stages),
and have hidden layers or both have none; a member with input noise sees its own noisy inputs, so it trains in a group of its own. Groups run one after
another, each with its own copy of the data stream.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scipy.linalg.blas import get_blas_funcs

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp
from hpsearch.nn.batches import ShuffledBatches
from hpsearch.nn.history import EpochRecord, History, StopReason
from hpsearch.nn.network import EVAL_CHUNK, Network
from hpsearch.nn.optimizers import OPTIMIZERS
from hpsearch.nn.stack import Buffers, Stack, order_key
from hpsearch.nn.stack_optimizers import StackOptimizer, at, spread
from hpsearch.nn.streams import MemberStreams, data_stream, member_streams
from hpsearch.nn.training import (
    DIVERGENCE_FACTOR,
    METRICS_SAMPLE,
    PROBE_SIZE,
    Augment,
    Callback,
    _add_noise,
    _check_arguments,
    _check_data,
)

#: Weights updated at once (penalty and update rule, block by block): a block and its
#: gradient and state stay in cache, where one pass over a big stack would not.
BLOCK_ELEMENTS = 2**16
#: Most bytes of weights in one stack: a bigger group is split into stacks trained one
#: after another, each small enough for its passes to run from cache.
STACK_BYTES = 2**20
#: Elements of dropout factors drawn per layer at once (a member's rows in bulk).
MASK_CHUNK_ELEMENTS = 2**20


@dataclass
class CohortMember:
    """One network of a cohort and what ``train()`` would be given for it."""

    network: Network
    batch_size: int
    eta: float
    optimizer: str = "sgd"
    momentum: float = 0.9
    l2: float = 0.0
    l1: float = 0.0
    input_noise: float = 0.0
    patience: int | None = None
    schedule: str | None = None
    seed: int | None = None
    callback: Callback | None = None


def group_key(member: CohortMember, index: int) -> tuple[Any, ...]:
    """Members with equal keys train in one stack (a noisy member's key is its own)."""
    net = member.network
    penalty = "l2" if member.l2 > 0 else "l1" if member.l1 > 0 else None
    return (
        len(net.sizes) > 2,  # depths mix, but a net without hidden layers cannot
        net.sizes[0],
        net.sizes[-1],
        member.batch_size,
        member.optimizer,
        penalty,
        net.dtype.name,
        index if member.input_noise > 0 else None,
    )


def group_members(members: Sequence[CohortMember]) -> list[list[int]]:
    """Indices of ``members`` split into groups that can share a step (first-seen order),
    each holding at most ``STACK_BYTES`` of weights (one member more than that alone)."""
    groups: dict[tuple[Any, ...], list[list[int]]] = {}
    sizes: dict[tuple[Any, ...], int] = {}
    for i, member in enumerate(members):
        key = group_key(member, i)
        net = member.network
        size = sum(a * b for a, b in itertools.pairwise(net.sizes)) * net.dtype.itemsize
        stacks = groups.setdefault(key, [[]])
        if stacks[-1] and sizes[key] + size > STACK_BYTES:
            stacks.append([])
            sizes[key] = 0
        stacks[-1].append(i)
        sizes[key] = sizes.get(key, 0) + size
    return [stack for stacks in groups.values() for stack in stacks]


def train_cohort(
    members: Sequence[CohortMember],
    train: tuple[Any, Any],
    validation: tuple[Any, Any] | None = None,
    *,
    epochs: int,
    data_seed: int | None = None,
    augment: Augment | None = None,
    on_group: Callable[[list[int]], Any] | None = None,
) -> list[History]:
    """Train every member's network in place and return their histories, in order.

    ``data_seed`` orders the batches (and drives ``augment``) for every member; each
    member's ``seed`` its noise and dropout, so member i's weights and history equal
    those of ``train(members[i].network, ..., seed=members[i].seed,
    data_seed=data_seed)``. ``on_group(indices)``, when given, is called as each
    group starts (for logging).
    """
    if not members:
        return []
    for member in members:
        if member.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, but got {member.optimizer!r}."
            )
    histories: list[History | None] = [None] * len(members)
    for indices in group_members(members):
        if on_group is not None:
            on_group(indices)
        group = [members[i] for i in indices]
        for i, history in zip(
            indices, _train_group(group, train, validation, epochs, data_seed, augment), strict=True
        ):
            histories[i] = history
    return [h for h in histories if h is not None]


class _Live:
    """A member's training state outside the stack: stopping, schedule, best weights."""

    def __init__(self, member: CohortMember, n: int) -> None:
        self.member = member
        self.network = member.network
        self.history = History()
        self.best: tuple[list[Any], list[Any]] | None = None
        self.since_best = 0
        self.eta0 = self.current_eta = float(member.eta)
        self.patience = member.patience
        if member.schedule and self.patience is None:
            self.patience = 10
        self.streams: MemberStreams = member_streams(member.seed, len(self.network.weights) - 1)
        self.weights = self.network.weights
        self.biases = self.network.biases
        self.state: list[tuple[list[Any], list[Any]]] = []  # optimizer state, per member
        self.n = n
        self.done = False
        self.limit = math.inf  # the train loss above which it diverged

    def decide(self, record: EpochRecord) -> None:
        """``train()``'s end-of-epoch rules for this member."""
        history = self.history
        history.records.append(record)
        epoch = record.epoch
        if not math.isfinite(record.train_loss) or record.train_loss > self.limit:
            history.stop_reason = StopReason.DIVERGED
            self.done = True
            return
        if record.validation_accuracy is not None and (
            history.best_validation_accuracy is None
            or record.validation_accuracy > history.best_validation_accuracy
        ):
            history.best_epoch, history.best_validation_accuracy = epoch, record.validation_accuracy
            self.best = ([w.copy() for w in self.weights], [b.copy() for b in self.biases])
            self.since_best = 0
        else:
            self.since_best += 1
        callback = self.member.callback
        if callback is not None and callback(epoch, record.as_metrics()):
            history.stop_reason = StopReason.CALLBACK
            self.done = True
            return
        if self.patience is not None and self.since_best >= self.patience:
            if not self.member.schedule:
                history.stop_reason = StopReason.EARLY_STOP
                self.done = True
                return
            self.current_eta /= 2
            self.since_best = 0
            if self.current_eta < self.eta0 / 1024:
                history.stop_reason = StopReason.SCHEDULE_END
                self.done = True

    def finish(self) -> None:
        """Write the final (or best) parameters into the member's own network."""
        network = self.network
        final = (self.weights, self.biases)
        network.weights = [xp.ascontiguousarray(w, dtype=network.dtype).copy() for w in final[0]]
        network.biases = [b.copy() for b in final[1]]
        if self.best is not None:
            network.set_parameters(*self.best)


class _Group:
    """The stack of a group's live members, its buffers, optimizer and coefficients."""

    def __init__(
        self, live: list[_Live], batch_size: int, eval_rows: int, optimizer: StackOptimizer
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
        self.axpy = None
        if self.penalty == "l2" and xp.ndim(self.penalty_coefficient) == 0:
            self.axpy = get_blas_funcs("axpy", (stack.W,))  # in place: W, GW are contiguous

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
        """The L2 or L1 gradient term of one block of the weights (``regularizers``);
        an L2 term shared by the whole stack is one BLAS axpy (one pass, not two)."""
        scratch, coefficient = self.penalty_scratch[sl], at(self.penalty_coefficient, sl)
        if self.penalty == "l2":
            if self.axpy is not None:
                self.axpy(w, g, a=float(coefficient))
                return
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
        (``gradient_norms``), back-propagated from the first chunk's forward pass."""
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

    def gradient_norms(self, X: Any, y: Any) -> list[list[float]]:
        """Each member's per-layer weight-gradient norms on ``X, y`` (no dropout, no penalty)."""
        self.stack.forward(X, self.eval_buffers)
        return self._norms(y)

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


def _train_group(
    group: list[CohortMember],
    train: tuple[Any, Any],
    validation: tuple[Any, Any] | None,
    epochs: int,
    data_seed: int | None,
    augment: Augment | None,
) -> list[History]:
    first = group[0].network
    X, y = _check_data(first, train, "train")
    X_val, y_val = _check_data(first, validation, "validation") if validation else (None, None)
    for member in group:
        _check_arguments(
            epochs,
            member.batch_size,
            member.eta,
            member.l2,
            member.l1,
            member.patience,
            member.schedule,
            X_val,
            member.input_noise,
        )
    n = len(X)
    batch_size = min(group[0].batch_size, n)
    data_rng = data_stream(data_seed)
    lives = [_Live(member, n) for member in group]
    noise = group[0].input_noise if len(group) == 1 else 0.0
    noisy = xp.empty((batch_size, X.shape[1]), dtype=X.dtype) if noise > 0 else None
    sample = slice(None, None, -(-n // METRICS_SAMPLE))
    X_sample, y_sample = X[sample], y[sample]
    X_probe, y_probe = X_sample[:PROBE_SIZE], y_sample[:PROBE_SIZE]
    biggest = max(len(X_sample), len(X_val) if X_val is not None else 0)
    optimizer = StackOptimizer(group[0].optimizer)
    state = _Group(lives, batch_size, _eval_rows(biggest, lives), optimizer)
    state.sync_members()
    with xp.errstate(all="ignore"):  # as train(): over 1000x the untrained loss diverged
        for live, (loss, _) in zip(state.live, state.evaluate(X_sample, y_sample)[0], strict=True):
            live.limit = DIVERGENCE_FACTOR * loss
    batches = ShuffledBatches(X, y, batch_size)
    with xp.errstate(all="ignore"), batches:
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            order = data_rng.permutation(n)
            state.new_epoch()
            position = 0
            with batches.single_threaded_blas():
                for xb, yb in batches.epoch(order):
                    if augment is not None:
                        xb = augment(xb, data_rng)
                    if noisy is not None:
                        xb = _add_noise(xb, noisy[: len(xb)], noise, state.live[0].streams.noise)
                    masks = state.masks_for(position, len(xb), n) if state.dropout else None
                    state.step(xb, yb, masks)
                    position += len(xb)
            train_metrics, norms = state.evaluate(X_sample, y_sample, probe=len(X_probe))
            if norms is None:  # the probe is longer than an evaluation chunk
                norms = state.gradient_norms(X_probe, y_probe)
            val_metrics = state.evaluate(X_val, y_val)[0] if X_val is not None else None
            seconds = (time.perf_counter() - started) / len(state.live)
            changed = False
            for k, live in enumerate(state.live):
                eta_before = live.current_eta
                record = EpochRecord(
                    epoch=epoch,
                    train_loss=train_metrics[k][0],
                    train_accuracy=train_metrics[k][1],
                    validation_loss=val_metrics[k][0] if val_metrics else None,
                    validation_accuracy=val_metrics[k][1] if val_metrics else None,
                    seconds=seconds,
                    eta=eta_before,
                    gradient_norms=norms[k],
                )
                live.decide(record)
                changed = changed or live.done or live.current_eta != eta_before
            if not changed:
                continue
            stopped = [live for live in state.live if live.done]
            if stopped:
                state.save_state()
                for live in stopped:
                    live.finish()
                remaining = [live for live in state.live if not live.done]
                if not remaining:
                    break
                state = _Group(remaining, batch_size, _eval_rows(biggest, remaining), optimizer)
                state.sync_members()
            else:
                state.configure()
    state.save_state()
    for live in state.live:
        if not live.done:
            live.finish()
    return [live.history for live in lives]


def _eval_rows(rows: int, lives: list[_Live]) -> int:
    """Rows evaluated at once: ``EVAL_CHUNK`` at most, fewer when the stack is wide."""
    width = sum(sum(live.network.sizes[1:]) for live in lives)
    return max(1, min(rows, EVAL_CHUNK, max(256, 2**22 // max(1, width))))
