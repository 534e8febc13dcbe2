"""Running trials through the storage's door: claims, heartbeats and progress writes.

The queue, the worker loop and the objective need a few things Optuna keeps private
(a trial's storage id, the study's storage object, the trial's cached frozen copy)
to use hpsearch's speed paths: the one-statement claim, the claim that records the
first heartbeat, progress written in one transaction. Those private names are read
here and nowhere above ``storage/``; callers pass Optuna's public ``Study`` and
``Trial`` objects. Each function falls back to what Optuna itself would do on a
storage without hpsearch's paths (the in-memory storage, a plain ``RDBStorage``).
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState


def trial_id_of(trial: optuna.Trial | FrozenTrial) -> int:
    """The trial's id in its storage (Optuna's ``number`` counts per study; this is global)."""
    return trial._trial_id


def study_id_of(study: optuna.Study) -> int:
    """The study's id in its storage (what the storage's own methods take)."""
    return study._study_id


def study_storage(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage object a study reads and writes through (hpsearch's cache, for workers)."""
    return study._storage


def heartbeat_interval(study: optuna.Study) -> float | None:
    """Seconds between a running trial's heartbeats; None when the storage has none."""
    return getattr(study._storage, "get_heartbeat_interval", lambda: None)()


def record_heartbeat(study: optuna.Study, trial: optuna.Trial) -> None:
    """Record one heartbeat of a running trial (storages with heartbeats only)."""
    storage: Any = study._storage  # an RDB storage, or hpsearch's cache over one
    storage.record_heartbeat(trial._trial_id)


def storage_layers(study: optuna.Study) -> list[optuna.storages.BaseStorage]:
    """Every storage object a study's calls pass through, outermost first: its own and,
    under Optuna's or hpsearch's cache, the storage that cache wraps (for measuring)."""
    backend = getattr(study._storage, "_backend", None)
    return [study._storage] if backend is None else [study._storage, backend]


def _claiming_storage(study: optuna.Study) -> Any | None:
    """hpsearch's storage with its one-statement claim (``claim_waiting_trial``), the
    study's own or inside Optuna's cache; None for other storages."""
    for storage in (study._storage, getattr(study._storage, "_backend", None)):
        if hasattr(storage, "claim_waiting_trial"):
            return storage
    return None


def claims_beat(study: optuna.Study) -> bool:
    """Whether ``claim_next_trial`` records the claimed trial's first heartbeat with it."""
    return bool(getattr(_claiming_storage(study), "claims_beat", False))


def claim_next_trial(study: optuna.Study) -> optuna.Trial | None:
    """Atomically take one WAITING trial and return it RUNNING, or None when none is left."""
    storage = study._storage
    # hpsearch's storage claims with one conditional UPDATE (atomic on SQLite too);
    # other storages: Optuna's own queue pop (read, then write under a row lock).
    claiming = _claiming_storage(study)
    claim = claiming.claim_waiting_trial if claiming is not None else None
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if claim is not None:
                if not claim(frozen._trial_id):
                    continue
            elif not storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        # As in Optuna's ``ask``: the Trial reads the claimed trial and calls the
        # sampler's ``before_trial``.
        return optuna.Trial(study, frozen._trial_id)
    return None


def stored_trial(study: optuna.Study, trial: optuna.Trial) -> FrozenTrial:
    """The trial as the study's storage has it now (params, attrs, state)."""
    return study._storage.get_trial(trial._trial_id)


def record_progress(
    trial: optuna.Trial,
    values: dict[int, float],
    attrs: dict[str, Any],
    *,
    defer: bool = False,
) -> bool:
    """A running trial's intermediate values (step -> value) and user attrs in one
    transaction on hpsearch's storage (``record_progress``); False, writing nothing,
    when the storage has no such path (the caller then uses Optuna's own calls).

    With ``defer``, hpsearch's worker storage (``StudyCache``) keeps them for the trial's
    next write, at the latest its final state. The trial's own cached copy is updated
    here just as ``Trial.report`` and ``Trial.set_user_attr`` do: pruners read that
    copy, and would otherwise never see epochs written below Optuna's calls.
    """
    storage: Any = trial.storage
    if hasattr(storage, "record_progress"):  # StudyCache
        storage.record_progress(trial._trial_id, values, attrs, defer=defer)
    elif hasattr(getattr(storage, "_backend", None), "record_progress"):  # inside Optuna's cache
        storage._backend.record_progress(trial._trial_id, values, attrs)
    else:
        return False
    cached = trial._cached_frozen_trial
    cached.intermediate_values.update(values)
    cached.user_attrs.update(attrs)
    return True
