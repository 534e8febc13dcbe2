"""`hpsearch compare`: best value per study, and how much work each needed to reach the others'."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.results.compare import best_so_far_curves, compare_studies, epochs_to_reach
from hpsearch.spec.study_spec import parse_spec
from hpsearch.study.lifecycle import create_or_resume

pytestmark = pytest.mark.usefixtures("in_tmp")


def _spec(name: str, metric: str = "validation_accuracy") -> Any:
    return parse_spec(
        {
            "study": {"name": name, "n_trials": 2, "sampler": "random", "metric": metric},
            "data": {"dataset": "digits"},
            "space": {"eta": {"type": "float", "low": 0.1, "high": 1.0}},
        }
    )


def test_epochs_to_reach_reads_the_first_crossing() -> None:
    """Epochs to reach a target: the cumulative epochs at the first point whose best-so-far
    is >= the target (<= when minimizing); None if never, or without a target."""
    curves = {"epochs": [3, 5, 9, 12], "best": [None, 0.8, 0.9, 0.9]}
    assert epochs_to_reach(curves, 0.8, maximize=True) == 5
    assert epochs_to_reach(curves, 0.85, maximize=True) == 9
    assert epochs_to_reach(curves, 0.95, maximize=True) is None
    assert epochs_to_reach(curves, None, maximize=True) is None
    losses = {"epochs": [2, 4], "best": [0.5, 0.3]}
    assert epochs_to_reach(losses, 0.4, maximize=False) == 4


def test_curves_follow_completion_order(results_studies: Any) -> None:
    """One point per finished trial in completion order: cumulative epochs rise by each
    trial's epochs_run, seconds never fall, best-so-far never falls and ends at the best value."""
    url, name = results_studies.url, results_studies.names[0]
    study = optuna.load_study(study_name=name, storage=url)
    finished = sorted(
        (t for t in study.trials if t.state.is_finished()),
        key=lambda t: (t.datetime_complete, t.number),
    )
    curves = best_so_far_curves(study)
    assert curves["number"] == [t.number for t in finished]
    steps = [b - a for a, b in itertools.pairwise([0, *curves["epochs"]])]
    assert steps == [t.user_attrs["epochs_run"] for t in finished]
    assert curves["seconds"] == sorted(curves["seconds"]) and curves["seconds"][0] > 0
    known = [b for b in curves["best"] if b is not None]
    assert known == sorted(known) and known[-1] == study.best_value


def test_compare_rows_summarize_each_study(results_studies: Any) -> None:
    """Per study: sampler, best value, finished trials, total epochs, wall time from the first
    start to the last completion, and epochs to reach each study's best (its own included)."""
    url, names = results_studies.url, list(results_studies.names)
    rows = compare_studies(url, names)
    assert [r["name"] for r in rows] == names
    assert [r["sampler"] for r in rows] == ["tpe", "random"]
    for row in rows:
        study = optuna.load_study(study_name=row["name"], storage=url)
        trials = study.trials
        assert row["best_value"] == study.best_value
        assert row["trials"] == sum(t.state.is_finished() for t in trials) == 4
        assert row["total_epochs"] == sum(t.user_attrs["epochs_run"] for t in trials)
        wall = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
        assert row["wall_seconds"] == pytest.approx(wall.total_seconds())
        own = row["epochs_to_reach"][row["name"]]
        assert own is not None and own <= row["total_epochs"]
        for other in rows:
            reach = row["epochs_to_reach"][other["name"]]
            assert (reach is not None) == (row["best_value"] >= other["best_value"])


def test_compare_cli_prints_table_and_writes_png(
    results_studies: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    """compare STUDY STUDY --plot P.png: a table naming both studies and a PNG file (in a
    folder that exists: the CLI checks it before any work and never creates it)."""
    url, names = results_studies.url, results_studies.names
    (tmp_path / "plots").mkdir()
    code, out, err = cli("compare", *names, "--storage", url, "--plot", "plots/c.png")
    assert code == 0, err
    for name in names:
        assert name in out
    assert "epochs to reach" in out and "random" in out
    assert (tmp_path / "plots" / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_compare_study_without_finished_trials(tmp_path: Path) -> None:
    """A study with no finished trial has no best and never reaches anything; nor is it reached."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_or_resume(_spec("a"), url)
    study, _ = create_or_resume(_spec("b"), url)
    trial = study.ask()
    trial.suggest_float("eta", 0.1, 1.0)
    trial.set_user_attr("epochs_run", 2)
    study.tell(trial, 0.5)
    a, b = compare_studies(url, ["a", "b"])
    assert a["best_value"] is None and a["trials"] == 0 and a["wall_seconds"] is None
    assert a["epochs_to_reach"] == {"a": None, "b": None}
    assert b["epochs_to_reach"] == {"a": None, "b": 2}
    assert b["trials"] == 1 and b["total_epochs"] == 2
    assert study.trials[0].state == TrialState.COMPLETE


def test_compare_errors_are_one_line(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """Unknown study, a study listed twice, studies with different metrics: exit 1, one line."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_or_resume(_spec("acc"), url)
    create_or_resume(_spec("loss", metric="validation_loss"), url)
    cases = [
        (["acc", "nope"], "no study named 'nope'"),
        (["acc", "acc"], "study 'acc' is listed more than once"),
        (["acc", "loss"], "cannot compare studies that optimize different metrics"),
    ]
    for names, message in cases:
        code, _, err = cli("compare", *names, "--storage", url)
        assert code == 1, names
        assert err.startswith("error: ") and message in err, err
        assert "Traceback" not in err and err.count("\n") == 1
