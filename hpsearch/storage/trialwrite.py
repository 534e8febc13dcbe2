"""Everything a worker writes on its trial, in one transaction.

Optuna's RDB storage writes each param, attr and intermediate value in a transaction
of its own, each looking the trial up again: eight suggested params cost eight round
trips of two or three statements. A worker instead collects its trial's writes
(``TrialWrites``) and ``write_trial`` stores them together, and, when the trial ends,
its state and values in the same transaction, one statement per kind of row. Rows are
exactly those Optuna writes, so Optuna reads them back as usual. The trial's heartbeat
(beside it, in a thread) is one upsert too.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import optuna
from optuna import distributions
from optuna.distributions import BaseDistribution
from optuna.storages._rdb import models
from optuna.trial import TrialState
from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite

_TRIALS: Table = models.TrialModel.__table__
_PARAMS: Table = models.TrialParamModel.__table__
_VALUES: Table = models.TrialValueModel.__table__
_STEPS: Table = models.TrialIntermediateValueModel.__table__
_USER_ATTRS: Table = models.TrialUserAttributeModel.__table__
_SYSTEM_ATTRS: Table = models.TrialSystemAttributeModel.__table__
_HEARTBEATS: Table = models.TrialHeartbeatModel.__table__
#: (kind of row, table, unique key) of the rows written insert-or-update.
_UPSERTED = (
    ("steps", _STEPS, ("trial_id", "step")),
    ("user_attrs", _USER_ATTRS, ("trial_id", "key")),
    ("system_attrs", _SYSTEM_ATTRS, ("trial_id", "key")),
    ("values", _VALUES, ("trial_id", "objective")),
)


@dataclass
class TrialWrites:
    """Writes on one trial not yet in the database (each kind keyed like its table)."""

    #: name -> (value in Optuna's internal representation, distribution)
    params: dict[str, tuple[float, distributions.BaseDistribution]] = field(default_factory=dict)
    intermediate_values: dict[int, float] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.params or self.intermediate_values or self.user_attrs or self.system_attrs)


def utc_now(dialect: str) -> datetime:
    """Now as the naive UTC the trials table stores; whole seconds on MySQL/MariaDB,
    whose ``DATETIME`` columns drop the fraction (so a cached copy equals the stored one)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=0) if dialect == "mysql" else now


def stored_to_local(value: datetime) -> datetime:
    """A stored naive-UTC time as Optuna shows it in a ``FrozenTrial`` (naive local time)."""
    return value.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)


# Statements built once (with bound parameters): building SQLAlchemy statements anew
# for every call cost about as much as running them.
_CLAIM = (
    update(_TRIALS)
    .where(_TRIALS.c.trial_id == bindparam("id"), _TRIALS.c.state == TrialState.WAITING)
    .values(state=TrialState.RUNNING, datetime_start=bindparam("now"))
)
_END = (
    update(_TRIALS)
    .where(
        _TRIALS.c.trial_id == bindparam("id"),
        _TRIALS.c.state.in_((TrialState.RUNNING, TrialState.WAITING)),
    )
    .values(state=bindparam("end_state"), datetime_complete=bindparam("now"))
)
_INSERT_PARAMS = insert(_PARAMS)
_STATE = select(_TRIALS.c.state).where(_TRIALS.c.trial_id == bindparam("id"))
_STATES = select(_TRIALS.c.trial_id, _TRIALS.c.state).where(
    _TRIALS.c.study_id == bindparam("study"), _TRIALS.c.trial_id >= bindparam("start")
)


def claim(
    connection: Connection,
    trial_id: int,
    now: datetime,
    *,
    beat: bool = False,
) -> bool:
    """WAITING -> RUNNING (started ``now``) in one conditional UPDATE; True if it matched.

    With ``beat``, the claimed trial's first heartbeat is recorded with it, atomically:
    a worker killed right after its claim leaves a trial that goes stale like any other,
    never a RUNNING trial without a heartbeat (which no stale check would ever find).
    ``connection`` must be in a transaction.
    """
    arguments = {"id": trial_id, "now": now}
    claimed = connection.execute(_CLAIM, arguments).rowcount == 1
    if claimed and beat:
        connection.execute(_beat_statement(connection.dialect.name), {"id": trial_id})
    return claimed


