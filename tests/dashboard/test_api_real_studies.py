"""The API on storages filled by the real controller and objective (digits), not by fakes."""

from __future__ import annotations

import optuna
import pytest

from hpsearch.dashboard import create_app


@pytest.fixture(scope="module")
def real_client(results_studies):
    return create_app(results_studies.url).test_client()


def test_study_api_matches_the_storage(real_client, results_studies) -> None:
    """Rule: the study page's data (trials, states, values, epochs, best) is what the
    objective stored, for every trial."""
    name = results_studies.names[0]
    study = optuna.load_study(study_name=name, storage=results_studies.url)
    data = real_client.get(f"/api/studies/{name}").get_json()
    assert data["dataset"] == "digits" and data["sampler"] == "tpe"
    rows = {row["number"]: row for row in data["trials"]}
    assert set(rows) == {t.number for t in study.trials}
    for trial in study.trials:
        row = rows[trial.number]
        assert row["state"] == trial.state.name
        assert row["value"] == trial.value
        assert row["epochs"] == trial.user_attrs["epochs_run"]
        assert row["stop_reason"] == trial.user_attrs["stop_reason"]
    assert data["total_epochs"] == sum(t.user_attrs["epochs_run"] for t in study.trials)
    assert data["best"]["value"] == pytest.approx(study.best_value)


def test_curves_and_trial_detail_of_a_real_trial(real_client, results_studies) -> None:
    """Rule: a trial's curves are its stored history, epoch by epoch, with the
    gradient norms and the command that reproduces it."""
    name = results_studies.names[0]
    study = optuna.load_study(study_name=name, storage=results_studies.url)
    trial = study.best_trial
    history = trial.user_attrs["history"]
    curves = real_client.get(f"/api/studies/{name}/curves?trials={trial.number}").get_json()
    columns = curves["curves"][0]["columns"]
    assert columns["epoch"] == [r["epoch"] for r in history["records"]]
    assert columns["validation_accuracy"] == [r["validation_accuracy"] for r in history["records"]]
    detail = real_client.get(f"/api/studies/{name}/trials/{trial.number}").get_json()
    assert detail["command"] == f"hpsearch retrain {name} --trial {trial.number}"
    assert detail["data_provenance"]["source"]
    assert detail["params"] == trial.params


def test_compare_real_studies(real_client, results_studies) -> None:
    """Rule: compare lists each study with its best value and trial count."""
    query = "&".join(f"study={n}" for n in results_studies.names)
    data = real_client.get(f"/api/compare?{query}").get_json()
    by_name = {row["name"]: row for row in data["studies"]}
    for name in results_studies.names:
        study = optuna.load_study(study_name=name, storage=results_studies.url)
        assert by_name[name]["best_value"] == pytest.approx(study.best_value)
