"""Bulk read-only queries on an Optuna RDB storage, returned as plain data.

Studies, their user attrs and single trials come through the ``RDBStorage`` API.
The trial *list* of a study does not: ``study.get_trials()`` loads every user attr,
and each trial carries its learning curves (``history``), so a 5,000-trial study
means ~35 MB of JSON and ~7 s before the first byte. ``StudyReader.trials`` reads
the same tables with five flat SELECTs and skips the curve attrs (~0.3 s); curves
are read per trial, on demand. The schema is the installed Optuna's
(``optuna.storages._rdb.models``), and ``RDBStorage`` has already checked on
opening that the database's schema version is that one. The dashboard reads
through here; nothing outside ``storage/`` names Optuna's tables.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.storages._rdb import models as m
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch.errors import StorageError

# Small per-trial user attrs the trials table shows; the big ones (curves) stay in the database.
LIGHT_ATTRS = ("stop_reason", "epochs_run", "seconds", "worker", "fail_reason")
_FINITE = m.TrialValueModel.TrialValueType.FINITE


class NotFound(StorageError, LookupError):
    """A study name or trial number that is not in the storage."""


@dataclass(frozen=True)
class StudyInfo:
    """One study: its attrs, trial counts by state, best value and activity times (UTC)."""

    study_id: int
    name: str
    direction: StudyDirection
    user_attrs: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    best_value: float | None = None
    first_start: dt.datetime | None = None
    last_activity: dt.datetime | None = None

    @property
    def maximize(self) -> bool:
        return self.direction == StudyDirection.MAXIMIZE


@dataclass(frozen=True)
class TrialRow:
    """A trial without its curves: enough for tables, best-so-far charts and importances."""

    trial_id: int
    number: int
    state: TrialState
    value: float | None
    params: dict[str, Any]
    distributions: dict[str, BaseDistribution]
    start: dt.datetime | None
    complete: dt.datetime | None
    attrs: dict[str, Any]
    intermediate_steps: int

    @property
    def epochs(self) -> int:
        run = self.attrs.get("epochs_run")
        return int(run) if isinstance(run, int | float) else self.intermediate_steps


@dataclass
class _TrialCache:
    """The finished trials of one study already read (they never change again)."""

    finished: dict[int, TrialRow] = field(default_factory=dict)
    unfinished: set[int] = field(default_factory=set)
    last_finished: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # RDBStorage stores naive UTC.
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=4096)
def _distribution(distribution_json: str) -> BaseDistribution:
    return json_to_distribution(distribution_json)


class StudyReader:
    """Studies and trials read from one ``RDBStorage``; thread-safe, read-only."""

    def __init__(self, storage: optuna.storages.RDBStorage) -> None:
        self.storage = storage
        self._engine: sa.engine.Engine = storage.engine
        self._lock = threading.Lock()
        self._trials: dict[int, _TrialCache] = {}

    # -- studies ---------------------------------------------------------------------------

    def studies(self) -> list[StudyInfo]:
        """Every study with its counts, best value and last activity, in three queries."""
        frozen = self.storage.get_all_studies()
        t, v = m.TrialModel.__table__, m.TrialValueModel.__table__
        by_state = sa.select(
            t.c.study_id,
            t.c.state,
            sa.func.count(),
            sa.func.min(t.c.datetime_start),
            sa.func.max(t.c.datetime_start),
            sa.func.max(t.c.datetime_complete),
        ).group_by(t.c.study_id, t.c.state)
        best = (
            sa.select(t.c.study_id, sa.func.max(v.c.value), sa.func.min(v.c.value))
            .join(v, v.c.trial_id == t.c.trial_id)
            .where(t.c.state == TrialState.COMPLETE, v.c.objective == 0)
            .where(v.c.value_type == _FINITE)
            .group_by(t.c.study_id)
        )
        stats: dict[int, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for sid, state, count, first, last_start, last_done in conn.execute(by_state):
                s = stats.setdefault(sid, {"counts": {}, "first": [], "last": []})
                s["counts"][state.name] = count
                s["first"] += [first] if first else []
                s["last"] += [x for x in (last_start, last_done) if x]
            best_rows = {sid: (hi, lo) for sid, hi, lo in conn.execute(best)}
        infos = []
        for fs in frozen:
            s = stats.get(fs._study_id, {"counts": {}, "first": [], "last": []})
            hi_lo = best_rows.get(fs._study_id)
            maximize = fs.directions[0] == StudyDirection.MAXIMIZE
            infos.append(
                StudyInfo(
                    study_id=fs._study_id,
                    name=fs.study_name,
                    direction=fs.directions[0],
                    user_attrs=fs.user_attrs,
                    counts=s["counts"],
                    best_value=None if hi_lo is None else hi_lo[0 if maximize else 1],
                    first_start=_utc(min(s["first"], default=None)),
                    last_activity=_utc(max(s["last"], default=None)),
                )
            )
        return sorted(infos, key=lambda i: i.name)

    def study(self, name: str) -> StudyInfo:
        """One study by name (``NotFound`` if absent)."""
        try:
            study_id = self.storage.get_study_id_from_name(name)
        except KeyError:
            raise NotFound(f"no study named {name!r}") from None
        return StudyInfo(
            study_id=study_id,
            name=name,
            direction=self.storage.get_study_directions(study_id)[0],
            user_attrs=self.storage.get_study_user_attrs(study_id),
        )

    # -- trials ----------------------------------------------------------------------------

    def trials(self, study_id: int) -> list[TrialRow]:
        """Every trial of the study without its curves, ordered by number.

        Finished trials never change, so they are kept in memory and only the trials
        unfinished at the last call, or newer than it, are read again.
        """
        with self._lock:
            cache = self._trials.setdefault(study_id, _TrialCache())
        with cache.lock:
            fresh = self._read_trials(study_id, cache.unfinished, cache.last_finished)
            for row in fresh:
                if row.state.is_finished():
                    cache.finished[row.trial_id] = row
                    cache.unfinished.discard(row.trial_id)
                else:
                    cache.unfinished.add(row.trial_id)
            if fresh:
                # Every trial above the old mark was just read, so the new mark is safe.
                cache.last_finished = max(
                    [cache.last_finished] + [r.trial_id for r in fresh if r.state.is_finished()]
                )
            rows = list(cache.finished.values())
        rows += [r for r in fresh if not r.state.is_finished()]
        return sorted(rows, key=lambda r: r.number)

    def _read_trials(
        self, study_id: int, unfinished: set[int], last_finished: int
    ) -> list[TrialRow]:
        t = m.TrialModel.__table__
        p, v = m.TrialParamModel.__table__, m.TrialValueModel.__table__
        u, iv = m.TrialUserAttributeModel.__table__, m.TrialIntermediateValueModel.__table__
        mine = t.c.study_id == study_id
        if len(unfinished) > 500:  # keep clear of the databases' limits on IN lists
            mine = sa.and_(mine, t.c.trial_id >= min(unfinished))
        elif last_finished >= 0:
            newer = t.c.trial_id > last_finished
            mine = sa.and_(
                mine, sa.or_(newer, t.c.trial_id.in_(unfinished)) if unfinished else newer
            )
        with self._engine.connect() as conn:
            base = conn.execute(
                sa.select(
                    t.c.trial_id, t.c.number, t.c.state, t.c.datetime_start, t.c.datetime_complete
                ).where(mine)
            ).all()
            if not base:
                return []
            values: dict[int, float] = dict(
                conn.execute(
                    sa.select(v.c.trial_id, v.c.value)
                    .join(t, t.c.trial_id == v.c.trial_id)
                    .where(mine, v.c.objective == 0, v.c.value_type == _FINITE)
                ).all()
            )
            params = conn.execute(
                sa.select(p.c.trial_id, p.c.param_name, p.c.param_value, p.c.distribution_json)
                .join(t, t.c.trial_id == p.c.trial_id)
                .where(mine)
                .order_by(p.c.param_id)
            ).all()
            attrs = conn.execute(
                sa.select(u.c.trial_id, u.c.key, u.c.value_json)
                .join(t, t.c.trial_id == u.c.trial_id)
                .where(mine, u.c.key.in_(LIGHT_ATTRS))
            ).all()
            steps: dict[int, int] = dict(
                conn.execute(
                    sa.select(iv.c.trial_id, sa.func.count())
                    .join(t, t.c.trial_id == iv.c.trial_id)
                    .where(mine)
                    .group_by(iv.c.trial_id)
                ).all()
            )
        trial_params: dict[int, dict[str, Any]] = {}
        trial_dists: dict[int, dict[str, BaseDistribution]] = {}
        for tid, name, internal, dist_json in params:
            dist = _distribution(dist_json)
            trial_params.setdefault(tid, {})[name] = dist.to_external_repr(internal)
            trial_dists.setdefault(tid, {})[name] = dist
        trial_attrs: dict[int, dict[str, Any]] = {}
        for tid, key, value_json in attrs:
            trial_attrs.setdefault(tid, {})[key] = json.loads(value_json)
        return [
            TrialRow(
                trial_id=tid,
                number=number,
                state=state,
                value=values.get(tid) if state == TrialState.COMPLETE else None,
                params=trial_params.get(tid, {}),
                distributions=trial_dists.get(tid, {}),
                start=_utc(start),
                complete=_utc(complete),
                attrs=trial_attrs.get(tid, {}),
                intermediate_steps=steps.get(tid, 0),
            )
            for tid, number, state, start, complete in base
        ]

    def trial(self, study_id: int, number: int) -> FrozenTrial:
        """One trial with everything (curves included), through the storage API."""
        try:
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        except KeyError:
            raise NotFound(f"no trial number {number} in this study") from None
        return self.storage.get_trial(trial_id)
