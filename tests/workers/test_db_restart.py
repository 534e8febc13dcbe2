"""PostgreSQL restarts in the middle of a study: workers warn, reconnect and carry on."""

from __future__ import annotations

import time

import pytest
from optuna.trial import TrialState

from .conftest import Cluster
from .own_postgres import own_postgres  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(150)]


@pytest.fixture
def pg_cluster(own_postgres, tmp_path):  # noqa: F811 (the server of this test alone)
    c = Cluster(own_postgres.url, tmp_path)
    yield c
    c.stop_all()


def test_database_restart_mid_study_loses_nothing_and_crashes_no_worker(pg_cluster, own_postgres):  # noqa: F811
    pg_cluster.create(n_trials=6, slow=True)
    workers = pg_cluster.start(3)
    for worker in workers:  # every worker is in the middle of a trial
        pg_cluster.running_trial_of(worker)
    deadline = time.monotonic() + 60
    while not [t for t in pg_cluster.trials() if t.state == TrialState.COMPLETE]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    before = {t.number: t.value for t in pg_cluster.trials() if t.state == TrialState.COMPLETE}
    running = [t.number for t in pg_cluster.trials() if t.state == TrialState.RUNNING]
    assert running  # the restart lands in the middle of trials

    own_postgres.restart()  # this test's own server; the machine's cluster is not touched

    pg_cluster.wait_all(timeout=120)
    outputs = [w.output() for w in workers]
    assert [w.process.returncode for w in workers] == [0, 0, 0], outputs  # no worker crashed
    assert all("worker done" in out for out in outputs), outputs
    # A worker between two statements meets the restart as a dead pooled connection, which
    # pre-ping replaces silently; one inside a statement warns and retries. Either is fine:
    # what counts is that the trials running across the restart all finish, below.
    assert not any("Traceback" in out for out in outputs), outputs

    after = {t.number: t for t in pg_cluster.trials()}
    for number, value in before.items():  # no finished trial was lost
        assert after[number].state == TrialState.COMPLETE and after[number].value == value
    for number in running:
        assert after[number].state in (TrialState.COMPLETE, TrialState.FAIL)  # FAIL: re-queued
    _counted, states = pg_cluster.counted()
    assert states == {"COMPLETE": 6}, states
    assert "pw-s3cret" not in pg_cluster.all_output()
