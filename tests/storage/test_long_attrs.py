"""Learning curves longer than a MySQL TEXT column: stored split across attrs, read back
whole, with Optuna's schema left as Optuna made it (no ALTER)."""

from __future__ import annotations

import json
import random
import time

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.nn.history import EpochRecord, History, StopReason
from hpsearch.storage import longattrs
from hpsearch.storage.cache import worker_storage
from hpsearch.storage.urls import open_storage
from hpsearch.study.queue import claim_trial, enqueue_budget
from hpsearch.tuning.reporting import write_progress

pytestmark = pytest.mark.timeout(180)


def _long_history(epochs: int = 2000, layers: int = 3) -> dict:
    """A real ``History`` of ``epochs`` epochs: losses, accuracies, learning rate and a
    gradient norm per layer each epoch (about 0.5 MB of JSON for 2,000 epochs)."""
    rng = random.Random(7)
    records = [
        EpochRecord(
            epoch=epoch,
            train_loss=rng.random(),
            train_accuracy=rng.random(),
            validation_loss=rng.random(),
            validation_accuracy=rng.random(),
            seconds=rng.random() / 100,
            eta=0.5,
            gradient_norms=[rng.random() for _ in range(layers)],
        )
        for epoch in range(1, epochs + 1)
    ]
    return History(
        records=records,
        best_epoch=epochs,
        best_validation_accuracy=records[-1].validation_accuracy,
        stop_reason=StopReason.EPOCHS,
    ).to_dict()


def test_short_attrs_are_stored_as_they_are():
    attrs = {"a": 1, "b": {"records": [1, 2, 3]}, "c": "x" * 1000}
    assert longattrs.split_attrs(attrs) == attrs
    assert longattrs.join_attrs(attrs) is attrs


def test_a_long_value_is_split_into_pieces_that_fit_a_text_column_and_joins_back():
    history = _long_history(epochs=800)
    stored = longattrs.split_attrs({"history": history, "epochs_run": 800})
    pieces = [k for k in stored if k.startswith("history#part")]
    assert len(pieces) > 1 and stored["history"] == {"hpsearch_split": len(pieces)}
    # Each attr's JSON, as Optuna writes it, fits MySQL's TEXT (65,535 bytes).
    assert all(len(json.dumps(value)) <= 65_535 for value in stored.values())
    # A JSON round trip (the database) and a join give the value back.
    back = longattrs.join_attrs(json.loads(json.dumps(stored)))
    assert back == {"history": json.loads(json.dumps(history)), "epochs_run": 800}


def test_a_head_without_all_its_pieces_is_left_as_stored():
    stored = longattrs.split_attrs({"h": ["y" * 100_000]})
    del stored["h#part2"]
    assert longattrs.join_attrs(stored) == stored


def test_a_2000_epoch_learning_curve_round_trips_on_mariadb(mysql_url):
    # Through a worker (StudyCache, deferred writes, the live curve on the way), then
    # read by a fresh process's storage and through Optuna's own cache.
    history = _long_history()
    assert len(json.dumps(history)) > 8 * 65_535
    name = f"long-curve-{time.time_ns()}"
    study = optuna.create_study(study_name=name, storage=open_storage(mysql_url))
    enqueue_budget(study, [], 2)
    worker = optuna.load_study(study_name=name, storage=worker_storage(open_storage(mysql_url)))
    trial = claim_trial(worker)
    write_progress(trial, {1: 0.5}, {"live_history": {"records": history["records"][:900]}})
    write_progress(trial, {}, {"history": history, "epochs_run": 2000}, defer=True)
    worker.tell(trial, 0.75)
    # The same through Optuna's calls on a storage without hpsearch's cache.
    other = optuna.load_study(study_name=name, storage=open_storage(mysql_url))
    second = claim_trial(other)
    second.set_user_attr("history", history)
    other.tell(second, 0.5)

    expected = json.loads(json.dumps(history))
    for reader in (open_storage(mysql_url), worker_storage(open_storage(mysql_url))):
        trials = optuna.load_study(study_name=name, storage=reader).get_trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
        assert trials[0].user_attrs["history"] == expected
        assert trials[0].user_attrs["live_history"]["records"] == expected["records"][:900]
        assert trials[0].user_attrs["epochs_run"] == 2000
        assert trials[1].user_attrs == {"history": expected}
        assert reader.get_trial_user_attrs(trials[1]._trial_id) == {"history": expected}
    # Optuna's columns are still TEXT: nothing was altered.
    storage = open_storage(mysql_url)
    with storage.engine.connect() as connection:
        types = connection.exec_driver_sql(
            "SELECT DISTINCT data_type FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND column_name = 'value_json'"
        ).scalars()
        assert set(types) == {"text"}
