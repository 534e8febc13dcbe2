"""``hpsearch run``: create or resume a study, run N local worker processes, watch them."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch.errors import HpsearchError
from hpsearch.spec.study_spec import StudySpec
from hpsearch.study.lifecycle import counted_trials, create_or_resume

#: Seconds between two looks at the storage while workers run.
POLL_INTERVAL = 0.5
#: Exit code of a worker process that stopped on an hpsearch error, after printing it.
WORKER_ERROR = 2


@dataclass
class Progress:
    """A snapshot of a study's trials, for progress displays."""

    done: int
    total: int | None
    running: int
    by_state: dict[str, int]
    best_value: float | None


def snapshot(study: optuna.Study, total: int | None) -> Progress:
    trials = counted_trials(study)
    by_state: dict[str, int] = {}
    for t in trials:
        by_state[t.state.name] = by_state.get(t.state.name, 0) + 1
    finished = [t for t in trials if t.state.is_finished()]
    complete = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best = (max(complete) if maximize else min(complete)) if complete else None
    return Progress(len(finished), total, by_state.get("RUNNING", 0), by_state, best)


def blas_threads(jobs: int) -> int:
    """BLAS threads per worker so that jobs x threads <= cores (oversubscription is slower)."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _worker_process(
    storage_url: str,
    study_name: str,
    index: int,
    threads: int,
    deadline: float | None,
    verbosity: int = optuna.logging.WARNING,
    log_level: int = logging.WARNING,
    created: bool = True,
) -> None:
    from threadpoolctl import threadpool_limits

    from hpsearch.study.lifecycle import load_study_and_spec
    from hpsearch.workers.loop import run_worker

    # The parent's log levels: `hpsearch -v run` logs a line per trial from every worker.
    optuna.logging.set_verbosity(verbosity)
    if log_level < logging.WARNING:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("hpsearch").setLevel(log_level)
    # Ctrl-C reaches the whole process group: the parent alone reacts, by sending SIGTERM.
    # (SIGINT is ignored here from the start: inherited from ``run_study``.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with threadpool_limits(threads):
            # A run that did not create the study (a second, concurrent `run` of a fresh
            # one) seeds its samplers at random: it must not repeat the first run's points.
            seeded = index if created else None
            study, spec = load_study_and_spec(storage_url, study_name, worker_index=seeded)
            run_worker(study, spec, deadline=deadline)
    except HpsearchError as error:  # one line, as the CLI prints it; the parent reports it
        print(f"error: worker {index}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(WORKER_ERROR) from None


def run_study(
    spec: StudySpec,
    storage_url: str,
    *,
    jobs: int = 1,
    on_start: Callable[[bool, Progress], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Create or resume ``spec``'s study and run ``jobs`` worker processes until the
    budget is spent. Ctrl-C (SIGINT) or SIGTERM stops the workers cleanly: their
    running trials end as failed and go back in the queue, so a later run resumes.

    ``on_start(created, progress)`` is called once the study is open (so a display
    starts only when the storage works), ``on_progress`` while the workers run.

    The data is loaded once here first (and dropped): a missing or unusable dataset is
    one error before anything is stored, not one traceback per worker. A worker that
    stops on an error anyway makes this raise ``HpsearchError`` once the others end.
    """
    # Imported here: every CLI command imports this module, and these imports cost 0.2 s.
    from hpsearch.workers.datacheck import check_against_data

    check_against_data(spec)  # the data and the space, as validate checks them
    study, created = create_or_resume(spec, storage_url)
    if on_start is not None:
        on_start(created, snapshot(study, spec.budget))
    deadline = time.time() + spec.study.timeout if spec.study.timeout else None
    context = multiprocessing.get_context("spawn")
    threads = blas_threads(jobs)
    processes = [
        context.Process(
            target=_worker_process,
            args=(
                storage_url,
                spec.study.name,
                index,
                threads,
                deadline,
                optuna.logging.get_verbosity(),
                logging.getLogger("hpsearch").getEffectiveLevel(),
                created,
            ),
            name=f"hpsearch-worker-{index}",
            daemon=False,
        )
        for index in range(jobs)
    ]
    stop = _Interrupted()
    previous = {
        signum: signal.signal(signum, stop.handler) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        # Started while SIGINT is ignored, the workers inherit that through exec, so a
        # Ctrl-C never interrupts their start-up (imports, data loading) with a traceback.
        # Blocked meanwhile, a Ctrl-C to the parent stays pending instead of being lost.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for process in processes:
                process.start()
        finally:
            signal.signal(signal.SIGINT, stop.handler)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        while any(p.is_alive() for p in processes) and not stop.requested:
            if on_progress is not None:
                on_progress(snapshot(study, spec.budget))
            for p in processes:
                p.join(timeout=POLL_INTERVAL / len(processes))
        if stop.requested:
            _stop(processes)
            raise KeyboardInterrupt
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    failed = [p.name for p in processes if p.exitcode == WORKER_ERROR]
    if failed:
        raise HpsearchError(
            f"{' and '.join(failed)} stopped on the error above; fix it, then "
            f"`hpsearch run` again resumes study {spec.study.name!r}"
        )
    final = snapshot(study, spec.budget)
    if on_progress is not None:
        on_progress(final)
    return final


class _Interrupted:
    """SIGINT/SIGTERM in the parent: noted, then acted on by the watch loop (never raised
    in the middle of a storage read or a process start)."""

    requested = False

    def handler(self, signum: int, frame: Any) -> None:
        self.requested = True


def _stop(processes: list[Any]) -> None:
    """Ask every worker to stop (SIGTERM: fail + requeue the running trial), then wait."""
    for p in processes:
        if p.is_alive():
            os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for p in processes:
        p.join(timeout=max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
