"""The storage a worker's study reads and writes through: Optuna's cache, made cheap.

Optuna wraps an RDB storage in ``_CachedStorage``. Its habits made a worker spend
about a fifth of a 0.4 s trial on PostgreSQL waiting for the database; here:

* Each ``get_all_trials`` re-reads every unfinished trial with its params and attrs.
  hpsearch's queue keeps the whole remaining budget as WAITING trials, so that was
  nearly the whole study, several times per trial. Here a refresh first reads only
  (trial_id, state) of the trials that may have changed, and loads in full only the
  new ones, the ones whose state changed, and other workers' RUNNING trials (their
  params and attrs grow while they run). Finished trials never change (Optuna refuses
  to update them) and a WAITING trial is written only when it is created, so an
  unchanged state means an unchanged trial.
* Each suggested param, attr and intermediate value is a transaction of its own. For
  the trials this process runs (claimed with ``claim_waiting_trial`` or created
  RUNNING) writes are deferred instead: kept in memory, and in this process's cached
  copy of the trial at once (so its reads see them), then written in one transaction
  (``ResilientRDBStorage.write_trial``) with the trial's next ``record_progress`` or
  with its final state. Other processes see a running trial's params with its first
  progress write; they never see a finished trial without them. Distribution compatibility is still checked when a
  param is suggested.
* While this process runs a trial, its sampler and pruner read the study's trials
  from a snapshot up to ``SNAPSHOT_SECONDS`` old (Optuna's own samplers keep one
  snapshot for a whole trial); between trials (claiming, waiting for others) every
  read is fresh.

A crash loses only deferred writes of a trial that then never finishes: its heartbeat
goes stale and another worker fails it and re-queues it (Optuna's ``_CachedStorage``
gives the same guarantee: any write is stored before or with the trial's state).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import optuna
from optuna import distributions
from optuna.storages._cached_storage import _CachedStorage, _StudyInfo
from optuna.trial import FrozenTrial, TrialState

from hpsearch.storage.resilient import ResilientRDBStorage
from hpsearch.storage.speed import speed_path_on
from hpsearch.storage.trialwrite import TrialWrites, stored_to_local

#: While this process runs a trial, its sampler and pruner read the study's trials
#: from a snapshot at most this old (seconds); between trials every read is fresh.
SNAPSHOT_SECONDS = 1.0


def worker_storage(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """``storage`` as a study should use it: hpsearch's RDB storage inside a
    ``StudyCache``; any other storage (or any, with the ``cache`` speed path off) as it
    is (Optuna adds its own cache)."""
    if isinstance(storage, ResilientRDBStorage) and speed_path_on("cache"):
        return StudyCache(storage)
    return storage


class StudyCache(_CachedStorage):
    """Optuna's ``_CachedStorage`` with light refreshes and deferred trial writes (module doc)."""

    _backend: ResilientRDBStorage
    _lock: threading.RLock  # type: ignore[assignment]  # Optuna's is a Lock; ours re-enters

    def __init__(self, backend: ResilientRDBStorage) -> None:
        super().__init__(backend)
        self._lock = threading.RLock()  # the deferring methods call one another
        #: Trials this process runs -> their writes not yet in the database.
        self._own: dict[int, TrialWrites] = {}
        #: study_id -> highest trial_id in the cache; with each study's unfinished trials
        #: it bounds what a refresh looks at (the trials below are all finished).
        self._max_id: dict[int, int] = {}
        #: Studies whose trials were all loaded once (later refreshes are light).
        self._loaded: set[int] = set()
        #: study_id -> when its trials were last read (``time.monotonic()``).
        self._refreshed: dict[int, float] = {}
        #: Studies whose stored param distributions were read.
        self._distributions_read: set[int] = set()
        #: Whether this process's trials are written deferred (the ``batched_writes``
        #: speed path); if not, they are refreshed from the database like any other.
        self._defers = speed_path_on("batched_writes")

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ trials this process runs

    @property
    def claims_beat(self) -> bool:
        """Whether ``claim_waiting_trial`` records the trial's first heartbeat too."""
        return self._backend.claims_beat

    def claim_waiting_trial(self, trial_id: int) -> bool:
        """WAITING -> RUNNING for this process (atomic); True if it got the trial."""
        started = self._backend.claim_waiting_trial(trial_id)
        if started is None:
            return False
        with self._lock:
            cached = self._cached(trial_id)
            # A WAITING trial is never changed before it is claimed: its cached copy is
            # the stored trial (a trial not cached is reloaded at the next refresh).
            if cached is not None and cached.state == TrialState.WAITING and self._defers:
                running = copy.deepcopy(cached)
                running.state = TrialState.RUNNING
                running.datetime_start = stored_to_local(started)
                self._track(self._study_of(trial_id), [running])
                self._own[trial_id] = TrialWrites()
        return True

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        with self._lock:
            trial = self._cached(trial_id)
            assert trial is not None
            if self._backend.engine.name == "mysql":
                # Optuna's copy has the times it wrote, to the microsecond; MySQL and
                # MariaDB keep whole seconds: cache what the database gives back.
                trial = self._backend.get_trial(trial_id)
            self._track(study_id, [trial])
            if trial.state == TrialState.RUNNING and self._defers:
                self._own[trial_id] = TrialWrites()  # study.ask(): this process runs it
        return trial_id

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: distributions.BaseDistribution,
    ) -> None:
        with self._lock:
            trial = self._cached(trial_id) if trial_id in self._own else None
            if trial is not None:
                if param_name in trial.params:
                    return  # as in Optuna's storage: the first value stays
                self._check_distribution(trial_id, param_name, distribution)
                self._own[trial_id].params[param_name] = (param_value_internal, distribution)
                trial = self._rewritten(trial)
                trial.params[param_name] = distribution.to_external_repr(param_value_internal)
                trial.distributions[param_name] = distribution
                return
        super().set_trial_param(trial_id, param_name, param_value_internal, distribution)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        if not self._defer(trial_id, {}, {key: value}, {}):
            super().set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        if not self._defer(trial_id, {}, {}, {key: value}):
            super().set_trial_system_attr(trial_id, key, value)

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        if not self._defer(trial_id, {step: intermediate_value}, {}, {}):
            super().set_trial_intermediate_value(trial_id, step, intermediate_value)

    def record_progress(
        self,
        trial_id: int,
        values: dict[int, float],
        attrs: dict[str, Any],
        *,
        defer: bool = False,
    ) -> None:
        """Intermediate values (step -> value) and user attrs of a running trial, with
        its deferred writes, in one transaction; with ``defer`` they wait for the next
        one (or the trial's final state)."""
        with self._lock:
            if self._defer(trial_id, values, attrs, {}):
                if not defer:
                    self._write_deferred(trial_id)
                return
        self._backend.record_progress(trial_id, values, attrs)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        with self._lock:
            if trial_id in self._own and state.is_finished():
                return self._finish(trial_id, state, values)
            if trial_id in self._own:
                self._write_deferred(trial_id)
                del self._own[trial_id]  # the next refresh reloads it
        return super().set_trial_state_values(trial_id, state, values)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            trial = self._cached(trial_id) if trial_id in self._own else None
            if trial is not None:
                return _copy(trial)
        return super().get_trial(trial_id)

    def _defer(
        self,
        trial_id: int,
        steps: dict[int, float],
        user_attrs: dict[str, Any],
        system_attrs: dict[str, Any],
    ) -> bool:
        """Defer writes on a trial this process runs (False for any other trial), and
        show them in its cached copy as the database will give them back."""
        with self._lock:
            trial = self._cached(trial_id) if trial_id in self._own else None
            if trial is None:
                return False
            pending = self._own[trial_id]
            pending.intermediate_values.update(steps)
            pending.user_attrs.update(user_attrs)
            pending.system_attrs.update(system_attrs)
            trial = self._rewritten(trial)
            trial.intermediate_values.update(steps)
            # JSON turns tuples into lists and keys into strings.
            trial.user_attrs.update(json.loads(json.dumps(user_attrs)))
            trial.system_attrs.update(json.loads(json.dumps(system_attrs)))
            return True

    def _write_deferred(self, trial_id: int) -> None:
        """Write what was deferred (nothing if nothing was)."""
        if self._own[trial_id]:
            self._write_own(trial_id)

    def _write_own(
        self, trial_id: int, state: TrialState | None = None, values: list[float] | None = None
    ) -> datetime | None:
        """The deferred writes (and, with ``state``, the end) in one transaction; what
        ``write_trial`` returns. On an error the writes are dropped (the caller gets the
        error, and the trial fails)."""
        writes, self._own[trial_id] = self._own[trial_id], TrialWrites()
        try:
            return self._backend.write_trial(trial_id, writes, state, values)
        except optuna.exceptions.UpdateFinishedTrialError:
            del self._own[trial_id]  # another worker failed it: reloaded at the next refresh
            raise

    def _finish(self, trial_id: int, state: TrialState, values: Sequence[float] | None) -> bool:
        """The deferred writes, the values and the final state in one transaction."""
        listed = None if values is None else [float(v) for v in values]
        ended = self._write_own(trial_id, state, listed)
        if ended is None:
            return False
        del self._own[trial_id]
        cached = self._cached(trial_id)
        assert cached is not None
        trial = _copy(cached)  # put in the cache in its place by ``_track``
        trial.state = state
        trial.values = listed
        trial.datetime_complete = stored_to_local(ended)
        self._track(self._study_of(trial_id), [trial])
        return True

    def _check_distribution(
        self, trial_id: int, name: str, distribution: distributions.BaseDistribution
    ) -> None:
        """Optuna's check that a param keeps a compatible distribution study-wide; the
        stored distributions of all params are read once, at the first unknown name."""
        study_id = self._study_of(trial_id)
        known = self._studies[study_id].param_distribution
        if name not in known and study_id not in self._distributions_read:
            for stored, stored_distribution in self._backend.param_distributions(study_id).items():
                known.setdefault(stored, stored_distribution)
            self._distributions_read.add(study_id)
        previous = known.setdefault(name, distribution)
        distributions.check_distribution_compatibility(previous, distribution)

    # ------------------------------------------------------------------ refreshing the cache

    def _read_trials_from_remote_storage(self, study_id: int) -> None:
        with self._lock:
            study = self._studies.setdefault(study_id, _StudyInfo())
            now = time.monotonic()
            if now - self._refreshed.get(study_id, -SNAPSHOT_SECONDS) < SNAPSHOT_SECONDS and any(
                i in study.unfinished_trial_ids for i in self._own
            ):
                return  # this process runs a trial of the study: the recent snapshot serves
            if study_id not in self._loaded:
                self._track_loaded(study_id, self._backend._get_trials(study_id, None, set(), -1))
                self._loaded.add(study_id)
            else:
                floor = min(study.unfinished_trial_ids, default=self._max_id.get(study_id, -1) + 1)
                states = self._backend.trial_states(study_id, floor)
                stale = {i for i, state in states.items() if self._changed(i, state)}
                if stale:
                    # Also loads the trials created since ``states`` was read (ids above it).
                    loaded = self._backend._get_trials(study_id, None, stale, max(states))
                    self._track_loaded(study_id, loaded)
            self._refreshed[study_id] = now

    def _changed(self, trial_id: int, state: TrialState) -> bool:
        """Whether the cached copy of a trial may differ from the stored one."""
        cached = self._cached(trial_id)
        if cached is None or cached.state != state:
            return True
        return state == TrialState.RUNNING and trial_id not in self._own

    def _track_loaded(self, study_id: int, trials: list[FrozenTrial]) -> None:
        """Cache trials read from the database, but keep the copy of a trial this process
        runs (it has the deferred writes) unless another worker ended it."""
        fresh = []
        for trial in trials:
            if trial._trial_id in self._own:
                if trial.state == TrialState.RUNNING:
                    continue
                del self._own[trial._trial_id]  # failed as stale: its deferred writes are moot
            fresh.append(trial)
        self._track(study_id, fresh)

    def _track(self, study_id: int, trials: list[FrozenTrial]) -> None:
        """Put trials in the cache and note which are unfinished and the highest id."""
        study = self._studies.setdefault(study_id, _StudyInfo())
        self._add_trials_to_cache(study_id, trials)
        for trial in trials:
            if trial.state.is_finished():
                study.unfinished_trial_ids.discard(trial._trial_id)
            else:
                study.unfinished_trial_ids.add(trial._trial_id)
        top = max((t._trial_id for t in trials), default=-1)
        self._max_id[study_id] = max(self._max_id.get(study_id, -1), top)

    def _rewritten(self, trial: FrozenTrial) -> FrozenTrial:
        """A copy of a cached trial that takes its place in the cache, for a write.

        Copy-on-write: trials already handed out (``get_all_trials(deepcopy=False)``
        returns the cached objects, and samplers keep them) never change under their
        holders, as Optuna's storage contract requires; only the trial's dicts are
        copied, not the values in them.
        """
        copied = _copy(trial)
        self._studies[self._study_of(trial._trial_id)].trials[trial.number] = copied
        return copied

    def _study_of(self, trial_id: int) -> int:
        return self._trial_id_to_study_id_and_number[trial_id][0]

    def _cached(self, trial_id: int) -> FrozenTrial | None:
        where = self._trial_id_to_study_id_and_number.get(trial_id)
        if where is None:
            return None
        return self._studies[where[0]].trials.get(where[1])


def _copy(trial: FrozenTrial) -> FrozenTrial:
    """A copy of a trial whose dicts may be added to (by Optuna's ``Trial``, or by the
    cache's own writes) without changing the original; the values in them are shared,
    as in the trials ``get_all_trials`` returns."""
    copied = copy.copy(trial)
    copied.params = dict(trial.params)
    copied.distributions = dict(trial.distributions)
    copied.user_attrs = dict(trial.user_attrs)
    copied.system_attrs = dict(trial.system_attrs)
    copied.intermediate_values = dict(trial.intermediate_values)
    return copied
