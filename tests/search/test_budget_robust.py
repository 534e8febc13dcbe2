"""Budgets stay exact when a run is resumed with a lower budget, when ``create`` was
killed mid-fill, and resumed runs suggest new points (issue 19)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.spec.study_spec import load_spec
from hpsearch.study.lifecycle import QUEUE_ATTR, SPEC_ATTR, counted_trials
from hpsearch.study.queue import enqueue_budget


def _counted_states(url: str, name: str) -> dict[str, int]:
    study = optuna.load_study(study_name=name, storage=url)
    states: dict[str, int] = {}
    for t in counted_trials(study):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    return states


def test_lowering_n_trials_on_resume_is_honoured(
    tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = str(spec_file({"study": {"pruner": "none"}, "training": {"epochs": 1}}))
    assert cli("create", spec, "--storage", url, "--n-trials", "12").code == 0
    result = cli("run", spec, "--storage", url, "--n-trials", "4")
    assert result.code == 0, result.output
    assert _counted_states(url, "tiny") == {"COMPLETE": 4}
    trials = optuna.load_study(study_name="tiny", storage=url).get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 4  # no trial ran beyond it
    cancelled = [t for t in trials if "cancelled" in t.user_attrs]
    assert len(cancelled) == 8 and all(t.state == TrialState.FAIL for t in cancelled)
    assert "n_trials lowered to 4" in cancelled[0].user_attrs["fail_reason"]
    assert "12/4" not in result.output
    # Raised again: the budget grows back to exactly 6.
    assert cli("run", spec, "--storage", url, "--n-trials", "6").code == 0
    assert _counted_states(url, "tiny") == {"COMPLETE": 6}


def test_a_create_killed_mid_fill_is_repaired_not_waited_on(
    tmp_path: Path,
    cli: Callable[..., Any],
    spec_file: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What a ``create --n-trials 1000`` killed by SIGTERM leaves: the spec stored, the
    queue "filling" and part of the budget enqueued. The next ``run --n-trials 3`` says
    it repairs the study, runs exactly 3 trials, and does not sit out the 60 s wait."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    path = spec_file({"study": {"pruner": "none"}, "training": {"epochs": 1}})
    spec = load_spec(path).with_overrides(n_trials=1000)
    study = optuna.create_study(study_name="tiny", storage=url, direction="maximize")
    study.set_user_attr(QUEUE_ATTR, "filling")
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    enqueue_budget(study, [], 40)  # then the process was killed
    started = time.monotonic()
    result = cli("run", str(path), "--storage", url, "--n-trials", "3")
    assert result.code == 0, result.output
    assert time.monotonic() - started < 45  # the creator wait is 60 s
    said = result.output + caplog.text  # a warning on stderr (pytest captures the log)
    assert "half-created" in said and "repaired" in said
    assert _counted_states(url, "tiny") == {"COMPLETE": 3}
    assert optuna.load_study(study_name="tiny", storage=url).user_attrs[QUEUE_ATTR] == "full"


def _params(url: str) -> list[tuple[Any, ...]]:
    trials = optuna.load_study(study_name="tiny", storage=url).get_trials()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    return [tuple(sorted(t.params.items())) for t in sorted(done, key=lambda t: t.number)]


def test_a_resumed_run_suggests_new_points(
    tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    """Random sampler with a seed: the run resumed from 4 to 8 trials must not replay the
    first run's suggestions (its worker 0 was seeded exactly as the first run's)."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = str(
        spec_file({"study": {"sampler": "random", "pruner": "none"}, "training": {"epochs": 1}})
    )
    assert cli("run", spec, "--storage", url, "--n-trials", "4").code == 0
    assert cli("run", spec, "--storage", url, "--n-trials", "8").code == 0
    params = _params(url)
    assert len(params) == 8
    assert not set(params[:4]) & set(params[4:]), params


def test_a_fresh_study_with_a_seed_stays_reproducible(
    tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    spec = str(
        spec_file({"study": {"sampler": "random", "pruner": "none"}, "training": {"epochs": 1}})
    )
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    for url in (first, second):
        assert cli("run", spec, "--storage", url, "--n-trials", "3").code == 0
    assert _params(first) == _params(second)


def test_a_run_that_did_not_create_the_study_suggests_new_points(
    tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    """Two runs started together on a fresh study: one creates it, the other finds it with
    no trial started yet. The second must not be seeded as the first (it would replay its
    points); here the study is created first, then run, against a run that creates it."""
    spec = str(
        spec_file({"study": {"sampler": "random", "pruner": "none"}, "training": {"epochs": 1}})
    )
    creating, joining = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    assert cli("run", spec, "--storage", creating, "--n-trials", "3").code == 0
    assert cli("create", spec, "--storage", joining, "--n-trials", "3").code == 0
    assert cli("run", spec, "--storage", joining, "--n-trials", "3").code == 0
    assert len(_params(joining)) == 3
    assert not set(_params(creating)) & set(_params(joining))
