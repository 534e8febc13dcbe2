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
import time
from collections.abc import Callable, Sequence
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp
from hpsearch.nn.batches import ShuffledBatches
from hpsearch.nn.cohort_group import StackGroup, eval_rows
from hpsearch.nn.cohort_member import CohortMember, MemberState
from hpsearch.nn.history import EpochRecord, History
from hpsearch.nn.optimizers import OPTIMIZERS
from hpsearch.nn.stack_optimizers import StackOptimizer
from hpsearch.nn.streams import data_stream
from hpsearch.nn.training import (
    DIVERGENCE_FACTOR,
    METRICS_SAMPLE,
    PROBE_SIZE,
    Augment,
    _add_noise,
    _check_arguments,
    _check_data,
)

#: Most bytes of weights in one stack: a bigger group is split into stacks trained one
#: after another, each small enough for its passes to run from cache.
STACK_BYTES = 2**20


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
    lives = [MemberState(member, n) for member in group]
    noise = group[0].input_noise if len(group) == 1 else 0.0
    noisy = xp.empty((batch_size, X.shape[1]), dtype=X.dtype) if noise > 0 else None
    sample = slice(None, None, -(-n // METRICS_SAMPLE))
    X_sample, y_sample = X[sample], y[sample]
    probe = min(PROBE_SIZE, len(X_sample))  # rows of the gradient-norm probe, as train()
    biggest = max(len(X_sample), len(X_val) if X_val is not None else 0)
    optimizer = StackOptimizer(group[0].optimizer)
    state = StackGroup(lives, batch_size, eval_rows(biggest, lives), optimizer)
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
            train_metrics, norms = state.evaluate(X_sample, y_sample, probe=probe)
            assert norms is not None  # eval_rows: the first chunk holds the probe
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
                state = StackGroup(remaining, batch_size, eval_rows(biggest, remaining), optimizer)
                state.sync_members()
            else:
                state.configure()
    state.save_state()
    for live in state.live:
        if not live.done:
            live.finish()
    return [live.history for live in lives]
