"""Create, resume and load studies; the validated spec travels inside the study."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hpsearch import __version__
from hpsearch.errors import ConfigError, SpecError, StorageError
from hpsearch.spec.checks import MAX_NAME_LENGTH, text_problem
from hpsearch.spec.study_spec import StudySpec, parse_spec
from hpsearch.storage.budget import CANCELLED, cancel_waiting_trials
from hpsearch.storage.cache import worker_storage
from hpsearch.storage.urls import mask_url, open_storage
from hpsearch.study.queue import enqueue_budget
from hpsearch.tuning.record import read_record, requeued
from hpsearch.tuning.samplers import make_pruner, make_sampler
from hpsearch.tuning.space import grid_points

SPEC_ATTR = "spec"
#: Study user attr: when ``create`` last resumed the study (``time.time()``); a
#: ``timeout`` budget counts from the first trial started after it (worker.study_deadline).
BUDGET_SINCE = "budget_since"
#: Spec fields that may differ when a study is resumed (the rest must match).
RESUMABLE = ("n_trials", "timeout", "description", "cohort")
#: Study user attr: "filling" while its creator enqueues the budget, then "full". A
#: concurrent ``run``/``create`` of the same study waits for "full" before topping up,
#: or it would enqueue the budget a second time.
QUEUE_ATTR = "queue"
#: Longest wait for another process to finish creating a study (seconds).
CREATOR_WAIT_SECONDS = 60.0
#: A creator whose queue has not grown for this long was stopped mid-fill (seconds).
CREATOR_STALLED_SECONDS = 5.0
log = logging.getLogger("hpsearch.study")


def _storage(storage: optuna.storages.BaseStorage | str) -> optuna.storages.BaseStorage:
    return open_storage(storage) if isinstance(storage, str) else storage


def study_names(storage: optuna.storages.BaseStorage | str) -> list[str]:
    return [s.study_name for s in _storage(storage).get_all_studies()]


def _shown(name: str, limit: int = 60) -> str:
    return repr(name if len(name) <= limit else name[: limit - 3] + "...")


def _worker_seed(
    storage: optuna.storages.BaseStorage, study_name: str, seed: int | None, index: int | None
) -> int:
    """The sampler seed of a worker: from the spec seed and ``index`` alone while the
    study has not started a trial (a fresh study with a seed is reproducible); once it
    has, also from how many it started and fresh entropy, so a resumed or a second
    concurrent ``run`` suggests new points instead of repeating the first run's."""
    if index is None:
        index = int.from_bytes(os.urandom(4), "little")
    study_id = storage.get_study_id_from_name(study_name)
    started = len(storage.get_all_trials(study_id, deepcopy=False, states=_STARTED))
    words = [seed or 0, index]
    if started:
        words += [started, int.from_bytes(os.urandom(8), "little")]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


