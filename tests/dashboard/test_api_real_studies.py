"""The API on storages filled by the real controller and objective (digits), not by fakes."""

from __future__ import annotations

import optuna
import pytest
from dashboard_fakes import table_rows

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
    rows = {row["number"]: row for row in table_rows(data)}
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
    storage = results_studies.url
    assert (
        detail["command"] == f"hpsearch retrain {name} --trial {trial.number} --storage {storage}"
    )
    assert detail["data_provenance"]["source"]
    assert detail["params"] == trial.params
    # It trained alone: a cohort of its own, with the study's data seed.
    seed = trial.user_attrs["data_seed"]
    assert detail["cohort"] == {"id": trial.number, "size": 1, "data_seed": seed}


def test_compare_real_studies(real_client, results_studies) -> None:
    """Rule: compare lists each study with its best value and trial count."""
    query = "&".join(f"study={n}" for n in results_studies.names)
    data = real_client.get(f"/api/compare?{query}").get_json()
    by_name = {row["name"]: row for row in data["studies"]}
    for name in results_studies.names:
        study = optuna.load_study(study_name=name, storage=results_studies.url)
        assert by_name[name]["best_value"] == pytest.approx(study.best_value)


def test_trial_page_shows_a_real_retrain(results_studies, tmp_path) -> None:
    """Rule: after ``retrain`` (which stores every resolved param, not trial.params) the
    retrained trial's page shows the test accuracy, and only that trial's page; after
    ``retrain --top 2``, the pages of the two trials it drew from."""
    import sqlite3

    from hpsearch.results.retrain import retrain
    from hpsearch.study.lifecycle import load_study_and_spec

    copy = tmp_path / "retrained.db"
    source = sqlite3.connect(results_studies.url.removeprefix("sqlite:///"))
    with source, sqlite3.connect(copy) as target:
        source.backup(target)  # WAL included, unlike a file copy
    source.close()
    url, name = f"sqlite:///{copy}", results_studies.names[0]
    study, spec = load_study_and_spec(url, name)
    result = retrain(study, spec, output=tmp_path / "model.npz", epochs=2)
    assert result.params != study.best_trial.params  # what made the old comparison fail
    client = create_app(url).test_client()
    detail = client.get(f"/api/studies/{name}/trials/{result.trial}").get_json()
    assert detail["retrain"]["test_accuracy"] == pytest.approx(result.test_accuracy)
    other = next(t.number for t in study.trials if t.number != result.trial)
    assert client.get(f"/api/studies/{name}/trials/{other}").get_json()["retrain"] is None

    # --top 2: both trials the ensemble drew from show it, and the study lists them.
    result = retrain(study, spec, output=tmp_path / "top.npz", epochs=1, ensemble=2, top=2)
    drawn = [m["trial"] for m in result.members]
    assert len(set(drawn)) == 2
    for number in drawn:
        detail = client.get(f"/api/studies/{name}/trials/{number}").get_json()
        assert detail["retrain"]["trials"] == drawn
    rest = [t.number for t in study.trials if t.number not in drawn]
    for number in rest:
        assert client.get(f"/api/studies/{name}/trials/{number}").get_json()["retrain"] is None
    assert client.get(f"/api/studies/{name}").get_json()["retrain"]["trials"] == drawn
