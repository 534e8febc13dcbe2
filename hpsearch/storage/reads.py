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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import (
    BaseDistribution,
    FloatDistribution,
    IntDistribution,
    json_to_distribution,
)
from optuna.storages._rdb import models as m
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch.errors import StorageError
from hpsearch.storage import tallies

_FINITE = m.TrialValueModel.TrialValueType.FINITE
#: ``state in UNFINISHED`` is ``not state.is_finished()``, ~5x faster (100,000 trials a call).
UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)


class NotFound(StorageError, LookupError):
    """A study name or trial number that is not in the storage."""


@dataclass(frozen=True)
class StudyInfo:
    """One study: its id, name, direction and user attrs (its trials: ``StudyReader.trials``)."""

    study_id: int
    name: str
    direction: StudyDirection
    user_attrs: dict[str, Any]
    directions: tuple[StudyDirection, ...] = ()  # all objectives; ``direction`` is the first

    @property
    def maximize(self) -> bool:
        return self.direction == StudyDirection.MAXIMIZE


@dataclass(frozen=True)
class TrialRow:
    """A trial without its curves: enough for tables, best-so-far charts and importances.

    ``attrs`` and ``system_attrs`` hold the keys the reader was asked for."""

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
    system_attrs: dict[str, Any] = field(default_factory=dict)
    # A complete trial of a multi-objective study: its value per objective (None where
    # not finite); empty otherwise (``value`` is the first objective's).
    values: tuple[float | None, ...] = ()


@dataclass
class _TrialCache:
    """The finished trials of one study already read (they never change again)."""

    finished: dict[int, TrialRow] = field(default_factory=dict)
    unfinished: set[int] = field(default_factory=set)
    last_finished: int = -1
    # (trials with trial_id <= last_finished, their earliest start): what the database
    # must still say for the cache to be this study's, not a deleted one's whose id
    # SQLite gave to a new study.
    fingerprint: tuple[int, Any] = (0, None)
    lock: threading.Lock = field(default_factory=threading.Lock)
    read: bool = False  # read at least once

    def reset(self) -> None:
        self.read = False
        self.finished.clear()
        self.unfinished.clear()
        self.last_finished = -1
        self.fingerprint = (0, None)


