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
from hpsearch.nn.cohort import CohortMember, train_cohort
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
    if aug is None or image_shape is None:
        return None
    augment = Augmentation(image_shape, rotation=aug.rotation, shift=aug.shift, flip=aug.flip)
    return augment if augment.enabled else None


def trial_seed(spec: StudySpec, number: int) -> int:
    """A seed per trial (init, dropout, input noise), fixed by the study seed and the
    trial number."""
    return int(np.random.SeedSequence([spec.study.seed or 0, number]).generate_state(1)[0])


#: Mixed into the data seed, so it differs from every trial seed of the study.
_DATA_WORD = 0x64617461  # "data"


def data_seed(spec: StudySpec) -> int:
    """The seed of every trial's batch order (and augmentation), fixed by the study seed.

    One per study, not per trial: the members of a cohort train on one stream of
    mini-batches, so a trial learns the same whether it ran alone or in a cohort,
    with any cohort size (fold f of a cross-validated trial uses this + f).
    """
    words = [spec.study.seed or 0, _DATA_WORD]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def train_on_split(
    network: Network,
    data: Split,
    options: dict[str, Any],
    seed: int,
    augment: Augmentation | None,
    callback: Callback | None,
    data_seed: int | None = None,
) -> History:
    """Train ``network`` on ``data``'s training rows, validated each epoch on its
    validation rows; ``options`` are ``training_options``; the batch order comes from
    ``data_seed`` (None: from ``seed``, as trials recorded without one trained)."""
    return train(
        network,
        (data.X_train, data.y_train),
        (data.X_validation, data.y_validation),
        callback=callback,
        seed=seed,
        data_seed=data_seed,
        augment=augment,
        **options,
    )


@dataclass
class _Member:
    """A trial of a cohort while it trains: its params, seed, reporter and pruning."""

    trial: optuna.Trial
    params: dict[str, Any]
    seed: int
    reporter: EpochReporter
    pruned: bool = False


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
        started = time.perf_counter()
        member = self._prepare(trial, cohort=trial.number, size=1)
        histories = [
            self._train(member.params, member.seed, self.folds[0], self._report(member), 0)
        ]
        member.reporter.flush(defer=True)  # stored with the trial's final state
        if not member.pruned:
            for fold in range(1, len(self.folds)):
                if histories[-1].stop_reason == StopReason.DIVERGED:
                    break
                fold_seed = member.seed + fold
                histories.append(
                    self._train(member.params, fold_seed, self.folds[fold], None, fold)
                )
        return self._finish(member, histories, time.perf_counter() - started)

    def cohort(self, trials: Sequence[optuna.Trial]) -> list[TrialOutcome]:
        """Train ``trials`` at once, fold by fold, each fold as one ``train_cohort`` call
        (the folds differ in data; the trials of a fold share it and its batch order).

        Each trial learns what ``__call__`` teaches it alone (same seeds), reports its
        own epochs and is pruned alone; a trial pruned or diverged on the first fold
        trains no other fold. The outcomes are in the order of ``trials``.
        """
        started = time.perf_counter()
        cohort_id = min(t.number for t in trials)
        members = [self._prepare(t, cohort=cohort_id, size=len(trials)) for t in trials]
        histories: list[list[History]] = [[] for _ in members]
        for fold, data in enumerate(self.folds):
            live = [
                i
                for i, m in enumerate(members)
                if not m.pruned
                and not (histories[i] and histories[i][-1].stop_reason == StopReason.DIVERGED)
            ]
            if not live:
                break
            stack = [
                self._member(
                    members[i], fold, data, self._report(members[i]) if fold == 0 else None
                )
                for i in live
            ]
            trained = train_cohort(
                stack,
                (data.X_train, data.y_train),
                (data.X_validation, data.y_validation),
                epochs=self.spec.training.epochs,
                data_seed=data_seed(self.spec) + fold,
                augment=self.augment,
            )
            for i, history in zip(live, trained, strict=True):
                histories[i].append(history)
            if fold == 0:
                for m in members:
                    m.reporter.flush(defer=True)  # stored with the trial's final state
        seconds = time.perf_counter() - started
        return [self._finish(m, h, seconds) for m, h in zip(members, histories, strict=True)]

    def _prepare(self, trial: optuna.Trial, *, cohort: int, size: int) -> _Member:
        """Suggest the trial's params and defer its record's first fields."""
        params = suggest_params(trial, self.spec)
        # Deferred (with the params) to the first epoch's report, a few ms from now:
        # one transaction instead of two.
        write_record(
            trial,
            TrialRecord(
                worker=Worker(socket.gethostname(), os.getpid()),
                data_provenance=self.provenance,
                command=f"hpsearch retrain {self.study_name} --trial {trial.number}",
                data_seed=data_seed(self.spec),
                cohort=cohort,
                cohort_size=size,
            ),
            defer=True,
        )
        prunes = not isinstance(trial.study.pruner, optuna.pruners.NopPruner)
        reporter = EpochReporter(trial, prunes=prunes, members=size)
        return _Member(trial, params, trial_seed(self.spec, trial.number), reporter)

    def _report(self, member: _Member) -> Callback:
        """The epoch callback that reports to ``member``'s trial and asks its pruner."""

        def report(epoch: int, metrics: dict[str, Any]) -> bool:
            value = metrics[self.metric]
            finite = value is not None and np.isfinite(value)
            member.pruned = member.reporter.epoch(epoch, float(value) if finite else None, metrics)
            return member.pruned

        return report

    def _finish(self, member: _Member, histories: list[History], seconds: float) -> TrialOutcome:
        """Record the trial's outcome (deferred to its final state) and return it."""
        trial, pruned = member.trial, member.pruned
        history = histories[0]
        cross_validated = len(self.folds) > 1
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
        self,
        params: dict[str, Any],
        seed: int,
        data: Split,
        callback: Callback | None,
        fold: int,
    ) -> History:
        """A new network for ``params`` trained on ``data``'s training set (fold ``fold``)."""
        network, options = self._network(params, seed, data)
        return train_on_split(
            network, data, options, seed, self.augment, callback, data_seed(self.spec) + fold
        )

    def _network(
        self, params: dict[str, Any], seed: int, data: Split
    ) -> tuple[Network, dict[str, Any]]:
        """A new network for ``params`` on ``data`` and its ``training_options``."""
        network = build_network(params, self.spec, data.X_train.shape[1], data.n_classes, seed)
        return network, training_options(params, self.spec)

    def _member(
        self, member: _Member, fold: int, data: Split, callback: Callback | None
    ) -> CohortMember:
        """``member``'s network for fold ``fold``, as ``_train`` would build and train it."""
        seed = member.seed + fold
        network, options = self._network(member.params, seed, data)
        del options["epochs"]  # the cohort's
        return CohortMember(network, seed=seed, callback=callback, **options)

    def _value(self, history: History) -> float:
        if self.metric == "validation_accuracy":
            value = history.best_validation_accuracy
        else:
            value = history.records[(history.best_epoch or history.epochs_run) - 1].validation_loss
        if value is None:  # the objective always trains with a validation set
            raise HpsearchError("a trial trained without a validation set has no value")
        return float(value)
