"""What a training run did, epoch by epoch, and why it stopped."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class StopReason(StrEnum):
    """Why ``train`` returned."""

    EPOCHS = "epochs"  # ran every epoch it was given
    EARLY_STOP = "early_stop"  # no new best validation accuracy in ``patience`` epochs
    SCHEDULE_END = "schedule_end"  # eta fell below eta0 / 1024
    DIVERGED = "diverged"  # the loss became NaN or infinite
    CALLBACK = "callback"  # the callback asked to stop (e.g. an Optuna pruner)


@dataclass
class EpochRecord:
    """Metrics after one epoch (epochs count from 1).

    ``gradient_norms`` holds the Euclidean norm of each layer's weight gradient,
    input layer first, measured on a fixed probe batch of training data: when the
    early layers' norms are orders of magnitude below the last one's, the gradient
    is vanishing; when they grow from epoch to epoch, it is exploding.
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    validation_loss: float | None
    validation_accuracy: float | None
    seconds: float
    eta: float
    gradient_norms: list[float]

    def as_metrics(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class History:
    """Per-epoch records, the best epoch (by validation accuracy) and the stop reason."""

    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_validation_accuracy: float | None = None
    stop_reason: StopReason = StopReason.EPOCHS

    def _column(self, name: str) -> list[Any]:
        return [getattr(record, name) for record in self.records]

    @property
    def epochs_run(self) -> int:
        return len(self.records)

    @property
    def train_loss(self) -> list[float]:
        return self._column("train_loss")

    @property
    def train_accuracy(self) -> list[float]:
        return self._column("train_accuracy")

    @property
    def validation_loss(self) -> list[float | None]:
        return self._column("validation_loss")

    @property
    def validation_accuracy(self) -> list[float | None]:
        return self._column("validation_accuracy")

    @property
    def seconds(self) -> list[float]:
        return self._column("seconds")

    @property
    def eta(self) -> list[float]:
        return self._column("eta")

    @property
    def gradient_norms(self) -> list[list[float]]:
        return self._column("gradient_norms")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (stored on Optuna trials, exported, plotted)."""
        return {
            "records": [asdict(r) for r in self.records],
            "best_epoch": self.best_epoch,
            "best_validation_accuracy": self.best_validation_accuracy,
            "stop_reason": str(self.stop_reason),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            records=[EpochRecord(**r) for r in data["records"]],
            best_epoch=data["best_epoch"],
            best_validation_accuracy=data["best_validation_accuracy"],
            stop_reason=StopReason(data["stop_reason"]),
        )
