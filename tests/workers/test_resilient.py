"""Which storage errors are a lost connection, retried by ``ResilientRDBStorage``."""

from __future__ import annotations

import optuna
import pytest
from sqlalchemy import exc as sa_exc

from hpsearch.storage import resilient
from hpsearch.storage.resilient import _retrying, is_connection_error


def _dropped() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, Exception("terminating connection"))


def _optuna_error_after_a_drop_mid_session() -> optuna.exceptions.StorageInternalError:
    """What Optuna raises when the server restarts between two SELECTs of one session:
    the next statement's PendingRollbackError, raised while the drop was being handled,
    wrapped by Optuna's session context."""
    try:
        try:
            raise _dropped()
        except sa_exc.OperationalError:
            raise sa_exc.PendingRollbackError("Can't reconnect until invalid transaction")  # noqa: B904
    except sa_exc.PendingRollbackError as pending:
        error = optuna.exceptions.StorageInternalError("error during the commit")
        error.__cause__ = pending
        return error


def test_a_drop_is_a_connection_error_however_it_is_wrapped() -> None:
    """Directly, as the cause of Optuna's error, or as the error being handled when the
    session's next statement failed; bad data and unrelated errors are not."""
    assert is_connection_error(_dropped())
    wrapped = optuna.exceptions.StorageInternalError("x")
    wrapped.__cause__ = _dropped()
    assert is_connection_error(wrapped)
    assert is_connection_error(_optuna_error_after_a_drop_mid_session())
    assert not is_connection_error(sa_exc.IntegrityError("INSERT", {}, Exception("dup")))
    assert not is_connection_error(sa_exc.PendingRollbackError("no drop behind it"))


def test_retrying_rides_out_the_drop_and_raises_bad_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mid-session drop is retried until the call succeeds; an IntegrityError is
    raised at once."""
    monkeypatch.setattr(resilient, "_FIRST_WAIT", 0.01)
    calls = []

    @_retrying
    def flaky(self: object) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _optuna_error_after_a_drop_mid_session()
        return "ok"

    assert flaky(None) == "ok" and len(calls) == 3

    @_retrying
    def bad(self: object) -> None:
        calls.append(1)
        raise sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    calls.clear()
    with pytest.raises(sa_exc.IntegrityError):
        bad(None)
    assert len(calls) == 1
