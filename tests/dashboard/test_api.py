"""The JSON API, in-process with Flask's test client, against SQLite storages."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import optuna
import pytest
from dashboard_fakes import STUDIES, XSS_NAME, add_study, make_history, table_rows
from flask.testing import FlaskClient
from optuna.trial import TrialState

from hpsearch.dashboard import create_app
from hpsearch.errors import StorageError


def _load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def test_studies_list_counts_best_and_spec_fields(client: FlaskClient, filled_storage: str) -> None:
    # Every study is listed with its spec's dataset/sampler and Optuna's own best value.
    studies = {s["name"]: s for s in client.get("/api/studies").get_json()["studies"]}
    assert set(studies) == {*STUDIES, XSS_NAME, "one-trial", "empty"}
    tpe = studies["tpe-digits"]
    study = _load(filled_storage, "tpe-digits")
    assert tpe["best_value"] == pytest.approx(study.best_value)
    assert (tpe["dataset"], tpe["sampler"], tpe["pruner"]) == ("digits", "tpe", "median")
    assert tpe["counts"]["RUNNING"] == 1 and tpe["counts"]["WAITING"] == 1
    assert tpe["n_trials"] == len(study.trials)
    assert tpe["last_activity"].endswith("+00:00")
    assert studies["empty"]["best_value"] is None and studies["empty"]["n_trials"] == 0
    assert studies["grid-digits"]["sampler"] == "grid"


def test_study_page_data_has_rows_but_no_curves(client: FlaskClient, filled_storage: str) -> None:
    # The trials list is light: params and diagnostics, never the learning curves.
    data = client.get("/api/studies/tpe-digits").get_json()
    study = _load(filled_storage, "tpe-digits")
    rows = table_rows(data)
    assert [t["number"] for t in rows] == [t.number for t in study.trials]
    assert "history" not in str(data["trials"]) and "records" not in str(data["trials"])
    by_number = {t["number"]: t for t in rows}
    for trial in study.trials:
        row = by_number[trial.number]
        assert row["state"] == trial.state.name
        assert row["params"] == trial.params
        if trial.state.is_finished():
            assert row["epochs"] == trial.user_attrs["epochs_run"]
            assert row["stop_reason"] == trial.user_attrs["stop_reason"]
    assert data["best"]["number"] == study.best_trial.number
    assert data["running"] == [t.number for t in study.trials if t.state == TrialState.RUNNING]
    assert "eta" in data["param_names"]


def test_progress_is_best_so_far_over_time_and_epochs(client: FlaskClient) -> None:
    # Best-so-far never gets worse; wall time and cumulative epochs never go back.
    p = client.get("/api/studies/tpe-digits").get_json()["progress"]
    assert len(p["best"]) == len(p["value"]) == len(p["seconds"]) == len(p["epochs"]) > 0
    assert all(b2 >= b1 for b1, b2 in zip(p["best"], p["best"][1:], strict=False))
    assert all(b >= v for b, v in zip(p["best"], p["value"], strict=True))
    assert p["seconds"] == sorted(p["seconds"]) and p["epochs"] == sorted(p["epochs"])


def test_curves_mark_early_stop_prune_and_running(client: FlaskClient, filled_storage: str) -> None:
    # Each chosen trial gets train and validation curves; stops and prunes are marked.
    study = _load(filled_storage, "tpe-digits")
    pruned = next(t for t in study.trials if t.state == TrialState.PRUNED)
    early = next(t for t in study.trials if t.user_attrs.get("stop_reason") == "early_stop")
    running = next(t for t in study.trials if t.state == TrialState.RUNNING)
    numbers = f"{pruned.number},{early.number},{running.number},{pruned.number}"
    curves = client.get(f"/api/studies/tpe-digits/curves?trials={numbers}").get_json()["curves"]
    assert [c["number"] for c in curves] == [pruned.number, early.number, running.number]
    kinds = {c["number"]: {m["kind"] for m in c["marks"]} for c in curves}
    assert "pruned" in kinds[pruned.number] and "early_stop" in kinds[early.number]
    assert curves[0]["marks"][-1]["epoch"] == max(pruned.intermediate_values)
    live = curves[2]
    assert live["live"] and live["columns"]["epoch"] == [
        r["epoch"] for r in running.user_attrs["live_history"]["records"]
    ]
    assert len(curves[1]["columns"]["train_accuracy"]) == early.user_attrs["epochs_run"]


def test_curves_reject_bad_numbers(client: FlaskClient) -> None:
    assert client.get("/api/studies/tpe-digits/curves?trials=1,x").status_code == 400


def test_trial_detail_and_retrain_only_on_the_retrained_params(
    client: FlaskClient, filled_storage: str
) -> None:
    study = _load(filled_storage, "tpe-digits")
    best = client.get(f"/api/studies/tpe-digits/trials/{study.best_trial.number}").get_json()
    assert best["retrain"]["test_accuracy"] == pytest.approx(0.9612)
    # The stored command, with --storage added so it runs from anywhere.
    assert best["command"] == (
        f"hpsearch retrain tpe-digits --trial {study.best_trial.number} --storage {filled_storage}"
    )
    assert len(best["curve"]["columns"]["gradient_norms"][0]) == 2
    other = next(t for t in study.trials if t.number != study.best_trial.number)
    assert (
        client.get(f"/api/studies/tpe-digits/trials/{other.number}").get_json()["retrain"] is None
    )
    failed = next(t for t in study.trials if t.state == TrialState.FAIL)
    detail = client.get(f"/api/studies/tpe-digits/trials/{failed.number}").get_json()
    assert "NaN" in detail["fail_reason"] and detail["stop_reason"] == "diverged"


def test_a_pruned_trial_has_no_value_on_its_page_either(fresh_storage: str) -> None:
    # Optuna may store a pruned trial's last report as its value; the table shows none.
    study = _load(fresh_storage, "tpe-digits")
    trial = study.ask()
    trial.report(0.42, 1)
    study.tell(trial, state=TrialState.PRUNED)
    assert _load(fresh_storage, "tpe-digits").trials[trial.number].value == 0.42
    client = create_app(fresh_storage).test_client()
    row = table_rows(client.get("/api/studies/tpe-digits").get_json())[trial.number]
    detail = client.get(f"/api/studies/tpe-digits/trials/{trial.number}").get_json()
    assert row["value"] is None and detail["value"] is None and detail["state"] == "PRUNED"


@pytest.mark.parametrize(
    "path",
    [
        "/api/studies/tpe-digits/trials/99999999999999999999",
        "/api/studies/tpe-digits/trials/9223372036854775808",
        "/studies/tpe-digits/trials/99999999999999999999",
    ],
)
def test_huge_trial_numbers_are_404_not_500(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert "no trial number" in response.get_json()["error"]


def test_huge_curve_numbers_are_400_not_500(client: FlaskClient) -> None:
    response = client.get("/api/studies/tpe-digits/curves?trials=1,99999999999999999999")
    assert response.status_code == 400
    assert "comma-separated trial numbers" in response.get_json()["error"]


def test_api_errors_are_json_when_the_database_is_gone(tmp_path: Path) -> None:
    # The database file disappears under a running dashboard: JSON 503s, not HTML 500s.
    path = tmp_path / "gone.db"
    add_study(f"sqlite:///{path}", "s", n_trials=3, bulk=True)
    client = create_app(f"sqlite:///{path}").test_client()
    assert client.get("/api/studies/s").status_code == 200
    client.application.extensions["hpsearch_reader"].storage.engine.dispose()
    path.unlink()
    for route in ("/api/studies", "/api/studies/s", "/api/studies/s/trials/0"):
        response = client.get(route)
        assert response.status_code == 503, route
        assert response.is_json and "cannot be read" in response.get_json()["error"]
    assert client.get("/api/nope").get_json()["error"]


def test_compare_skips_an_unknown_study(client: FlaskClient) -> None:
    data = client.get("/api/compare?study=tpe-digits&study=nope&study=grid-digits").get_json()
    assert [s["name"] for s in data["studies"]] == ["tpe-digits", "grid-digits"]
    assert data["missing"] == ["nope"]


def test_unknown_study_or_trial_is_404(client: FlaskClient) -> None:
    assert client.get("/api/studies/nope").status_code == 404
    assert client.get("/api/studies/tpe-digits/trials/999").status_code == 404
    assert client.get("/studies/nope").status_code == 404
    assert client.get("/studies/tpe-digits/trials/999").status_code == 404


def test_importances_need_two_complete_trials(client: FlaskClient) -> None:
    one = client.get("/api/studies/one-trial/importances").get_json()
    assert one["importances"] is None and "at least 2 complete" in one["message"]
    tpe = client.get("/api/studies/tpe-digits/importances").get_json()
    assert tpe["message"] is None and math.isclose(sum(tpe["importances"].values()), 1.0)


def test_importances_are_cached_until_trials_change(fresh_storage: str) -> None:
    app = create_app(fresh_storage)
    reader = app.extensions["hpsearch_reader"]
    calls = []

    def compute(study: optuna.Study) -> dict[str, float]:
        calls.append(len(study.trials))
        return {"eta": 1.0}

    info = reader.study("random-digits")
    for _ in range(2):
        reader.importances(info, reader.tables(info.study_id)[0], compute)
    assert len(calls) == 1
    study = _load(fresh_storage, "random-digits")
    study.enqueue_trial({"eta": 0.1})
    trial = study.ask()
    study.tell(trial, 0.5)
    reader.importances(info, reader.tables(info.study_id)[0], compute)
    assert calls == [calls[0], calls[0] + 1]


def test_new_and_finished_trials_show_up(fresh_storage: str) -> None:
    # Finished trials are cached in memory; running ones and new ones are read again.
    client = create_app(fresh_storage).test_client()
    before = client.get("/api/studies/tpe-digits").get_json()
    study = _load(fresh_storage, "tpe-digits")
    running = next(t for t in study.trials if t.state == TrialState.RUNNING)
    study.tell(running.number, 0.99)
    after = client.get("/api/studies/tpe-digits").get_json()
    assert after["counts"]["RUNNING"] == before["counts"]["RUNNING"] - 1
    assert after["best"] == {"number": running.number, "value": 0.99, "params": running.params}


def test_compare_totals(client: FlaskClient, filled_storage: str) -> None:
    query = "&".join(f"study={n}" for n in STUDIES)
    rows = client.get(f"/api/compare?{query}").get_json()["studies"]
    assert [r["name"] for r in rows] == list(STUDIES)
    for row in rows:
        study = _load(filled_storage, row["name"])
        assert row["n_trials"] == len(study.trials)
        assert row["best_value"] == pytest.approx(study.best_value)
        assert row["total_epochs"] == sum(len(t.intermediate_values) for t in study.trials) + sum(
            t.user_attrs["epochs_run"] for t in study.trials if t.state == TrialState.FAIL
        )
        assert row["wall_seconds"] > 0 and len(row["progress"]["best"]) > 0


def test_nan_in_curves_is_sent_as_null(tmp_path: Path) -> None:
    # A diverged run records NaN losses; JSON has no NaN, so they arrive as null.
    url = f"sqlite:///{tmp_path / 'nan.db'}"
    study = add_study(url, "nan", n_trials=2)
    history = make_history(np.random.default_rng(0), epochs=3, skill=0.5, stop_reason="diverged")
    history["records"][-1]["train_loss"] = float("nan")
    trial = optuna.trial.create_trial(
        state=TrialState.FAIL, user_attrs={"history": history}, intermediate_values={1: 0.3}
    )
    study.add_trial(trial)
    response = create_app(url).test_client().get("/api/studies/nan/trials/2")
    assert b"NaN" not in response.data
    assert response.get_json()["curve"]["columns"]["train_loss"][-1] is None


def test_missing_sqlite_file_is_a_clear_error_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StorageError, match=f"no storage at sqlite:///{path}"):
        create_app(f"sqlite:///{path}")
    assert not path.exists()


def test_big_study_page_reads_every_trial(tmp_path: Path) -> None:
    # 2,000 trials with curves: every row arrives, light (speed is benchmarks/dashboard_api.py's).
    url = f"sqlite:///{tmp_path / 'big.db'}"
    add_study(url, "big", n_trials=2000, bulk=True)
    client = create_app(url).test_client()
    response = client.get("/api/studies/big", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    data = json.loads(gzip.decompress(response.data))
    assert len(data["trials"]["number"]) == 2000
    assert data["trials"]["epochs"] == [
        t.user_attrs["epochs_run"] for t in _load(url, "big").trials
    ]


def test_responses_are_gzipped_when_accepted(client: FlaskClient) -> None:
    for path in ("/api/studies", "/api/studies/tpe-digits", "/vendor/plotly.min.js", "/"):
        zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
        plain = client.get(path)
        assert zipped.headers.get("Content-Encoding") == "gzip", path
        assert "Content-Encoding" not in plain.headers, path
        body = gzip.decompress(zipped.data)
        if path.startswith("/api/"):  # "now" and running trials' seconds move on
            assert json.loads(body).keys() == plain.get_json().keys(), path
        else:
            assert body == plain.data, path
        assert "Accept-Encoding" in zipped.headers["Vary"]


def test_a_new_study_never_shows_a_deleted_studys_trials(tmp_path: Path) -> None:
    # SQLite gives a deleted study's id to the next study; the trial cache must notice.
    url = f"sqlite:///{tmp_path / 'reuse.db'}"
    add_study(url, "reuse", n_trials=6, seed=1, bulk=True)
    storage = optuna.storages.RDBStorage(url)
    old_id = storage.get_study_id_from_name("reuse")
    client = create_app(url).test_client()
    assert len(table_rows(client.get("/api/studies/reuse").get_json())) == 6
    optuna.delete_study(study_name="reuse", storage=url)
    new = add_study(url, "next", n_trials=1, seed=2, bulk=True)
    assert storage.get_study_id_from_name("next") == old_id  # the precondition of the bug
    data = client.get("/api/studies/next").get_json()
    assert [t["number"] for t in table_rows(data)] == [0]
    assert table_rows(data)[0]["params"]["eta"] == new.trials[0].params["eta"]
    # Its record too (SQLite reuses the trial ids as well): not the deleted trial 0's.
    first = new.trials[0]
    assert table_rows(data)[0]["seconds"] == first.user_attrs["seconds"]
    assert table_rows(data)[0]["epochs"] == first.user_attrs["epochs_run"]
    study = _load(url, "next")
    trial = study.ask({"eta": optuna.distributions.FloatDistribution(0.01, 5.0, log=True)})
    study.tell(trial, 0.5)
    assert [t["number"] for t in table_rows(client.get("/api/studies/next").get_json())] == [0, 1]
