"""The search space in Optuna: suggested params, the momentum conditional, exact grid points."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from hpsearch.errors import ConfigError
from hpsearch.spec import study_spec as spec_module
from hpsearch.spec.study_spec import (
    HYPERPARAMETER_DEFAULTS,
    HYPERPARAMETER_NAMES,
    StudySpec,
    parse_spec,
)
from hpsearch.tuning.space import (
    grid_points,
    optuna_distributions,
    params_from_trial_params,
    suggest_params,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def stub_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the space; dataset names are hpsearch.data's business."""
    monkeypatch.setattr(spec_module, "_dataset_problem", lambda name: None)


def make(space: dict[str, Any], grid: dict[str, Any] | None = None) -> StudySpec:
    raw: dict[str, Any] = {
        "study": {"name": "t", "n_trials": 5} if grid is None else {"name": "t", "sampler": "grid"},
        "data": {"dataset": "digits"},
        "space": space,
    }
    if grid is not None:
        raw["grid"] = grid
    return parse_spec(raw)


def ask(
    spec: StudySpec, seed: int = 0, enqueue: dict[str, Any] | None = None
) -> tuple[dict[str, Any], optuna.Trial]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    if enqueue is not None:
        study.enqueue_trial(enqueue)
    trial = study.ask()
    return suggest_params(trial, spec), trial


def test_all_hyperparameters_returned_fixed_and_defaults_filled() -> None:
    """suggest_params returns every name in canonical order: fixed values, defaults, suggestions."""
    spec = make({"loss": "quadratic", "hidden_width": 100, "eta": {"low": 0.1, "high": 1.0}})
    params, trial = ask(spec)
    assert list(params) == list(HYPERPARAMETER_NAMES)
    assert params["loss"] == "quadratic" and params["hidden_width"] == 100
    assert 0.1 <= params["eta"] <= 1.0
    assert params["activation"] == HYPERPARAMETER_DEFAULTS["activation"] == "sigmoid"
    assert params["batch_size"] == 10 and params["init"] == "scaled"
    assert set(trial.params) == {"eta"}  # only searched names become Optuna params


def test_distribution_kinds_map_to_optuna() -> None:
    """float/int/categorical entries become the matching Optuna distributions."""
    spec = make(
        {
            "eta": {"low": 0.01, "high": 3.0, "log": True},
            "hidden_width": {"low": 10, "high": 100, "step": 10},
            "activation": {"choices": ["relu", "tanh"]},
        }
    )
    dists = optuna_distributions(spec)
    assert dists["eta"] == optuna.distributions.FloatDistribution(0.01, 3.0, log=True)
    assert dists["hidden_width"] == optuna.distributions.IntDistribution(10, 100, step=10)
    assert dists["activation"] == optuna.distributions.CategoricalDistribution(["relu", "tanh"])
    for seed in range(5):
        params, _ = ask(spec, seed)
        assert params["hidden_width"] % 10 == 0 and params["activation"] in ("relu", "tanh")


def test_momentum_suggested_only_for_momentum_optimizers() -> None:
    """momentum is a trial param only when optimizer is momentum or nesterov."""
    spec = make(
        {
            "optimizer": {"choices": ["sgd", "momentum", "nesterov", "adam"]},
            "momentum": {"low": 0.5, "high": 0.99},
        }
    )
    seen = set()
    for seed in range(25):
        params, trial = ask(spec, seed)
        seen.add(params["optimizer"])
        if params["optimizer"] in ("momentum", "nesterov"):
            assert "momentum" in trial.params and 0.5 <= params["momentum"] <= 0.99
        else:
            assert "momentum" not in trial.params
            assert params["momentum"] == HYPERPARAMETER_DEFAULTS["momentum"]
    assert {"sgd", "momentum"} <= seen


def test_enqueued_grid_points_give_exactly_those_params() -> None:
    """Each enqueued grid point comes back exactly from suggest_params and trial.params."""
    spec = make(
        {"eta": {"low": 0.01, "high": 3.0, "log": True}, "hidden_width": {"low": 10, "high": 200}},
        grid={
            "eta": [0.025, 0.25, 2.5],
            "lambda": [0, 0.1, 1, 5],
            "hidden_width": [30, 100],
            "loss": ["quadratic", "cross_entropy"],
        },
    )
    points = grid_points(spec)
    assert len(points) == 48 == spec.budget
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for point in points:
        study.enqueue_trial(point)
    for point in points:
        trial = study.ask()
        params = suggest_params(trial, spec)
        assert trial.params == point
        assert {k: params[k] for k in point} == point
        assert all(type(params[k]) is type(v) for k, v in point.items())
        study.tell(trial, 0.5)


def test_grid_points_order_is_deterministic_canonical_and_last_key_fastest() -> None:
    """Points follow canonical key order (not file order); the last key varies fastest."""
    spec = make({}, grid={"loss": ["quadratic", "cross_entropy"], "eta": [0.1, 1.0]})
    assert grid_points(spec) == [
        {"eta": 0.1, "loss": "quadratic"},
        {"eta": 0.1, "loss": "cross_entropy"},
        {"eta": 1.0, "loss": "quadratic"},
        {"eta": 1.0, "loss": "cross_entropy"},
    ]
    assert [list(p) for p in grid_points(spec)] == [["eta", "loss"]] * 4
    assert grid_points(make({"eta": 0.1})) == []


def test_grid_points_drop_momentum_where_the_optimizer_ignores_it() -> None:
    """A point whose optimizer ignores momentum has no momentum; duplicates are removed."""
    spec = make({}, grid={"optimizer": ["sgd", "momentum"], "momentum": [0.5, 0.9]})
    assert grid_points(spec) == [
        {"optimizer": "sgd"},
        {"optimizer": "momentum", "momentum": 0.5},
        {"optimizer": "momentum", "momentum": 0.9},
    ]
    assert spec.budget == 3


def test_params_from_trial_params_fills_fixed_values_and_defaults() -> None:
    """A finished trial's params become a full params dict; spec-fixed values beat defaults."""
    spec = make({"loss": "quadratic", "eta": {"low": 0.1, "high": 1.0}})
    params, trial = ask(spec)
    assert params_from_trial_params(trial.params, spec) == params
    plain = params_from_trial_params({"eta": 0.3})
    assert list(plain) == list(HYPERPARAMETER_NAMES)
    assert plain["eta"] == 0.3 and plain["loss"] == "cross_entropy"
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        params_from_trial_params({"learning_rate": 0.1})