_STARTED = (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def check_study_name(study_name: str) -> None:
    """Refuse a name no study can have (before any storage is opened or looked up)."""
    problem = text_problem(study_name, "a study name", MAX_NAME_LENGTH)
    if problem:  # PostgreSQL and MariaDB answer such a lookup with an internal error
        raise StorageError(f"study name {_shown(study_name)}: {problem}")


def load_study_and_spec(
    storage: optuna.storages.BaseStorage | str,
    study_name: str,
    *,
    worker_index: int | None = None,
    cohort: int | None = None,
) -> tuple[optuna.Study, StudySpec]:
    """The study with the sampler and pruner its stored spec names.

    ``cohort`` (``hpsearch worker --cohort K``) replaces the stored spec's for this
    worker (CLI > spec > default); the sampler is built for it (TPE's constant liar
    for cohorts, so the members of one cohort are not suggested alike).

    Each worker gets its own sampler seed (derived from the study seed and
    ``worker_index``, random when None) so parallel workers do not suggest the same
    points; QMC keeps the study seed, since its sequence is shared by trial number.
    The study reads and writes through ``StudyCache`` (``hpsearch.storage.cache``),
    which keeps a worker's storage time per trial small.
    """
    check_study_name(study_name)
    storage = _storage(storage)
    try:
        stored = storage.get_study_user_attrs(storage.get_study_id_from_name(study_name))
    except KeyError:
        known = ", ".join(study_names(storage)) or "none"
        raise StorageError(
            f"no study named {study_name!r} in {_where(storage)} (studies there: {known})"
        ) from None
    if SPEC_ATTR not in stored:
        raise StorageError(
            f"study {study_name!r} was not created by hpsearch (it has no stored spec)"
        )
    spec = parse_spec(stored[SPEC_ATTR], source=f"study {study_name!r}", check_environment=False)
    if cohort is not None:
        spec = spec.with_cohort(cohort)
    seed = spec.study.seed
    if spec.study.sampler != "qmc":
        seed = _worker_seed(storage, study_name, seed, worker_index)
    try:
        sampler = make_sampler(spec.study.sampler, seed=seed, spec=spec)
    except ConfigError:
        # The sampler's package is missing here: reading the study needs no sampler,
        # and run_worker refuses to run it (sampler_problem).
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.load_study(
        study_name=study_name,
        storage=worker_storage(storage),
        sampler=sampler,
        pruner=make_pruner(spec.study.pruner, max_epochs=spec.training.epochs),
    )
    return study, spec


def create_or_resume(
    spec: StudySpec, storage: optuna.storages.BaseStorage | str
) -> tuple[optuna.Study, bool]:
    """Create the study (spec stored, budget or grid enqueued once) or resume it.

    Resuming needs the same spec, apart from the budget; a larger ``n_trials``
    enqueues the difference, so the total budget holds across runs.
    Returns (study, created).
    """
    storage = _storage(storage)
    name = spec.study.name
    if name not in study_names(storage):
        created = _create(spec, storage)
        if created is not None:
            return created, True
        # Another process created it a moment ago: resume it, once it is filled.
    if not _wait_for_creator(storage, name):
        _repair_interrupted_create(storage, name, spec)
    study, stored = load_study_and_spec(storage, name)
    _check_resumable(stored, spec)
    _top_up(study, spec)
    if any(getattr(spec.study, key) != getattr(stored.study, key) for key in RESUMABLE):
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
    study.set_user_attr(BUDGET_SINCE, time.time())
    return study, False


def _create(spec: StudySpec, storage: optuna.storages.BaseStorage) -> optuna.Study | None:
    """The new study, spec stored and budget enqueued; None if another process won the race."""
    try:
        study = optuna.create_study(
            study_name=spec.study.name,
            storage=storage,
            direction=spec.study.direction,
            sampler=make_sampler(spec.study.sampler, seed=spec.study.seed, spec=spec),
            pruner=make_pruner(spec.study.pruner, max_epochs=spec.training.epochs),
        )
    except optuna.exceptions.DuplicatedStudyError:
        return None
    study.set_user_attr(QUEUE_ATTR, "filling")
    try:
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        study.set_user_attr("hpsearch_version", __version__)
        points = grid_points(spec)
        budget = spec.budget or 0
        enqueue_budget(study, points[:budget], budget)
    finally:  # even when interrupted: a resume tops up what is missing
        study.set_user_attr(QUEUE_ATTR, "full")
    return study


def _wait_for_creator(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """Until the study has its spec and its whole queue: True. False when its creator
    stopped (the queue has not grown for ``CREATOR_STALLED_SECONDS``: a ``create``
    killed mid-fill) or CREATOR_WAIT_SECONDS passed."""
    deadline = time.monotonic() + CREATOR_WAIT_SECONDS
    study_id = storage.get_study_id_from_name(name)
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        attrs = storage.get_study_user_attrs(study_id)
        if SPEC_ATTR in attrs and attrs.get(QUEUE_ATTR) != "filling":
            return True
        count = len(storage.get_all_trials(study_id, deepcopy=False))
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > CREATOR_STALLED_SECONDS:
            return False
        time.sleep(0.2)
    return False


def _repair_interrupted_create(
    storage: optuna.storages.BaseStorage, name: str, spec: StudySpec
) -> None:
    """A study its ``create`` left half-filled (killed mid-fill): store the spec if it
    is missing and mark the queue full; the resume that follows tops the budget up
    (or takes the surplus out of it) like any other, and says so."""
    study_id = storage.get_study_id_from_name(name)
    attrs = storage.get_study_user_attrs(study_id)
    if SPEC_ATTR not in attrs:
        storage.set_study_user_attr(study_id, SPEC_ATTR, spec.to_dict())
    storage.set_study_user_attr(study_id, QUEUE_ATTR, "full")
    log.warning(
        "study %r was left half-created (its create stopped while filling the queue, "
        "%d trials enqueued): repaired, the budget is topped up to the spec's",
        name,
        len(storage.get_all_trials(study_id, deepcopy=False)),
    )


def counted_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that use up budget: all but the failed ones that were put back in the
    queue (hpsearch's ``requeue`` or Optuna's heartbeat retry): those count once, as
    their retry."""
    trials = study.get_trials(deepcopy=False)
    again = requeued((t.number, t.state, read_record(t)) for t in trials)
    return [
        t
        for t in trials
        if t.number not in again and not (t.state == TrialState.FAIL and CANCELLED in t.user_attrs)
    ]


def _top_up(study: optuna.Study, spec: StudySpec) -> None:
    """Make the queue hold exactly the budget: enqueue what is missing, or, for a
    lowered ``n_trials``, take the surplus of queued trials out of it."""
    budget = spec.budget
    if budget is None:
        return
    missing = budget - len(counted_trials(study))
    if missing > 0:
        points = grid_points(spec)
        enqueue_budget(study, points[budget - missing : budget], missing)
    elif missing < 0:
        cancel_waiting_trials(study, -missing, f"n_trials lowered to {budget}")


def _check_resumable(stored: StudySpec, new: StudySpec) -> None:
    old_d, new_d = stored.to_dict(), new.to_dict()
    for key in RESUMABLE:
        old_d["study"].pop(key, None)
        new_d["study"].pop(key, None)
    differing = [
        f"[{section}]"
        for section in sorted(set(old_d) | set(new_d))
        if old_d.get(section) != new_d.get(section)
    ]
    if differing:
        raise SpecError(
            [
                f"study {stored.study.name!r} already exists with a different "
                f"{', '.join(differing)}; resume it with the same spec (only n_trials and "
                "timeout may change), or start a new study with --study-name NAME"
            ]
        )


def delete_study(storage: optuna.storages.BaseStorage | str, study_name: str) -> None:
    storage = _storage(storage)
    if study_name not in study_names(storage):
        raise StorageError(f"no study named {study_name!r} in {_where(storage)}")
    optuna.delete_study(study_name=study_name, storage=storage)


def _where(storage: Any) -> str:
    url = getattr(storage, "url", None)
    return mask_url(url) if url else "the storage"


__all__ = [
    "BUDGET_SINCE",
    "SPEC_ATTR",
    "check_study_name",
    "counted_trials",
    "create_or_resume",
    "delete_study",
    "load_study_and_spec",
    "study_names",
]
