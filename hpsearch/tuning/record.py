"""The trial record: what hpsearch stores on a trial, typed, with its attr keys written once.

The objective, the reporter and the worker write a trial's outcome as Optuna user
attrs (``epochs_run``, ``stop_reason``, the learning curves in ``history``, ...);
summary, export, compare, the CLI and the dashboard read them back. ``TrialRecord``
is that record, ``record_attrs`` (and ``reporting.write_record``) write it and ``read_record``/
``record_from_attrs`` read it, so the keys below are the only spelling of them.
The keys are those studies have always been written with, so older studies read
the same; a value of the wrong type reads as missing, never as an error.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial, TrialState

HISTORY = "history"
LIVE_HISTORY = "live_history"
STOP_REASON = "stop_reason"
EPOCHS_RUN = "epochs_run"
SECONDS = "seconds"
FAIL_REASON = "fail_reason"
FOLDS = "folds"
WORKER = "worker"
DATA_PROVENANCE = "data_provenance"
COMMAND = "command"
#: The seed of the trial's batch order (``train(data_seed=...)``); the same whether it
#: trained alone or in a cohort, so the record alone reproduces the trial.
DATA_SEED = "data_seed"
#: The cohort the trial trained in: its id (the smallest trial number in it) and how
#: many trials it started with (1: the trial trained alone).
COHORT = "cohort"
COHORT_SIZE = "cohort_size"
#: On a trial that hpsearch put back in the queue: the number of the trial it repeats.
RETRY_OF = "retry_of"
#: Optuna's system attr on a trial its heartbeat callback re-queued (the stale trial's number).
FAILED_TRIAL = "failed_trial"

#: Every user attr key of the record.
RECORD_KEYS: frozenset[str] = frozenset(
    {
        HISTORY,
        LIVE_HISTORY,
        STOP_REASON,
        EPOCHS_RUN,
        SECONDS,
        FAIL_REASON,
        FOLDS,
        WORKER,
        DATA_PROVENANCE,
        COMMAND,
        RETRY_OF,
        DATA_SEED,
        COHORT,
        COHORT_SIZE,
    }
)
#: The small keys: enough for tables and counts; the curves (big) are left out.
LIGHT_KEYS: tuple[str, ...] = (STOP_REASON, EPOCHS_RUN, SECONDS, WORKER, FAIL_REASON, RETRY_OF)
#: The system attr keys the record reads (Optuna's own retry bookkeeping).
SYSTEM_KEYS: tuple[str, ...] = (FAILED_TRIAL,)


@dataclass(frozen=True)
class Worker:
    """The process that ran a trial."""

    host: str | None
    pid: int | None

    @property
    def label(self) -> str:
        """``host:pid``, as tables show it."""
        return f"{self.host or '?'}:{self.pid if self.pid is not None else '?'}"


@dataclass(frozen=True)
class FoldResult:
    """One fold of a cross-validated trial."""

    value: float | None
    best_epoch: int | None
    epochs_run: int | None


@dataclass(frozen=True)
class TrialRecord:
    """What one trial stores: its curves, why and when it stopped, where it ran.

    Every field is optional: a running trial has only some, and a write may carry a
    part (``record_attrs`` leaves out what is None). ``history`` and ``live_history``
    are ``hpsearch.nn.History.to_dict()`` (per-epoch losses, accuracies, eta and
    per-layer gradient norms); ``live_history`` is the running trial's curve so far.
    """

    history: dict[str, Any] | None = None
    live_history: dict[str, Any] | None = None
    stop_reason: str | None = None
    epochs_run: int | None = None
    seconds: float | None = None
    fail_reason: str | None = None
    folds: tuple[FoldResult, ...] | None = None
    worker: Worker | None = None
    data_provenance: dict[str, Any] | None = None
    command: str | None = None
    retry_of: int | None = None
    failed_trial: int | None = None
    data_seed: int | None = None
    cohort: int | None = None
    cohort_size: int | None = None

    @property
    def repeats(self) -> int | None:
        """The number of the failed trial this one runs again (hpsearch's or Optuna's re-queue)."""
        return self.retry_of if self.retry_of is not None else self.failed_trial

    @property
    def stop(self) -> str | None:
        """Why the trial ended: its stop reason, else its fail reason."""
        return self.stop_reason or self.fail_reason

    @property
    def curves(self) -> dict[str, Any] | None:
        """The final learning curves, else the live ones of a running trial."""
        return self.history or self.live_history

    @property
    def curve_records(self) -> list[dict[str, Any]]:
        """One dict per epoch (``hpsearch.nn.EpochRecord`` fields, gradient norms included)."""
        records = (self.curves or {}).get("records")
        return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []

    @property
    def best_epoch(self) -> int | None:
        best = (self.curves or {}).get("best_epoch")
        return best if isinstance(best, int) else None

    @property
    def best_validation_accuracy(self) -> float | None:
        best = (self.curves or {}).get("best_validation_accuracy")
        return float(best) if isinstance(best, int | float) else None

    @property
    def curve_stop_reason(self) -> str | None:
        """The stop reason, else the one the curves carry."""
        reason = (self.curves or {}).get(STOP_REASON)
        return self.stop_reason or (reason if isinstance(reason, str) else None)


def record_attrs(record: TrialRecord) -> dict[str, Any]:
    """The user attrs that store ``record`` (its None fields left out; JSON-able)."""
    attrs: dict[str, Any] = {
        HISTORY: record.history,
        LIVE_HISTORY: record.live_history,
        STOP_REASON: record.stop_reason,
        EPOCHS_RUN: record.epochs_run,
        SECONDS: record.seconds,
        FAIL_REASON: record.fail_reason,
        DATA_PROVENANCE: record.data_provenance,
        COMMAND: record.command,
        RETRY_OF: record.retry_of,
        DATA_SEED: record.data_seed,
        COHORT: record.cohort,
        COHORT_SIZE: record.cohort_size,
    }
    if record.folds is not None:
        attrs[FOLDS] = [
            {"value": f.value, "best_epoch": f.best_epoch, EPOCHS_RUN: f.epochs_run}
            for f in record.folds
        ]
    if record.worker is not None:
        attrs[WORKER] = {"host": record.worker.host, "pid": record.worker.pid}
    return {k: v for k, v in attrs.items() if v is not None}


def read_record(trial: FrozenTrial) -> TrialRecord:
    """The record a trial stores (fields it lacks are None)."""
    return record_from_attrs(trial.user_attrs, trial.system_attrs)


def record_from_attrs(
    attrs: Mapping[str, Any], system_attrs: Mapping[str, Any] | None = None
) -> TrialRecord:
    """The record in a trial's user attrs (and Optuna's system attrs, for re-queues)."""
    system = system_attrs or {}
    return TrialRecord(
        history=_dict(attrs.get(HISTORY)),
        live_history=_dict(attrs.get(LIVE_HISTORY)),
        stop_reason=_str(attrs.get(STOP_REASON)),
        epochs_run=_int(attrs.get(EPOCHS_RUN)),
        seconds=_float(attrs.get(SECONDS)),
        fail_reason=_str(attrs.get(FAIL_REASON)),
        folds=_folds(attrs.get(FOLDS)),
        worker=_worker(attrs.get(WORKER)),
        data_provenance=_dict(attrs.get(DATA_PROVENANCE)),
        command=_str(attrs.get(COMMAND)),
        retry_of=_int(attrs.get(RETRY_OF)),
        failed_trial=_int(system.get(FAILED_TRIAL)),
        data_seed=_int(attrs.get(DATA_SEED)),
        cohort=_int(attrs.get(COHORT)),
        cohort_size=_int(attrs.get(COHORT_SIZE)),
    )


def field_column(key: str, texts: Sequence[str | None]) -> list[Any]:
    """The record field stored under the light key ``key`` (``LIGHT_KEYS``, or
    ``FAILED_TRIAL``) of each trial, from the attr's JSON text as stored (None: absent):
    what ``record_from_attrs`` reads, for a column of 100,000 trials without a record
    each. Numbers are parsed directly; other texts repeat and are decoded once."""
    read = _FIELD_READERS[key]
    numbers: dict[Callable[[Any], Any], Callable[[str], Any]] = {_int: int, _float: float}
    number = numbers.get(read)
    decoded: dict[str, Any] = {}
    out: list[Any] = []
    for text in texts:
        if text is None:
            out.append(None)
            continue
        if number is not None:
            try:
                out.append(number(text))
                continue
            except ValueError:
                pass
        if text not in decoded:
            decoded[text] = read(json.loads(text))
        out.append(decoded[text])
    return out


def record_from_fields(fields: Mapping[str, Any]) -> TrialRecord:
    """The record of ``{key: field_column value}`` (light keys and ``FAILED_TRIAL``)."""
    return TrialRecord(**{_FIELD_NAMES[k]: v for k, v in fields.items() if v is not None})


def other_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's user attrs that are not part of the record (set by users or other tools)."""
    return {k: v for k, v in attrs.items() if k not in RECORD_KEYS}


