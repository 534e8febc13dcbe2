"""Ctrl-C on `hpsearch run --jobs 2`: a clean stop that a later run resumes.

The run is a real subprocess in its own session, so a SIGINT can go to its whole process
group (what a terminal's Ctrl-C does: the parent and its workers all get it) or to the
parent alone (e.g. `kill -INT PID`).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from hpsearch.storage.urls import open_storage
from hpsearch.study.lifecycle import counted_trials, load_study_and_spec
from hpsearch.study.queue import RETRY_OF

#: Trials long enough (a few seconds) to be caught running: 1000 images, up to 150 epochs.
SLOW = {
    "study": {"name": "slow", "pruner": "none", "n_trials": 2},
    "data": {"subset": 1000, "validation": 100},
    "training": {"epochs": 500, "patience": 500},
    "space": {
        "eta": {"type": "float", "low": 0.05, "high": 0.5, "log": True},
        "hidden_width": {"type": "int", "low": 60, "high": 100},
    },
}
RUNNING, WAITING = 1, 0  # optuna's TrialState values, as stored


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(
    args: list[str],
    cwd: Path,
    ready: Callable[[], bool],
    what: str,
    *,
    wait: float,
    to_group: bool = True,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], str, str, float]:
    """Start ``python -m hpsearch ARGS`` in its own session, wait (up to ``wait`` s) until
    ``ready()``, send SIGINT to its process group (or the parent alone), and collect it.
    Returns (process, stdout, stderr, seconds from the signal to its exit)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=cwd,
        env=env,
        # As from a terminal: a test run started in the background (``cmd &``) inherits
        # SIGINT ignored, and a process that starts with it ignored leaves it ignored.
        preexec_fn=_sigint_as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + wait
        while not ready():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, what
            time.sleep(0.02)
        sent = time.monotonic()
        if to_group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
        return process, out, err, time.monotonic() - sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def _running_with_epochs(db: Path) -> int:
    """RUNNING trials that reported at least one epoch (read-only: never creates a schema)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM trials t WHERE t.state = 'RUNNING' AND EXISTS "
                "(SELECT 1 FROM trial_intermediate_values v WHERE v.trial_id = t.trial_id)"
            ).fetchone()
        return int(count)
    except sqlite3.Error:  # the schema is not there yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("target", ["group", "parent"])
def test_sigint_stops_cleanly_and_run_resumes(
    target: str,
    spec_file: Callable[..., Path],
    tmp_path: Path,
    cli: Callable[..., Any],
) -> None:
    """SIGINT while both workers train (to the process group, like Ctrl-C, or to the parent
    only): the run exits with 130 within 30 s and no traceback; the storage opens; no trial
    is left RUNNING; each interrupted trial is FAIL with a fail_reason saying 'interrupted'
    and is re-queued as a WAITING trial (user attr retry_of, same params); the same `run`
    later finishes the full budget."""
    spec = spec_file(SLOW)
    db = tmp_path / "studies.db"
    url = f"sqlite:///{db}"
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("HPSEARCH_STORAGE", None)
    process, out, err, elapsed = _interrupt(
        ["run", str(spec), "--jobs", "2", "--storage", url],
        tmp_path,
        lambda: _running_with_epochs(db) >= 2,
        "the workers never both started a trial",
        wait=90,
        to_group=target == "group",
        env=env,
    )

    assert process.returncode == 130, (out, err)
    assert elapsed < 30, f"took {elapsed:.1f} s to stop"
    assert "Traceback" not in err and "Traceback" not in out, err
    assert "interrupted" in out

    study, _ = load_study_and_spec(open_storage(url), "slow")
    trials = study.get_trials(deepcopy=False)
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 2, [(t.number, t.state, t.user_attrs) for t in trials]
    retries = {t.user_attrs.get(RETRY_OF): t for t in trials if t.state == TrialState.WAITING}
    for t in failed:
        assert "interrupted" in t.user_attrs["fail_reason"]
        assert t.intermediate_values  # it was stopped mid-training
        assert t.number in retries, f"trial {t.number} was not re-queued"
        assert retries[t.number].params == t.params or (
            retries[t.number].system_attrs["fixed_params"] == t.params
        )
    assert len(counted_trials(study)) == 2  # the re-queued failures do not use up budget

    resumed = cli("run", str(spec), "--jobs", "2", "--storage", url)
    assert resumed.code == 0, resumed.output
    study, _ = load_study_and_spec(open_storage(url), "slow")
    counted = counted_trials(study)
    assert len(counted) == 2 and all(t.state == TrialState.COMPLETE for t in counted)
    assert {t.user_attrs[RETRY_OF] for t in counted} == {t.number for t in failed}
    assert not study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))


@pytest.mark.slow
def test_sigint_to_a_standalone_worker_gives_its_trial_back(
    spec_file: Callable[..., Path],
    tmp_path: Path,
    cli: Callable[..., Any],
) -> None:
    """Ctrl-C on `hpsearch worker` ends it like SIGTERM: its running trial is FAIL with
    'interrupted' and re-queued, nothing stays RUNNING, no traceback, it says it was
    stopped by SIGINT and exits 130 (SIGTERM exits 0)."""
    db = tmp_path / "studies.db"
    url = f"sqlite:///{db}"
    assert cli("create", str(spec_file(SLOW)), "--storage", url).code == 0
    process, out, err, _ = _interrupt(
        ["worker", "slow", "--storage", url],
        tmp_path,
        lambda: _running_with_epochs(db) >= 1,
        "the worker never started a trial",
        wait=60,
    )
    assert "Traceback" not in err, err
    assert "stopped by signal SIGINT" in out
    assert process.returncode == 130  # Ctrl-C exits 130 from every command, as from `run`
    study, _ = load_study_and_spec(open_storage(url), "slow")
    trials = study.get_trials(deepcopy=False)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    assert "interrupted" in failed.user_attrs["fail_reason"]
    assert [t.user_attrs.get(RETRY_OF) for t in trials if t.state == TrialState.WAITING] == [
        None,
        failed.number,
    ]


def _count(db: Path, state: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM trials WHERE state = ?", (state,)
            ).fetchone()
        return int(count)
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_ctrl_c_between_short_trials_leaves_nothing_running(
    spec_file: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """Ctrl-C (SIGINT to the group) while workers churn through trials of a few
    milliseconds, so it lands in claims, tells and storage writes as well as in training:
    exit 130 at once, no traceback, no trial left RUNNING (one without a heartbeat would
    never expire), every FAIL re-queued, and the queue still holds the rest of the budget."""
    spec = spec_file({"study": {"name": "fast", "n_trials": 300, "pruner": "none"}})
    db = tmp_path / "studies.db"
    process, out, err, _ = _interrupt(
        ["run", str(spec), "--jobs", "2", "--storage", f"sqlite:///{db}"],
        tmp_path,
        lambda: _count(db, "COMPLETE") >= 4,
        "no trials finished",
        wait=60,
    )
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "Exception" not in err, err
    trials = load_study_and_spec(open_storage(f"sqlite:///{db}"), "fast")[0].get_trials()
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    retried = {t.user_attrs.get(RETRY_OF) for t in trials}
    assert all(t.number in retried for t in trials if t.state == TrialState.FAIL)
    assert sum(t.state != TrialState.FAIL for t in trials) == 300