#: The databases whose heartbeat is one upsert (``beat``), and recorded with a claim.
BEAT_DIALECTS = ("postgresql", "sqlite", "mysql")


def beat(connection: Connection, trial_id: int) -> bool:
    """Record a trial's heartbeat (the database's clock, as Optuna's) in one upsert;
    False on a database without one (then Optuna's own way is used)."""
    dialect = connection.dialect.name
    if dialect not in BEAT_DIALECTS:
        return False
    connection.execute(_beat_statement(dialect), {"id": trial_id})
    return True


@functools.cache
def _beat_statement(dialect: str) -> Any:
    now = func.current_timestamp()
    if dialect == "mysql":
        statement = mysql.insert(_HEARTBEATS).values(trial_id=bindparam("id"), heartbeat=now)
        return statement.on_duplicate_key_update(heartbeat=now)
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_HEARTBEATS).values(trial_id=bindparam("id"), heartbeat=now)
    return statement.on_conflict_do_update(index_elements=["trial_id"], set_={"heartbeat": now})


def trial_states(
    connection: Connection, study_id: int, from_trial_id: int
) -> dict[int, TrialState]:
    """trial_id -> state of the study's trials with ``trial_id >= from_trial_id``: two
    small columns per trial, no params or attrs."""
    rows = connection.execute(_STATES, {"study": study_id, "start": from_trial_id})
    return {trial_id: state for trial_id, state in rows}


def param_distributions(connection: Connection, study_id: int) -> dict[str, BaseDistribution]:
    """name -> the distribution some trial of the study stored for each param (one
    of those Optuna checks a new suggestion against)."""
    rows = connection.execute(
        select(_PARAMS.c.param_name, _PARAMS.c.distribution_json)
        .distinct()
        .join(_TRIALS, _TRIALS.c.trial_id == _PARAMS.c.trial_id)
        .where(_TRIALS.c.study_id == study_id)
    )
    return {name: distributions.json_to_distribution(text) for name, text in rows}


def write_trial(
    connection: Connection,
    trial_id: int,
    writes: TrialWrites,
    *,
    state: TrialState | None = None,
    values: list[float] | None = None,
    now: datetime | None = None,
) -> None:
    """Store ``writes`` on a trial that is not finished; with ``state`` (a finished
    one) also its ``values`` and end time ``now``, under the trial's row lock, in the
    transaction ``connection`` is in.

    Raises ``UpdateFinishedTrialError`` when the trial was already finished (e.g.
    failed as stale by another worker) and ``KeyError`` when there is no such trial,
    as Optuna's own writes do.
    """
    assert state is None or (state.is_finished() and now is not None)
    rows = trial_rows(trial_id, writes, values)
    if state is not None:
        # The conditional UPDATE takes the row lock and checks the state in one go.
        ended = connection.execute(_END, {"id": trial_id, "end_state": state, "now": now})
        if ended.rowcount != 1:
            _raise_not_updatable(connection, trial_id)
    elif any(rows.values()):
        current = connection.execute(_STATE, {"id": trial_id}).scalar_one_or_none()
        if current is None:
            _raise_not_updatable(connection, trial_id)
        _check_updatable(trial_id, current)
    dialect = connection.dialect.name
    if rows["params"]:
        connection.execute(_INSERT_PARAMS, rows["params"])
    for kind, table, keys in _UPSERTED:
        if rows[kind]:
            _upsert(connection, dialect, table, rows[kind], keys)


