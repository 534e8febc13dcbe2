"""Fixtures shared across test packages.

``results_studies``: two tiny real studies (digits, 4 trials of 3 epochs, TPE and
random), run once per session through the real controller and objective, for the
tests of export, retrain/predict and compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

#: A study that trains for a fraction of a second per trial.
RESULTS_SPEC: dict[str, Any] = {
    "study": {"name": "tiny-tpe", "sampler": "tpe", "seed": 3, "n_trials": 4},
    "data": {"dataset": "digits", "subset": 300, "validation": 100},
    "training": {"epochs": 3, "patience": 2},
    "space": {
        "eta": {"type": "float", "low": 0.1, "high": 3.0, "log": True},
        "hidden_width": {"type": "int", "low": 10, "high": 30},
    },
}


@dataclass(frozen=True)
class ResultsStudies:
    """Where the studies are: a SQLite URL and the study names (TPE first)."""

    url: str
    names: tuple[str, ...]


@pytest.fixture(scope="session")
def results_studies(tmp_path_factory: pytest.TempPathFactory) -> ResultsStudies:
    from hpsearch.spec.study_spec import parse_spec
    from hpsearch.workers.controller import run_study

    url = f"sqlite:///{tmp_path_factory.mktemp('results') / 'studies.db'}"
    names = []
    for name, sampler in (("tiny-tpe", "tpe"), ("tiny-random", "random")):
        raw = {**RESULTS_SPEC, "study": {**RESULTS_SPEC["study"], "name": name, "sampler": sampler}}
        run_study(parse_spec(raw), url, jobs=1)
        names.append(name)
    return ResultsStudies(url, tuple(names))
