"""`hpsearch retrain` and `hpsearch predict`: best params on the full training set, tested once."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from hpsearch.data import load
from hpsearch.nn import Ensemble, Network, load_model
from hpsearch.results.predict import predict
from hpsearch.results.retrain import RETRAIN_ATTR, Source, retrain_split, train_members
from hpsearch.spec.study_spec import parse_spec
from hpsearch.study.lifecycle import SPEC_ATTR, create_or_resume
from hpsearch.tuning.objective import training_options, trial_seed
from hpsearch.tuning.record import read_record
from hpsearch.tuning.space import params_from_trial_params

RETRAIN_KEYS = {
    "trial",
    "params",
    "test_accuracy",
    "test_loss",
    "validation_accuracy",
    "epochs_run",
    "model_path",
    "finished_at",
    "history",
}

pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.fixture(scope="module")
def digits() -> Any:
    return load("digits")


def test_retrain_best_saves_model_and_records_result(
    results_studies: Any, cli: Callable[..., Any], tmp_path: Path, digits: Any
) -> None:
    """Without --trial the best complete trial is retrained with its params (plus the spec's
    fixed/default ones) on all training rows; the model lands in models/STUDY-trialN.npz and
    the study's user attr 'retrain' holds the result, whose test accuracy the saved model
    reproduces on the test set."""
    url, name = results_studies.url, results_studies.names[0]
    code, out, err = cli("retrain", name, "--storage", url)
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    best = study.best_trial
    record = study.user_attrs[RETRAIN_ATTR]
    assert set(record) >= RETRAIN_KEYS
    spec = parse_spec(study.user_attrs[SPEC_ATTR])
    assert record["trial"] == best.number
    assert record["params"] == params_from_trial_params(best.params, spec)
    model = tmp_path / "models" / f"{name}-trial{best.number}.npz"
    assert model.is_file() and record["model_path"] == str(model)
    assert 1 <= record["epochs_run"] <= 3 == spec.training.epochs
    assert len(record["history"]["records"]) == record["epochs_run"]
    assert record["examples"]["train"] + record["examples"]["validation"] == len(digits.y_train)
    assert record["examples"]["test"] == len(digits.y_test)
    assert predict(model, "digits").accuracy == pytest.approx(record["test_accuracy"])
    assert f"test accuracy {record['test_accuracy']:.4f}" in out
    assert str(model) in out.replace("\n", "")


def test_retrain_chosen_trial_with_epochs_and_output(
    results_studies: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """--trial N retrains that trial's params; --epochs caps the epochs; --output names the file."""
    url, name = results_studies.url, results_studies.names[1]
    Path("out").mkdir()  # -o names a file in a folder that exists (checked before training)
    code, _, err = cli(
        "retrain",
        name,
        "--storage",
        url,
        "--trial",
        "2",
        "--epochs",
        "1",
        "--output",
        "out/m.npz",
    )
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    record = study.user_attrs[RETRAIN_ATTR]
    assert record["trial"] == 2 and record["epochs_run"] == 1
    assert record["params"]["eta"] == study.trials[2].params["eta"]
    assert (
        Network.load(tmp_path / "out" / "m.npz").sizes[1] == study.trials[2].params["hidden_width"]
    )


def test_retrain_ensemble_averages_networks_with_their_own_seeds_and_splits(
    results_studies: Any, cli: Callable[..., Any], tmp_path: Path, digits: Any
) -> None:
    """--ensemble 3 trains 3 networks (distinct seeds, member 0 the one a plain retrain
    trains), each early-stopped on its own validation set; the saved file loads as an
    Ensemble whose test accuracy is the one recorded, and predict runs it."""
    url, name = results_studies.url, results_studies.names[0]
    code, _, err = cli("retrain", name, "--storage", url, "--output", "single.npz")
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    single = study.user_attrs[RETRAIN_ATTR]
    code, out, err = cli("retrain", name, "--storage", url, "--ensemble", "3")
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    record = study.user_attrs[RETRAIN_ATTR]
    members = record["members"]
    assert record["ensemble"] == 3 and len(members) == 3
    assert len({m["seed"] for m in members}) == 3
    assert members[0]["test_accuracy"] == pytest.approx(single["test_accuracy"])
    assert record["epochs_run"] == sum(m["epochs_run"] for m in members)
    model = load_model(record["model_path"])
    assert isinstance(model, Ensemble) and len(model) == 3
    assert model.evaluate(digits.X_test, digits.y_test)[1] == pytest.approx(record["test_accuracy"])
    assert predict(record["model_path"], "digits").accuracy == pytest.approx(
        record["test_accuracy"]
    )
    assert "network 3 (trial " in out and f"test accuracy {record['test_accuracy']:.4f}" in out
    spec = parse_spec(study.user_attrs[SPEC_ATTR])
    held_out = [set(retrain_split(digits, spec, member=j).validation_indices) for j in range(3)]
    assert held_out[0] != held_out[1] != held_out[2]
    assert len(held_out[0]) == len(held_out[1]) == record["examples"]["validation"]


