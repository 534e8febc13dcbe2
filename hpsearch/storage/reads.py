"""Bulk read-only queries on an Optuna RDB storage, returned as plain data.

Studies, their user attrs and single trials come through the ``RDBStorage`` API.
The trial *list* of a study does not: ``study.get_trials()`` loads every user attr,
and each trial carries its learning curves (``history``), so a 5,000-trial study
means ~35 MB of JSON and ~7 s before the first byte. ``StudyReader.tables`` reads
the same tables with a few flat SELECTs (params and light attrs pivoted, one row a
trial), skips the curve attrs and returns columns (``storage.table.TrialTable``):
100,000 trials in ~2.7 s CPU, most of it SQLite's (an object per trial, as
before, cost ~2 s more). Curves are read per trial, on demand. The schema is the installed Optuna's
(``optuna.storages._rdb.models``), and ``RDBStorage`` has already checked on
opening that the database's schema version is that one. The dashboard reads
through here; nothing outside ``storage/`` names Optuna's tables.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import sqlalchemy as sa
from optuna.distributions import (
    BaseDistribution,
    json_to_distribution,
)
from optuna.storages._rdb import models as m
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch.errors import StorageError
from hpsearch.storage import tallies
from hpsearch.storage.table import (
    TrialTable,
    concat,
    external,
    nones,
    where_none,
)

_FINITE = m.TrialValueModel.TrialValueType.FINITE


class NotFound(StorageError, LookupError):
    """A study name or trial number that is not in the storage."""


@dataclass(frozen=True)
class StudyInfo:
    """One study: its id, name, direction and user attrs (its trials: ``StudyReader.tables``)."""

    study_id: int
    name: str
    direction: StudyDirection
    user_attrs: dict[str, Any]
    directions: tuple[StudyDirection, ...] = ()  # all objectives; ``direction`` is the first

    @property
    def maximize(self) -> bool:
        return self.direction == StudyDirection.MAXIMIZE


@dataclass
class _TrialCache:
    """The finished trials of one study already read (they never change again)."""

    finished: TrialTable = field(default_factory=TrialTable.empty)
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
        self.finished = TrialTable.empty()
        self.unfinished.clear()
        self.last_finished = -1
        self.fingerprint = (0, None)


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


class _Positions:
    """Where each trial id of a read is in its table (``_read_rest``'s base rows)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self._at: dict[int, int] | None = None

    def of(self, ids: np.ndarray) -> np.ndarray | slice:
        """The positions of ``ids``: a slice when they are the table's, in its order (the
        usual case: every trial has a row, and the database returns them by id)."""
        if len(ids) == len(self.ids) and np.array_equal(ids, self.ids):
            return slice(None)
        if self._at is None:
            self._at = {tid: i for i, tid in enumerate(self.ids.tolist())}
        return np.fromiter(map(self._at.__getitem__, ids.tolist()), dtype=np.int64, count=len(ids))


def _scatter(
    pos: _Positions, rows: list[tuple[Any, ...]], width: int, dtype: Any = object
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``rows`` of ``(trial_id, v1, ..., v_width)`` as ``width`` columns of the table's
    trials (None, or NaN for floats, where a trial has no row), and the mask of the
    trials with a row; one array conversion, no Python loop per trial."""
    n = len(pos.ids)
    found = np.zeros(n, dtype=bool)
    block = np.full((n, width), None if dtype is object else np.nan, dtype=dtype)
    if rows:
        read = np.array(rows, dtype=dtype).reshape(len(rows), width + 1)
        at = pos.of(read[:, 0].astype(np.int64))
        block[at] = read[:, 1:]
        found[at] = True
    return found, [block[:, k] for k in range(width)]


_RawParams = tuple[dict[str, BaseDistribution], list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _submit(
    pool: ThreadPoolExecutor | None, work: Callable[..., _RawParams], *args: Any
) -> Future[_RawParams]:
    """``work(*args)`` on ``pool``, or now (a done future) without one."""
    if pool is not None:
        return pool.submit(work, *args)
    done: Future[_RawParams] = Future()
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

    def tables(self, study_id: int) -> tuple[TrialTable, TrialTable]:
        """The study's trials without their curves, as columns: ``(finished, unfinished)``,
        each ordered by number.

        Finished trials never change, so their table is kept in memory (the same object
        until more trials finish) and only the trials unfinished at the last call, or
        newer than it, are read again.
        """
        with self._lock:
            cache = self._trials.setdefault(study_id, _TrialCache())
        with cache.lock:
            if cache.last_finished >= 0 and self._fingerprint(study_id, cache) != cache.fingerprint:
                cache.reset()  # the study was deleted and its id reused: start over
            fresh = self._read_table(study_id, cache.unfinished, cache.last_finished)
            live = fresh.unfinished()
            # A big unfinished set is read again from its lowest id: skip the known ones.
            new = ~live & ~np.isin(fresh.trial_id, cache.finished.trial_id)
            if new.any():
                cache.finished = concat(cache.finished, fresh.take(new)).by_number()
            cache.unfinished = set(fresh.trial_id[live].tolist())
            done = fresh.trial_id[~live]
            if len(done):
                # Every trial above the old mark was just read, so the new mark is safe.
                cache.last_finished = max(cache.last_finished, int(done.max()))
                cache.fingerprint = self._fingerprint(study_id, cache)
            cache.read = True
            return cache.finished, fresh.take(live).by_number()

    def has_read(self, study_id: int) -> bool:
        """Whether ``tables(study_id)`` has been read once (later reads are incremental)."""
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

    def _read_table(self, study_id: int, unfinished: set[int], last_finished: int) -> TrialTable:
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

    def _read_rest(self, mine: Any, ids: sa.Select[Any], params: Future[_RawParams]) -> TrialTable:
        t, v = m.TrialModel.__table__, m.TrialValueModel.__table__
        u, iv = m.TrialUserAttributeModel.__table__, m.TrialIntermediateValueModel.__table__
        sy = m.TrialSystemAttributeModel.__table__
        with self._engine.connect() as conn:
            base = _raw(
                conn,
                sa.select(
                    t.c.trial_id, t.c.number, t.c.state, t.c.datetime_start, t.c.datetime_complete
                ).where(mine),
            )
            if not base:
                params.result()
                return TrialTable.empty()
            values = _raw(
                conn,
                sa.select(v.c.trial_id, v.c.objective, v.c.value)
                .join(t, t.c.trial_id == v.c.trial_id)
                .where(mine, v.c.value_type == _FINITE),
            )
            attr_keys, system_keys = sorted(self.attr_keys), sorted(self.system_keys)
            attrs = _pivot(conn, u, "value_json", ids, attr_keys)
            system = _pivot(conn, sy, "value_json", ids, system_keys)
            steps = _raw(
                conn,
                sa.select(iv.c.trial_id, sa.func.count())
                .where(iv.c.trial_id.in_(ids))
                .group_by(iv.c.trial_id),
            )
        columns = np.array(base, dtype=object)
        tids, numbers, state, starts, completes = (columns[:, k] for k in range(5))
        n, pos = len(base), _Positions(tids.astype(np.int64))
        complete = state == TrialState.COMPLETE.name
        by_objective: dict[int, list[tuple[int, float]]] = {}
        for tid, objective, value in values:
            by_objective.setdefault(objective, []).append((tid, value))
        objectives = [
            _scatter(pos, by_objective.get(k, []), 1)[1][0]
            for k in range(1 + max(by_objective, default=0))
        ]
        first = where_none(complete, objectives[0])
        multi = nones(n)
        if len(objectives) > 1:  # each complete trial's value per objective
            at = np.flatnonzero(complete)
            each = zip(*(o[at].tolist() for o in objectives), strict=True)
            for i, point in zip(at.tolist(), each, strict=True):  # tuples, not a 2-D block
                multi[i] = point
        step_count = np.zeros(n, dtype=np.int64)
        found, (counts,) = _scatter(pos, steps, 1)
        step_count[found] = counts[found].astype(np.int64)
        table = TrialTable(
            trial_id=pos.ids,
            number=numbers.astype(np.int64),
            state=state,
            start=np.array(starts, dtype="datetime64[us]"),
            complete=np.array(completes, dtype="datetime64[us]"),
            value=first,
            values=multi,
            steps=step_count,
            attrs=dict(zip(attr_keys, _scatter(pos, attrs, len(attr_keys))[1], strict=True)),
            system=dict(zip(system_keys, _scatter(pos, system, len(system_keys))[1], strict=True)),
        )
        self._place_params(table, pos, params.result())
        return table

    @staticmethod
    def _place_params(table: TrialTable, pos: _Positions, raw: _RawParams) -> None:
        """The params read by ``_read_params`` as the table's columns (external values)."""
        space, pivot, several = raw
        n = len(table)
        _, internals = _scatter(pos, pivot, len(space), np.float64)
        for (name, dist), numbers in zip(space.items(), internals, strict=True):
            table.params[name] = external(dist, numbers)
            table.sampled[name] = ~np.isnan(numbers)
            table.space[name] = dist
        if not several:
            return
        at = pos.of(np.array([row[0] for row in several], dtype=np.int64))
        for i, (_, name, internal, dist_json) in zip(
            np.arange(n)[at].tolist(), several, strict=True
        ):  # names with several distributions
            dist = _distribution(dist_json)
            if name not in table.params:
                table.params[name], table.varied[name] = nones(n), nones(n)
                table.sampled[name] = np.zeros(n, dtype=bool)
            table.params[name][i] = dist.to_external_repr(internal)
            table.varied[name][i] = dist
            table.sampled[name][i] = True

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

    def _read_params(self, mine: Any, ids: sa.Select[Any]) -> _RawParams:
        """The params: ``({name: distribution}, pivot rows of their internal values,
        (trial_id, name, internal value, distribution JSON) rows of the names stored with
        several distributions)``."""
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
            rows: list[tuple[Any, ...]] = []
            if several:
                rows = _raw(
                    conn,
                    sa.select(p.c.trial_id, p.c.param_name, p.c.param_value, p.c.distribution_json)
                    .join(t, t.c.trial_id == p.c.trial_id)
                    .where(mine, p.c.param_name.in_(several))
                    .order_by(p.c.param_id),
                )
        return {name: _distribution(dists[name][0]) for name in single}, pivot, rows

    def trial(self, study_id: int, number: int) -> FrozenTrial:
        """One trial with everything (curves included), through the storage API."""
        try:
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        except KeyError:
            raise NotFound(f"no trial number {number} in this study") from None
        return self.storage.get_trial(trial_id)