def trial_rows(
    trial_id: int, writes: TrialWrites, values: list[float] | None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of Optuna's tables that ``writes`` and the objective ``values`` make,
    by kind: params, steps, user_attrs, system_attrs, values."""
    steps = []
    for step, value in writes.intermediate_values.items():
        stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
        steps.append(
            {
                "trial_id": trial_id,
                "step": step,
                "intermediate_value": stored,
                "intermediate_value_type": kind,
            }
        )
    objective_values = []
    for objective, value in enumerate(values or ()):
        stored, value_kind = models.TrialValueModel.value_to_stored_repr(value)
        objective_values.append(
            {
                "trial_id": trial_id,
                "objective": objective,
                "value": stored,
                "value_type": value_kind,
            }
        )
    return {
        "params": [
            {
                "trial_id": trial_id,
                "param_name": name,
                "param_value": internal,
                "distribution_json": distributions.distribution_to_json(distribution),
            }
            for name, (internal, distribution) in writes.params.items()
        ],
        "steps": steps,
        "user_attrs": _attr_rows(trial_id, writes.user_attrs),
        "system_attrs": _attr_rows(trial_id, writes.system_attrs),
        "values": objective_values,
    }


def _attr_rows(trial_id: int, attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
        for key, value in attrs.items()
    ]


def _check_updatable(trial_id: int, state: TrialState) -> None:
    if state.is_finished():
        raise optuna.exceptions.UpdateFinishedTrialError(
            f"Trial#{trial_id} has already finished and can not be updated."
        )


def _raise_not_updatable(connection: Connection, trial_id: int) -> NoReturn:
    current = connection.execute(_STATE, {"id": trial_id}).scalar_one_or_none()
    if current is None:
        raise KeyError(f"No trial with trial id {trial_id} exists.")
    _check_updatable(trial_id, current)
    raise AssertionError(f"trial {trial_id} is {current.name} and was not updated")


def _upsert(
    connection: Connection,
    dialect: str,
    table: Table,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...],
) -> None:
    """Insert ``rows``, or update the row with the same ``keys``: one single-row statement
    run for all rows (compiled once, sent as one batch) on SQLite, MySQL/MariaDB and
    PostgreSQL; row by row elsewhere."""
    changed = tuple(name for name in rows[0] if name not in keys)
    if dialect in ("sqlite", "mysql", "postgresql"):
        connection.execute(_upsert_statement(dialect, table, keys, changed), rows)
        return
    for row in rows:
        match = and_(*(table.c[k] == row[k] for k in keys))
        updated = connection.execute(
            update(table).where(match).values({name: row[name] for name in changed})
        )
        if updated.rowcount == 0:
            connection.execute(insert(table).values(row))


@functools.cache
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], changed: tuple[str, ...]
) -> Any:
    if dialect == "mysql":
        statement = mysql.insert(table)
        return statement.on_duplicate_key_update({n: statement.inserted[n] for n in changed})
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={n: statement.excluded[n] for n in changed},
    )


_FAIL_IF_STILL_STALE = text(
    "UPDATE trials SET state = 'FAIL', datetime_complete = :now "
    "WHERE trial_id = :id AND state = 'RUNNING' AND EXISTS "
    "(SELECT 1 FROM trial_heartbeats WHERE trial_id = :id AND heartbeat = :seen)"
).bindparams(bindparam("now", type_=_TRIALS.c.datetime_complete.type))
_DROP_USER_ATTR = delete(_USER_ATTRS).where(
    _USER_ATTRS.c.trial_id == bindparam("id"), _USER_ATTRS.c.key == bindparam("key")
)


def heartbeats(connection: Connection, trial_ids: list[int]) -> dict[int, Any]:
    """trial_id -> its last heartbeat exactly as stored (raw text on SQLite), so that
    ``fail_if_still_stale`` can compare it for equality."""
    if not trial_ids:
        return {}
    rows = connection.execute(
        text("SELECT trial_id, heartbeat FROM trial_heartbeats WHERE trial_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": trial_ids},
    )
    return {trial_id: beat for trial_id, beat in rows}


def fail_if_still_stale(
    connection: Connection, trial_id: int, seen: Any, now: datetime, reason: str
) -> bool:
    """RUNNING -> FAIL, with user attr ``fail_reason``, in one transaction, only if the
    trial is still RUNNING and its heartbeat is still ``seen``; True for the one caller
    that changed it.

    Optuna's ``fail_stale_trials`` reads the state, then writes it: on SQLite (no row
    locks) two workers both "fail" the same trial and both re-queue it, one trial too
    many. Here the conditional UPDATE decides: its row count is 1 for one caller only,
    and a worker whose heartbeat came back meanwhile keeps its trial.
    """
    failed = connection.execute(
        _FAIL_IF_STILL_STALE, {"id": trial_id, "seen": seen, "now": now}
    ).rowcount
    if failed != 1:
        return False
    connection.execute(_DROP_USER_ATTR, {"id": trial_id, "key": "fail_reason"})
    connection.execute(
        insert(_USER_ATTRS),
        {"trial_id": trial_id, "key": "fail_reason", "value_json": json.dumps(reason)},
    )
    return True
