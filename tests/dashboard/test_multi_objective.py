"""A multi-objective study: every objective's values in the table, no single "best",
and the Pareto front (the trials Optuna's ``best_trials`` names), drawn in Chromium."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from dashboard_fakes import table_rows
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from test_browser import Server, browser, page, server  # noqa: F401  (fixtures)

from hpsearch.dashboard import create_app
from hpsearch.dashboard.series import pareto_front

NAME = "two-objectives"


def _two_objectives(url: str, n: int = 40) -> optuna.Study:
    """Accuracy (maximize) against seconds (minimize) with a trade-off, ties included,
    plus a pruned, a failed and a running trial."""
    study = optuna.create_study(storage=url, study_name=NAME, directions=["maximize", "minimize"])
    rng = np.random.default_rng(3)
    for i in range(n):
        trial = study.ask({"x": FloatDistribution(0.0, 1.0)})
        x = trial.params["x"]
        accuracy = round(0.5 + 0.4 * x + rng.normal(0, 0.05), 3)
        seconds = round(1.0 + 9.0 * x**2 + rng.uniform(0, 2), 2)
        if i == 7:
            study.tell(trial, state=TrialState.PRUNED)
        elif i == 9:
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, [accuracy, seconds])
    study.ask()  # running
    return study


@pytest.fixture
def multi_storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'multi.db'}"
    _two_objectives(url)
    return url


def test_study_api_gives_values_per_objective_and_the_front(multi_storage: str) -> None:
    study = optuna.load_study(study_name=NAME, storage=multi_storage)
    client = create_app(multi_storage).test_client()
    response = client.get(f"/api/studies/{NAME}", headers={"Accept-Encoding": "gzip"})
    data = json.loads(gzip.decompress(response.data))
    assert data["directions"] == ["maximize", "minimize"]
    assert data["best"] is None  # no single best trial with two objectives
    assert data["pareto"] == sorted(t.number for t in study.best_trials)
    assert 2 <= len(data["pareto"]) < 38
    rows = {r["number"]: r for r in table_rows(data)}
    for trial in study.get_trials():
        want = trial.values if trial.state == TrialState.COMPLETE else None
        assert rows[trial.number]["values"] == want, trial.number


def test_single_objective_study_has_no_front(filled_storage: str) -> None:
    data = create_app(filled_storage).test_client().get("/api/studies/tpe-digits").get_json()
    assert data["pareto"] is None and "values" not in data["trials"]
    assert data["best"] is not None


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_is_optunas_best_trials(seed: int) -> None:
    # Three objectives on a coarse grid (many ties and duplicates), against Optuna.
    rng = np.random.default_rng(seed)
    directions = ["maximize", "minimize", "minimize"]
    study = optuna.create_study(directions=directions)
    points = []
    for number in range(60):
        values = tuple(float(v) for v in rng.integers(0, 5, 3))
        study.add_trial(optuna.trial.create_trial(values=list(values)))
        points.append((values, number))
    assert pareto_front(points, directions) == sorted(t.number for t in study.best_trials)


@pytest.fixture
def multi_server(multi_storage: str) -> Iterator[Server]:
    running = Server(multi_storage)
    yield running
    running.close()


def test_study_page_draws_the_front_and_a_column_per_objective(
    multi_server: Server,
    page: Any,  # noqa: F811
    multi_storage: str,
    artifacts: Path,
) -> None:
    study = optuna.load_study(study_name=NAME, storage=multi_storage)
    front = sorted(study.best_trials, key=lambda t: t.values[0])
    page.goto(f"{multi_server.url}/studies/{NAME}")
    page.wait_for_selector("#pareto .plot-container svg.main-svg", state="attached")
    chart = page.locator("#pareto")
    assert chart.get_attribute("data-front") == ",".join(str(t.number) for t in front)
    complete = sum(t.state == TrialState.COMPLETE for t in study.get_trials())
    assert int(chart.get_attribute("data-dominated") or -1) == complete - len(front)
    heads = page.locator("#trials thead th").all_inner_texts()
    assert "objective 1 ↑" in heads and "objective 2 ↓" in heads
    assert "value" not in " ".join(heads)
    first = study.get_trials()[0]
    row = page.locator(f"#trials tbody tr[data-number='{first.number}']")
    cells = row.locator("td").all_inner_texts()
    assert f"{first.values[0]:.4g}"[:4] in " ".join(cells)
    assert "on the Pareto front" in page.locator("#summary").inner_text()
    page.screenshot(path=str(artifacts / "study-multi-objective.png"), full_page=True)
    assert page.problems == []


def test_single_objective_page_hides_the_front(server: Server, page: Any) -> None:  # noqa: F811
    page.goto(f"{server.url}/studies/tpe-digits")
    page.wait_for_selector("#progress-time .plot-container svg.main-svg", state="attached")
    assert page.locator("#pareto-section").is_hidden()
    assert page.problems == []
