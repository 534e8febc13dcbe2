"""A cohort's member: what ``train()`` would be given for it, and its own training state.

``MemberState`` applies ``train()``'s end-of-epoch rules (divergence, best weights,
pruning callback, patience and the halve-on-plateau schedule) to one member, so each
member of a cohort stops, restores and reports exactly as it would alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hpsearch.nn.backend import xp
from hpsearch.nn.history import EpochRecord, History, StopReason
from hpsearch.nn.network import Network
from hpsearch.nn.streams import MemberStreams, member_streams
from hpsearch.nn.training import Callback


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


class MemberState:
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
