"""The studies list is counted by the database (no trial read) and says what the
summary of every trial says: counts, re-queued failures, best, times, epochs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from hpsearch.dashboard import create_app
from hpsearch.dashboard.queries import DashboardReader
from hpsearch.dashboard.series import study_summary
from hpsearch.storage.reads import StudyReader
from hpsearch.tuning.record import EPOCHS_RUN, RETRY_OF

START = dt.datetime(2026, 3, 4, 5, 6, 7)


def _summaries(reader: DashboardReader) -> dict[str, dict[str, object]]:
    """Each study's summary from all its trials (the study page's path)."""
    return {
        info.name: study_summary(info, reader.facts(info.study_id)) for info in reader.studies()
    }


def _odd_study(url: str) -> None:
    """A minimize study with a tie for best, a failure re-queued by hpsearch (its retry
    carries ``retry_of``), an epochs attr that is not a number, a running trial with
    reports but no ``epochs_run``, and a failed trial that was not re-queued."""
    study = optuna.create_study(storage=url, study_name="odd", direction="minimize")
    dist = {"x": FloatDistribution(0.0, 1.0)}

    def add(state: TrialState, i: int, value: float | None, **attrs: object) -> None:
        trial = optuna.trial.create_trial(
            state=state,
            value=value,
            params={"x": i / 10},
            distributions=dist,
            user_attrs=attrs,
            intermediate_values={e: 0.5 for e in range(i % 3 + 1)},
        )
        trial.datetime_start = START + dt.timedelta(minutes=i)
        trial.datetime_complete = START + dt.timedelta(minutes=i, seconds=30)
        study.add_trial(trial)

    add(TrialState.COMPLETE, 0, 0.3, **{EPOCHS_RUN: 4})
    add(TrialState.COMPLETE, 1, 0.2, **{EPOCHS_RUN: 5.0})
    add(TrialState.FAIL, 2, None, **{EPOCHS_RUN: 1})  # re-queued below: counted once
    add(TrialState.COMPLETE, 3, 0.2, **{EPOCHS_RUN: "seven"})  # ties with 1; steps count
    add(TrialState.FAIL, 4, None)  # not re-queued
    add(TrialState.COMPLETE, 5, 0.9, **{EPOCHS_RUN: 2, RETRY_OF: 2})
    running = study.ask()
    running.report(0.1, step=0)


@pytest.fixture
def odd_storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    _odd_study(url)
    return url


@pytest.mark.parametrize("which", ["filled", "odd"])
def test_list_says_what_the_trials_say(which: str, filled_storage: str, odd_storage: str) -> None:
    url = filled_storage if which == "filled" else odd_storage
    client = create_app(url).test_client()
    listed = {s["name"]: s for s in client.get("/api/studies").get_json()["studies"]}
    reader = DashboardReader(optuna.storages.RDBStorage(url))
    expected = _summaries(reader)
    assert listed == expected
    if which == "odd":
        odd = listed["odd"]
        assert odd["requeued"] == 1 and odd["counts"]["FAIL"] == 1  # type: ignore[index]
        assert (odd["best_trial"], odd["best_value"]) == (1, 0.2)  # the first of the tie
        # 4 + 5 + 1 + 2 epochs recorded; reports of the "seven" trial (1), the failure
        # with no epochs attr (2) and the running trial (1).
        assert odd["total_epochs"] == 4 + 5 + 1 + 2 + 1 + 2 + 1


def test_list_reads_no_trial(filled_storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = create_app(filled_storage).test_client()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the studies list read the trials")

    monkeypatch.setattr(StudyReader, "_read_table", refuse)
    response = client.get("/api/studies")
    assert response.status_code == 200
    assert {s["name"] for s in response.get_json()["studies"]} >= {"tpe-digits", "empty"}