def requeued(trials: Iterable[tuple[int, TrialState, TrialRecord]]) -> set[int]:
    """Numbers of the failed trials that were put back in the queue, from ``(number,
    state, record)`` of a study's trials: each is counted once, as its retry."""
    items = list(trials)
    repeated = {
        r.repeats for _, _, r in items if r.retry_of is not None or r.failed_trial is not None
    }
    if not repeated:
        return set()
    return {n for n, state, _ in items if state == TrialState.FAIL and n in repeated}


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    # A tuple, not ``int | float``: isinstance on a union is ~5x slower, and the
    # dashboard reads 400,000 of these for a 100,000-trial study.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _folds(value: Any) -> tuple[FoldResult, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(
        FoldResult(_float(f.get("value")), _int(f.get("best_epoch")), _int(f.get(EPOCHS_RUN)))
        for f in value
        if isinstance(f, dict)
    )


def _worker(value: Any) -> Worker | None:
    if not isinstance(value, dict):
        return None
    host, pid = value.get("host"), value.get("pid")
    try:
        return _shared_worker(host, pid)
    except TypeError:  # unhashable (not a str / number): read as missing anyway
        return Worker(_str(host), _int(pid))


@functools.lru_cache(maxsize=4096, typed=True)  # typed: pid True is not pid 1
def _shared_worker(host: Any, pid: Any) -> Worker:
    # A study has few workers and a Worker is frozen: one object per (host, pid).
    return Worker(_str(host), _int(pid))


_FIELD_READERS: dict[str, Callable[[Any], Any]] = {
    STOP_REASON: _str,
    EPOCHS_RUN: _int,
    SECONDS: _float,
    FAIL_REASON: _str,
    RETRY_OF: _int,
    FAILED_TRIAL: _int,
    WORKER: _worker,
}
#: The ``TrialRecord`` field each of those keys is read into.
_FIELD_NAMES = {
    STOP_REASON: "stop_reason",
    EPOCHS_RUN: "epochs_run",
    SECONDS: "seconds",
    FAIL_REASON: "fail_reason",
    RETRY_OF: "retry_of",
    FAILED_TRIAL: "failed_trial",
    WORKER: "worker",
}
