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


def test_an_outage_past_the_retry_window_fails_the_trial_in_one_line_and_requeues_it(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the storage gives up (the database stayed away longer than RETRY_SECONDS) in
    the middle of a trial, the worker fails that trial with a one-line reason, puts it
    back in the queue and goes on: the study still ends with its whole budget."""
    from hpsearch.spec.study_spec import parse_spec
    from hpsearch.study.lifecycle import counted_trials, create_or_resume, load_study_and_spec
    from hpsearch.workers import loop

    spec = parse_spec(
        {
            "study": {"name": "outage", "sampler": "random", "n_trials": 3, "pruner": "none"},
            "data": {"dataset": "digits", "subset": 200, "validation": 100},
            "training": {"epochs": 1},
            "space": {"hidden_width": {"type": "int", "low": 10, "high": 30}},
        }
    )
    url = f"sqlite:///{tmp_path / 'o.db'}"
    create_or_resume(spec, url)
    real = loop.Objective
    calls = []

    class FlakyDatabase(real):
        def __call__(self, trial):
            calls.append(trial.number)
            if len(calls) == 1:
                raise sa_exc.OperationalError(
                    "UPDATE trials SET state=%(state)s\nWHERE trials.trial_id = %(id)s",
                    {"state": "COMPLETE", "id": 1},
                    Exception("server closed the connection unexpectedly\n\tThis probably..."),
                )
            return super().__call__(trial)

    monkeypatch.setattr(loop, "Objective", FlakyDatabase)
    study, spec = load_study_and_spec(url, "outage")
    loop.run_worker(study, spec)
    trials = study.get_trials()
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 1
    reason = failed[0].user_attrs["fail_reason"]
    assert "\n" not in reason and reason.startswith("database unreachable for over 120 s")
    assert reason.endswith("re-queued") and len(reason) <= 300
    assert [t.state.name for t in counted_trials(study)] == ["COMPLETE"] * 3
    retry = [t for t in trials if t.params and t.number > failed[0].number]
    assert retry and calls.count(failed[0].number) == 1
