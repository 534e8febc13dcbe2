"""The controller behind `hpsearch run`: a study-wide budget across runs, resuming, and
trials that fail without stopping their worker."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.spec.study_spec import parse_spec
from hpsearch.study.lifecycle import SPEC_ATTR, counted_trials, load_study_and_spec


def _finished(trials: list[Any]) -> list[Any]:
    return [t for t in trials if t.state.is_finished()]


@pytest.mark.slow
def test_resume_tops_up_to_the_new_budget(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """The budget is study-wide: a run of 3 trials, then the same spec with --n-trials 5,
    leaves exactly 5 trials (2 new ones); the same budget again runs nothing new. The
    header says whether the study was created or resumed, and with how many trials done."""
    spec = spec_file({"study": {"n_trials": 3}})
    first = cli("run", str(spec), "--storage", storage_url)
    assert first.code == 0, first.output
    assert "study tiny created in" in first.out
    trials = study_trials(storage_url, "tiny")
    assert len(trials) == 3 and len(_finished(trials)) == 3

    second = cli("run", str(spec), "--n-trials", "5", "--storage", storage_url)
    assert second.code == 0, second.output
    assert "study tiny resumed (3 trials done) in" in second.out
    trials = study_trials(storage_url, "tiny")
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    study, stored = load_study_and_spec(storage_url, "tiny")
    assert stored.study.n_trials == 5 and len(counted_trials(study)) == 5

    third = cli("run", str(spec), "--n-trials", "5", "--storage", storage_url)
    assert third.code == 0, third.output
    again = study_trials(storage_url, "tiny")
    assert [(t.number, t.state, t.datetime_complete) for t in again] == [
        (t.number, t.state, t.datetime_complete) for t in trials
    ]


@pytest.mark.parametrize(
    ("changes", "section"),
    [
        ({"space": {"eta": {"type": "float", "low": 0.01, "high": 5.0, "log": True}}}, "[space]"),
        ({"training": {"epochs": 3}}, "[training]"),
        ({"data": {"subset": 250}}, "[data]"),
    ],
)
def test_resume_with_a_changed_spec_is_a_clear_error(
    changes: dict[str, Any],
    section: str,
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """Resuming a study with a different [space], [training] or [data] is refused before
    anything runs: exit 1, one message naming the section and how to go on; no traceback."""
    created = cli("create", str(spec_file()), "--storage", storage_url)
    assert created.code == 0, created.output
    changed = spec_file(changes, file="changed.toml")
    for command in ("run", "create"):
        result = cli(command, str(changed), "--storage", storage_url)
        assert result.code == 1, result.output
        assert "Traceback" not in result.output
        assert result.err.startswith("error: ")
        assert "already exists" in result.err and section in result.err
        assert "--study-name" in result.err
    trials = study_trials(storage_url, "tiny")
    assert len(trials) == 4 and all(t.state == TrialState.WAITING for t in trials)


def test_resume_under_another_name_is_a_new_study(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """--study-name gives a changed spec its own study beside the old one."""
    assert cli("create", str(spec_file()), "--storage", storage_url).code == 0
    changed = spec_file({"training": {"epochs": 3}}, file="changed.toml")
    result = cli("create", str(changed), "--study-name", "tiny-3", "--storage", storage_url)
    assert result.code == 0, result.output
    assert len(study_trials(storage_url, "tiny-3")) == 4


@pytest.mark.slow
def test_diverging_trials_fail_with_a_reason_and_the_worker_goes_on(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """A trial whose loss becomes NaN/inf is recorded as FAIL with fail_reason 'diverged ...'
    (and its curve); the same worker goes on with the next trials, and the run ends with the
    full budget and exit 0."""
    spec = spec_file(
        {
            "study": {"sampler": "grid", "n_trials": None},
            "space": {
                "eta": None,
                "hidden_width": None,
                "activation": "relu",
                "loss": "log_likelihood",
            },
            "grid": {"eta": [1e30, 0.1], "hidden_width": [10, 20]},
        }
    )
    result = cli("run", str(spec), "--jobs", "1", "--storage", storage_url)
    assert result.code == 0, result.output
    assert "Traceback" not in result.output
    trials = study_trials(storage_url, "tiny")
    assert len(trials) == 4
    diverged = [t for t in trials if t.params["eta"] == 1e30]
    fine = [t for t in trials if t.params["eta"] == 0.1]
    assert len(diverged) == 2 and len(fine) == 2
    for t in diverged:
        assert t.state == TrialState.FAIL
        assert "diverged" in t.user_attrs["fail_reason"]
        assert t.user_attrs["stop_reason"] == "diverged"
        assert t.user_attrs["history"]["records"]
        assert "retry_of" not in t.user_attrs  # a divergence is a result, not retried
    assert all(t.state == TrialState.COMPLETE for t in fine)
    # One worker ran them all: the failures did not stop it.
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 1
    listing = cli("trials", "tiny", "--state", "FAIL", "--storage", storage_url)
    assert listing.code == 0 and "diverged" in listing.out


def test_two_runs_creating_the_same_study_at_once_enqueue_the_budget_once(
    spec_file: Callable[..., Path],
    tmp_path: Path,
    study_trials: Callable[..., list[Any]],
) -> None:
    """Two `create` (as two `run`s on two machines would) of one new study at the same
    moment on a new database: both succeed without a traceback (one creates it, the other
    waits for its queue and resumes it), and the queue holds the budget once."""
    spec = spec_file({"study": {"n_trials": 300}})
    url = f"sqlite:///{tmp_path / 'race.db'}"
    command = [sys.executable, "-m", "hpsearch", "create", str(spec), "--storage", url]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=120), p.returncode) for p in processes]
    for (_out, err), code in results:
        assert code == 0, err
        assert "Traceback" not in err
    trials = study_trials(url, "tiny")
    assert len(trials) == 300 and all(t.state == TrialState.WAITING for t in trials)


def test_seed_option_draws_the_study_anew(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
) -> None:
    """--seed overrides the spec's [study] seed in the stored spec; resuming a study with
    another seed is refused (its data subset and trials would change), so a redraw is
    a new study."""
    assert cli("create", str(spec_file()), "--seed", "12", "--storage", storage_url).code == 0
    stored = optuna.load_study(study_name="tiny", storage=storage_url).user_attrs[SPEC_ATTR]
    assert parse_spec(stored).study.seed == 12
    again = cli("create", str(spec_file()), "--seed", "13", "--storage", storage_url)
    assert again.code == 1 and "different [study]" in again.err, again.output
    assert "Traceback" not in again.output
    bad = cli("create", str(spec_file()), "--seed", "-1", "--storage", storage_url)
    assert bad.code == 2 and "--seed" in bad.err
