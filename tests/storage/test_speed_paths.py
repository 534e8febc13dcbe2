"""The speed-path switches (``HPSEARCH_SPEED_OFF``): each turns its path off, and with
any of them off a worker's trial is stored exactly as with all on (PostgreSQL, where
every path applies)."""

from __future__ import annotations

import uuid

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.errors import StorageError
from hpsearch.storage import trialwrite
from hpsearch.storage.cache import StudyCache, worker_storage
from hpsearch.storage.speed import SPEED_OFF_ENV, SPEED_PATHS, speed_paths_off
from hpsearch.storage.urls import open_storage
from hpsearch.study.queue import claim_trial, enqueue_budget
from hpsearch.tuning.reporting import EpochReporter, write_progress

pytestmark = pytest.mark.timeout(120)

EPOCHS = 5


def test_an_unknown_speed_path_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(SPEED_OFF_ENV, "cache, warp")
    with pytest.raises(StorageError) as error:
        open_storage(f"sqlite:///{tmp_path / 'x.db'}")
    message = str(error.value)
    assert "warp" in message and "valid: " + ", ".join(SPEED_PATHS) in message
    monkeypatch.setenv(SPEED_OFF_ENV, " cache,deferred_reports ,")
    assert speed_paths_off() == {"cache", "deferred_reports"}


@pytest.mark.parametrize("off", ["", *SPEED_PATHS])
def test_each_speed_path_turns_off_and_stores_the_same(off, pg_url, monkeypatch):
    monkeypatch.setenv(SPEED_OFF_ENV, off)
    calls = {"trialwrite": 0}
    real = trialwrite.write_trial

    def counted(*args, **kwargs):
        calls["trialwrite"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(trialwrite, "write_trial", counted)

    name = f"speed-{off or 'all-on'}-{uuid.uuid4().hex[:6]}"
    optuna.create_study(study_name=name, storage=open_storage(pg_url), direction="maximize")
    backend = open_storage(pg_url)
    study = optuna.load_study(study_name=name, storage=worker_storage(backend))
    enqueue_budget(study, [], 1)
    trial = claim_trial(study)
    x = trial.suggest_float("x", 0.0, 1.0)
    width = trial.suggest_int("width", 10, 40)
    write_progress(trial, {}, {"worker": {"pid": 1}}, defer=True)
    reporter = EpochReporter(trial, prunes=False)
    for epoch in range(1, EPOCHS + 1):
        assert not reporter.epoch(epoch, epoch / 10, {"epoch": epoch})
    reporter.flush(defer=True)
    write_progress(trial, {}, {"history": {"records": list(range(EPOCHS))}}, defer=True)
    study.tell(trial, 0.5)

    stored = optuna.load_study(study_name=name, storage=open_storage(pg_url)).trials[0]
    assert stored.state == TrialState.COMPLETE and stored.value == 0.5
    assert stored.params == {"x": x, "width": width}
    assert stored.intermediate_values == {e: e / 10 for e in range(1, EPOCHS + 1)}
    assert stored.user_attrs == {"worker": {"pid": 1}, "history": {"records": [0, 1, 2, 3, 4]}}

    # What is off is off; what is on is used.
    assert isinstance(study._storage, StudyCache) == (off != "cache")
    assert (reporter.flushes == EPOCHS) == (off == "deferred_reports")
    assert (calls["trialwrite"] > 0) == (off != "batched_writes")
