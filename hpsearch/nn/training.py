"""The training loop: mini-batches, penalties, early stopping, schedule, callbacks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from hpsearch.errors import ConfigError
from hpsearch.nn.backend import xp
from hpsearch.nn.batches import ShuffledBatches
from hpsearch.nn.history import EpochRecord, History, StopReason
from hpsearch.nn.network import Network
from hpsearch.nn.optimizers import make_optimizer
from hpsearch.nn.propagation import Workspace
from hpsearch.nn.regularizers import add_l1, add_l2
from hpsearch.nn.streams import data_stream, member_streams

#: Training-set metrics are measured on about this many examples (a fixed, evenly strided sample).
METRICS_SAMPLE = 5_000
#: Per-layer gradient norms are measured on at most this many training examples.
PROBE_SIZE = 500
#: A training loss above this many times the untrained network's has diverged.
DIVERGENCE_FACTOR = 1e3
SCHEDULES = ("halve_on_plateau",)

Callback = Callable[[int, dict[str, Any]], Any]
Augment = Callable[[Any, xp.random.Generator], Any]


def train(
    network: Network,
    train: tuple[Any, Any],
    validation: tuple[Any, Any] | None = None,
    *,
    epochs: int,
    batch_size: int,
    eta: float,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    l2: float = 0.0,
    l1: float = 0.0,
    patience: int | None = None,
    schedule: str | None = None,
    callback: Callback | None = None,
    seed: int | None = None,
    data_seed: int | None = None,
    augment: Augment | None = None,
    input_noise: float = 0.0,
) -> History:
    """Train ``network`` in place by mini-batch gradient descent and return its ``History``.

    1. Each epoch shuffles the training set once; a helper thread gathers it, chunk
       by chunk, into preallocated buffers, and mini-batches are views of those
       (``ShuffledBatches``).
    2. ``augment(batch, rng)``, when given, transforms training batches only; then
       ``input_noise`` > 0 adds Gaussian noise of that standard deviation to each
       input of each training batch (a fresh draw every time the batch is seen).
       Randomness (``streams``): batch order and augmentation come from ``data_seed``
       (default: ``seed``); input noise and dropout from ``seed``, so the same network
       trained in a cohort (``hpsearch.nn.cohort``) with the same seeds learns the same.
    3. After each epoch: loss/accuracy on (a fixed sample of) the training set and
       on ``validation``, per-layer gradient norms, then ``callback(epoch, metrics)``;
       a truthy return stops training (reason ``callback``).
    4. ``patience``: stop after that many epochs without a new best validation
       accuracy. ``schedule="halve_on_plateau"``: instead halve eta on each such
       plateau and stop once eta < eta0 / 1024. Either way, and whenever training
       stops with a validation set, the best epoch's weights are restored.
    5. Divergence stops training with reason ``diverged``: a training loss that is NaN
       or infinite, or over ``DIVERGENCE_FACTOR`` (1,000) times the untrained network's
       loss on the same sample (``eta = 1e6`` saturates every unit: the loss is huge
       but finite, the gradients zero, and accuracy stays at chance).
    """
    X, y = _check_data(network, train, "train")
    X_val, y_val = _check_data(network, validation, "validation") if validation else (None, None)
    _check_arguments(epochs, batch_size, eta, l2, l1, patience, schedule, X_val, input_noise)
    if schedule and patience is None:
        patience = 10
    n = len(X)
    data_rng = data_stream(seed if data_seed is None else data_seed)
    streams = member_streams(seed, len(network.weights) - 1)
    opt = make_optimizer(optimizer, momentum=momentum)
    batch_size = min(batch_size, n)
    workspace = Workspace(network, batch_size)
    batches = ShuffledBatches(X, y, batch_size)
    noisy = xp.empty((batch_size, X.shape[1]), dtype=X.dtype) if input_noise > 0 else None
    penalty = (add_l2, l2) if l2 > 0 else (add_l1, l1) if l1 > 0 else None
    penalty_scratch = [xp.empty_like(w) for w in network.weights] if penalty else []
    # Every k-th example: spread over the whole set (all classes, even if it is sorted),
    # and a view, so measuring costs no copy of the data.
    sample = slice(None, None, -(-n // METRICS_SAMPLE))
    X_sample, y_sample = X[sample], y[sample]
    X_probe, y_probe = X_sample[:PROBE_SIZE], y_sample[:PROBE_SIZE]

    history = History()
    best: tuple[list[Any], list[Any]] | None = None
    since_best = 0
    eta0 = current_eta = float(eta)
    params = network.weights + network.biases
    grads = workspace.grad_weights + workspace.grad_biases
    # Divergence is detected and reported, not warned about; the batch thread ends with it.
    with xp.errstate(all="ignore"), batches:
        limit = DIVERGENCE_FACTOR * network.evaluate(X_sample, y_sample)[0]  # untrained loss
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            order = data_rng.permutation(n)
            scale = current_eta if opt.prescaled else 1.0
            with batches.single_threaded_blas():
                for xb, yb in batches.epoch(order):
                    if augment is not None:
                        xb = augment(xb, data_rng)
                    if noisy is not None:
                        xb = _add_noise(xb, noisy[: len(xb)], input_noise, streams.noise)
                    workspace.forward(xb, rngs=streams.dropout)
                    workspace.backward(yb, scale=scale)
                    if penalty is not None:
                        add, strength = penalty
                        for w, g, s in zip(network.weights, grads, penalty_scratch, strict=False):
                            add(w, g, scale * strength / n, s)
                    opt.step(params, grads, current_eta)
            record = _measure(
                network,
                epoch,
                current_eta,
                started,
                (X_sample, y_sample),
                (X_probe, y_probe),
                (X_val, y_val),
            )
            history.records.append(record)
            if not math.isfinite(record.train_loss) or record.train_loss > limit:
                history.stop_reason = StopReason.DIVERGED
                break
            if record.validation_accuracy is not None and (
                history.best_validation_accuracy is None
                or record.validation_accuracy > history.best_validation_accuracy
            ):
                history.best_epoch, history.best_validation_accuracy = (
                    epoch,
                    record.validation_accuracy,
                )
                best = network.copy_parameters()
                since_best = 0
            else:
                since_best += 1
            if callback is not None and callback(epoch, record.as_metrics()):
                history.stop_reason = StopReason.CALLBACK
                break
            if patience is not None and since_best >= patience:
                if not schedule:
                    history.stop_reason = StopReason.EARLY_STOP
                    break
                current_eta /= 2
                since_best = 0
                if current_eta < eta0 / 1024:
                    history.stop_reason = StopReason.SCHEDULE_END
                    break
    if best is not None:
        network.set_parameters(*best)
    return history


def _add_noise(xb: Any, out: Any, sigma: float, rng: xp.random.Generator) -> Any:
    """``xb`` plus N(0, sigma^2) noise per input, written into ``out`` (xb is untouched)."""
    rng.standard_normal(out=out, dtype=out.dtype)
    out *= sigma
    out += xb
    return out


def _measure(
    network: Network,
    epoch: int,
    eta: float,
    started: float,
    sample: tuple[Any, Any],
    probe: tuple[Any, Any],
    validation: tuple[Any, Any],
) -> EpochRecord:
    train_loss, train_accuracy = network.evaluate(*sample)
    _, grad_weights, _ = network.gradients(*probe)
    norms = [float(xp.linalg.norm(g)) for g in grad_weights]
    validation_loss: float | None = None
    validation_accuracy: float | None = None
    if validation[0] is not None:
        validation_loss, validation_accuracy = network.evaluate(*validation)
    return EpochRecord(
        epoch=epoch,
        train_loss=train_loss,
        train_accuracy=train_accuracy,
        validation_loss=validation_loss,
        validation_accuracy=validation_accuracy,
        seconds=time.perf_counter() - started,
        eta=eta,
        gradient_norms=norms,
    )


def _check_data(network: Network, data: Any, name: str) -> tuple[Any, Any]:
    try:
        X, y = data
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a pair (X, y), but got {type(data).__name__}.") from None
    X = network.check_inputs(X)
    y = xp.asarray(y)
    if y.ndim != 1 or len(y) != len(X) or len(X) == 0:
        raise ConfigError(
            f"{name}: y must be 1-D with one label per row of X (got X {X.shape}, y {y.shape})."
        )
    if not xp.issubdtype(y.dtype, xp.integer):
        if not xp.all(xp.mod(y, 1) == 0):
            raise ConfigError(f"{name}: labels must be integers 0..{network.n_classes - 1}.")
        y = y.astype(xp.int64)
    if y.min() < 0 or y.max() >= network.n_classes:
        raise ConfigError(
            f"{name}: labels must be in 0..{network.n_classes - 1}, but got {y.min()}..{y.max()}."
        )
    return X, y.astype(xp.intp, copy=False)


def _check_arguments(
    epochs: int,
    batch_size: int,
    eta: float,
    l2: float,
    l1: float,
    patience: int | None,
    schedule: str | None,
    X_val: Any,
    input_noise: float,
) -> None:
    problems = []
    if int(epochs) < 1:
        problems.append(f"epochs must be >= 1, but got {epochs!r}")
    if int(batch_size) < 1:
        problems.append(f"batch_size must be >= 1, but got {batch_size!r}")
    if not float(eta) > 0 or not math.isfinite(eta):
        problems.append(f"eta must be a positive number, but got {eta!r}")
    if l2 < 0 or l1 < 0:
        problems.append(f"l2 and l1 must be >= 0, but got l2={l2!r}, l1={l1!r}")
    if not float(input_noise) >= 0 or not math.isfinite(input_noise):
        problems.append(f"input_noise must be a number >= 0, but got {input_noise!r}")
    if l2 > 0 and l1 > 0:
        problems.append("use either l2 or l1, not both")
    if patience is not None and int(patience) < 1:
        problems.append(f"patience must be >= 1 or None, but got {patience!r}")
    if schedule is not None and schedule not in SCHEDULES:
        problems.append(f"schedule must be None or one of {list(SCHEDULES)}, but got {schedule!r}")
    if (patience is not None or schedule) and X_val is None:
        problems.append("patience and schedule need a validation set")
    if problems:
        raise ConfigError("; ".join(problems) + ".")
