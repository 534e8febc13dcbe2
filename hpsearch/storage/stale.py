"""Failing the trials of killed workers: once each, with a reason, then re-queued.

A RUNNING trial whose heartbeat stopped (its worker was SIGKILLed, its machine lost)
is failed by the next worker that looks, and the storage's stale-trial callback
(Optuna's ``RetryHeartbeatStaleTrialCallback``) enqueues its retry. hpsearch's storage
makes the failure one atomic state change per trial, so when two workers look at
once only one of them fails it and re-queues it (``fail_stale_trials_once``).
"""

from __future__ import annotations

import copy
from typing import Any

import optuna

from hpsearch.storage.running import storage_layers


def stale_reason(grace_seconds: float | None) -> str:
    """The ``fail_reason`` of a trial failed for its stale heartbeat."""
    after = f" for over {grace_seconds:g} s" if grace_seconds else ""
    return (
        f"stale heartbeat: no heartbeat{after} (its worker was killed or lost the "
        "database); re-queued"
    )


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the study's stale trials that this caller wins, re-queue each once; their ids.

    On storages without hpsearch's atomic path, Optuna's own ``fail_stale_trials``.
    """
    storage: Any = next(
        (s for s in storage_layers(study) if hasattr(s, "fail_stale_trials_once")), None
    )
    if storage is None:
        optuna.storages.fail_stale_trials(study)
        return []
    if storage.get_heartbeat_interval() is None:
        return []
    grace = storage.grace_period or 2 * storage.get_heartbeat_interval()
    failed = storage.fail_stale_trials_once(study._study_id, stale_reason(grace))
    callback = storage.get_heartbeat_stale_trial_callback()
    for trial_id in failed:
        if callback is not None:
            callback(study, copy.deepcopy(storage.get_trial(trial_id)))
    return failed
