"""A worker looks for stale trials (of killed workers) once per heartbeat interval, not
before every trial: each look is a query on the trial's critical path. Recovery of a
SIGKILLed worker's trial with the throttled look is covered end to end by
tests/workers/test_workers.py (1 s heartbeats, 3 s grace)."""

from __future__ import annotations

import threading

import optuna
import pytest
from optuna.trial import TrialState
from sqlalchemy import event, text

from hpsearch.spec.study_spec import load_spec
from hpsearch.storage.urls import open_storage
from hpsearch.study.lifecycle import create_or_resume, load_study_and_spec
from hpsearch.workers import loop as worker


def _run(spec_file, storage_url, monkeypatch, interval: int) -> tuple[int, int]:
    spec = load_spec(spec_file({"study": {"n_trials": 4}, "training": {"epochs": 1}}))
    create_or_resume(spec, storage_url)
    storage = open_storage(storage_url, heartbeat_interval=interval)
    study, spec = load_study_and_spec(storage, spec.study.name)
    looks = []
    real = worker.fail_stale_trials
    monkeypatch.setattr(worker, "fail_stale_trials", lambda s: looks.append(1) or real(s))
    report = worker.run_worker(study, spec)
    return report.trials, len(looks)


def test_stale_trials_are_looked_for_once_per_heartbeat_interval(
    spec_file, storage_url, monkeypatch
):
    assert _run(spec_file, storage_url, monkeypatch, interval=3600) == (4, 1)


def test_every_due_look_happens():
    every = worker._Every(0.0)  # noqa: SLF001 - the loop's own pacing helper
    assert every.due() and every.due()
    hourly = worker._Every(3600)  # noqa: SLF001
    assert hourly.due() and not hourly.due()


def _stale_study(spec_file, storage_url) -> tuple[str, int]:
    """A study of 2 queued trials whose first is RUNNING with a heartbeat of long ago."""
    spec = load_spec(spec_file({"study": {"n_trials": 2}}))
    create_or_resume(spec, storage_url)
    storage = open_storage(storage_url, heartbeat_interval=1, grace_period=1)
    study = optuna.load_study(study_name=spec.study.name, storage=storage)
    first = study.get_trials(deepcopy=False)[0]
    assert storage.claim_waiting_trial(first._trial_id)  # noqa: SLF001
    with storage.engine.begin() as connection:
        connection.execute(text("UPDATE trial_heartbeats SET heartbeat = '2000-01-01 00:00:00'"))
    return spec.study.name, first.number


@pytest.mark.parametrize("racers", [2, 3])
def test_workers_racing_for_a_stale_trial_fail_and_requeue_it_once(spec_file, storage_url, racers):
    """Several workers look for stale trials at the same moment (all read the stale
    trial before any writes): it is failed once, with a fail_reason, and re-queued
    once, so the study keeps exactly its budget."""
    name, number = _stale_study(spec_file, storage_url)
    barrier = threading.Barrier(racers, timeout=10)
    studies, errors, won = [], [], []
    for _ in range(racers):
        storage = open_storage(storage_url, heartbeat_interval=1, grace_period=1)

        def hold(conn, cursor, statement, *args, _seen=[]):  # noqa: B006 - per storage
            if statement.lstrip().upper().startswith("UPDATE TRIALS") and not _seen:
                _seen.append(1)
                barrier.wait()  # every racer has read the stale trial as RUNNING

        event.listen(storage.engine, "before_cursor_execute", hold)
        studies.append(load_study_and_spec(storage, name)[0])

    def look(study):
        try:
            won.extend(worker.fail_stale_trials(study))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=look, args=(s,)) for s in studies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    trials = optuna.load_study(study_name=name, storage=storage_url).get_trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
    assert [t.number for t in failed] == [number] and len(won) == 1
    assert len(retries) == 1, [(t.number, t.state, t.system_attrs) for t in trials]
    assert failed[0].user_attrs["fail_reason"].startswith("stale heartbeat: no heartbeat")
    assert len(trials) == 3  # 2 queued + the one retry
