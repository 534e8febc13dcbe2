"""Fake-but-realistic hpsearch studies, written with Optuna directly in the controller's format.

The dashboard only reads storages; these helpers write what the controller writes
(the spec on the study, the learning curves and diagnostics on each trial) without
training anything, so the tests and the benchmark stay fast. Trials are built with
``optuna.trial.create_trial`` and stored with ``study.add_trials`` in one go.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

DISTRIBUTIONS: dict[str, BaseDistribution] = {
    "eta": FloatDistribution(0.01, 5.0, log=True),
    "lambda": FloatDistribution(1e-4, 10.0, log=True),
    "regularizer": CategoricalDistribution(("l2", "l1")),
    "hidden_layers": IntDistribution(1, 3),
    "hidden_width": IntDistribution(10, 200, log=True),
    "loss": CategoricalDistribution(("cross_entropy", "log_likelihood", "quadratic")),
    "activation": CategoricalDistribution(("sigmoid", "tanh", "relu")),
    "dropout": FloatDistribution(0.0, 0.5),
    "batch_size": CategoricalDistribution((10, 32, 64)),
    "optimizer": CategoricalDistribution(("sgd", "momentum", "nesterov")),
    "momentum": FloatDistribution(0.5, 0.99),
    "init": CategoricalDistribution(("scaled", "he", "glorot")),
}
# Studies start an hour ago, so a running trial's wall time is realistic.
EPOCH = dt.datetime.now().replace(microsecond=0) - dt.timedelta(hours=1)
XSS_NAME = "<script>alert(1)</script>"
STUDIES = ("grid-digits", "random-digits", "tpe-digits")  # the three a compare page shows


def fill(url: str, *, bulk: bool = False) -> None:
    """Three comparable studies (grid, random, TPE), an XSS probe, a one-trial and an empty study."""
    add_study(url, "tpe-digits", n_trials=20, running=1, waiting=1, seed=1, retrain=True, bulk=bulk)
    add_study(url, "random-digits", n_trials=15, sampler="random", seed=2, bulk=bulk)
    add_study(url, "grid-digits", n_trials=8, sampler="grid", seed=3, bulk=bulk)
    add_study(url, XSS_NAME, n_trials=3, seed=4, bulk=bulk)
    add_study(url, "one-trial", n_trials=1, seed=5, bulk=bulk)
    add_study(url, "empty", n_trials=0, seed=6, bulk=bulk)


def make_spec(
    name: str, *, sampler: str = "tpe", pruner: str = "median", epochs: int = 20, n_trials: int = 50
) -> dict[str, Any]:
    """The validated spec the controller stores in the study's user attr ``"spec"``."""
    return {
        "study": {
            "name": name,
            "metric": "validation_accuracy",
            "direction": "maximize",
            "sampler": sampler,
            "pruner": pruner,
            "seed": 1,
            "n_trials": n_trials,
            "timeout": None,
        },
        "data": {"dataset": "digits", "subset": 1000, "validation": 300, "standardize": False},
        "training": {"epochs": epochs, "patience": 3, "schedule": "none", "dtype": "float32"},
        "space": {"eta": {"type": "float", "low": 0.01, "high": 5.0, "log": True}},
        "grid": {"eta": [0.1, 1.0]} if sampler == "grid" else None,
    }


def make_history(
    rng: np.random.Generator, *, epochs: int, skill: float, stop_reason: str, layers: int = 2
) -> dict[str, Any]:
    """``History.to_dict()``-shaped curves that rise towards ``skill`` (an accuracy in (0, 1))."""
    records = []
    for epoch in range(1, epochs + 1):
        progress = 1.0 - math.exp(-epoch / 3.0)
        val_acc = float(min(0.999, skill * progress + rng.normal(0, 0.01)))
        train_acc = float(min(1.0, val_acc + 0.02 * progress))
        records.append(
            {
                "epoch": epoch,
                "train_loss": float(1.5 * (1 - progress) + 0.1 + rng.uniform(0, 0.02)),
                "train_accuracy": train_acc,
                "validation_loss": float(1.6 * (1 - progress) + 0.15 + rng.uniform(0, 0.03)),
                "validation_accuracy": val_acc,
                "seconds": float(rng.uniform(0.05, 0.2)),
                "eta": 0.5,
                "gradient_norms": [float(rng.uniform(0.01, 1.0)) for _ in range(layers)],
            }
        )
    accs = [r["validation_accuracy"] for r in records]
    best = int(np.argmax(accs)) if accs else None
    return {
        "records": records,
        "best_epoch": None if best is None else best + 1,
        "best_validation_accuracy": None if best is None else accs[best],
        "stop_reason": stop_reason,
    }


