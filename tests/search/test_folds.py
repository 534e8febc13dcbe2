"""Cross-validated trials ([data] folds = k): each trial trains one network per fold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from hpsearch.study.lifecycle import load_study_and_spec


def test_a_cross_validated_trial_is_the_mean_over_its_folds(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """With folds = 3 every complete trial records each fold's value, best epoch and
    epochs; its value is their mean, its epochs their sum, and its learning curve (the
    pruner's steps) is the first fold's."""
    changes = {
        "study": {"n_trials": 3, "pruner": "none", "metric": "validation_loss"},
        "data": {"validation": None, "folds": 3, "subset": 300},
        "training": {"epochs": 4},
    }
    result = cli("run", str(spec_file(changes)), "--storage", storage_url)
    assert result.code == 0, result.output
    trials = study_trials(storage_url, "tiny")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    for trial in trials:
        folds = trial.user_attrs["folds"]
        assert len(folds) == 3
        assert trial.value == pytest.approx(sum(f["value"] for f in folds) / 3)
        assert trial.user_attrs["epochs_run"] == sum(f["epochs_run"] for f in folds)
        history = trial.user_attrs["history"]
        assert len(history["records"]) == folds[0]["epochs_run"]
        assert folds[0]["value"] == pytest.approx(
            history["records"][folds[0]["best_epoch"] - 1]["validation_loss"]
        )
        assert sorted(trial.intermediate_values) == list(range(1, folds[0]["epochs_run"] + 1))
    _, spec = load_study_and_spec(storage_url, "tiny")
    assert spec.data.folds == 3 and spec.data.validation == pytest.approx(1 / 3)
    exported = cli("export", "tiny", "--format", "json", "--storage", storage_url)
    assert exported.code == 0, exported.output
    records = json.loads(exported.out)["trials"]
    assert [r["folds"] for r in records] == [t.user_attrs["folds"] for t in trials]


def test_retrain_of_a_cross_validated_study_keeps_one_fold_to_stop_early(
    spec_file: Callable[..., Path], storage_url: str, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """retrain trains on the training set less 1/k of it (its early-stopping set)."""
    changes = {
        "study": {"n_trials": 1, "pruner": "none"},
        "data": {"validation": None, "folds": 4, "subset": None},
    }
    spec = spec_file(changes)
    assert cli("run", str(spec), "--storage", storage_url).code == 0
    result = cli("retrain", "tiny", "--storage", storage_url, "-o", str(tmp_path / "m.npz"))
    assert result.code == 0, result.output
    study, _ = load_study_and_spec(storage_url, "tiny")
    examples = study.user_attrs["retrain"]["examples"]
    total = examples["train"] + examples["validation"]
    assert examples["validation"] == round(total / 4)


def test_a_fold_that_diverges_fails_the_trial_without_training_the_others(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """A diverging net fails the trial with the fold named, and no later fold is trained."""
    spec = spec_file(
        {
            "study": {"sampler": "grid", "n_trials": None},
            "data": {"validation": None, "folds": 3},
            "space": {
                "eta": None,
                "hidden_width": 20,
                "activation": "relu",
                "loss": "log_likelihood",
            },
            "grid": {"eta": [1e30, 0.1]},
        }
    )
    assert cli("run", str(spec), "--storage", storage_url).code == 0
    by_eta = {t.params["eta"]: t for t in study_trials(storage_url, "tiny")}
    failed, fine = by_eta[1e30], by_eta[0.1]
    assert failed.state == TrialState.FAIL and "folds" not in failed.user_attrs
    assert failed.user_attrs["fail_reason"].startswith("diverged in fold 0 at epoch")
    assert failed.user_attrs["epochs_run"] == len(failed.user_attrs["history"]["records"])
    assert fine.state == TrialState.COMPLETE and len(fine.user_attrs["folds"]) == 3
