"""A worker looks for stale trials (of killed workers) once per heartbeat interval, not
before every trial: each look is a query on the trial's critical path. Recovery of a
SIGKILLed worker's trial with the throttled look is covered end to end by
tests/workers/test_workers.py (1 s heartbeats, 3 s grace)."""

from __future__ import annotations

import optuna

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
    real = optuna.storages.fail_stale_trials
    monkeypatch.setattr(optuna.storages, "fail_stale_trials", lambda s: looks.append(1) or real(s))
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
