"""Storage URLs, engines, heartbeat settings, passwords, and the study-wide timeout."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time

import pytest
from optuna.trial import TrialState

from hpsearch.cli import main
from hpsearch.errors import StorageError
from hpsearch.storage import urls as storage_module
from hpsearch.storage.urls import open_storage


def test_server_engines_use_pre_ping_a_small_pool_and_heartbeats(pg_url, mysql_url, monkeypatch):
    monkeypatch.delenv("HPSEARCH_HEARTBEAT_INTERVAL", raising=False)
    monkeypatch.delenv("HPSEARCH_GRACE_PERIOD", raising=False)
    for url in (pg_url, mysql_url):
        storage = open_storage(url)
        assert storage.engine.pool._pre_ping is True  # noqa: SLF001 (SQLAlchemy has no public getter)
        assert storage.engine.pool.size() <= 4
        assert storage.get_heartbeat_interval() == 10  # on by default
        assert storage.grace_period == 30
        assert storage.get_heartbeat_stale_trial_callback() is not None  # stale -> retried
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "2")
    monkeypatch.setenv("HPSEARCH_GRACE_PERIOD", "7")
    storage = open_storage(pg_url)
    assert (storage.get_heartbeat_interval(), storage.grace_period) == (2, 7)


def test_hpsearch_storage_env_is_used_and_the_password_never_printed(
    pg_url, spec_file, monkeypatch, capsys, caplog
):
    monkeypatch.setenv("HPSEARCH_STORAGE", pg_url)  # no --storage anywhere below
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "1")
    caplog.set_level("DEBUG")
    name = "env-and-password"
    assert main(["create", spec_file(name, n_trials=2, epochs=2)]) == 0
    assert main(["create", spec_file(name, n_trials=3, epochs=2)]) == 0  # resumed: top-up
    assert main(["worker", "--study", name]) == 0
    assert main(["status", name]) == 0
    assert main(["worker", "--study", "no-such-study"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err + caplog.text
    assert "created in postgresql+psycopg://postgres:***@" in text
    assert "worker done: 3 trial(s)" in text
    assert "no-such-study" in out.err
    assert "pw-s3cret" not in text


def test_unreachable_server_error_hides_the_password():
    with pytest.raises(StorageError) as raised:
        open_storage("postgresql+psycopg://someone:pw-s3cret-9f2c@127.0.0.1:1/nothing")
    assert "pw-s3cret" not in str(raised.value)
    assert "***" in str(raised.value)


def _open_at_once(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        open_storage(f"sqlite:///{path}", heartbeat_interval=1)
        results.put("ok")
    except Exception as error:  # the test reports whatever went wrong
        results.put(repr(error))


def test_processes_opening_one_new_sqlite_file_at_once_all_succeed(tmp_path):
    # Switching a new file to WAL needs it to itself; SQLite then answers "database is
    # locked" at once instead of waiting. Several `hpsearch run` started together hit it.
    context = multiprocessing.get_context("fork")
    for round_ in range(12):
        path = tmp_path / f"new-{round_}.db"
        barrier, results = context.Barrier(6), context.Queue()
        processes = [
            context.Process(target=_open_at_once, args=(path, barrier, results)) for _ in range(6)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join()
        assert outcomes == ["ok"] * 6
        with sqlite3.connect(path) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_sqlite_file_held_past_the_busy_timeout_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(storage_module, "SQLITE_BUSY_TIMEOUT", 0.3)
    try:
        with pytest.raises(StorageError, match=f"cannot open SQLite database {path}: .*locked"):
            open_storage(f"sqlite:///{path}")
    finally:
        holder.execute("COMMIT")
        holder.close()


def test_timeout_budget_is_study_wide_for_workers_started_at_different_times(cluster_sqlite):
    timeout = 7
    cluster_sqlite.create(n_trials=None, timeout=timeout, epochs=2)
    first = cluster_sqlite.start(1)[0]
    cluster_sqlite.running_trial_of(first)
    time.sleep(1.5)
    late = cluster_sqlite.start(1)[0]
    late_start = time.monotonic()
    cluster_sqlite.wait_all(timeout=60)
    late_seconds = time.monotonic() - late_start

    trials = cluster_sqlite.trials()
    starts = [t.datetime_start.timestamp() for t in trials]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # No trial starts after the study's clock (from its first trial) ran out, and the
    # late worker stops with everyone else: alone it would have run `timeout` seconds.
    assert max(starts) <= min(starts) + timeout + 0.5
    assert late_seconds < timeout, late.output()
    assert {t.user_attrs["worker"]["pid"] for t in trials} == {first.pid, late.pid}


def test_a_learning_curve_over_64_kb_is_stored_on_mariadb(mysql_url):
    # Optuna's attribute columns are TEXT on MySQL/MariaDB (64 KB, ~250 epochs of
    # history): hpsearch widens them, or the trial's final write fails.
    import optuna

    from hpsearch.storage.cache import worker_storage
    from hpsearch.study.queue import claim_trial, enqueue_budget

    name = f"long-history-{time.time_ns()}"
    study = optuna.create_study(study_name=name, storage=open_storage(mysql_url))
    enqueue_budget(study, [], 1)
    worker = optuna.load_study(study_name=name, storage=worker_storage(open_storage(mysql_url)))
    trial = claim_trial(worker)
    records = [{"epoch": epoch, "note": "x" * 100} for epoch in range(1000)]
    trial.set_user_attr("history", {"records": records})
    worker.tell(trial, 0.5)
    stored = optuna.load_study(study_name=name, storage=mysql_url).trials[0]
    assert stored.state == TrialState.COMPLETE
    assert stored.user_attrs["history"]["records"] == records


def test_a_user_without_alter_opens_a_narrow_mariadb_schema_with_a_warning(caplog):
    # The dashboard may read with a user that cannot ALTER: the widening is skipped
    # with a warning that says what follows, and the storage opens.
    import optuna

    pymysql = pytest.importorskip("pymysql")
    from .conftest import MYSQL_HOST, MYSQL_PORT

    try:
        admin = pymysql.connect(
            host=MYSQL_HOST, port=MYSQL_PORT, user="root", autocommit=True, connect_timeout=3
        )
    except pymysql.err.OperationalError as error:
        from .conftest import _unreachable

        _unreachable(f"MariaDB on {MYSQL_HOST}:{MYSQL_PORT}", error)
    name = f"hpsearch_narrow_{time.time_ns()}"
    user = name[-20:]
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%'")
    try:
        root_url = f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
        optuna.storages.RDBStorage(root_url)  # Optuna's own schema: TEXT columns
        caplog.set_level("WARNING")
        url = f"mysql+pymysql://{user}:pw@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
        storage = open_storage(url)
        assert storage.get_all_studies() == []
        assert "could not widen" in caplog.text and "64 KB" in caplog.text
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{name}`")
            cursor.execute(f"DROP USER '{user}'@'%'")
