"""--format table|json|csv (and -f) on status, trials, best and compare: the JSON keys the
README documents, CSV with the same columns; export writes where it is told."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

TRIAL_KEYS = {
    "number",
    "state",
    "value",
    "epochs",
    "seconds",
    "stop_reason",
    "worker",
    "started",
    "finished",
    "params",
}
STATUS_KEYS = {
    "name",
    "dataset",
    "sampler",
    "pruner",
    "direction",
    "metric",
    "budget",
    "counts",
    "n_trials",
    "requeued",
    "failed",
    "best_value",
    "best_trial",
    "first_start",
    "last_activity",
    "total_epochs",
}
COMPARE_KEYS = {
    "name",
    "sampler",
    "pruner",
    "metric",
    "direction",
    "best_value",
    "best_trial",
    "trials",
    "total_epochs",
    "wall_seconds",
    "epochs_to_reach",
}


def _json(cli: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    result = cli(*args)
    assert result.code == 0, result.output
    return json.loads(result.out)


def test_trials_json_is_every_trial_with_the_documented_keys(
    cli_studies: Any, cli: Callable[..., Any]
) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    records = _json(cli, "trials", name, "--storage", url, "--format", "json")
    study = optuna.load_study(study_name=name, storage=url)
    trials = study.get_trials(deepcopy=False)
    assert [r["number"] for r in records] == [t.number for t in trials]
    for record, trial in zip(records, trials, strict=True):
        assert set(record) == TRIAL_KEYS
        assert record["state"] == trial.state.name
        assert record["value"] == trial.value
        assert record["params"] == trial.params
        assert record["epochs"] == trial.user_attrs.get("epochs_run")
    failed = [r for r in records if r["state"] == "FAIL"]
    assert len(failed) == 1 and "interrupted" in failed[0]["stop_reason"]


def test_trials_sort_and_limit(cli_studies: Any, cli: Callable[..., Any]) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    every = _json(cli, "trials", name, "--storage", url, "-f", "json")
    top = _json(cli, "trials", name, "--storage", url, "-f", "json", "--sort", "value", "-n", "2")
    values = sorted((r["value"] for r in every if r["value"] is not None), reverse=True)
    assert [r["value"] for r in top] == values[:2]
    table = cli("trials", name, "--storage", url, "--limit", "2")
    assert f"(2 of {len(every)})" in table.out


def test_best_json_is_best_first(cli_studies: Any, cli: Callable[..., Any]) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    records = _json(cli, "best", name, "--storage", url, "-f", "json", "--limit", "3")
    study = optuna.load_study(study_name=name, storage=url)
    assert records[0]["number"] == study.best_trial.number
    assert records[0]["params"] == study.best_params
    values = [r["value"] for r in records]
    assert values == sorted(values, reverse=True) and len(records) == 3
    assert all(set(r) == TRIAL_KEYS for r in records)


def test_status_json_counts_failures(cli_studies: Any, cli: Callable[..., Any]) -> None:
    records = _json(cli, "status", "--storage", cli_studies.url, "-f", "json")
    assert [r["name"] for r in records] == list(cli_studies.names)
    assert all(set(r) == STATUS_KEYS for r in records)
    wide = records[0]
    assert wide["failed"] == 1 and wide["requeued"] == 1 and wide["budget"] == 5
    assert sum(wide["counts"].values()) == wide["n_trials"] == 5  # the retry counts instead
    one = _json(cli, "status", "wide-random", "--storage", cli_studies.url, "-f", "json")
    assert [r["name"] for r in one] == ["wide-random"]


def test_compare_json_and_csv(cli_studies: Any, cli: Callable[..., Any]) -> None:
    args = ("compare", *cli_studies.names, "--storage", cli_studies.url)
    records = _json(cli, *args, "-f", "json")
    assert [r["name"] for r in records] == list(cli_studies.names)
    assert all(set(r) == COMPARE_KEYS for r in records)
    assert set(records[0]["epochs_to_reach"]) == set(cli_studies.names)
    result = cli(*args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [r["name"] for r in rows] == list(cli_studies.names)
    assert {f"epochs_to_reach_{n}" for n in cli_studies.names} <= set(rows[0])


def test_trials_csv_flattens_params(cli_studies: Any, cli: Callable[..., Any]) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    records = _json(cli, "trials", name, "--storage", url, "-f", "json")
    result = cli("trials", name, "--storage", url, "-f", "csv")
    assert result.code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert len(rows) == len(records)
    complete = next(r for r in records if r["state"] == "COMPLETE")
    row = next(r for r in rows if r["number"] == str(complete["number"]))
    assert float(row["params_eta"]) == pytest.approx(complete["params"]["eta"])
    assert float(row["value"]) == pytest.approx(complete["value"])


# --- export ----------------------------------------------------------------------------


def test_export_to_a_terminal_needs_o(
    cli_studies: Any, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, export without -o refuses in one line; -o - prints there."""
    url, name = cli_studies.url, cli_studies.names[0]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    refused = cli("export", name, "--storage", url, "--format", "json")
    assert refused.code == 1 and refused.out == ""
    assert refused.err.strip().count("\n") == 0 and "-o FILE" in refused.err
    asked = cli("export", name, "--storage", url, "--format", "json", "-o", "-")
    assert asked.code == 0 and json.loads(asked.out)["study"]["name"] == name


def test_export_piped_goes_to_stdout(cli_studies: Any, cli: Callable[..., Any]) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    piped = cli("export", name, "--storage", url, "--format", "json")
    assert piped.code == 0 and json.loads(piped.out)["study"]["name"] == name


def test_export_into_a_missing_folder_fails_and_creates_nothing(
    cli_studies: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    target = tmp_path / "nonexistent" / "out.csv"
    result = cli("export", name, "--storage", url, "-o", str(target))
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1 and "does not exist" in result.err
    assert not target.parent.exists()
    written = cli("export", name, "--storage", url, "-o", str(tmp_path / "out.csv"))
    assert written.code == 0 and (tmp_path / "out.csv").read_text().startswith("number,")
