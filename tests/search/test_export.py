"""`hpsearch export`: a study's trials as CSV or JSON, faithful to the storage."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import optuna
import pytest

from hpsearch.results.export import BASE_COLUMNS, export_json, render_export
from hpsearch.spec.study_spec import parse_spec
from hpsearch.study.lifecycle import SPEC_ATTR

pytestmark = pytest.mark.usefixtures("in_tmp")


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def _export(cli: Callable[..., Any], *args: str) -> tuple[int, str, str]:
    return tuple(cli("export", *args))


def test_json_round_trip_matches_storage(results_studies: Any, cli: Callable[..., Any]) -> None:
    """JSON export -> json.loads gives the storage's trial numbers, states, values and params,
    each trial's learning curves and the study's spec."""
    url, name = results_studies.url, results_studies.names[0]
    code, out, err = _export(cli, name, "--storage", url, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    trials = _trials(url, name)
    assert [t["number"] for t in data["trials"]] == [t.number for t in trials]
    assert [t["state"] for t in data["trials"]] == [t.state.name for t in trials]
    assert [t["value"] for t in data["trials"]] == [t.value for t in trials]
    assert [t["params"] for t in data["trials"]] == [t.params for t in trials]
    for exported, stored in zip(data["trials"], trials, strict=True):
        assert exported["history"] == stored.user_attrs["history"]
        assert exported["epochs"] == stored.user_attrs["epochs_run"]
        assert exported["stop_reason"] == stored.user_attrs["stop_reason"]
        assert exported["duration"] == pytest.approx(
            (stored.datetime_complete - stored.datetime_start).total_seconds()
        )
        # ISO 8601 with its UTC offset; FrozenTrial times are naive local time.
        start = stored.datetime_start.astimezone(UTC).isoformat(timespec="seconds")
        assert exported["datetime_start"] == start and start.endswith("+00:00")
        assert ":" in exported["worker"]
    study = optuna.load_study(study_name=name, storage=url)
    assert data["spec"] == study.user_attrs[SPEC_ATTR]
    assert parse_spec(data["spec"]).study.name == name
    assert data["study"]["name"] == name and data["study"]["direction"] == "maximize"


def test_csv_has_header_and_one_row_per_trial(
    results_studies: Any, cli: Callable[..., Any]
) -> None:
    """CSV export parses with the csv module: the base columns then params_<name> in
    canonical order, one row per trial, values that read back as the stored ones."""
    url, name = results_studies.url, results_studies.names[1]
    code, out, _ = _export(cli, name, "--storage", url)  # csv is the default
    assert code == 0
    reader = csv.reader(io.StringIO(out))
    header = next(reader)
    assert header == [*BASE_COLUMNS, "params_eta", "params_hidden_width"]
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    trials = _trials(url, name)
    assert [int(r["number"]) for r in rows] == [t.number for t in trials]
    for row, trial in zip(rows, trials, strict=True):
        assert row["state"] == trial.state.name
        assert (float(row["value"]) if row["value"] else None) == trial.value
        assert float(row["params_eta"]) == trial.params["eta"]
        assert int(row["params_hidden_width"]) == trial.params["hidden_width"]
        assert int(row["epochs"]) == trial.user_attrs["epochs_run"]
        assert row["stop_reason"] == trial.user_attrs["stop_reason"]


def test_output_file_gets_the_export_and_stdout_stays_empty(
    results_studies: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """--output PATH writes the same text as stdout would;
    stdout stays empty and a one-line note goes to stderr."""
    url, name = results_studies.url, results_studies.names[0]
    (tmp_path / "out").mkdir()
    code, out, err = _export(
        cli, name, "--storage", url, "-o", str(tmp_path / "out" / "trials.csv")
    )
    assert code == 0 and out == ""
    assert "exported 4 trial(s)" in err
    written = (tmp_path / "out" / "trials.csv").read_text()
    study = optuna.load_study(study_name=name, storage=url)
    spec = parse_spec(study.user_attrs[SPEC_ATTR])
    assert written == render_export(study, spec, "csv")


def test_unknown_study_is_one_line_error(results_studies: Any, cli: Callable[..., Any]) -> None:
    """An unknown study name: exit 1 and one 'error:' line listing the studies there."""
    code, out, err = _export(cli, "nope", "--storage", results_studies.url)
    assert code == 1 and out == ""
    assert err.startswith("error: no study named 'nope'") and "tiny-tpe" in err
    assert "Traceback" not in err


def test_non_finite_numbers_become_null() -> None:
    """A diverged trial's NaN/inf losses are exported as null: the JSON is standard."""
    study = optuna.create_study(direction="maximize")
    spec = parse_spec(
        {
            "study": {"name": "nan", "n_trials": 1},
            "data": {"dataset": "digits"},
            "space": {"eta": {"type": "float", "low": 0.1, "high": 1.0}},
        }
    )
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    trial = study.ask()
    trial.suggest_float("eta", 0.1, 1.0)
    trial.set_user_attr("history", {"records": [{"train_loss": math.nan, "eta": math.inf}]})
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    data = export_json(study, spec)
    json.dumps(data, allow_nan=False)  # raises on NaN/inf
    assert data["trials"][0]["history"]["records"][0] == {"train_loss": None, "eta": None}
    assert data["trials"][0]["value"] is None