def _moment(value: Any) -> dt.datetime | None:
    """A datetime column as ``_raw`` returns it: SQLite's driver gives the text, the
    others a naive datetime; RDBStorage stores naive UTC."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC)


def _raw(conn: sa.Connection, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``query`` as the driver returns them (plain tuples, no SQLAlchemy result
    processing): ~3x faster for the million parameter rows of a 100,000-trial study.
    Only for columns that need no conversion (ints, floats, strings); the query's
    parameters here are ints and fixed names, so they are rendered inline."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _loads(value_json: str) -> Any:
    """``json.loads``, faster for the light attrs: a number (every trial's ``seconds``
    differs) is parsed directly, other texts (stop reasons, workers) repeat and are
    decoded once."""
    if value_json[:1] in _NUMBER_START:
        try:
            return int(value_json)
        except ValueError:
            pass
        try:
            return float(value_json)
        except ValueError:
            pass
    return _loads_cached(value_json)


_NUMBER_START = frozenset("-0123456789")


@functools.lru_cache(maxsize=65536)
def _loads_cached(value_json: str) -> Any:
    # Callers only read the result, so sharing one object between trials is safe.
    return json.loads(value_json)


@functools.lru_cache(maxsize=4096)
def _distribution(distribution_json: str) -> BaseDistribution:
    return json_to_distribution(distribution_json)


def _external(dist: BaseDistribution) -> Callable[[float], Any]:
    """``dist.to_external_repr``, as a plain function where that is all it does."""
    if isinstance(dist, FloatDistribution):
        return float
    if isinstance(dist, IntDistribution):
        return int
    return dist.to_external_repr


#: Above this many parameters, one column each would make too wide a query.
_MAX_PIVOT = 400


def _pivot(
    conn: sa.Connection,
    table: sa.Table,
    value: str,
    ids: sa.Select[Any],
    names: list[str],
    *,
    name: str = "key",
) -> list[tuple[Any, ...]]:
    """``(trial_id, value of names[0], ...)`` per trial of ``ids`` with a row in ``table``
    for one of ``names`` (None for a name it has not): one row a trial, not one a
    (trial, name), so 100,000 trials with 12 parameters are 100,000 rows for Python to
    take instead of 1.2 million (the database groups them; ~1 s less)."""
    if not names:
        return []
    c = table.c
    if len(names) <= _MAX_PIVOT:  # one query: its rows as they come
        columns = [sa.func.max(sa.case((c[name] == n, c[value]))) for n in names]
        return _raw(
            conn,
            sa.select(c.trial_id, *columns)
            .where(c.trial_id.in_(ids), c[name].in_(names))
            .group_by(c.trial_id),
        )
    rows: dict[int, list[Any]] = {}
    for start in range(0, len(names), _MAX_PIVOT):
        chunk = names[start : start + _MAX_PIVOT]
        columns = [sa.func.max(sa.case((c[name] == n, c[value]))) for n in chunk]
        query = (
            sa.select(c.trial_id, *columns)
            .where(c.trial_id.in_(ids), c[name].in_(chunk))
            .group_by(c.trial_id)
        )
        for tid, *found in _raw(conn, query):
            rows.setdefault(tid, [None] * len(names))[start : start + len(chunk)] = found
    return [(tid, *found) for tid, found in rows.items()]


def _decoded(pivot: list[tuple[Any, ...]], keys: list[str]) -> dict[int, dict[str, Any]]:
    """``{trial_id: {key: decoded JSON}}`` from ``_pivot`` rows of attr texts."""
    return {
        tid: {k: _loads(text) for k, text in zip(keys, texts, strict=True) if text is not None}
        for tid, *texts in pivot
    }


def _values(first: float | None, rest: dict[int, float] | None, n: int) -> tuple[float | None, ...]:
    rest = rest or {}
    return (first, *(rest.get(i) for i in range(1, n)))


_Params = tuple[dict[int, dict[str, Any]], dict[int, dict[str, BaseDistribution]]]


def _submit(
    pool: ThreadPoolExecutor | None, work: Callable[..., _Params], *args: Any
) -> Future[_Params]:
    """``work(*args)`` on ``pool``, or now (a done future) without one."""
    if pool is not None:
        return pool.submit(work, *args)
    done: Future[_Params] = Future()
    try:
        done.set_result(work(*args))
    except BaseException as error:  # re-raised by result(), as the pool's would be
        done.set_exception(error)
    return done


def _decode(texts: dict[str, str]) -> dict[str, Any]:
    return {key: _loads(text) for key, text in texts.items()}


class StudyReader:
    """Studies and trials read from one ``RDBStorage``; thread-safe, read-only.

    ``attr_keys`` / ``system_keys``: the trial user / system attrs to read with each
    trial of a list (small ones; the curves stay in the database)."""

    def __init__(
        self,
        storage: optuna.storages.RDBStorage,
        *,
        attr_keys: tuple[str, ...] = (),
        system_keys: tuple[str, ...] = (),
    ) -> None:
        self.storage = storage
        self.attr_keys = attr_keys
        self.system_keys = system_keys
        self._engine: sa.engine.Engine = storage.engine
        self._lock = threading.Lock()
        self._trials: dict[int, _TrialCache] = {}

    # -- studies ---------------------------------------------------------------------------

    def studies(self) -> list[StudyInfo]:
        """Every study, by name."""
        infos = [
            StudyInfo(
                study_id=fs._study_id,
                name=fs.study_name,
                direction=fs.directions[0],
                directions=tuple(fs.directions),
                user_attrs=fs.user_attrs,
            )
            for fs in self.storage.get_all_studies()
        ]
        return sorted(infos, key=lambda i: i.name)

    def study(self, name: str) -> StudyInfo:
        """One study by name (``NotFound`` if absent)."""
        try:
            study_id = self.storage.get_study_id_from_name(name)
        except KeyError:
            raise NotFound(f"no study named {name!r}") from None
        directions = tuple(self.storage.get_study_directions(study_id))
        return StudyInfo(
            study_id=study_id,
            name=name,
            direction=directions[0],
            directions=directions,
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
            if cache.last_finished >= 0 and self._fingerprint(study_id, cache) != cache.fingerprint:
                cache.reset()  # the study was deleted and its id reused: start over
            fresh = self._read_trials(study_id, cache.unfinished, cache.last_finished)
            for row in fresh:
                if row.state not in UNFINISHED:
                    cache.finished[row.trial_id] = row
                    cache.unfinished.discard(row.trial_id)
                else:
                    cache.unfinished.add(row.trial_id)
            if fresh:
                # Every trial above the old mark was just read, so the new mark is safe.
                cache.last_finished = max(
                    [cache.last_finished] + [r.trial_id for r in fresh if r.state not in UNFINISHED]
                )
                cache.fingerprint = self._fingerprint(study_id, cache)
            cache.read = True
            rows = list(cache.finished.values())
        rows += [r for r in fresh if r.state in UNFINISHED]
        return sorted(rows, key=lambda r: r.number)

    def has_read(self, study_id: int) -> bool:
        """Whether ``trials(study_id)`` has been read once (later reads are incremental)."""
        with self._lock:
            cache = self._trials.get(study_id)
        return cache is not None and cache.read

    def _fingerprint(self, study_id: int, cache: _TrialCache) -> tuple[int, Any]:
        t = m.TrialModel.__table__
        query = sa.select(sa.func.count(), sa.func.min(t.c.datetime_start)).where(
            t.c.study_id == study_id, t.c.trial_id <= cache.last_finished
        )
        with self._engine.connect() as conn:
            count, first = conn.execute(query).one()
        return int(count), first

    def _read_trials(
        self, study_id: int, unfinished: set[int], last_finished: int
    ) -> list[TrialRow]:
        t = m.TrialModel.__table__
        mine = t.c.study_id == study_id
        if len(unfinished) > 500:  # keep clear of the databases' limits on IN lists
            mine = sa.and_(mine, t.c.trial_id >= min(unfinished))
        elif last_finished >= 0:
            newer = t.c.trial_id > last_finished
            mine = sa.and_(
                mine, sa.or_(newer, t.c.trial_id.in_(unfinished)) if unfinished else newer
            )
        # ``IN (SELECT ...)``, not a join: SQLite reads the index in order, ~2x faster.
        ids = sa.select(t.c.trial_id).where(mine)
        # A study's first read is its big one: its params (~half the database time) are
        # read on a second connection meanwhile, while this thread reads and decodes
        # the rest (the drivers let go of the GIL while the database works).
        pool = ThreadPoolExecutor(max_workers=1) if last_finished < 0 else None
        try:
            params = _submit(pool, self._read_params, mine, ids)
            return self._read_rest(mine, ids, params)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _read_rest(self, mine: Any, ids: sa.Select[Any], params: Future[_Params]) -> list[TrialRow]:
        t, v = m.TrialModel.__table__, m.TrialValueModel.__table__
        u, iv = m.TrialUserAttributeModel.__table__, m.TrialIntermediateValueModel.__table__
        sy = m.TrialSystemAttributeModel.__table__
        with self._engine.connect() as conn:
            base = [
                (tid, number, TrialState[state], _moment(start), _moment(complete))
                for tid, number, state, start, complete in _raw(
                    conn,
                    sa.select(
                        t.c.trial_id,
                        t.c.number,
                        t.c.state,
                        t.c.datetime_start,
                        t.c.datetime_complete,
                    ).where(mine),
                )
            ]
            if not base:
                return []
            values: dict[int, float] = {}
            others: dict[int, dict[int, float]] = {}  # objectives after the first
            for tid, objective, value in _raw(
                conn,
                sa.select(v.c.trial_id, v.c.objective, v.c.value)
                .join(t, t.c.trial_id == v.c.trial_id)
                .where(mine, v.c.value_type == _FINITE),
            ):
                if objective == 0:
                    values[tid] = value
                else:
                    others.setdefault(tid, {})[objective] = value
            n_objectives = 1 + max((max(found) for found in others.values()), default=0)
            attr_keys, system_keys = sorted(self.attr_keys), sorted(self.system_keys)
            attrs = _pivot(conn, u, "value_json", ids, attr_keys)
            system = _pivot(conn, sy, "value_json", ids, system_keys)
            steps: dict[int, int] = dict(
                _raw(
                    conn,
                    sa.select(iv.c.trial_id, sa.func.count())
                    .where(iv.c.trial_id.in_(ids))
                    .group_by(iv.c.trial_id),
                )
            )
        trial_attrs = _decoded(attrs, attr_keys)
        trial_system = _decoded(system, system_keys)
        trial_params, trial_dists = params.result()
        return [
            TrialRow(
                trial_id=tid,
                number=number,
                state=state,
                value=values.get(tid) if state == TrialState.COMPLETE else None,
                values=_values(values.get(tid), others.get(tid), n_objectives)
                if others and state == TrialState.COMPLETE
                else (),
                params=trial_params.get(tid, {}),
                distributions=trial_dists.get(tid, {}),
                start=start,
                complete=complete,
                attrs=trial_attrs.get(tid, {}),
                intermediate_steps=steps.get(tid, 0),
                system_attrs=trial_system.get(tid, {}),
            )
            for tid, number, state, start, complete in base
        ]

    # -- aggregates (the studies list) -------------------------------------------------

    def marked_trials(
        self, study_id: int, user_keys: tuple[str, ...], system_keys: tuple[str, ...]
    ) -> list[tuple[int, TrialState, dict[str, Any], dict[str, Any]]]:
        """``(number, state, user attrs, system attrs)`` of the trials carrying one of
        the keys (few: e.g. the retries), attrs decoded."""
        return [
            (number, state, _decode(user), _decode(system))
            for number, state, user, system in tallies.marked_trials(
                self._engine, study_id, user_keys, system_keys
            )
        ]

    def tally(
        self, study_id: int, *, maximize: bool, skip: set[int], epochs_key: str
    ) -> tallies.Tally:
        """Counts, best, time span and epoch attrs of the study, by the database (see
        ``hpsearch.storage.tallies``); ``steps_of`` for epoch attrs that are not numbers."""
        return tallies.tally(
            self._engine, study_id, maximize=maximize, skip=skip, epochs_key=epochs_key
        )

    def steps_of(self, study_id: int, key: str, texts: list[str]) -> int:
        return tallies.steps_of(self._engine, study_id, key, texts)

    def _read_params(self, mine: Any, ids: sa.Select[Any]) -> _Params:
        """Each trial's params (external values) and distributions."""
        t, p = m.TrialModel.__table__, m.TrialParamModel.__table__
        with self._engine.connect() as conn:
            # The distribution JSON is long and nearly always one per parameter: read the
            # distinct ones once, and per row only for a parameter that has several.
            pairs = _raw(
                conn,
                sa.select(p.c.param_name, p.c.distribution_json)
                .where(p.c.trial_id.in_(ids))
                .distinct(),
            )
            dists: dict[str, list[str]] = {}
            for name, dist_json in pairs:
                dists.setdefault(name, []).append(dist_json)
            several = sorted(n for n, found in dists.items() if len(found) > 1)
            single = sorted(n for n in dists if n not in several)
            pivot = _pivot(conn, p, "param_value", ids, single, name="param_name")
            params: list[tuple[int, str, float, str]] = []
            if several:
                params = _raw(
                    conn,
                    sa.select(p.c.trial_id, p.c.param_name, p.c.param_value, p.c.distribution_json)
                    .join(t, t.c.trial_id == p.c.trial_id)
                    .where(mine, p.c.param_name.in_(several))
                    .order_by(p.c.param_id),
                )
        trial_params: dict[int, dict[str, Any]] = {}
        trial_dists: dict[int, dict[str, BaseDistribution]] = {}
        shared: dict[tuple[str, ...], dict[str, BaseDistribution]] = {}
        space = [(name, _distribution(dists[name][0])) for name in single]
        external = [_external(dist) for _, dist in space]
        for tid, *internals in pivot:
            found = {
                name: convert(internal)
                for (name, _), convert, internal in zip(space, external, internals, strict=True)
                if internal is not None  # NULL: the trial did not sample it
            }
            trial_params[tid] = found
            names = tuple(found)
            if names not in shared:  # most trials share one space: one dict
                shared[names] = {name: dist for name, dist in space if name in found}
            trial_dists[tid] = shared[names]
        for tid, name, internal, dist_json in params:  # names with several distributions
            dist = _distribution(dist_json)
            trial_params.setdefault(tid, {})[name] = dist.to_external_repr(internal)
            trial_dists[tid] = {**trial_dists.get(tid, {}), name: dist}
        return trial_params, trial_dists

    def trial(self, study_id: int, number: int) -> FrozenTrial:
        """One trial with everything (curves included), through the storage API."""
        try:
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        except KeyError:
            raise NotFound(f"no trial number {number} in this study") from None
        return self.storage.get_trial(trial_id)
