"""One trial: build the network from the sampled params, train it, report, record."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from hpsearch.data import Augmentation, Folds, Split
from hpsearch.errors import HpsearchError
from hpsearch.nn import History, Network, StopReason, train
from hpsearch.nn.training import Callback
from hpsearch.spec.study_spec import StudySpec
from hpsearch.tuning.record import FoldResult, TrialRecord, Worker
from hpsearch.tuning.reporting import EpochReporter, write_record
from hpsearch.tuning.space import suggest_params


@dataclass
class TrialOutcome:
    """What the worker tells Optuna: the value, or that the trial was pruned/failed."""

    state: optuna.trial.TrialState
    value: float | None


def network_sizes(params: dict[str, Any], n_features: int, n_classes: int) -> list[int]:
    """Layer widths: input, ``hidden_layers`` x ``hidden_width``, output."""
    return [n_features] + [int(params["hidden_width"])] * int(params["hidden_layers"]) + [n_classes]


def build_network(
    params: dict[str, Any], spec: StudySpec, n_features: int, n_classes: int, seed: int
) -> Network:
    """The network a trial's params describe."""
    return Network(
        network_sizes(params, n_features, n_classes),
        activation=params["activation"],
        loss=params["loss"],
        init=params["init"],
        dropout=params["dropout"],
        seed=seed,
        dtype=spec.training.dtype,
    )


def training_options(params: dict[str, Any], spec: StudySpec) -> dict[str, Any]:
    """Keyword arguments of ``hpsearch.nn.train`` for these params and the spec's [training]."""
    regularizer = params["regularizer"]
    return {
        "epochs": spec.training.epochs,
        "batch_size": int(params["batch_size"]),
        "eta": float(params["eta"]),
        "optimizer": params["optimizer"],
        "momentum": float(params["momentum"]),
        "l2": float(params["lambda"]) if regularizer == "l2" else 0.0,
        "l1": float(params["lambda"]) if regularizer == "l1" else 0.0,
        "input_noise": float(params["input_noise"]),
        "patience": spec.training.patience,
        "schedule": None if spec.training.schedule == "none" else spec.training.schedule,
    }


def make_augmentation(spec: StudySpec, image_shape: tuple[int, int] | None) -> Augmentation | None:
    aug = spec.data.augmentation
    if aug is None or image_shape is None or (not aug.rotation and not aug.shift):
        return None
    return Augmentation(image_shape, rotation=aug.rotation, shift=aug.shift)


def trial_seed(spec: StudySpec, number: int) -> int:
    """A seed per trial, fixed by the study seed and the trial number."""
    return int(np.random.SeedSequence([spec.study.seed or 0, number]).generate_state(1)[0])


def train_on_split(
    network: Network,
    data: Split,
    options: dict[str, Any],
    seed: int,
    augment: Augmentation | None,
    callback: Callback | None,
) -> History:
    """Train ``network`` on ``data``'s training rows, validated each epoch on its
    validation rows; ``options`` are ``training_options``."""
    return train(
        network,
        (data.X_train, data.y_train),
        (data.X_validation, data.y_validation),
        callback=callback,
        seed=seed,
        augment=augment,
        **options,
    )


class Objective:
    """Runs trials of one study on one data split (loaded once per worker process)."""

    def __init__(
        self,
        spec: StudySpec,
        data: Split | Folds,
        *,
        study_name: str,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        # Each trial trains on every fold: one split is a single fold.
        self.folds: Sequence[Split] = data if isinstance(data, Folds) else [data]
        self.study_name = study_name
        self.provenance = provenance or {}
        self.augment = make_augmentation(spec, data.image_shape)
        self.metric = spec.study.metric

    def __call__(self, trial: optuna.Trial) -> TrialOutcome:
        """Train on the split (or on the first fold) reporting every epoch to the pruner;
        with folds, then on each other fold, unreported. The value is the metric at the
        best epoch (with folds, its mean over the folds)."""
        params = suggest_params(trial, self.spec)
        seed = trial_seed(self.spec, trial.number)
        # Deferred (with the params) to the first epoch's report, a few ms from now:
        # one transaction instead of two.
        write_record(
            trial,
            TrialRecord(
                worker=Worker(socket.gethostname(), os.getpid()),
                data_provenance=self.provenance,
                command=f"hpsearch retrain {self.study_name} --trial {trial.number}",
            ),
            defer=True,
        )
        prunes = not isinstance(trial.study.pruner, optuna.pruners.NopPruner)
        reporter = EpochReporter(trial, prunes=prunes)
        pruned = False

        def report(epoch: int, metrics: dict[str, Any]) -> bool:
            nonlocal pruned
            value = metrics[self.metric]
            finite = value is not None and np.isfinite(value)
            pruned = reporter.epoch(epoch, float(value) if finite else None, metrics)
            return pruned

        started = time.perf_counter()
        histories = [self._train(params, seed, self.folds[0], report)]
        reporter.flush(defer=True)  # stored with the trial's final state
        history = histories[0]
        cross_validated = len(self.folds) > 1
        if not pruned:
            for fold in range(1, len(self.folds)):
                if histories[-1].stop_reason == StopReason.DIVERGED:
                    break
                histories.append(self._train(params, seed + fold, self.folds[fold], None))
        seconds = time.perf_counter() - started
        diverged = next((h for h in histories if h.stop_reason == StopReason.DIVERGED), None)
        fail_reason: str | None = None
        folds: tuple[FoldResult, ...] | None = None
        if diverged is not None and not pruned:
            where = f" in fold {histories.index(diverged)}" if cross_validated else ""
            loss = diverged.records[-1].train_loss if diverged.records else float("nan")
            fail_reason = (
                f"diverged{where} at epoch {diverged.epochs_run}: training loss {loss:.3g} "
                "(NaN, infinite, or over 1000x the untrained network's); try a smaller eta"
            )
        elif cross_validated and not pruned:
            folds = tuple(FoldResult(self._value(h), h.best_epoch, h.epochs_run) for h in histories)
        record = TrialRecord(
            history=history.to_dict(),
            stop_reason="pruned" if pruned else str(history.stop_reason),
            epochs_run=sum(h.epochs_run for h in histories),
            seconds=round(seconds, 4),
            fail_reason=fail_reason,
            folds=folds,
        )
        write_record(trial, record, defer=True)
        if pruned:
            return TrialOutcome(optuna.trial.TrialState.PRUNED, None)
        if diverged is not None:
            return TrialOutcome(optuna.trial.TrialState.FAIL, None)
        value = sum(self._value(h) for h in histories) / len(histories)
        return TrialOutcome(optuna.trial.TrialState.COMPLETE, value)

    def _train(
        self, params: dict[str, Any], seed: int, data: Split, callback: Callback | None
    ) -> History:
        """A new network for ``params`` trained on ``data``'s training set."""
        network = build_network(params, self.spec, data.X_train.shape[1], data.n_classes, seed)
        options = training_options(params, self.spec)
        return train_on_split(network, data, options, seed, self.augment, callback)

    def _value(self, history: History) -> float:
        if self.metric == "validation_accuracy":
            value = history.best_validation_accuracy
        else:
            value = history.records[(history.best_epoch or history.epochs_run) - 1].validation_loss
        if value is None:  # the objective always trains with a validation set
            raise HpsearchError("a trial trained without a validation set has no value")
        return float(value)
