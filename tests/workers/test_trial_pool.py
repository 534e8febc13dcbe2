"""PostgreSQL: the worker's trial pool commits without waiting for the disk, Optuna's
pool still does, and a connection the server dropped is replaced before use."""

from __future__ import annotations

import uuid

import optuna
import psycopg
import pytest

from hpsearch.storage import trialengine
from hpsearch.storage.running import study_id_of
from hpsearch.storage.urls import open_storage

from .conftest import PG_HOST, PG_PORT

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]


def _setting(engine, name: str) -> str:
    with engine.connect() as connection:
        return connection.exec_driver_sql(f"SHOW {name}").scalar_one()


def test_only_the_trial_pool_commits_without_waiting_for_the_disk(pg_url):
    storage = open_storage(pg_url)
    assert _setting(storage.engine, "synchronous_commit") == "on"  # Optuna's writes, heartbeats
    assert _setting(trialengine.trial_engine(storage.engine), "synchronous_commit") == "off"
    assert storage.engine.pool._pre_ping is True  # noqa: SLF001 (SQLAlchemy has no public getter)


def test_a_connection_the_server_dropped_is_replaced_before_use(pg_url, monkeypatch, caplog):
    monkeypatch.setattr(trialengine, "PING_AFTER_IDLE", 0.0)  # ping at every use
    storage = open_storage(pg_url)
    study = optuna.create_study(study_name=f"pool-{uuid.uuid4().hex[:8]}", storage=storage)
    study.enqueue_trial({})
    assert list(storage.trial_states(study_id_of(study), 0).values()) == [
        optuna.trial.TrialState.WAITING
    ]
    database = storage.engine.url.database
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        )
    caplog.set_level("WARNING")
    assert len(storage.trial_states(study_id_of(study), 0)) == 1
    assert "database unreachable" not in caplog.text  # replaced by the ping, not retried
