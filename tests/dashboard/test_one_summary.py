"""``hpsearch status`` and the dashboard give one summary of a study: the same counts
(a re-queued failed trial counts once) and the same ISO 8601 UTC times as the export."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import optuna
import pytest
from dashboard_fakes import table_rows
from optuna.trial import TrialState

from hpsearch.cli import main
from hpsearch.dashboard.app import create_app
from hpsearch.results.dates import iso_utc
from hpsearch.results.summary import summarize_study
from hpsearch.spec.study_spec import parse_spec
from hpsearch.storage.urls import open_storage
from hpsearch.study.lifecycle import create_or_resume, load_study_and_spec
from hpsearch.study.queue import claim_trial, requeue
from hpsearch.tuning.record import TrialRecord, record_attrs

SPEC = {
    "study": {"name": "requeued", "sampler": "random", "seed": 1, "n_trials": 5},
    "data": {"dataset": "digits", "subset": 200, "validation": 100},
    "training": {"epochs": 2, "patience": 2},
    "space": {"eta": {"type": "float", "low": 0.05, "high": 5.0, "log": True}},
}


def _give_up(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """What a worker does with a trial it must abandon (workers/loop.py ``_give_up``)."""
    for key, value in record_attrs(TrialRecord(fail_reason=reason)).items():
        trial.set_user_attr(key, value)
    study.tell(trial, state=TrialState.FAIL)
    requeue(study, trial)


@pytest.fixture
def requeued_study(tmp_path: Path) -> str:
    """5 slots: 2 complete, 1 diverged (failed, not re-queued), 1 failed while RUNNING and
    re-queued twice (its retry's retry waits), 1 never claimed."""
    url = f"sqlite:///{tmp_path / 'requeued.db'}"
    study, _ = create_or_resume(parse_spec(SPEC), open_storage(url))
    for value in (0.5, 0.75):
        trial = claim_trial(study)
        assert trial is not None
        trial.suggest_float("eta", 0.05, 5.0, log=True)
        study.tell(trial, value)
    diverged = claim_trial(study)
    assert diverged is not None
    for key, value in record_attrs(TrialRecord(fail_reason="diverged", epochs_run=1)).items():
        diverged.set_user_attr(key, value)
    study.tell(diverged, state=TrialState.FAIL)
    for _ in range(2):  # the re-queued trial is claimed and given up again
        running = claim_trial(study)
        assert running is not None
        assert study.get_trials()[running.number].state == TrialState.RUNNING
        _give_up(study, running, "stopped by SIGTERM")
    return url


def test_status_and_dashboard_agree_on_requeued_trials(
    requeued_study: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = requeued_study
    study, spec = load_study_and_spec(url, "requeued")
    assert len(study.get_trials()) == 7  # 5 slots + 2 retries
    cli = summarize_study(study, spec)
    expected = {"COMPLETE": 2, "FAIL": 1, "WAITING": 2, "RUNNING": 0, "PRUNED": 0}
    assert cli["counts"] == expected and cli["n_trials"] == 5 and cli["requeued"] == 2

    client = create_app(url).test_client()
    (listed,) = client.get("/api/studies").get_json()["studies"]
    page = client.get("/api/studies/requeued").get_json()
    for key in ("counts", "n_trials", "requeued", "best_value", "best_trial", "last_activity"):
        assert listed[key] == cli[key], key
    assert page["counts"] == cli["counts"] and page["n_trials"] == cli["n_trials"]
    assert listed["total_epochs"] == cli["total_epochs"] == page["total_epochs"]

    monkeypatch.setenv("COLUMNS", "250")
    assert main(["status", "--storage", url, "--format", "json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    for key in ("counts", "n_trials", "requeued", "best_value", "last_activity"):
        assert shown[key] == cli[key], key
    assert shown["failed"] == 3  # the failure that counts and the 2 re-queued ones
    assert main(["status", "--storage", url]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "requeued" in x)
    # done (finished / budget), complete, pruned, failed, running, waiting
    assert re.search(r"│ +3/5 │ +2 │ +0 │ +3 │ +0 │ +2 │", line), line


def test_one_date_format_in_export_cli_and_dashboard(
    requeued_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = requeued_study
    assert main(["export", "requeued", "--storage", url, "--format", "json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    client = create_app(url).test_client()
    page = client.get("/api/studies/requeued").get_json()
    study, spec = load_study_and_spec(url, "requeued")
    # The page gets one ISO origin (the first start) and each trial's seconds after it.
    first = min(t.datetime_start for t in study.trials if t.datetime_start is not None)
    assert page["origin"] == iso_utc(first)
    rows = table_rows(page)

    def at(offset: float | None) -> datetime | None:
        return None if offset is None else first + timedelta(seconds=offset)

    for trial, row, detail in zip(exported["trials"], rows, study.trials, strict=True):
        assert trial["datetime_start"] == iso_utc(detail.datetime_start)
        for key, offset in (
            ("datetime_start", row["start"]),
            ("datetime_complete", row["complete"]),
        ):
            if trial[key] is None:
                assert offset is None
            else:
                shown = datetime.fromisoformat(trial[key]).replace(tzinfo=None)
                moment = at(offset)
                assert moment is not None
                assert (
                    abs((moment.astimezone(UTC).replace(tzinfo=None) - shown).total_seconds()) < 1
                )
        if trial["datetime_start"] is not None:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", trial["datetime_start"])
    assert summarize_study(study, spec)["last_activity"].endswith("+00:00")
    assert exported["exported_at"].endswith("+00:00")


def test_iso_utc() -> None:
    """Aware times convert to UTC; naive ones (FrozenTrial's) are local time."""
    moment = datetime(2026, 12, 3, 19, 45, 56, 789, tzinfo=timezone(timedelta(hours=1)))
    assert iso_utc(moment) == "2026-12-03T18:45:56+00:00"
    assert iso_utc(moment.astimezone().replace(tzinfo=None)) == "2026-12-03T18:45:56+00:00"
    assert iso_utc(moment.astimezone(UTC)) == "2026-12-03T18:45:56+00:00"
    assert iso_utc(None) is None
