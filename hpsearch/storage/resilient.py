"""An RDB storage that rides out a database restart instead of crashing the worker.

Every storage operation that fails because the connection dropped (the server
restarted, a network blip) is retried with backoff for up to ``RETRY_SECONDS``,
with a warning in the log. Pre-ping on the pool then replaces the dead connections.
Other errors (a constraint, bad data) are raised at once.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from hpsearch.storage import longattrs, trialwrite
from hpsearch.storage.speed import speed_path_on

log = logging.getLogger("hpsearch.storage")

RETRY_SECONDS = 120.0
_FIRST_WAIT, _MAX_WAIT = 0.5, 5.0

#: The storage operations a worker, the controller or the dashboard performs.
RETRIED = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "set_trial_param",
    "get_trial_id_from_study_id_trial_number",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial",
    "get_all_trials",
    "get_n_trials",
    "record_heartbeat",
    "_get_stale_trial_ids",
    # Optuna's _CachedStorage (what a Study wraps an RDBStorage in) calls these private
    # ones directly, bypassing the public methods above.
    "_get_trials",
    "_create_new_trial",
    "_set_trial_param",
    "_get_best_trial_id",
    "get_best_trial",
    "get_trial_param",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
)


def is_connection_error(error: BaseException) -> bool:
    """True for errors of a lost connection (worth retrying), not of bad data.

    Follows the chain of causes, and of the errors being handled when each was raised:
    a dropped connection can surface as the ``PendingRollbackError`` of the next
    statement in the same session, raised while the ``OperationalError`` was handled.
    """
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(
            cause, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError
        ):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + getattr(self, "retry_seconds", RETRY_SECONDS)
        wait = _FIRST_WAIT
        while True:
            try:
                return method(self, *args, **kwargs)
            except (sa_exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
                if not is_connection_error(error) or time.monotonic() + wait > deadline:
                    raise
                log.warning(
                    "database unreachable during %s (%s); retrying in %.1f s",
                    method.__name__,
                    type(error.__cause__ or error).__name__,
                    wait,
                )
                time.sleep(wait)
                wait = min(wait * 2, _MAX_WAIT)

    return wrapper


class ResilientRDBStorage(optuna.storages.RDBStorage):
    """``RDBStorage`` whose operations retry through connection loss (see module doc),
    with the few operations a worker's own trial needs, in as few round trips as the
    database allows (``hpsearch.storage.trialwrite``)."""

    #: How long an operation retries a lost connection; a reader that must answer at
    #: once (the dashboard) sets 0 and reports the outage instead.
    retry_seconds: float = RETRY_SECONDS

    def claim_waiting_trial(self, trial_id: int) -> datetime | None:
        """WAITING -> RUNNING in one conditional UPDATE; the stored start time (naive
        UTC) if this caller got the trial, else None. With heartbeats on, the trial's
        first heartbeat is recorded with the claim (``trialwrite.claim``).

        Atomic on every backend. ``set_trial_state_values`` reads, then writes: its
        ``FOR UPDATE`` is a no-op on SQLite, where two processes could both claim a trial.
        """
        now = trialwrite.utc_now(self.engine.name)
        with self._writing() as connection:
            claimed = trialwrite.claim(connection, trial_id, now, beat=self.claims_beat)
        return now if claimed else None

    def fail_stale_trials_once(self, study_id: int, reason: str) -> list[int]:
        """Fail the study's trials whose heartbeat is stale, each with one conditional
        UPDATE (``trialwrite.fail_if_still_stale``); the ids this caller failed. Another
        worker racing for the same trial gets an empty answer for it, so the trial is
        failed, and re-queued, once."""
        stale = self._get_stale_trial_ids(study_id)
        if not stale:
            return []
        with self._reading() as connection:
            seen = trialwrite.heartbeats(connection, stale)
        now = trialwrite.utc_now(self.engine.name)
        failed = []
        for trial_id, beat in seen.items():
            with self.engine.begin() as connection:
                if trialwrite.fail_if_still_stale(connection, trial_id, beat, now, reason):
                    failed.append(trial_id)
        return failed

    @property
    def claims_beat(self) -> bool:
        """Whether ``claim_waiting_trial`` records the claimed trial's first heartbeat."""
        return (
            self.get_heartbeat_interval() is not None
            and self.engine.name in trialwrite.BEAT_DIALECTS
        )

    def record_progress(
        self, trial_id: int, values: dict[int, float], attrs: dict[str, Any]
    ) -> None:
        """Intermediate values (step -> value) and user attrs of a trial in one transaction
        (retried as ``write_trial``); with the ``batched_writes`` speed path off, each by
        Optuna's own call."""
        if not self._batched_writes:
            for step, value in values.items():
                self.set_trial_intermediate_value(trial_id, step, value)
            for key, attr in attrs.items():
                self.set_trial_user_attr(trial_id, key, attr)
            return
        writes = trialwrite.TrialWrites(intermediate_values=values, user_attrs=attrs)
        self.write_trial(trial_id, writes)

    def write_trial(
        self,
        trial_id: int,
        writes: trialwrite.TrialWrites,
        state: TrialState | None = None,
        values: list[float] | None = None,
    ) -> datetime | None:
        """``writes`` on a running trial in one transaction; with a finished ``state``,
        its end too. Returns the stored end time (naive UTC) when it ended it.

        A duplicate row (the retry of a transaction whose commit did land before the
        connection dropped) leaves the trial as it is, as Optuna's own writes do: then
        None, and a trial meant to end stays running (``set_trial_state_values`` too
        only returns False then).
        """
        now = trialwrite.utc_now(self.engine.name) if state is not None else None
        if writes.user_attrs:
            writes = dataclasses.replace(
                writes, user_attrs=longattrs.split_attrs(writes.user_attrs)
            )
        try:
            with self._writing() as connection:
                trialwrite.write_trial(
                    connection,
                    trial_id,
                    writes,
                    state=state,
                    values=values,
                    now=now,
                )
        except sa_exc.IntegrityError as error:
            log.debug("trial %d: writes already stored (%s)", trial_id, error)
            return None
        return now

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Optuna's, but a value too long for one attr is split (``longattrs``), its
        pieces and head written in one transaction."""
        stored = longattrs.split_attrs({key: value})
        if len(stored) == 1:
            super().set_trial_user_attr(trial_id, key, value)
            return
        self.write_trial(trial_id, trialwrite.TrialWrites(user_attrs=stored))

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return longattrs.join_attrs(super().get_trial_user_attrs(trial_id))

    def _build_frozen_trial_from_trial_model(self, trial: Any) -> FrozenTrial:
        """Optuna's trial from its rows (every read of trials goes through it), with
        split user attrs joined (``longattrs``)."""
        frozen = super()._build_frozen_trial_from_trial_model(trial)
        frozen.user_attrs = longattrs.join_attrs(frozen.user_attrs)
        return frozen

    def record_heartbeat(self, trial_id: int) -> None:
        """One upsert, committed durably, instead of Optuna's read, lock and update: it
        runs beside every trial, competing with it for the database and the CPU."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if trialwrite.beat(connection, trial_id):
                return
        super().record_heartbeat(trial_id)

    def trial_states(self, study_id: int, from_trial_id: int) -> dict[int, TrialState]:
        """trial_id -> state for the study's trials from ``from_trial_id`` on (one light query)."""
        with self._reading() as connection:
            return trialwrite.trial_states(connection, study_id, from_trial_id)

    def param_distributions(self, study_id: int) -> dict[str, BaseDistribution]:
        """name -> a stored distribution of each param of the study: what a new
        suggestion must be compatible with (one query for all names)."""
        with self._reading() as connection:
            return trialwrite.param_distributions(connection, study_id)

    @functools.cached_property
    def _batched_writes(self) -> bool:
        return speed_path_on("batched_writes")

    def _writing(self) -> AbstractContextManager[Connection]:
        """Where one trial operation writes: a transaction."""
        return self.engine.begin()

    def _reading(self) -> Connection:
        """A connection for one read query, in autocommit mode: no BEGIN and ROLLBACK
        round trips around it."""
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")


#: hpsearch's own operations (above), retried like Optuna's; ``record_progress`` is
#: retried inside, as the ``write_trial`` it calls.
OWN_OPERATIONS = (
    "claim_waiting_trial",
    "fail_stale_trials_once",
    "write_trial",
    "trial_states",
    "param_distributions",
)

for _name in (*RETRIED, *OWN_OPERATIONS):
    setattr(ResilientRDBStorage, _name, _retrying(getattr(ResilientRDBStorage, _name)))
