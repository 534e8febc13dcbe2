"""Big fake studies (20,000 to 100,000 trials, with curves) in seconds, for scale tests.

``dashboard_fakes.add_study`` builds each trial in Python (~0.4 ms a trial); here the
params, curves, durations and workers of all trials are drawn at once with NumPy and
the rows go into the storage's tables with the driver's ``executemany``: the same
rows Optuna writes (``test_fakes`` reads them back through Optuna), ~25x faster.
Trials run on ``workers`` simulated workers side by side, so the timeline overlaps.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import optuna
from dashboard_fakes import DISTRIBUTIONS, make_spec
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution


def _params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Internal representations (what ``trial_params.param_value`` holds), per param."""
    out = {}
    for name, dist in DISTRIBUTIONS.items():
        if isinstance(dist, CategoricalDistribution):
            out[name] = rng.integers(len(dist.choices), size=n).astype(float)
        elif isinstance(dist, IntDistribution):
            if dist.log:
                raw = np.exp(rng.uniform(math.log(dist.low), math.log(dist.high + 1), n))
                out[name] = np.clip(np.floor(raw), dist.low, dist.high)
            else:
                out[name] = rng.integers(dist.low, dist.high + 1, size=n).astype(float)
        else:
            assert isinstance(dist, FloatDistribution)
            if dist.log:
                out[name] = np.exp(rng.uniform(math.log(dist.low), math.log(dist.high), n))
            else:
                out[name] = rng.uniform(dist.low, dist.high, n)
    return out


def big_study(
    url: str,
    name: str,
    *,
    n_trials: int,
    running: int = 4,
    workers: int = 8,
    max_epochs: int = 20,
    seed: int = 0,
) -> optuna.Study:
    """A study of ``n_trials`` finished trials (every 4th pruned, one failed) and
    ``running`` running ones, each with its curves, in an SQLite file at ``url``."""
    rng = np.random.default_rng(seed)
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    study.set_user_attr("spec", make_spec(name, epochs=max_epochs, n_trials=n_trials + running))
    n = n_trials + running
    number = np.arange(n)
    state = np.where(number % 4 == 3, "PRUNED", "COMPLETE").astype(object)
    if n_trials > 5:
        state[5] = "FAIL"
    state[n_trials:] = "RUNNING"
    epochs = rng.integers(max_epochs // 2, max_epochs + 1, n)
    epochs = np.where(state == "PRUNED", rng.integers(2, max(3, max_epochs // 2), n), epochs)
    epochs = np.where(state == "FAIL", rng.integers(1, 4, n), epochs)
    epochs = np.where(state == "RUNNING", rng.integers(2, 5, n), epochs)
    skill = rng.uniform(0.5, 0.98, n)
    step = np.arange(1, max_epochs + 1)
    rise = 1.0 - np.exp(-step / 3.0)
    val_acc = np.minimum(0.999, skill[:, None] * rise + rng.normal(0, 0.01, (n, max_epochs)))
    train_acc = np.minimum(1.0, val_acc + 0.02 * rise)
    train_loss = 1.5 * (1 - rise) + 0.1 + rng.uniform(0, 0.02, (n, max_epochs))
    val_loss = 1.6 * (1 - rise) + 0.15 + rng.uniform(0, 0.03, (n, max_epochs))
    seconds = rng.uniform(0.05, 0.2, (n, max_epochs))
    grads = rng.uniform(0.01, 1.0, (n, max_epochs, 2))
    mask = step[None, :] <= epochs[:, None]
    trial_seconds = (seconds * mask).sum(axis=1)
    best = np.argmax(np.where(mask, val_acc, -1.0), axis=1)

    # Each worker runs its trials back to back; the last `running` started 30 s ago.
    origin = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=2)
    clocks = np.zeros(workers)
    start_s = np.zeros(n)
    for i in range(n_trials):
        w = i % workers
        start_s[i] = clocks[w]
        clocks[w] += trial_seconds[i] + 0.5
    now_s = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - origin).total_seconds()
    start_s[n_trials:] = now_s - 30.0

    storage = optuna.storages.RDBStorage(url)
    study_id = storage.get_study_id_from_name(name)
    engine = storage.engine
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT COALESCE(MAX(trial_id), 0) FROM trials")
        first_id = int(cur.fetchone()[0]) + 1
        trials, values, params, inters, attrs = [], [], [], [], []
        dist_json = {
            k: optuna.distributions.distribution_to_json(d) for k, d in DISTRIBUTIONS.items()
        }
        internal = _params(rng, n)
        columns = {k: v.tolist() for k, v in internal.items()}
        va, ta, tl, vl, sec = (
            a.tolist() for a in (val_acc, train_acc, train_loss, val_loss, seconds)
        )
        gl = grads.tolist()
        for i in range(n):
            tid, k, st = first_id + i, int(epochs[i]), state[i]
            start = origin + dt.timedelta(seconds=float(start_s[i]))
            done = (
                start + dt.timedelta(seconds=float(trial_seconds[i])) if st != "RUNNING" else None
            )
            trials.append((tid, i, study_id, st, start, done))
            for key, column in columns.items():
                params.append((tid, key, column[i], dist_json[key]))
            records = [
                {
                    "epoch": e + 1,
                    "train_loss": tl[i][e],
                    "train_accuracy": ta[i][e],
                    "validation_loss": vl[i][e],
                    "validation_accuracy": va[i][e],
                    "seconds": sec[i][e],
                    "eta": 0.5,
                    "gradient_norms": gl[i][e],
                }
                for e in range(k)
            ]
            b = int(best[i])
            stop = "epochs" if k == max_epochs else "early_stop"
            stop = {"PRUNED": "pruned", "FAIL": "diverged"}.get(st, stop)
            history = {
                "records": records,
                "best_epoch": b + 1,
                "best_validation_accuracy": va[i][b],
                "stop_reason": stop,
            }
            user: dict[str, Any] = {
                "worker": {"host": f"node{i % workers}", "pid": 4000 + i % workers},
                "data_provenance": {"dataset": "digits", "sha256": "0" * 16},
                "command": f"hpsearch retrain {name} --trial {i}",
            }
            if st == "RUNNING":
                user["live_history"] = history
            else:
                user |= {"history": history, "epochs_run": k, "seconds": float(trial_seconds[i])}
                user["stop_reason"] = stop
                if st == "FAIL":
                    user["fail_reason"] = "the loss became NaN at epoch 2 (eta too large?)"
            attrs += [(tid, key, json.dumps(value)) for key, value in user.items()]
            if st != "FAIL":
                inters += [(tid, e + 1, va[i][e], "FINITE") for e in range(k)]
            if st == "COMPLETE":
                values.append((tid, 0, va[i][b], "FINITE"))
        cur.executemany(
            "INSERT INTO trials (trial_id, number, study_id, state, datetime_start,"
            " datetime_complete) VALUES (?, ?, ?, ?, ?, ?)",
            [(a, b, c, d, e.isoformat(" "), f and f.isoformat(" ")) for a, b, c, d, e, f in trials],
        )
        cur.executemany(
            "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)"
            " VALUES (?, ?, ?, ?)",
            params,
        )
        cur.executemany(
            "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)",
            values,
        )
        cur.executemany(
            "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value,"
            " intermediate_value_type) VALUES (?, ?, ?, ?)",
            inters,
        )
        cur.executemany(
            "INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (?, ?, ?)",
            attrs,
        )
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return study
