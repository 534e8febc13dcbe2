"""A worker's writes on its trial as one PostgreSQL statement: one round trip.

On a busy machine every round trip to the server costs a scheduling delay on both
sides, so a transaction of eight statements (BEGIN, a state check, one insert per
kind of row, COMMIT) took several milliseconds. PostgreSQL runs data-modifying
``WITH`` clauses of one statement atomically, so the same writes become a single
statement, sent in autocommit mode: the trial row is locked and checked for being
unfinished, every insert takes its rows from a JSON array and only for that trial,
and the final state (when given) is set in the same statement. Only the clauses of
the kinds of rows there are to write are in the statement.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from optuna.trial import TrialState
from sqlalchemy import Connection, TextClause, text

# ``FOR NO KEY UPDATE``, the lock an UPDATE of the state takes: unlike ``FOR UPDATE`` it
# does not wait for the heartbeat thread's insert, whose foreign key holds a ``KEY
# SHARE`` lock on the trial until its (durable) commit.
_TARGET = """
WITH target AS (
    SELECT trial_id FROM trials
    WHERE trial_id = :id AND state IN ('RUNNING', 'WAITING')
    FOR NO KEY UPDATE
)"""
#: One data-modifying clause per kind of row (and for the end), each only for the
#: target trial; a statement has the clauses of the kinds it writes.
_CLAUSES = {
    "end": """
    UPDATE trials SET state = CAST(:end_state AS trialstate), datetime_complete = :now
    FROM target WHERE trials.trial_id = target.trial_id""",
    "params": """
    INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
    SELECT target.trial_id, r.param_name, r.param_value, r.distribution_json
    FROM target, json_to_recordset(CAST(:params AS json))
        AS r(param_name text, param_value float8, distribution_json text)""",
    "steps": """
    INSERT INTO trial_intermediate_values
        (trial_id, step, intermediate_value, intermediate_value_type)
    SELECT target.trial_id, r.step, r.intermediate_value,
        CAST(r.intermediate_value_type AS trialintermediatevaluetype)
    FROM target, json_to_recordset(CAST(:steps AS json))
        AS r(step int, intermediate_value float8, intermediate_value_type text)
    ON CONFLICT (trial_id, step) DO UPDATE SET
        intermediate_value = EXCLUDED.intermediate_value,
        intermediate_value_type = EXCLUDED.intermediate_value_type""",
    "user_attrs": """
    INSERT INTO trial_user_attributes (trial_id, key, value_json)
    SELECT target.trial_id, r.key, r.value_json
    FROM target, json_to_recordset(CAST(:user_attrs AS json)) AS r(key text, value_json text)
    ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json""",
    "system_attrs": """
    INSERT INTO trial_system_attributes (trial_id, key, value_json)
    SELECT target.trial_id, r.key, r.value_json
    FROM target, json_to_recordset(CAST(:system_attrs AS json)) AS r(key text, value_json text)
    ON CONFLICT (trial_id, key) DO UPDATE SET value_json = EXCLUDED.value_json""",
    "values": """
    INSERT INTO trial_values (trial_id, objective, value, value_type)
    SELECT target.trial_id, r.objective, r.value, CAST(r.value_type AS trialvaluetype)
    FROM target, json_to_recordset(CAST(:values AS json))
        AS r(objective int, value float8, value_type text)
    ON CONFLICT (trial_id, objective) DO UPDATE SET
        value = EXCLUDED.value, value_type = EXCLUDED.value_type""",
}


def write_trial(
    connection: Connection,
    trial_id: int,
    rows: dict[str, list[dict[str, Any]]],
    state: TrialState | None,
    now: datetime | None,
) -> bool:
    """Write ``rows`` (``trialwrite.trial_rows``) and, with ``state``, end the trial;
    False (and nothing written) when the trial is missing or already finished."""
    kinds = tuple(kind for kind in _CLAUSES if rows.get(kind))
    arguments: dict[str, Any] = {
        kind: json.dumps([_plain(row) for row in rows[kind]]) for kind in kinds
    }
    if state is not None:
        kinds = ("end", *kinds)
        arguments.update(end_state=state.name, now=now)
    arguments["id"] = trial_id
    return connection.execute(_statement(kinds), arguments).scalar_one() == 1


@functools.cache
def _statement(kinds: tuple[str, ...]) -> TextClause:
    """The statement for these kinds of writes (a handful of shapes, each built once)."""
    clauses = "".join(f", write_{kind} AS ({_CLAUSES[kind]}\n)" for kind in kinds)
    return text(f"{_TARGET}{clauses}\nSELECT count(*) FROM target")


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its enum values (value types) as their names, as JSON needs them."""
    return {key: getattr(value, "name", value) for key, value in row.items()}
