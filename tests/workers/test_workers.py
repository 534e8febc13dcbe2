"""Several ``hpsearch worker`` processes share one study: on PostgreSQL, SQLite and MariaDB.

Each test runs once per storage (the ``cluster`` fixture is parametrized); the workers
are real processes that know only ``HPSEARCH_STORAGE`` and the study name.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from optuna.trial import TrialState

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def test_four_workers_finish_exactly_the_study_wide_budget(cluster):
    cluster.create(n_trials=12)
    cluster.start(4)
    cluster.wait_all()

    counted, states = cluster.counted()
    trials = cluster.trials()
    assert states == {"COMPLETE": 12}, states  # not 12 + 4: the budget is study-wide
    assert len(trials) == 12, [t.state.name for t in trials]
    done = [int(w.output().split("worker done: ")[1].split()[0]) for w in cluster.workers]
    assert sum(done) == 12, [w.output() for w in cluster.workers]
    # Each trial records the worker (pid) that ran it; the work was spread.
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) >= 2
    assert "pw-s3cret" not in cluster.all_output()


def test_exact_grid_of_24_points_runs_each_point_exactly_once(cluster):
    grid = 'eta = [0.1, 0.2, 0.4, 0.8]\nhidden_width = [10, 20, 30]\nactivation = ["sigmoid", "tanh"]\n'
    cluster.create(n_trials=None, grid=grid, sampler="grid", epochs=2)
    cluster.start(4)
    cluster.wait_all()

    trials = cluster.trials()
    points = Counter(
        (t.params["eta"], t.params["hidden_width"], t.params["activation"]) for t in trials
    )
    assert len(trials) == 24
    assert len(points) == 24 and set(points.values()) == {1}, points
    assert all(t.state == TrialState.COMPLETE for t in trials)


def test_sigkill_mid_trial_is_failed_by_heartbeat_and_retried_by_another_worker(cluster):
    cluster.create(n_trials=4, epochs=300, subset=300)
    victim, survivor = cluster.start(2)
    killed = cluster.running_trial_of(victim)
    os.kill(victim.pid, signal.SIGKILL)
    cluster.wait_all(timeout=120)

    assert survivor.process.returncode == 0, survivor.output()
    trials = {t.number: t for t in cluster.trials()}
    assert trials[killed.number].state == TrialState.FAIL  # failed after the grace period
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.state == TrialState.COMPLETE
    assert retry.params == killed.params  # the same point, run again
    assert retry.user_attrs["worker"]["pid"] == survivor.pid
    counted, states = cluster.counted()
    assert states == {"COMPLETE": 4}, states  # the full budget of finished trials


def test_sigterm_stops_the_current_trial_cleanly_and_the_worker_exits(cluster):
    cluster.create(n_trials=3, epochs=300, subset=300)
    (worker,) = cluster.start(1)
    stopped = cluster.running_trial_of(worker)
    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.output()
    assert time.monotonic() - started < 10  # within the current epoch, not after the trial
    assert "stopped by signal" in worker.output()

    trial = {t.number: t for t in cluster.trials()}[stopped.number]
    assert trial.state == TrialState.FAIL
    assert "interrupted" in trial.user_attrs["fail_reason"]
    waiting = [t for t in cluster.trials() if t.state == TrialState.WAITING]
    assert any(t.user_attrs.get("retry_of") == stopped.number for t in waiting)  # retriable

    cluster.start(1)  # another worker takes the re-queued trial and finishes the budget
    cluster.wait_all()
    counted, states = cluster.counted()
    assert states == {"COMPLETE": 3}, states
