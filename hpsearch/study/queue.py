"""The trial queue: how a study-wide budget and an exact grid stay exact under many workers.

Optuna's ``n_trials`` is per ``optimize`` call and its GridSampler repeats points
when workers race, so hpsearch turns the budget into a queue instead: when a study
is created, every grid point (or, for the other samplers, one empty slot per trial
of ``n_trials``) is enqueued as a WAITING trial. A worker *claims* a WAITING trial by
switching it to RUNNING with one conditional UPDATE (``... WHERE state = 'WAITING'``,
atomic on PostgreSQL, MySQL and SQLite alike), so no point runs twice and the
study never ends with more trials than its budget. An empty slot is filled by the
sampler when claimed, so TPE still sees every finished trial. A trial that has to be
given up (Ctrl-C, SIGTERM, a killed worker found by heartbeat) is put back as a new
WAITING trial with the same params.
"""

from __future__ import annotations

from typing import Any

import optuna

from hpsearch.storage.running import claim_next_trial, claims_beat, stored_trial
from hpsearch.tuning.record import RETRY_OF, TrialRecord, record_attrs

__all__ = ["RETRY_OF", "claim_records_heartbeat", "claim_trial", "enqueue_budget", "requeue"]


def enqueue_budget(study: optuna.Study, points: list[dict[str, Any]], n_slots: int) -> int:
    """Enqueue grid ``points`` (each once) or ``n_slots`` empty slots; returns how many."""
    if points:
        for point in points:
            study.enqueue_trial(point)
        return len(points)
    for _ in range(n_slots):
        study.enqueue_trial({})
    return n_slots


def claim_records_heartbeat(study: optuna.Study) -> bool:
    """Whether ``claim_trial`` records the claimed trial's first heartbeat with the claim."""
    return claims_beat(study)


def claim_trial(study: optuna.Study) -> optuna.Trial | None:
    """Atomically take one WAITING trial and return it RUNNING, or None when none is left
    (the storage's one-statement claim where it has one, else Optuna's queue pop)."""
    return claim_next_trial(study)


def requeue(study: optuna.Study, trial: optuna.Trial | optuna.trial.FrozenTrial) -> None:
    """Put a given-up trial back in the queue, with the same params."""
    frozen = trial if isinstance(trial, optuna.trial.FrozenTrial) else stored_trial(study, trial)
    fixed = dict(frozen.system_attrs.get("fixed_params", {}))
    fixed.update(frozen.params)
    study.enqueue_trial(fixed, user_attrs=record_attrs(TrialRecord(retry_of=frozen.number)))
