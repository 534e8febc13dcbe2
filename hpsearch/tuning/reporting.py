"""Reporting a running trial's epochs to the storage without letting the storage dominate.

Every epoch's validation value is recorded as an Optuna intermediate value, but the
writes are batched: buffered epochs are flushed in one transaction, and the pruner is
asked once per flush. A flush happens when the training time since the previous one
is at least ``(1 - STORAGE_SHARE) / STORAGE_SHARE`` times what that flush cost, so a
trial spends about ``STORAGE_SHARE`` of its time on reporting, whether an epoch takes
5 ms (digits) or 5 s (full Fashion-MNIST): long epochs are reported and pruned every
epoch, tiny ones in batches. The share is a quarter of a worker's 2% storage budget:
the claim and the final state take the rest. The first epoch is always flushed: it
measures the cost, gives a pruner its decision at epoch 1 (Hyperband's first rung),
and carries the trial's params and attrs, which hpsearch's storage defers to it, so
other workers see them a few ms into the trial. The last epochs go with the trial's
final state. The live learning curve rides along at most every
``LIVE_HISTORY_INTERVAL`` seconds. The K trials of a cohort train in the same wall
time, so each of their reporters gets a K-th of the share (and K-times the live
interval): the cohort as a whole spends ``STORAGE_SHARE`` of its time reporting.
"""

from __future__ import annotations

import time
from typing import Any

import optuna

from hpsearch.storage.running import record_progress
from hpsearch.storage.speed import speed_path_on
from hpsearch.tuning.record import TrialRecord, record_attrs

#: Target share of a trial's wall time spent reporting to the storage.
STORAGE_SHARE = 0.005
#: Running trials rewrite their live learning curve at most this often (seconds).
LIVE_HISTORY_INTERVAL = 2.0


class EpochReporter:
    """Buffers a trial's per-epoch values and flushes them at the storage budget's pace."""

    def __init__(self, trial: optuna.Trial, *, prunes: bool, members: int = 1) -> None:
        self.trial = trial
        self.prunes = prunes
        #: Training time per flush cost: a cohort's K reporters share the storage budget.
        self._ratio = (1 - STORAGE_SHARE) / STORAGE_SHARE * max(1, members)
        self._live_interval = LIVE_HISTORY_INTERVAL * max(1, members)
        self._pending: dict[int, float] = {}
        self._records: list[dict[str, Any]] = []
        self._last_flush = time.perf_counter()
        self._last_live = time.monotonic()
        self._flush_cost = 0.0
        self.flushes = 0
        self._pending_was_written = False
        #: With the ``deferred_reports`` speed path off, every epoch is flushed.
        self._batches = speed_path_on("deferred_reports")

    def epoch(self, epoch: int, value: float | None, metrics: dict[str, Any]) -> bool:
        """Record one epoch; True when the pruner says to stop the trial."""
        self._records.append(metrics)
        if value is not None:
            self._pending[epoch] = value
        computing = time.perf_counter() - self._last_flush
        if self._batches and computing < self._flush_cost * self._ratio:
            return False
        started = time.perf_counter()
        self.flush()
        prune = bool(self._pending_was_written and self.prunes and self.trial.should_prune())
        self._flush_cost = time.perf_counter() - started
        self._last_flush = time.perf_counter()
        return prune

    def flush(self, *, defer: bool = False) -> None:
        """Write the buffered epochs (and, when due, the live curve) in one transaction;
        with ``defer`` (the last flush, the pruner not asked) in the trial's final one."""
        attrs: dict[str, Any] = {}
        if time.monotonic() - self._last_live >= self._live_interval:
            live = {"records": self._records, "stop_reason": None}
            attrs = record_attrs(TrialRecord(live_history=live))
            self._last_live = time.monotonic()
        values, self._pending = self._pending, {}
        self._pending_was_written = bool(values)
        if not values and not attrs:
            return
        self.flushes += 1
        write_progress(self.trial, values, attrs, defer=defer)


def write_record(trial: optuna.Trial, record: TrialRecord, *, defer: bool = False) -> None:
    """Store ``record``'s fields on a running trial (``defer``: with its next write)."""
    write_progress(trial, {}, record_attrs(record), defer=defer)


def write_progress(
    trial: optuna.Trial,
    values: dict[int, float],
    attrs: dict[str, Any],
    *,
    defer: bool = False,
) -> None:
    """A running trial's intermediate values (step -> value) and user attrs, in one
    transaction on hpsearch's storage (``storage.running.record_progress``), else
    through Optuna's calls.

    With ``defer``, hpsearch's worker storage (``StudyCache``) keeps them for the trial's
    next write, at the latest its final state: for what the objective records last.
    With the ``deferred_reports`` speed path off, nothing is deferred.
    """
    defer = defer and speed_path_on("deferred_reports")
    if record_progress(trial, values, attrs, defer=defer):
        return
    for step, value in values.items():
        trial.report(value, step)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
