"""The worker loop: claim a trial, run it with a heartbeat, tell the result, repeat.

Used by local processes (``hpsearch run --jobs N``) and by ``hpsearch worker`` on any
machine. A worker needs only the storage URL and the study name: the validated spec
is stored in the study.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch.data import Folds, Split, k_folds, split
from hpsearch.errors import ConfigError, HpsearchError
from hpsearch.spec.strategies import sampler_problem
from hpsearch.spec.study_spec import StudySpec
from hpsearch.storage.resilient import RETRY_SECONDS, is_connection_error
from hpsearch.storage.running import heartbeat_interval, record_heartbeat
from hpsearch.storage.stale import fail_stale_trials
from hpsearch.study.lifecycle import BUDGET_SINCE
from hpsearch.study.queue import claim_records_heartbeat, claim_trial, requeue
from hpsearch.tuning.objective import Objective, TrialOutcome
from hpsearch.tuning.record import TrialRecord, record_attrs
from hpsearch.workers.signals import StopRequest, WorkerStopped, sigterm_raises

log = logging.getLogger("hpsearch.worker")


@dataclass
class WorkerReport:
    trials: int = 0
    stopped_by_signal: bool = False
    #: "SIGTERM" or "SIGINT" when a signal stopped the worker (the CLI's exit code follows it).
    signal_name: str | None = None


def load_split(spec: StudySpec) -> tuple[Split | Folds, dict[str, Any]]:
    """The data split (or, with ``[data] folds``, the folds) every trial of ``spec``
    trains on: the same seed everywhere."""
    dataset = spec.data.load()
    seed = spec.study.seed or 0
    data: Split | Folds
    if spec.data.folds is not None:
        data = k_folds(dataset, folds=spec.data.folds, subset=spec.data.subset, seed=seed)
    else:
        data = split(dataset, validation=spec.data.validation, subset=spec.data.subset, seed=seed)
    return data, dict(dataset.provenance)


def run_worker(
    study: optuna.Study,
    spec: StudySpec,
    *,
    max_trials: int | None = None,
    deadline: float | None = None,
) -> WorkerReport:
    """Run trials of ``study`` (loaded with ``load_study_and_spec``) until the queue is empty, ``max_trials`` ran, or the
    ``deadline`` (``time.time()`` seconds) passed. SIGINT/SIGTERM end the current
    trial as failed and put it back in the queue."""
    problem = sampler_problem(spec.study.sampler)
    if problem:
        raise ConfigError(f"study {study.study_name!r}: sampler: {problem}")
    data, provenance = load_split(spec)
    objective = Objective(spec, data, study_name=study.study_name, provenance=provenance)
    report = WorkerReport()
    stale_check = _Every(heartbeat_interval(study))
    with sigterm_raises() as stop:
        while max_trials is None or report.trials < max_trials:
            if stop.requested:
                report.stopped_by_signal = True
                report.signal_name = stop.signal_name
                break
            if deadline is not None and time.time() >= deadline:
                break
            if stale_check.due():
                fail_stale_trials(study)
            want = spec.study.cohort
            if max_trials is not None:
                want = min(want, max_trials - report.trials)
            claimed, beaten = _claim(study, spec, want)
            if not claimed:
                if not _others_running(study):
                    break
                # Another worker's trial may be orphaned (its worker was killed): stay
                # until it finishes or its heartbeat goes stale and it is re-queued.
                time.sleep(_poll_seconds(study))
                continue
            if len(claimed) == 1:
                if not _run_one(study, objective, claimed[0], beaten, stop, report):
                    break
            elif not _run_cohort(study, objective, claimed, beaten, stop, report):
                break
    return report


def _claim(study: optuna.Study, spec: StudySpec, count: int) -> tuple[list[optuna.Trial], bool]:
    """Up to ``count`` trials, RUNNING: claimed from the queue (the budget: never more
    than it holds), else, for a timeout-only study, asked for; and whether the claims
    recorded their first heartbeats (asked trials have none: see ``_heartbeat``)."""
    claimed: list[optuna.Trial] = []
    while len(claimed) < count:
        trial = claim_trial(study)
        if trial is None:
            break
        claimed.append(trial)
    beaten = bool(claimed) and claim_records_heartbeat(study)
    if not claimed and spec.budget is None:
        # A timeout-only study: no queue to exhaust. The sampler sees the trials asked
        # before (RUNNING; TPE's constant liar for cohorts).
        claimed = [study.ask() for _ in range(count)]
        beaten = False
    return claimed, beaten


def _run_one(
    study: optuna.Study,
    objective: Objective,
    trial: optuna.Trial,
    beaten: bool,
    stop: StopRequest,
    report: WorkerReport,
) -> bool:
    """Run one trial and tell its result; False when a signal stopped the worker."""
    try:
        with _heartbeat(study, [trial], beaten=beaten), stop.raising():
            outcome = objective(trial)
        _tell(study, trial, outcome)
    except (KeyboardInterrupt, WorkerStopped) as stopped:
        _give_up(study, trial, "interrupted: the worker was stopped")
        _stopped(report, stop, stopped)
        return False
    except optuna.exceptions.UpdateFinishedTrialError:
        # Our heartbeat went stale (e.g. the database was unreachable for longer
        # than the grace period): another worker failed this trial and re-queued it.
        log.warning(
            "trial %d was failed as stale by another worker; its retry runs from the queue",
            trial.number,
        )
        return True
    except HpsearchError as error:
        _fail(study, trial, str(error))
    except Exception as error:  # a bug in one trial must not kill the worker
        if is_connection_error(error):
            # The database stayed away past the storage's retry window: not the
            # trial's fault, so it is failed with a short reason and run again.
            log.warning("trial %d: %s", trial.number, _outage_reason(error))
            _give_up(study, trial, _outage_reason(error))
            return True
        log.exception("trial %d raised", trial.number)
        _fail(study, trial, _one_line(f"{type(error).__name__}: {error}"))
    report.trials += 1
    return True


def _run_cohort(
    study: optuna.Study,
    objective: Objective,
    trials: list[optuna.Trial],
    beaten: bool,
    stop: StopRequest,
    report: WorkerReport,
) -> bool:
    """Train ``trials`` as one cohort and tell each its own result; False when a signal
    stopped the worker (then every one of them is failed and re-queued).

    A trial's result is told as soon as the cohort ends. An error in the cohort (the
    storage away past its retry window, a bug) stops all of its trials: the ones still
    running are given up (re-queued) on an outage, failed otherwise.
    """
    numbers = ", ".join(str(t.number) for t in trials)
    try:
        with _heartbeat(study, trials, beaten=beaten), stop.raising():
            outcomes = objective.cohort(trials)
        for trial, outcome in zip(trials, outcomes, strict=True):
            try:
                _tell(study, trial, outcome)
            except optuna.exceptions.UpdateFinishedTrialError:
                log.warning("trial %d was failed as stale by another worker", trial.number)
                continue
            report.trials += 1
    except (KeyboardInterrupt, WorkerStopped) as stopped:
        for trial in trials:
            _give_up(study, trial, "interrupted: the worker was stopped")
        _stopped(report, stop, stopped)
        return False
    except optuna.exceptions.UpdateFinishedTrialError:
        # One member's heartbeat went stale and another worker re-queued it: the
        # others are put back in the queue too (the cohort cannot go on without it).
        log.warning("a trial of cohort %s was failed as stale; the cohort is re-queued", numbers)
        for trial in trials:
            _give_up(study, trial, "its cohort stopped: a member was failed as stale; re-queued")
    except Exception as error:  # a bug in one cohort must not kill the worker
        if is_connection_error(error):
            log.warning("cohort %s: %s", numbers, _outage_reason(error))
            for trial in trials:
                _give_up(study, trial, _outage_reason(error))
            return True
        reason = (
            str(error)
            if isinstance(error, HpsearchError)
            else _one_line(f"{type(error).__name__}: {error}")
        )
        if not isinstance(error, HpsearchError):
            log.exception("cohort %s raised", numbers)
        report.trials += sum(_fail(study, trial, reason) for trial in trials)
    return True


def _tell(study: optuna.Study, trial: optuna.Trial, outcome: TrialOutcome) -> None:
    if outcome.state == TrialState.COMPLETE:
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=outcome.state)
    log.info(
        "trial %d %s%s",
        trial.number,
        outcome.state.name.lower(),
        "" if outcome.value is None else f" with value {outcome.value:.4g}",
    )


def _stopped(report: WorkerReport, stop: StopRequest, stopped: BaseException) -> None:
    report.stopped_by_signal = True
    interrupt = isinstance(stopped, KeyboardInterrupt)
    report.signal_name = "SIGINT" if interrupt else stop.signal_name


def _others_running(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def _poll_seconds(study: optuna.Study) -> float:
    return min(5.0, heartbeat_interval(study) or 5.0)


class _Every:
    """Due at the first call, then once ``seconds`` have passed since the last due one.

    Looking for stale trials is a query per call, and heartbeats only go stale after a
    grace period of several heartbeat intervals: one look per interval finds a killed
    worker's trial as soon as looking before every trial would, give or take a
    fraction of the grace period. Without heartbeats (None) it is always due;
    ``fail_stale_trials`` then returns at once.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds or 0.0
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.seconds
        return True


