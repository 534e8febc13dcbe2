"""Exact budgets under parallel local workers: a grid runs each point exactly once, a TPE
budget of N is N trials (not N + jobs), and SQLite shared by 4 processes never fails a
trial with "database is locked"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from hpsearch.spec.study_spec import load_spec
from hpsearch.tuning.space import grid_points

GRID = {
    "study": {"sampler": "grid", "n_trials": None},
    "space": {"eta": None, "hidden_width": None},
    # Trials long enough (~0.5 s) that all 4 workers start before the grid is used up.
    "training": {"epochs": 150, "patience": 150},
    "grid": {
        "eta": [0.1, 0.5, 2.0],
        "hidden_width": [10, 20],
        "loss": ["cross_entropy", "log_likelihood"],
    },
}


def _key(point: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(point.items()))


@pytest.mark.slow
def test_grid_with_4_jobs_runs_every_point_exactly_once(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """A 12-point grid run with --jobs 4 on SQLite ends with exactly 12 COMPLETE trials,
    whose params are the grid's points, each once (GridSampler alone repeats points under
    parallel workers); no trial fails and nothing reports "database is locked"."""
    path = spec_file(GRID)
    spec = load_spec(path)
    points = grid_points(spec)
    assert len(points) == spec.budget == 12

    result = cli("run", str(path), "--jobs", "4", "--storage", storage_url)
    assert result.code == 0, result.output
    assert "database is locked" not in result.output
    assert "Traceback" not in result.output
    trials = study_trials(storage_url, "tiny")
    states = Counter(t.state for t in trials)
    assert states == {TrialState.COMPLETE: 12}, [(t.number, t.user_attrs) for t in trials]
    ran = Counter(_key({n: t.params[n] for n in spec.grid}) for t in trials)
    assert ran == Counter(_key(p) for p in points)
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) > 1  # it did run in parallel


@pytest.mark.slow
def test_tpe_budget_with_4_jobs_is_exact(
    spec_file: Callable[..., Path],
    storage_url: str,
    cli: Callable[..., Any],
    study_trials: Callable[..., list[Any]],
) -> None:
    """n_trials = 8 with --jobs 4 gives exactly 8 trials in the study (not 8 + 4): the
    budget is study-wide, not per worker; none fails ("database is locked" or otherwise)."""
    path = spec_file({"study": {"n_trials": 8}})
    result = cli("run", str(path), "--jobs", "4", "--storage", storage_url)
    assert result.code == 0, result.output
    assert "database is locked" not in result.output
    trials = study_trials(storage_url, "tiny")
    assert [t.number for t in trials] == list(range(8))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert "8/8" in result.out
