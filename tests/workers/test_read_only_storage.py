"""``open_storage(url, read_only=True)``: the dashboard's storage reads and never writes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from hpsearch.errors import StorageError
from hpsearch.storage.urls import open_storage


def _study(url: str) -> str:
    name = f"ro-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=open_storage(url))
    study.set_user_attr("spec", {"study": {"name": name}})
    study.enqueue_trial({})
    return name


def _refused(write: Callable[[], Any]) -> None:
    """``write`` fails, and the database's reason (Optuna wraps it) says read-only."""
    with pytest.raises(Exception) as caught:
        write()
    chain, error = [], caught.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    assert re.search(r"(?i)read.?only", " | ".join(chain)), chain


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mysql"])
def test_a_write_through_the_read_only_storage_fails(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Reads work; every kind of write (study attr, new study, trial state) is refused by
    the database itself, and the study is unchanged."""
    url = (
        f"sqlite:///{tmp_path / 'ro.db'}"
        if backend == "sqlite"
        else request.getfixturevalue({"postgres": "pg_url", "mysql": "mysql_url"}[backend])
    )
    name = _study(url)
    storage = open_storage(url, read_only=True)
    study_id = storage.get_study_id_from_name(name)
    assert name in [s.study_name for s in storage.get_all_studies()]
    trials = storage.get_all_trials(study_id)
    assert len(trials) == 1
    _refused(lambda: storage.set_study_user_attr(study_id, "spec", "changed"))
    _refused(lambda: storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "another"))
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trials[0].number)
    _refused(lambda: storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING))
    writer = open_storage(url)
    assert writer.get_study_user_attrs(study_id)["spec"] == {"study": {"name": name}}
    assert [s.study_name for s in writer.get_all_studies()].count("another") == 0


def test_read_only_sqlite_creates_no_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(StorageError, match=r"cannot open SQLite database .*: no such file"):
        open_storage(f"sqlite:///{missing}", read_only=True)
    assert not missing.exists()
