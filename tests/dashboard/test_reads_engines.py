"""``StudyReader.tables`` (direct SQL: params and attrs pivoted, one row a trial) reads
what Optuna's own ``get_all_trials`` reads, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hpsearch.dashboard.columns import from_moment, params_of
from hpsearch.dashboard.queries import DashboardReader
from hpsearch.dashboard.series import study_summary as summary_of
from hpsearch.storage.reads import StudyReader
from hpsearch.storage.table import concat, state_of
from hpsearch.tuning.record import LIGHT_KEYS, SYSTEM_KEYS

START = dt.datetime(2026, 1, 2, 3, 4, 5)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reads.db'}"
    else:
        yield request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")


def _fill(url: str, name: str) -> optuna.Study:
    """Trials of every state; a parameter whose range changed between trials (two
    distributions), one sampled by some trials only, a choice, an int; light and
    heavy user attrs and Optuna's re-queue system attr."""
    study = optuna.create_study(storage=url, study_name=name, direction="minimize")
    eta_a, eta_b = FloatDistribution(0.01, 1.0, log=True), FloatDistribution(0.1, 5.0, log=True)
    layers, act = IntDistribution(1, 4), CategoricalDistribution(("relu", "tanh", None, 3))
    states = [TrialState.COMPLETE] * 4 + [TrialState.PRUNED, TrialState.FAIL]
    for i, state in enumerate(states):
        params = {
            "eta": 0.05 * (i + 1),
            "layers": i % 4 + 1,
            "act": ("relu", "tanh", None, 3)[i % 4],
        }
        dists = {"eta": eta_a if i < 3 else eta_b, "layers": layers, "act": act}
        if i % 2:
            del params["layers"], dists["layers"]
        attrs = {
            "seconds": 1.5 * i,
            "epochs_run": i + 1,
            "stop_reason": "early_stop" if i else "epochs",
            "worker": {"host": "h'ost", "pid": 7},
            "history": {"records": [{"epoch": 1}]},  # heavy: not read with the list
        }
        trial = optuna.trial.create_trial(
            state=state,
            value=0.5 / (i + 1) if state == TrialState.COMPLETE else None,
            params=params,
            distributions=dists,
            user_attrs=attrs,
            system_attrs={"failed_trial": 5} if i == 4 else {},
            intermediate_values={e: 0.1 * e for e in range(i + 1)},
        )
        trial.datetime_start = START + dt.timedelta(seconds=10 * i)
        trial.datetime_complete = START + dt.timedelta(seconds=10 * i + 7)
        study.add_trial(trial)
    study.enqueue_trial({"eta": 0.2})
    running = study.ask()
    running.set_user_attr("seconds", 2.0)
    return study


def _texts(columns: dict[str, np.ndarray], i: int) -> dict[str, object]:
    return {k: json.loads(c[i]) for k, c in columns.items() if c[i] is not None}


def test_trials_read_as_optuna_reads_them(url: str) -> None:
    name = f"engines-{uuid.uuid4().hex[:8]}"  # the server databases last the session
    study = _fill(url, name)
    storage = optuna.storages.RDBStorage(url)
    reader = StudyReader(storage, attr_keys=LIGHT_KEYS, system_keys=SYSTEM_KEYS)
    study_id = storage.get_study_id_from_name(name)
    finished, live = reader.tables(study_id)
    assert live.number.tolist() == [6]
    table = concat(finished, live)
    expected = study.get_trials()
    assert table.number.tolist() == [t.number for t in expected] == list(range(7))
    for i, trial in enumerate(expected):
        assert state_of(table.state[i]) == trial.state
        assert table.value[i] == (trial.value if trial.state == TrialState.COMPLETE else None)
        params = params_of(table, i)
        assert params == trial.params
        assert {k: table.distribution(k, i) for k in params} == trial.distributions
        assert [type(v) for v in params.values()] == [type(trial.params[k]) for k in params]
        assert _texts(table.attrs, i) == {
            k: v for k, v in trial.user_attrs.items() if k in LIGHT_KEYS
        }
        assert _texts(table.system, i) == {
            k: v for k, v in trial.system_attrs.items() if k in SYSTEM_KEYS
        }
        assert table.steps[i] == len(trial.intermediate_values)
        want_start = trial.datetime_start and trial.datetime_start.replace(tzinfo=dt.UTC)
        assert from_moment(table.start[i]) == want_start
        assert from_moment(table.complete[i]) == (
            trial.datetime_complete and trial.datetime_complete.replace(tzinfo=dt.UTC)
        )
    assert _texts(table.system, 4) == {"failed_trial": 5}
    assert params_of(table, 1) == {"eta": 0.1, "act": "tanh"}  # sampled no "layers"
    assert params_of(table, 3)["act"] == 3 and "act" in params_of(table, 2)  # None is a choice
    facts = DashboardReader(storage).facts(study_id)
    assert isinstance(facts[0].record.epochs_run, int)
    assert isinstance(facts[0].record.seconds, float)
    assert facts[6].state == TrialState.RUNNING and facts[6].record.seconds == 2.0


def test_studies_list_tally_on_every_engine(url: str) -> None:
    # The list's SQL aggregates agree with the summary of the trials on each engine.
    name = f"tally-{uuid.uuid4().hex[:8]}"
    _fill(url, name)
    reader = DashboardReader(optuna.storages.RDBStorage(url))
    info = reader.study(name)
    expected = summary_of(info, reader.facts(info.study_id))
    assert {**reader.listed(info), "retrain": None} == expected
    assert expected["best_trial"] == 3 and expected["total_epochs"] == 1 + 2 + 3 + 4 + 5 + 6