def test_retrain_top_draws_the_members_from_the_best_trials(
    results_studies: Any, cli: Callable[..., Any], digits: Any
) -> None:
    """--ensemble 3 --top 2 trains members 0 and 2 from the best complete trial and
    member 1 from the second best, each with its own params (hidden widths differ) and
    seed; member 0 is the net a plain retrain trains, and the saved ensemble of mixed
    widths loads and reproduces the recorded test accuracy."""
    url, name = results_studies.url, results_studies.names[0]
    code, _, err = cli("retrain", name, "--storage", url, "-o", "one.npz")
    assert code == 0, err
    code, out, err = cli(
        "retrain", name, "--storage", url, "--ensemble", "3", "--top", "2", "-o", "top.npz"
    )
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best, second = sorted(complete, key=lambda t: (-float(t.value or 0.0), t.number))[:2]
    record = study.user_attrs[RETRAIN_ATTR]
    members = record["members"]
    assert [m["trial"] for m in members] == [best.number, second.number, best.number]
    assert len({m["seed"] for m in members}) == 3
    assert f"retraining trials {best.number}, {second.number} of" in out
    model = load_model("top.npz")
    assert isinstance(model, Ensemble)
    widths = [member.sizes[1] for member in model.members]
    wanted = [t.params["hidden_width"] for t in (best, second, best)]
    assert widths == wanted
    for mine, theirs in zip(model.members[0].weights, Network.load("one.npz").weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert model.evaluate(digits.X_test, digits.y_test)[1] == pytest.approx(record["test_accuracy"])


def test_retrain_top_errors_are_one_line(results_studies: Any, cli: Callable[..., Any]) -> None:
    """--top above --ensemble, --top with --trial and more best trials than are complete:
    exit 1 with one line naming the problem, and the recorded retrain is kept."""
    url, name = results_studies.url, results_studies.names[0]
    before = optuna.load_study(study_name=name, storage=url).user_attrs.get(RETRAIN_ATTR)
    for args, says in (
        (("--ensemble", "2", "--top", "3"), "top must be 1 to the ensemble's 2"),
        (("--ensemble", "2", "--top", "2", "--trial", "0"), "not both"),
        (("--ensemble", "40", "--top", "40"), "fewer than the 40 best"),
    ):
        code, out, err = cli("retrain", name, "--storage", url, *args)
        assert code == 1 and says in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and out == "", args
    after = optuna.load_study(study_name=name, storage=url).user_attrs.get(RETRAIN_ATTR)
    assert after == before


def test_retrain_validation_holds_out_that_many_rows_per_member(
    results_studies: Any, cli: Callable[..., Any], digits: Any
) -> None:
    """--validation N overrides the spec's [data] validation for the retrain only: each
    member holds out N rows (its own N), trains on the rest, and the record says so."""
    url, name = results_studies.url, results_studies.names[0]
    args = ("retrain", name, "--storage", url, "--ensemble", "2", "--validation", "150")
    code, out, err = cli(*args)
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    record = study.user_attrs[RETRAIN_ATTR]
    n = len(digits.y_train)
    assert record["examples"]["validation"] == 150
    assert record["examples"]["train"] == n - 150
    assert "on 150" in out
    spec = parse_spec(study.user_attrs[SPEC_ATTR])
    assert spec.data.validation != 150  # the stored spec is untouched
    held_out = [retrain_split(digits, spec, member=j, validation=150) for j in range(2)]
    assert set(held_out[0].validation_indices) != set(held_out[1].validation_indices)
    code, _, err = cli("retrain", name, "--storage", url, "--validation", "0")
    assert code == 2 and "--validation" in err and "Traceback" not in err


def test_train_members_trains_the_networks_retrain_saves(
    results_studies: Any, cli: Callable[..., Any], digits: Any
) -> None:
    """``train_members`` (what the model-quality cross-check trains) is retrain's recipe:
    from the recorded params, trial seed and data seed it gives, net for net, the saved
    ensemble, which ``--jobs 2`` trained in two processes."""
    url, name = results_studies.url, results_studies.names[0]
    code, _, err = cli(
        "retrain", name, "--storage", url, "--ensemble", "2", "--jobs", "2", "-o", "two.npz"
    )
    assert code == 0, err
    study = optuna.load_study(study_name=name, storage=url)
    record, spec = study.user_attrs[RETRAIN_ATTR], parse_spec(study.user_attrs[SPEC_ATTR])
    options = training_options(record["params"], spec)
    data_seed = read_record(study.trials[record["trial"]]).data_seed
    assert data_seed is not None  # the trial recorded its batch order
    trained = train_members(
        Source(record["params"], options, trial_seed(spec, record["trial"]), data_seed),
        spec,
        digits,
        ensemble=2,
    )
    networks, histories = trained.networks, trained.histories
    saved = load_model("two.npz")
    assert isinstance(saved, Ensemble) and len(networks) == len(saved) == 2
    for network, member, history, info in zip(
        networks, saved.members, histories, record["members"], strict=True
    ):
        assert history.epochs_run == info["epochs_run"]
        for mine, theirs in zip(network.weights, member.weights, strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(networks[0].weights[0], networks[1].weights[0])


def test_train_members_in_processes_reports_every_member(results_studies: Any, digits: Any) -> None:
    """With ``jobs=2`` three members train in two processes: each one's start, epochs (in
    order, as many as its history says) and end reach the caller, and the networks are
    those one process trains."""
    study = optuna.load_study(study_name=results_studies.names[0], storage=results_studies.url)
    spec = parse_spec(study.user_attrs[SPEC_ATTR])
    best = study.best_trial
    params = params_from_trial_params(best.params, spec)
    options = {**training_options(params, spec), "epochs": 4}
    events: list[tuple[str, int, int]] = []

    def train(jobs: int) -> Any:
        return train_members(
            Source(params, options, trial_seed(spec, best.number), data_seed=5),
            spec,
            digits,
            ensemble=3,
            jobs=jobs,
            on_member=lambda j: events.append(("start", j, 0)),
            on_epoch=lambda j, epoch, metrics: events.append(("epoch", j, epoch)),
            on_member_done=lambda j: events.append(("done", j, 0)),
        )

    parallel = train(jobs=2)
    for j, history in enumerate(parallel.histories):
        mine = [e for e in events if e[1] == j]
        epochs = list(range(1, history.epochs_run + 1))
        assert mine == [("start", j, 0), *(("epoch", j, e) for e in epochs), ("done", j, 0)]
    events.clear()
    alone = train(jobs=1)
    assert [e[0] for e in events].count("done") == 3
    assert parallel.examples == alone.examples
    for a, b in zip(parallel.networks, alone.networks, strict=True):
        for mine, theirs in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_retrain_split_uses_all_training_rows(digits: Any) -> None:
    """The retrain split covers the full training set: validation + training rows are disjoint
    and together every row; a validation fraction is kept, a count is capped at half."""
    base = {"study": {"name": "s", "n_trials": 1, "seed": 4}, "data": {"dataset": "digits"}}
    n = len(digits.y_train)
    for validation, expected in ((0.25, round(0.25 * n)), (300, 300), (5000, n // 2)):
        spec = parse_spec({**base, "data": {"dataset": "digits", "validation": validation}})
        data = retrain_split(digits, spec)
        assert len(data.validation_indices) == expected
        rows = np.concatenate([data.train_indices, data.validation_indices])
        assert sorted(rows.tolist()) == list(range(n))


def test_retrain_errors_are_one_line(
    results_studies: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """Unknown study, a missing trial number, a trial without params and a study without a
    complete trial: exit 1 with one 'error:' line each, no traceback."""
    url, name = results_studies.url, results_studies.names[0]
    empty_url = f"sqlite:///{tmp_path / 'empty.db'}"
    spec = parse_spec(
        {
            "study": {"name": "queued", "n_trials": 2, "sampler": "random"},
            "data": {"dataset": "digits"},
            "space": {"eta": {"type": "float", "low": 0.1, "high": 1.0}},
        }
    )
    create_or_resume(spec, empty_url)  # only WAITING trials: no params yet
    cases = [
        (["retrain", "nope", "--storage", url], "no study named 'nope'"),
        (
            ["retrain", name, "--storage", url, "--trial", "99"],
            "has no trial 99 (its trials: 0..3)",
        ),
        (
            ["retrain", "queued", "--storage", empty_url, "--trial", "0"],
            "trial 0 of study 'queued' has no params",
        ),
        (["retrain", "queued", "--storage", empty_url], "has no complete trial yet"),
        (
            ["retrain", name, "--storage", url, "--ensemble", "51"],
            "ensemble must be 1 to 50 networks, but got 51",
        ),
    ]
    for args, message in cases:
        code, _, err = cli(*args)
        assert code == 1, args
        assert err.startswith("error: ") and message in err, err
        assert "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "models").exists()


def test_retrain_to_an_unwritable_place_fails_before_training(
    results_studies: Any, tmp_path: Path
) -> None:
    """A model path under a file (no folder can be made there), or a folder: the error comes
    before any network trains, and the study's recorded retrain is left as it was."""
    from hpsearch.errors import HpsearchError
    from hpsearch.results.retrain import retrain
    from hpsearch.study.lifecycle import load_study_and_spec

    study, spec = load_study_and_spec(results_studies.url, results_studies.names[0])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    recorded = study.user_attrs.get(RETRAIN_ATTR)
    started: list[int] = []
    with pytest.raises(HpsearchError, match=r"cannot write the model to .*a-file/m\.npz"):
        retrain(study, spec, output=blocker / "m.npz", ensemble=3, on_member=started.append)
    with pytest.raises(HpsearchError, match="it is a folder"):
        retrain(study, spec, output=tmp_path, on_member=started.append)
    assert started == []
    assert study.user_attrs.get(RETRAIN_ATTR) == recorded


def test_predict_prints_accuracy_and_per_class_and_writes_csv(
    cli: Callable[..., Any], tmp_path: Path, digits: Any
) -> None:
    """predict MODEL --data NAME: the accuracy over the split, a per-class table and, with
    --output, one CSV row per example whose predictions give that accuracy."""
    network = Network([64, 20, 10], seed=0)
    network.save(tmp_path / "m.npz")
    expected = network.evaluate(digits.X_train, digits.y_train)[1]
    code, out, err = cli(
        "predict", "m.npz", "--data", "digits", "--split", "train", "--output", "p.csv"
    )
    assert code == 0, err
    assert f"accuracy {expected:.4f}" in out and "per-class accuracy" in out
    with open(tmp_path / "p.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(digits.y_train)
    hits = sum(r["label"] == r["predicted"] for r in rows)
    assert hits / len(rows) == pytest.approx(expected)


def test_predict_per_class_counts_sum_to_the_split(tmp_path: Path, digits: Any) -> None:
    """The per-class rows count every example of the split once; correct counts sum to the hits."""
    Network([64, 10], seed=1).save(tmp_path / "m.npz")
    prediction = predict(tmp_path / "m.npz", "digits")
    rows = prediction.per_class()
    assert [r["class"] for r in rows] == list(digits.class_names)
    assert sum(r["count"] for r in rows) == len(digits.y_test)
    assert sum(r["correct"] for r in rows) == int((prediction.labels == prediction.predicted).sum())


def test_predict_bad_models_are_one_line_errors(cli: Callable[..., Any], tmp_path: Path) -> None:
    """A model whose input width is not the dataset's, a missing file, a file that is not a
    model: exit 1 and one clear 'error:' line."""
    Network([10, 5, 10], seed=0).save(tmp_path / "narrow.npz")
    (tmp_path / "text.npz").write_text("not a model\n")
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
    cases = [
        ("narrow.npz", "takes 10 input features but dataset 'digits' has 64"),
        ("missing.npz", "no model file missing.npz"),
        ("text.npz", "not a network saved by hpsearch"),
        ("arrays.npz", "not a network saved by hpsearch"),
    ]
    for model, message in cases:
        code, out, err = cli("predict", model, "--data", "digits")
        assert code == 1 and out == "", model
        assert err.startswith("error: ") and message in err, err
        assert "Traceback" not in err and err.count("\n") == 1


def test_a_deskewed_noisy_study_trains_retrains_and_predicts_on_deskewed_data(
    cli: Callable[..., Any], spec_file: Callable[..., Path], tmp_path: Path
) -> None:
    """[data] deskew = true and a searched input_noise: the trials draw their noise and
    validate on deskewed images; retrain trains on them and its sidecar says so, so predict
    feeds the model deskewed test images without being told and reproduces the recorded
    test accuracy; told not to deskew, it feeds other inputs."""
    path = spec_file(
        {
            "data": {"deskew": True, "standardize": True},
            "space": {"input_noise": {"type": "float", "low": 0.1, "high": 0.8}},
        }
    )
    url = f"sqlite:///{tmp_path / 'deskew.db'}"
    code, out, err = cli("validate", str(path))
    assert code == 0 and "deskew, then standardize" in out, err
    assert cli("run", str(path), "--storage", url).code == 0
    study = optuna.load_study(study_name="tiny", storage=url)
    noises = [t.params["input_noise"] for t in study.trials]
    assert len(noises) == 4 and all(0.1 <= v <= 0.8 for v in noises)
    code, _, err = cli("retrain", "tiny", "--storage", url, "--output", "m.npz")
    assert code == 0, err
    record = optuna.load_study(study_name="tiny", storage=url).user_attrs[RETRAIN_ATTR]
    assert record["params"]["input_noise"] == study.best_trial.params["input_noise"]
    deskewed = load("digits", deskew=True, standardize=True)
    model = load_model(tmp_path / "m.npz")
    expected = model.evaluate(deskewed.X_test, deskewed.y_test)[1]
    assert expected == pytest.approx(record["test_accuracy"])
    followed = predict(tmp_path / "m.npz", "digits")
    assert followed.accuracy == pytest.approx(expected)
    plain = predict(tmp_path / "m.npz", "digits", deskew=False)
    assert not np.allclose(plain.confidence, followed.confidence)
