"""The worker's storage (``StudyCache``): deferred trial writes, light refreshes, and a
cache that always equals the database; on PostgreSQL, SQLite and MariaDB."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.storage.cache import StudyCache, worker_storage
from hpsearch.storage.running import study_id_of, study_storage, trial_id_of
from hpsearch.storage.urls import open_storage
from hpsearch.study.queue import claim_trial, enqueue_budget
from hpsearch.tuning.reporting import write_progress

from .conftest import ROOT

pytestmark = pytest.mark.timeout(120)


def _new_study(url: str, n_trials: int = 3) -> optuna.Study:
    """A study with ``n_trials`` queued, loaded as a worker loads it (through StudyCache)."""
    name = f"cache-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize")
    enqueue_budget(study, [], n_trials)
    return _worker_study(url, name)


def _worker_study(url: str, name: str) -> optuna.Study:
    study = optuna.load_study(study_name=name, storage=worker_storage(open_storage(url)))
    assert isinstance(study_storage(study), StudyCache)
    return study


def _elsewhere(url: str, study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    """The trials as another worker sees them (its own connections, Optuna's own cache)."""
    other = optuna.load_study(study_name=study.study_name, storage=open_storage(url))
    return {t.number: t for t in other.get_trials()}


def test_params_are_deferred_and_stored_with_the_final_state(storage_url):
    study = _new_study(storage_url)
    trial = claim_trial(study)
    x = trial.suggest_float("x", 0.0, 1.0)
    c = trial.suggest_categorical("c", ["a", "b"])
    trial.set_user_attr("note", "kept")

    running = _elsewhere(storage_url, study)[trial.number]
    assert running.state == TrialState.RUNNING and running.params == {}  # not written yet
    assert study.get_trials()[trial.number].params == {"x": x, "c": c}  # this process sees them

    study.tell(trial, 0.5)
    done = _elsewhere(storage_url, study)[trial.number]
    assert done.state == TrialState.COMPLETE and done.value == 0.5
    assert done.params == {"x": x, "c": c} and done.user_attrs == {"note": "kept"}
    # Another process, from scratch.
    code = (
        "import json, optuna; from hpsearch.storage.urls import open_storage; "
        f"s = optuna.load_study(study_name={study.study_name!r}, storage=open_storage({storage_url!r})); "
        f"print(json.dumps(s.trials[{trial.number}].params))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(out.stdout.splitlines()[-1]) == {"x": x, "c": c}


def test_deferred_writes_go_with_the_next_record_progress(storage_url):
    study = _new_study(storage_url)
    trial = claim_trial(study)
    x = trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr("a", 1)
    write_progress(trial, {}, {"b": 2}, defer=True)
    assert _elsewhere(storage_url, study)[trial.number].user_attrs == {}

    write_progress(trial, {1: 0.25}, {"c": 3})
    seen = _elsewhere(storage_url, study)[trial.number]
    assert seen.state == TrialState.RUNNING
    assert seen.params == {"x": x}
    assert seen.user_attrs == {"a": 1, "b": 2, "c": 3}
    assert seen.intermediate_values == {1: 0.25}

    write_progress(trial, {2: 0.5}, {"d": 4}, defer=True)
    study.tell(trial, state=TrialState.PRUNED)
    done = _elsewhere(storage_url, study)[trial.number]
    assert done.state == TrialState.PRUNED and done.value == 0.5  # the last step, as Optuna does
    assert done.intermediate_values == {1: 0.25, 2: 0.5}
    assert done.user_attrs == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_the_cache_equals_the_database(storage_url):
    """Every field of every trial, datetimes and JSON round trips included (MariaDB
    keeps whole seconds; JSON turns tuples into lists and keys into strings)."""
    study = _new_study(storage_url, n_trials=4)
    for value in (0.7, None, 0.9):
        trial = claim_trial(study)
        trial.suggest_int("n", 1, 5)
        trial.suggest_float("lr", 1e-3, 1.0, log=True)
        trial.set_user_attr("shape", (1, 2))
        write_progress(trial, {1: 0.5, 2: float("inf")}, {"keys": {1: "one"}})
        if value is None:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, value)
    cached = {t.number: t for t in study.get_trials()}
    assert cached == _elsewhere(storage_url, study)
    assert cached[0].user_attrs == {"shape": [1, 2], "keys": {"1": "one"}}


def test_a_refresh_sees_what_other_workers_did(storage_url):
    study = _new_study(storage_url)
    assert [t.state for t in study.get_trials()] == [TrialState.WAITING] * 3

    other = optuna.load_study(study_name=study.study_name, storage=open_storage(storage_url))
    theirs = claim_trial(other)
    theirs.suggest_float("x", 0.0, 1.0)
    other.tell(theirs, 0.3)
    enqueue_budget(other, [], 1)

    trials = {t.number: t for t in study.get_trials()}
    assert trials[theirs.number].state == TrialState.COMPLETE
    assert trials[theirs.number].params == theirs.params
    assert len(trials) == 4 and trials[3].state == TrialState.WAITING
    assert trials == _elsewhere(storage_url, study)


def test_an_incompatible_distribution_is_refused_when_suggested(storage_url):
    study = _new_study(storage_url)
    first = claim_trial(study)
    first.suggest_float("x", 0.0, 1.0)
    study.tell(first, 0.1)

    fresh = _worker_study(storage_url, study.study_name)  # knows nothing yet
    trial = claim_trial(fresh)
    with pytest.raises(ValueError, match="distribution"):
        trial.suggest_categorical("x", ["a", "b"])


def test_a_trial_failed_by_another_worker_is_not_written_and_reloads(storage_url):
    study = _new_study(storage_url)
    trial = claim_trial(study)
    trial.suggest_float("x", 0.0, 1.0)
    open_storage(storage_url).set_trial_state_values(trial_id_of(trial), TrialState.FAIL)

    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        study.tell(trial, 1.0)
    assert study.get_trials()[trial.number].state == TrialState.FAIL
    assert _elsewhere(storage_url, study)[trial.number].params == {}


def _beating_trial_ids(url: str, study: optuna.Study) -> list[int]:
    """The study's trials with a heartbeat row, as another process sees them."""
    with open_storage(url).engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT h.trial_id FROM trial_heartbeats h JOIN trials t ON t.trial_id = h.trial_id"
            f" WHERE t.study_id = {study_id_of(study)}"
        )
        return [trial_id for (trial_id,) in rows]


def test_a_claim_records_the_trials_first_heartbeat_with_it(storage_url):
    # A worker killed between its claim and its heartbeat thread's first beat would
    # leave a RUNNING trial without a heartbeat, which no stale check ever finds.
    study = _new_study(storage_url, n_trials=2)
    assert study_storage(study).claims_beat
    trial = claim_trial(study)
    assert trial is not None
    assert _beating_trial_ids(storage_url, study) == [trial_id_of(trial)]
    states = sorted(t.state.name for t in _elsewhere(storage_url, study).values())
    assert states == ["RUNNING", "WAITING"]


def test_without_heartbeats_a_claim_records_none(storage_url, monkeypatch):
    monkeypatch.setattr("hpsearch.storage.urls.HEARTBEAT_INTERVAL", 0)
    monkeypatch.delenv("HPSEARCH_HEARTBEAT_INTERVAL", raising=False)
    name = f"cache-{uuid.uuid4().hex[:8]}"
    storage = open_storage(storage_url)
    assert storage.get_heartbeat_interval() is None and not storage.claims_beat
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    enqueue_budget(study, [], 1)
    assert claim_trial(study) is not None
    assert _beating_trial_ids(storage_url, study) == []
