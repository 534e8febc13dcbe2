"""Batched epoch reports: written in one transaction, and seen by the pruner."""

from __future__ import annotations

from pathlib import Path

import optuna

from hpsearch.storage.running import stored_trial
from hpsearch.storage.urls import open_storage
from hpsearch.study.queue import claim_trial, enqueue_budget
from hpsearch.tuning import reporting
from hpsearch.tuning.reporting import EpochReporter


def _study(tmp_path: Path) -> optuna.Study:
    storage = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    study = optuna.create_study(
        study_name="r", storage=storage, pruner=pruner, direction="maximize"
    )
    good = optuna.trial.create_trial(value=0.9, intermediate_values={1: 0.8, 2: 0.9})
    study.add_trial(good)
    enqueue_budget(study, [], 1)
    return study


def test_pruner_sees_batched_reports(tmp_path: Path) -> None:
    """Rule: epochs reported through EpochReporter (written below Optuna's cache) reach
    the pruner: a trial far below the median at epoch 1 is pruned at that flush."""
    study = _study(tmp_path)
    trial = claim_trial(study)
    reporter = EpochReporter(trial, prunes=True)
    assert reporter.epoch(1, 0.1, {"epoch": 1}) is True
    assert reporter.flushes == 1


def test_batched_reports_are_stored_for_every_epoch(tmp_path: Path, monkeypatch) -> None:
    """Rule: with flushes spaced out, every epoch's value still ends up in the storage,
    and the live curve rides along."""
    monkeypatch.setattr(reporting, "LIVE_HISTORY_INTERVAL", 0.0)
    study = _study(tmp_path)
    trial = claim_trial(study)
    reporter = EpochReporter(trial, prunes=False)
    reporter._flush_cost = 10.0  # noqa: SLF001 - pretend the storage is slow: no flush until the end
    for epoch in range(1, 6):
        assert reporter.epoch(epoch, 0.5 + epoch / 100, {"epoch": epoch}) is False
    assert reporter.flushes == 0
    reporter.flush()
    stored = stored_trial(study, trial)
    assert stored.intermediate_values == {e: 0.5 + e / 100 for e in range(1, 6)}
    assert [r["epoch"] for r in stored.user_attrs["live_history"]["records"]] == [1, 2, 3, 4, 5]