def make_trial(
    rng: np.random.Generator,
    *,
    study_name: str,
    number: int,
    state: TrialState,
    start: dt.datetime,
    max_epochs: int = 20,
) -> FrozenTrial:
    """One trial as the objective leaves it: params, value, intermediate values, user attrs."""
    params = {name: _sample(rng, dist) for name, dist in DISTRIBUTIONS.items()}
    skill = float(rng.uniform(0.5, 0.98))
    if state == TrialState.PRUNED:
        epochs, stop = int(rng.integers(2, max(3, max_epochs // 2))), "callback"
    elif state == TrialState.COMPLETE:
        epochs = int(rng.integers(max_epochs // 2, max_epochs + 1))
        stop = "epochs" if epochs == max_epochs else "early_stop"
    elif state == TrialState.FAIL:
        epochs, stop = int(rng.integers(1, 4)), "diverged"
    else:  # RUNNING or WAITING: the curve so far
        epochs, stop = (int(rng.integers(2, 5)) if state == TrialState.RUNNING else 0), "epochs"
    history = make_history(rng, epochs=epochs, skill=skill, stop_reason=stop)
    seconds = float(sum(r["seconds"] for r in history["records"]))
    user_attrs: dict[str, Any] = {
        "worker": {"host": f"node{number % 3}", "pid": 4000 + number % 7},
        "data_provenance": {"dataset": "digits", "sha256": "0" * 16},
        "command": f"hpsearch retrain {study_name} --trial {number}",  # as the objective stores it
    }
    if state.is_finished():
        user_attrs |= {"history": history, "epochs_run": epochs, "seconds": seconds}
        user_attrs["stop_reason"] = "pruned" if state == TrialState.PRUNED else stop
        if state == TrialState.FAIL:
            user_attrs["fail_reason"] = "the loss became NaN at epoch 2 (eta too large?)"
    elif state == TrialState.RUNNING:
        user_attrs["live_history"] = history
    intermediate = {
        r["epoch"]: r["validation_accuracy"] for r in history["records"] if state != TrialState.FAIL
    }
    trial = optuna.trial.create_trial(
        state=state,
        value=history["best_validation_accuracy"] if state == TrialState.COMPLETE else None,
        params=params if state != TrialState.WAITING else {},
        distributions=DISTRIBUTIONS if state != TrialState.WAITING else {},
        user_attrs=user_attrs,
        intermediate_values=intermediate,
    )
    trial.number = number
    if state == TrialState.RUNNING:
        start = EPOCH + dt.timedelta(minutes=59, seconds=30)  # started half a minute ago
    trial.datetime_start = None if state == TrialState.WAITING else start
    trial.datetime_complete = start + dt.timedelta(seconds=seconds) if state.is_finished() else None
    return trial


def add_study(
    storage: str | optuna.storages.BaseStorage,
    name: str,
    *,
    n_trials: int = 12,
    sampler: str = "tpe",
    running: int = 0,
    waiting: int = 0,
    seed: int = 0,
    max_epochs: int = 20,
    retrain: bool = False,
    bulk: bool = False,
) -> optuna.Study:
    """A study of ``n_trials`` finished trials (mostly complete, some pruned, one failed)
    followed by ``running`` running and ``waiting`` waiting ones.

    ``bulk=True`` writes the trials with a few SQL inserts instead of ``add_trials``
    (about 30 ms a trial on SQLite): for benchmark-sized studies.
    """
    rng = np.random.default_rng(seed)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    study.set_user_attr("spec", make_spec(name, sampler=sampler, epochs=max_epochs))
    states = [TrialState.COMPLETE] * n_trials
    for i in range(n_trials):
        if i % 4 == 3:
            states[i] = TrialState.PRUNED
        if i == 5:
            states[i] = TrialState.FAIL
    states += [TrialState.RUNNING] * running + [TrialState.WAITING] * waiting
    start, trials = EPOCH, []
    for number, state in enumerate(states):
        trial = make_trial(
            rng, study_name=name, number=number, state=state, start=start, max_epochs=max_epochs
        )
        trials.append(trial)
        if trial.datetime_complete is not None:
            start = trial.datetime_complete + dt.timedelta(seconds=0.5)
    if bulk:
        bulk_add_trials(study, trials)
    else:
        study.add_trials(trials)
    if retrain and study.best_trial is not None:
        study.set_user_attr("retrain", make_retrain(study.best_trial, name))
    return study


def make_retrain(trial: FrozenTrial, study_name: str) -> dict[str, Any]:
    """What ``hpsearch retrain`` stores: a ``RetrainResult`` whose params are every resolved
    hyperparameter (the trial's plus the fixed ones), so they never equal ``trial.params``."""
    from hpsearch.results.retrain import RetrainResult

    resolved = {**trial.params, "epochs": 20, "patience": 3, "input_noise": 0.0}
    rng = np.random.default_rng(trial.number)
    return RetrainResult(
        trial=trial.number,
        params=resolved,
        test_accuracy=0.9612,
        test_loss=0.13,
        validation_accuracy=trial.value,
        epochs_run=200,
        model_path=f"models/{study_name}.json",
        finished_at="2025-01-06T10:00:00+00:00",
        history=make_history(rng, epochs=3, skill=0.96, stop_reason="epochs"),
        dataset="digits",
        examples={"train": 1400, "validation": 300, "test": 97},
        ensemble=10,
        members=[  # as retrain records an ensemble's members, each tested alone
            {
                "trial": trial.number,
                "seed": 1000 + j,
                "epochs_run": 20,
                "validation_accuracy": trial.value,
                "test_accuracy": 0.95,
            }
            for j in range(10)
        ],
    ).to_dict()


def bulk_add_trials(study: optuna.Study, trials: list[FrozenTrial]) -> None:
    """Insert ``trials`` into an RDB-stored ``study`` in one transaction, rows as Optuna writes them."""
    from optuna.storages._rdb import models as m  # the schema of the installed Optuna

    if not trials:
        return
    backend = getattr(study._storage, "_backend", study._storage)
    assert isinstance(backend, optuna.storages.RDBStorage), "bulk insert needs an RDB storage"
    study_id = study._study_id
    first = len(study.get_trials(deepcopy=False))
    value_type = m.TrialValueModel.TrialValueType.FINITE
    inter_type = m.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE

    def utc(moment: dt.datetime | None) -> dt.datetime | None:
        return None if moment is None else moment.astimezone(dt.UTC).replace(tzinfo=None)

    with backend.engine.begin() as conn:
        conn.execute(
            m.TrialModel.__table__.insert(),
            [
                {
                    "number": first + i,
                    "study_id": study_id,
                    "state": t.state.name,
                    "datetime_start": utc(t.datetime_start),
                    "datetime_complete": utc(t.datetime_complete),
                }
                for i, t in enumerate(trials)
            ],
        )
        table = m.TrialModel.__table__
        ids = dict(
            conn.execute(
                sqlalchemy.select(table.c.number, table.c.trial_id).where(
                    table.c.study_id == study_id, table.c.number >= first
                )
            ).all()
        )
        params, values, inters, attrs = [], [], [], []
        for i, t in enumerate(trials):
            tid = ids[first + i]
            for name, value in t.params.items():
                dist = t.distributions[name]
                params.append(
                    {
                        "trial_id": tid,
                        "param_name": name,
                        "param_value": dist.to_internal_repr(value),
                        "distribution_json": optuna.distributions.distribution_to_json(dist),
                    }
                )
            if t.value is not None:
                values.append(
                    {
                        "trial_id": tid,
                        "objective": 0,
                        "value": t.value,
                        "value_type": value_type.name,
                    }
                )
            inters += [
                {
                    "trial_id": tid,
                    "step": step,
                    "intermediate_value": v,
                    "intermediate_value_type": inter_type.name,
                }
                for step, v in t.intermediate_values.items()
            ]
            attrs += [
                {"trial_id": tid, "key": k, "value_json": json.dumps(v)}
                for k, v in t.user_attrs.items()
            ]
        for model, rows in (
            (m.TrialParamModel, params),
            (m.TrialValueModel, values),
            (m.TrialIntermediateValueModel, inters),
            (m.TrialUserAttributeModel, attrs),
        ):
            if rows:
                conn.execute(model.__table__.insert(), rows)


def _sample(rng: np.random.Generator, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    if isinstance(dist, IntDistribution):
        return int(rng.integers(dist.low, dist.high + 1))
    assert isinstance(dist, FloatDistribution)
    if dist.log:
        return float(math.exp(rng.uniform(math.log(dist.low), math.log(dist.high))))
    return float(rng.uniform(dist.low, dist.high))


def table_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The study API's trials columns back as one dict per trial (params nested), finished
    and live trials together, by number."""
    from hpsearch.dashboard.study_page import merged_rows

    columns = merged_rows(data)
    fields = [k for k in columns if k != "params"]
    return [
        {
            **{k: columns[k][i] for k in fields},
            "params": {p: v[i] for p, v in columns["params"].items() if v[i] is not None},
        }
        for i in range(len(columns["number"]))
    ]
