"""The "auto" strategy's opening points, and the sampler that tries them first."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest

from hpsearch.spec.study_spec import StudySpec, parse_spec
from hpsearch.study.lifecycle import create_or_resume, load_study_and_spec
from hpsearch.tuning.opening import OpeningSampler, opening_points
from hpsearch.tuning.samplers import make_sampler
from hpsearch.tuning.space import distribution_for, suggest_params

SPACE: dict[str, Any] = {
    "eta": {"type": "float", "low": 0.003, "high": 0.3, "log": True},
    "lambda": {"type": "float", "low": 0.01, "high": 10.0, "log": True},
    "hidden_layers": {"type": "int", "low": 1, "high": 3},
    "hidden_width": {"type": "int", "low": 32, "high": 256, "log": True},
    "activation": {"choices": ["sigmoid", "tanh", "relu"]},
    "loss": {"choices": ["quadratic", "cross_entropy", "log_likelihood"]},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "batch_size": {"type": "int", "low": 16, "high": 128, "log": True},
    "init": {"choices": ["large", "glorot"]},
}


def make(space: dict[str, Any], sampler: str = "auto", n_trials: int = 20) -> StudySpec:
    raw = {
        "study": {"name": "open", "sampler": sampler, "seed": 3, "n_trials": n_trials},
        "data": {"dataset": "digits", "subset": 200, "validation": 100},
        "training": {"epochs": 2, "patience": 2},
        "space": space,
    }
    return parse_spec(raw, source="test")


def test_points_are_wide_shallow_then_centre() -> None:
    """Numerics at their (log-)middle, categoricals at the preferred choice (else the
    first), then width at its top and the layers at their bottom, in that order."""
    wide, shallow, centre = opening_points(make(SPACE))
    assert centre == {
        "eta": pytest.approx(0.03),
        "lambda": pytest.approx(math.sqrt(0.1)),
        "hidden_layers": 2,
        "hidden_width": 91,  # sqrt(32 * 256) = 90.5
        "loss": "log_likelihood",
        "activation": "relu",
        "dropout": 0.25,
        "batch_size": 45,  # sqrt(16 * 128) = 45.25
        "init": "glorot",  # the preferred one offered
    }
    assert wide == {**centre, "hidden_width": 256}
    assert shallow == {**wide, "hidden_layers": 1}
    spec = make(SPACE)
    for point in (wide, shallow, centre):
        for name, value in point.items():
            dist = distribution_for(spec, name)
            assert dist is not None and dist.contains(value), (name, value)


def test_points_keep_to_steps_and_drop_repeats() -> None:
    """A stepped range gives a value on its step; a space without width or depth
    choices opens with its centre alone (the wide and shallow points repeat it)."""
    (only,) = opening_points(
        make(
            {
                "eta": {"type": "float", "low": 0.1, "high": 0.85, "step": 0.25},
                "batch_size": {"type": "int", "low": 10, "high": 70, "step": 20},
            }
        )
    )
    assert only == {"eta": pytest.approx(0.6), "batch_size": 50}  # 0.475 -> 0.6; 40 -> 50
    layers = opening_points(make({"hidden_layers": {"type": "int", "low": 0, "high": 4}}))
    assert layers == [{"hidden_layers": 2}, {"hidden_layers": 1}]  # never 0 hidden layers
    # A categorical without a preference opens at its first choice.
    assert opening_points(make({"batch_size": {"choices": [64, 16]}})) == [{"batch_size": 64}]


def test_auto_opens_with_the_points_then_lets_tpe_choose() -> None:
    """Trials 0-2 of an "auto" study run the opening points; trial 3 is TPE's."""
    spec = make(SPACE)
    sampler = make_sampler("auto", seed=3, spec=spec)
    assert isinstance(sampler, OpeningSampler)
    assert isinstance(sampler.base, optuna.samplers.TPESampler)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    points = opening_points(spec)
    for i in range(5):
        trial = study.ask()
        params = suggest_params(trial, spec)
        if i < len(points):
            assert trial.params == pytest.approx(points[i])
        else:
            assert trial.params not in points
        assert params["optimizer"] == "sgd"  # fixed names are not the opening's
        study.tell(trial, 0.5 + i / 10)
    assert [t.params for t in study.trials[:3]] == [pytest.approx(p) for p in points]


def test_named_samplers_do_not_open() -> None:
    """Only "auto" opens: a study that names TPE gets TPE from its first trial."""
    spec = make(SPACE, sampler="tpe")
    sampler = make_sampler("tpe", seed=3, spec=spec)
    assert type(sampler) is optuna.samplers.TPESampler
    trial = optuna.create_study(sampler=sampler).ask()
    suggest_params(trial, spec)
    assert trial.params != pytest.approx(opening_points(spec)[0])


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # ask() outside a worker
def test_workers_sharing_a_study_open_once(tmp_path: Path) -> None:
    """Two workers, each with its own sampler built from the stored spec, run each
    opening point once: the point is the trial number's, not the worker's."""
    url = f"sqlite:///{tmp_path / 'open.db'}"
    spec = make(SPACE, n_trials=6)
    create_or_resume(spec, url)
    workers = [load_study_and_spec(url, "open", worker_index=i)[0] for i in range(2)]
    asked = [workers[i % 2].ask() for i in range(4)]
    for trial in asked:
        suggest_params(trial, spec)
    points = opening_points(spec)
    params = [t.params for t in workers[0].get_trials(deepcopy=False)]
    assert params[:3] == [pytest.approx(p) for p in points]
    assert params[3] not in points
