"""An RDB storage that rides out a database restart instead of crashing the worker.

Every storage operation that fails because the connection dropped (the server
restarted, a network blip) is retried with backoff for up to ``RETRY_SECONDS``,
with a warning in the log. Pre-ping on the pool then replaces the dead connections.
Other errors (a constraint, bad data) are raised at once.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import optuna
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import TrialState
from sqlalchemy import exc as sa_exc
from sqlalchemy import update

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
    """True for errors of a lost connection (worth retrying), not of bad data."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(
            cause, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError
        ):
            return True
        cause = cause.__cause__
    return False


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + RETRY_SECONDS
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
    """``RDBStorage`` whose operations retry through connection loss (see module doc)."""

    def claim_waiting_trial(self, trial_id: int) -> bool:
        """WAITING -> RUNNING in one conditional UPDATE; True if this caller got it.

        Atomic on every backend. ``set_trial_state_values`` reads, then writes: its
        ``FOR UPDATE`` is a no-op on SQLite, where two processes could both claim a trial.
        """
        trials = models.TrialModel.__table__
        now = datetime.now(UTC).replace(tzinfo=None)  # Optuna stores naive UTC
        with self.engine.begin() as connection:
            result = connection.execute(
                update(trials)
                .where(trials.c.trial_id == trial_id, trials.c.state == TrialState.WAITING)
                .values(state=TrialState.RUNNING, datetime_start=now)
            )
        return result.rowcount == 1

    def record_progress(
        self, trial_id: int, values: dict[int, float], attrs: dict[str, Any]
    ) -> None:
        """Intermediate values (step -> value) and user attrs of a trial in one transaction."""
        with _create_scoped_session(self.scoped_session, True) as session:
            for step, value in values.items():
                self._set_trial_intermediate_value_without_commit(session, trial_id, step, value)
            for key, value in attrs.items():
                self._set_trial_attr_without_commit(
                    session, models.TrialUserAttributeModel, trial_id, key, value
                )


for _name in (*RETRIED, "claim_waiting_trial", "record_progress"):
    setattr(ResilientRDBStorage, _name, _retrying(getattr(ResilientRDBStorage, _name)))