def _fail(study: optuna.Study, trial: optuna.Trial, reason: str) -> bool:
    """Fail the trial with ``reason``; False when it was already finished (another
    worker failed it as stale, and re-queued it)."""
    try:
        for key, value in record_attrs(TrialRecord(fail_reason=reason)).items():
            trial.set_user_attr(key, value)
        study.tell(trial, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


def _one_line(text: str, limit: int = 300) -> str:
    """The first line of an error message, cut at ``limit`` characters (a fail_reason
    is shown in tables; SQL errors run to several lines of statement and parameters)."""
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= limit else first[: limit - 3] + "..."


def _outage_reason(error: BaseException) -> str:
    cause = error.__cause__ or error
    what = _one_line(f"{type(cause).__name__}: {cause}", limit=160)
    return f"database unreachable for over {RETRY_SECONDS:g} s ({what}); re-queued"


def _give_up(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    with contextlib.suppress(Exception):
        if _fail(study, trial, reason):  # else its retry is queued already
            requeue(study, trial)


@contextlib.contextmanager
def _heartbeat(study: optuna.Study, trials: list[optuna.Trial], *, beaten: bool) -> Iterator[None]:
    """Record the heartbeats of ``trials`` (a cohort's, or one) in a thread while they
    run (RDB storages with heartbeats); ``beaten``: their claims recorded the first
    ones, so the thread starts an interval later."""
    interval = heartbeat_interval(study)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        if beaten:
            stop.wait(interval)
        while not stop.is_set():
            for trial in trials:
                try:
                    record_heartbeat(study, trial)
                except Exception as error:  # the database may be restarting: keep trying
                    log.warning("heartbeat of trial %d failed: %s", trial.number, error)
            stop.wait(interval)

    name = f"heartbeat-{trials[0].number}" + (f"-{trials[-1].number}" if len(trials) > 1 else "")
    thread = threading.Thread(target=beat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def study_deadline(study: optuna.Study, spec: StudySpec) -> float | None:
    """When a ``timeout`` budget ends, study-wide (``time.time()`` seconds), or None.

    The clock starts with the first trial of the study (or, after ``create`` resumed
    it, the first trial since), so workers started at different times share one end.
    """
    timeout = spec.study.timeout
    if not timeout:
        return None
    since = float(study.user_attrs.get(BUDGET_SINCE, 0.0))
    starts = [
        t.datetime_start.timestamp()
        for t in study.get_trials(deepcopy=False)
        if t.datetime_start is not None and t.datetime_start.timestamp() >= since
    ]
    return (min(starts) if starts else time.time()) + timeout
