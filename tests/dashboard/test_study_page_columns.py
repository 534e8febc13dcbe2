"""The study page's answer, built from columns read in SQL, is byte for byte the one the
per-trial path (``TrialRow`` -> ``TrialFacts`` -> columns) gave, on SQLite and PostgreSQL.

``data/study_page_*.json`` were written by that per-trial path (branch ``dash``, before
it was replaced) from the studies ``_fill`` builds: every trial state, a re-queued
failure, one and two objectives, params of every distribution kind (and one whose range
changed between trials, one some trials did not sample), learning curves, trials with
and without their recorded seconds and epochs. Datetimes and ``now`` are fixed, so the
answer is deterministic.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hpsearch.dashboard import create_app

DATA = Path(__file__).parent / "data"
START = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)
NOW = dt.datetime(2026, 1, 2, 5, 0, 0, 654321, tzinfo=dt.UTC)
SPEC = {
    "study": {"sampler": "tpe", "pruner": "hyperband", "n_trials": 20, "metric": "acc"},
    "data": {"dataset": "digits"},
}
DISTS = {
    "eta": FloatDistribution(0.001, 1.0, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "momentum": FloatDistribution(0.5, 0.9, step=0.1),
    "layers": IntDistribution(1, 4),
    "width": IntDistribution(8, 512, log=True),
    "batch": IntDistribution(8, 64, step=8),
    "act": CategoricalDistribution(("relu", "tanh", None, 3, 2.5, True)),
}
CHANGED = FloatDistribution(0.01, 2.0)  # "dropout"'s range in the later trials


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'page.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def _history(epochs: int) -> dict[str, object]:
    records = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "validation_accuracy": 0.5 + 0.01 * e,
            "seconds": 0.1,
            "eta": 0.5,
            "gradient_norms": [0.1 * e, 0.2],
        }
        for e in range(1, epochs + 1)
    ]
    return {"records": records, "best_epoch": epochs, "stop_reason": "early_stop"}


def _fill(url: str, name: str, directions: list[str]) -> None:
    """Trials of every state in one study (see the module's docstring)."""
    study = optuna.create_study(storage=url, study_name=name, directions=directions)
    study.set_user_attr("spec", SPEC)
    kinds = [TrialState.COMPLETE] * 6 + [TrialState.PRUNED] * 2 + [TrialState.FAIL] * 2
    kinds += [TrialState.COMPLETE, TrialState.RUNNING, TrialState.RUNNING, TrialState.WAITING]
    for i, state in enumerate(kinds):
        params = {
            "eta": 0.001 * 3 ** (i % 6),
            "dropout": 0.01 + 0.05 * (i % 9),
            "momentum": 0.5 + 0.1 * (i % 5),
            "layers": i % 4 + 1,
            "width": 8 * 2 ** (i % 6),
            "batch": 8 * (i % 8 + 1),
            "act": DISTS["act"].choices[i % 6],  # type: ignore[attr-defined]
        }
        dists = dict(DISTS)
        if i >= 8:
            dists["dropout"] = CHANGED
        if i % 3 == 1:  # not sampled by this trial
            del params["layers"], dists["layers"]
        epochs = i % 5 + 1
        attrs: dict[str, object] = {"worker": {"host": f"node{i % 2}", "pid": 100 + i % 3}}
        if state != TrialState.WAITING:
            attrs["history" if state != TrialState.RUNNING else "live_history"] = _history(epochs)
        if state in (TrialState.COMPLETE, TrialState.PRUNED) and i != 5:
            attrs |= {
                "epochs_run": epochs,
                "seconds": 0.25 * i + 0.001,
                "stop_reason": "early_stop" if i % 2 else "schedule_end",
            }
        if state == TrialState.FAIL:
            attrs["fail_reason"] = "the loss became NaN"
        if i == 10:
            attrs["retry_of"] = 8  # trial 8 failed and was run again as trial 10
        value: object = None
        if state == TrialState.COMPLETE:
            first = 0.5 + 0.37 * ((i * 7) % 11) / 11
            value = first if len(directions) == 1 else [first, 10.0 - (i % 4)]
        trial = optuna.trial.create_trial(
            state=state,
            values=None if value is None else ([value] if isinstance(value, float) else value),
            params=params if state != TrialState.WAITING else {},
            distributions=dists if state != TrialState.WAITING else {},
            user_attrs=attrs,
            intermediate_values={e: 0.5 + 0.01 * e for e in range(1, epochs + 1)}
            if state != TrialState.WAITING
            else {},
        )
        if state != TrialState.WAITING:
            trial.datetime_start = START + dt.timedelta(seconds=37.0004 * i)
        if state.is_finished():
            trial.datetime_complete = START + dt.timedelta(seconds=37.0004 * i + 12.5 + i / 7)
        else:
            trial.datetime_complete = None
        study.add_trial(trial)


def _answer(url: str, name: str, *, gzip: bool = False) -> bytes:
    app = create_app(url)
    reader = app.extensions["hpsearch_reader"]
    pages = app.extensions["hpsearch_study_pages"]
    info = reader.study(name)
    return page_body(reader, pages, info, NOW, gzip=gzip)


def page_body(reader, pages, info, now, *, gzip):  # type: ignore[no-untyped-def]
    return pages.response(info, *reader.tables(info.study_id), now, gzip=gzip)


@pytest.mark.parametrize("directions", [["maximize"], ["minimize", "maximize"]])
def test_study_page_answer_is_the_per_trial_paths(url: str, directions: list[str]) -> None:
    name = f"page-{uuid.uuid4().hex[:8]}"
    _fill(url, name, directions)
    body = _answer(url, name)
    golden = DATA / f"study_page_{len(directions)}.json"
    # The name differs per run (the server databases last the session): compare the rest.
    got = json.loads(body)
    want = json.loads(golden.read_text())
    assert got.pop("name") == name
    want.pop("name")
    assert got == want
    assert body.replace(name.encode(), b"NAME") == golden.read_bytes().replace(
        want_name(golden).encode(), b"NAME"
    )


def want_name(golden: Path) -> str:
    return json.loads(golden.read_text())["name"]


def test_incremental_reads_answer_as_a_fresh_read(url: str) -> None:
    # The finished trials are kept between requests and only the others read again:
    # after a running trial completes, another fails and the waiting one starts, the kept
    # answer is the one a fresh app reads, byte for byte.
    name = f"page-{uuid.uuid4().hex[:8]}"
    _fill(url, name, ["maximize"])
    app = create_app(url)
    reader = app.extensions["hpsearch_reader"]
    pages = app.extensions["hpsearch_study_pages"]
    info = reader.study(name)
    before = page_body(reader, pages, info, NOW, gzip=False)
    study = optuna.load_study(study_name=name, storage=url)
    study.tell(11, 0.75)
    study.tell(12, state=TrialState.FAIL)
    trial = study.ask({"dropout": CHANGED, "layers": DISTS["layers"]})
    trial.set_user_attr("worker", {"host": "node9", "pid": 1})
    after = page_body(reader, pages, info, NOW, gzip=True)
    fresh = create_app(url)
    want = page_body(
        fresh.extensions["hpsearch_reader"],
        fresh.extensions["hpsearch_study_pages"],
        fresh.extensions["hpsearch_reader"].study(name),
        NOW,
        gzip=True,
    )
    assert gzip.decompress(after) == gzip.decompress(want) != before
    got = json.loads(gzip.decompress(after))
    assert got["trials"]["number"] == list(range(13))
    # ask() ran the waiting trial 13
    assert got["live_trials"]["number"] == [13] and got["counts"]["RUNNING"] == 1
    assert got["live_trials"]["worker"] == ["node9:1"] and got["counts"]["WAITING"] == 0
