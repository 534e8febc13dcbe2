"""Time to a good model: hpsearch vs Optuna + scikit-learn's MLPClassifier, same data.

Run::

    python benchmarks/time_to_accuracy.py                   # 15 min per tool, 30 in all
    python benchmarks/time_to_accuracy.py --minutes 1       # a smoke run
    python benchmarks/time_to_accuracy.py --tools hpsearch  # one of them

Each tool runs the way its user would run it on this machine, one after the other
(never both at once), with the same wall budget (``--minutes``) and ``--jobs``
workers (default: the cores):

* hpsearch: ``hpsearch run studies/fashion-mnist.toml --jobs N --timeout SECONDS`` on
  a fresh SQLite file: TPE + Hyperband over the study's space, momentum SGD.
* Optuna + scikit-learn: the objective an Optuna user writes. MLPClassifier (adam,
  batch 32, ``max_iter=100``, ``early_stopping=True``: its own 10% hold-out of the
  training rows, default ``n_iter_no_change``) over a like space: 2 relu hidden layers
  of 384-512 units (log), ``alpha`` 1e-6..1e-1 (log), ``learning_rate_init``
  1e-4..1e-1 (log). Optuna's default TPESampler (seeded), no pruner (``fit`` reports
  no epochs). Parallel as Optuna documents it for several cores: N worker processes
  sharing one JournalStorage file, each with 1 BLAS thread, its own sampler seed
  (``--seed`` + worker) and ``study.optimize(objective, timeout=SECONDS)``.
  ``--optuna-parallel threads`` runs one process with ``n_jobs=N`` threads instead.

Both tools train on exactly the same 20,000 rows and are scored (accuracy) on exactly
the same 5,000 validation rows: the study's split (seed 7), taken from hpsearch's own
``load_split``, pixels scaled to [0, 1] alike; the test set is not used.

The clock of a tool starts just before its processes start (so imports, data loading
and start-up count) and the tool is stopped when its budget is spent: hpsearch with
SIGTERM (its clean stop), the Optuna workers terminated. Both stop starting trials at
their timeout; a trial still training at the end counts for neither. A tool's best
model so far is its best COMPLETE trial (pruned and failed trials leave no model),
each counted at its ``datetime_complete``.

Printed per tool: trials finished, the best validation accuracy at the end, and the
seconds until the best so far first reached each ``--thresholds`` value; then one
line per threshold with the ratio Optuna + scikit-learn / hpsearch.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "studies" / "fashion-mnist.toml"
TOOLS = ("hpsearch", "optuna-sklearn")
DEFAULT_THRESHOLDS = (0.85, 0.87, 0.88)
#: The Optuna + scikit-learn study's name in its journal file.
OPTUNA_STUDY = "optuna-sklearn"
#: Seconds a stopped tool gets to exit before it is killed.
STOP_GRACE = 60.0


def best_so_far(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The best-so-far curve of (seconds, value) points given in any order: the points,
    in time order, at which the best value so far rose (non-finite values skipped)."""
    curve: list[tuple[float, float]] = []
    for seconds, value in sorted(points):
        if math.isfinite(value) and (not curve or value > curve[-1][1]):
            curve.append((seconds, value))
    return curve


def time_to_reach(
    curve: Sequence[tuple[float, float]], thresholds: Sequence[float]
) -> dict[float, float | None]:
    """For each threshold, the first seconds of ``curve`` (a ``best_so_far`` curve) at
    which the value is >= it; None where it never is."""
    return {
        threshold: next((seconds for seconds, value in curve if value >= threshold), None)
        for threshold in thresholds
    }


@dataclass(frozen=True)
class Finished:
    """A finished trial: its state, when it finished (seconds from the tool's start),
    its value (complete trials only) and params."""

    number: int
    state: str
    seconds: float
    value: float | None
    params: dict[str, Any]


@dataclass
class ToolRun:
    """What one tool did within its budget."""

    tool: str
    how: str  # the command or setup, for the report
    budget: float
    trials: list[Finished] = field(default_factory=list)

    def within(self) -> list[Finished]:
        return [t for t in self.trials if t.seconds <= self.budget]

    def curve(self) -> list[tuple[float, float]]:
        return best_so_far(
            (t.seconds, t.value)
            for t in self.within()
            if t.state == "COMPLETE" and t.value is not None
        )


def finished_trials(study: optuna.Study, started: float) -> list[Finished]:
    """The study's finished trials, timed from ``started`` (``time.time()``). RDB
    storages write naive local datetimes, the journal aware UTC ones: ``timestamp()``
    reads both right."""
    out = []
    for t in study.get_trials(deepcopy=False):
        if not t.state.is_finished() or t.datetime_complete is None:
            continue
        value = t.value if t.state.name == "COMPLETE" else None
        out.append(
            Finished(
                t.number, t.state.name, t.datetime_complete.timestamp() - started, value, t.params
            )
        )
    return out


class ToolError(Exception):
    """A tool stopped on an error before its budget was spent."""


def stop_at(processes: Sequence[Any], deadline: float, stop: Any) -> list[int | None]:
    """Wait until every process ended or ``deadline`` (``time.time()``) passed, then
    ``stop`` each one still running; their exit codes before the deadline (None: stopped)."""
    codes: list[int | None] = []
    for process in processes:
        code = wait(process, max(0.0, deadline - time.time()))
        if code is None:
            stop(process)
        codes.append(code)
    return codes


def wait(process: Any, seconds: float) -> int | None:
    """Exit code of a ``subprocess.Popen`` or ``multiprocessing.Process`` within
    ``seconds``, else None."""
    if isinstance(process, subprocess.Popen):
        try:
            return process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None
    process.join(timeout=seconds)
    return None if process.is_alive() else process.exitcode


def run_hpsearch(budget: float, jobs: int) -> ToolRun:
    """``hpsearch run`` of the study, stopped (SIGTERM) when ``budget`` seconds are spent."""
    import optuna

    from hpsearch.spec.study_spec import load_spec

    spec = load_spec(SPEC)
    shown = f"hpsearch run {SPEC.relative_to(ROOT)} --jobs {jobs} --timeout {budget:g}"
    run = ToolRun(
        "hpsearch",
        f"`{shown}` ({spec.study.sampler} + {spec.study.pruner}, {spec.training.epochs} "
        "epochs at most)",
        budget,
    )
    with tempfile.TemporaryDirectory(prefix="hpsearch-tta-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'tta.db'}"
        command = [sys.executable, "-m", "hpsearch", "run", str(SPEC), "--jobs", str(jobs)]
        command += ["--timeout", f"{budget:g}", "--storage", url]
        # This checkout's hpsearch, wherever the temporary directory is.
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        errors = Path(tmp) / "stderr.txt"
        with errors.open("w") as stderr:
            started = time.time()
            process = subprocess.Popen(
                command,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "PYTHONPATH": path},
            )

            def terminate(p: subprocess.Popen[bytes]) -> None:
                p.send_signal(signal.SIGTERM)  # running trials fail; no new ones start
                try:
                    p.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

            (code,) = stop_at([process], started + budget, terminate)
        if code not in (None, 0):
            tail = errors.read_text().strip().splitlines()[-5:]
            raise ToolError(f"`{shown}` exited with code {code}: " + " / ".join(tail))
        study = optuna.load_study(study_name=spec.study.name, storage=url)
        run.trials = finished_trials(study, started)
    return run


def optuna_worker(journal: str, seed: int, budget: float, blas: int | None, n_jobs: int) -> None:
    """One Optuna user's worker: the MLPClassifier objective on the study's split,
    ``study.optimize(timeout=budget)``; ``blas`` threads (None: the BLAS default)."""
    import warnings
    from contextlib import nullcontext

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    from hpsearch.spec.study_spec import load_spec
    from hpsearch.workers.loop import load_split

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", ConvergenceWarning)
    data, _ = load_split(load_spec(SPEC))
    assert not isinstance(data, Sequence)  # the study has no [data] folds

    def objective(trial: optuna.Trial) -> float:
        layers = 2  # 2 relu layers of 384-512 units, as studies/fashion-mnist.toml fixes
        width = trial.suggest_int("hidden_width", 384, 512, log=True)
        model = MLPClassifier(
            hidden_layer_sizes=(width,) * layers,
            activation="relu",
            alpha=trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            learning_rate_init=trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
            batch_size=32,
            max_iter=100,
            early_stopping=True,
            random_state=seed,
        )
        model.fit(data.X_train, data.y_train)
        return float(model.score(data.X_validation, data.y_validation))

    storage = JournalStorage(JournalFileBackend(journal))
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.load_study(study_name=OPTUNA_STUDY, storage=storage, sampler=sampler)
    with threadpool_limits(blas) if blas is not None else nullcontext():
        study.optimize(objective, timeout=budget, n_jobs=n_jobs)


def run_optuna_sklearn(budget: float, jobs: int, seed: int, parallel: str) -> ToolRun:
    """Optuna + MLPClassifier: ``jobs`` processes (1 BLAS thread each) on one journal
    file, or one process with ``n_jobs=jobs`` threads; stopped when ``budget`` is spent."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    workers: list[tuple[int, int | None, int]]  # (sampler seed, BLAS threads, n_jobs)
    if parallel == "processes":
        how = f"{jobs} processes x 1 BLAS thread, one JournalFileBackend file"
        workers = [(seed + i, 1, 1) for i in range(jobs)]
    else:
        how = f"1 process, study.optimize(n_jobs={jobs}) threads, BLAS threads by default"
        workers = [(seed, None, jobs)]
    run = ToolRun(
        "optuna-sklearn",
        f"Optuna {optuna.__version__} TPESampler (seed {seed}), no pruner; MLPClassifier "
        f"(adam, batch 32, max_iter 100, early_stopping); {how}",
        budget,
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="optuna-tta-") as tmp:
        journal = str(Path(tmp) / "tta.log")
        optuna.create_study(
            study_name=OPTUNA_STUDY,
            storage=JournalStorage(JournalFileBackend(journal)),
            direction="maximize",
        )
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=optuna_worker, args=(journal, s, budget, blas, n_jobs))
            for s, blas, n_jobs in workers
        ]
        started = time.time()
        for process in processes:
            process.start()

        def terminate(p: Any) -> None:
            p.terminate()
            p.join()

        codes = stop_at(processes, started + budget, terminate)
        if any(code not in (None, 0) for code in codes):
            raise ToolError(f"an Optuna worker exited with code {codes} (its error is above)")
        study = optuna.load_study(
            study_name=OPTUNA_STUDY, storage=JournalStorage(JournalFileBackend(journal))
        )
        run.trials = finished_trials(study, started)
    return run


def seconds_text(seconds: float | None, budget: float) -> str:
    return f"not within {budget:.0f} s" if seconds is None else f"{seconds:.0f} s"


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items()
    )


def report(run: ToolRun, thresholds: Sequence[float], load: float) -> dict[float, float | None]:
    """Print one tool's lines; its time to each threshold."""
    within = run.within()
    states = Counter(t.state.lower() for t in within)
    late = len(run.trials) - len(within)
    print(f"{run.tool}: {run.how}; load average {load:.2f} at its start")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    line = f"  within {run.budget:.0f} s: {len(within)} trials finished"
    line += f" ({counts})" if counts else ""
    if late:
        line += f", {late} more ended by the stop"
    complete = [t for t in within if t.state == "COMPLETE" and t.value is not None]
    if complete:
        best = max(complete, key=lambda t: (t.value, -t.seconds))
        line += (
            f"; best validation accuracy {best.value:.4f} "
            f"(trial {best.number}, finished at {best.seconds:.0f} s)"
        )
        print(line)
        print(f"  its params: {params_text(best.params)}")
    else:
        print(line + "; no complete trial, no model")
    reached = time_to_reach(run.curve(), thresholds)
    print(
        "  time to validation accuracy "
        + ", ".join(f">= {t:g}: {seconds_text(s, run.budget)}" for t, s in reached.items()),
        flush=True,
    )
    return reached


def ratio_text(ours: float | None, theirs: float | None, budget: float) -> str:
    """Optuna + scikit-learn's time / hpsearch's, or who alone reached it."""
    if ours is not None and theirs is not None:
        return f"{theirs / ours:.1f}x" if ours > 0 else "n/a"
    if ours is not None:
        return "hpsearch only"
    if theirs is not None:
        return "Optuna + scikit-learn only"
    return f"neither within {budget:.0f} s"


def parse_thresholds(text: str) -> tuple[float, ...]:
    """``0.85,0.87`` -> (0.85, 0.87); each in (0, 1]."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 0.85,0.87") from None
    if not all(0.0 < v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: each threshold must be in (0, 1]")
    return tuple(sorted(values))


def parse_tools(text: str) -> tuple[str, ...]:
    tools = tuple(part.strip() for part in text.split(","))
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or not tools:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(TOOLS)}")
    return tuple(t for t in TOOLS if t in tools)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--thresholds",
        type=parse_thresholds,
        default=DEFAULT_THRESHOLDS,
        help="validation accuracies, comma-separated (default: 0.85,0.87,0.88)",
    )
    parser.add_argument("--minutes", type=float, default=15.0, help="wall budget per tool")
    parser.add_argument(
        "--tools", type=parse_tools, default=TOOLS, help=f"comma-separated: {','.join(TOOLS)}"
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="Optuna + scikit-learn's sampler and MLP seed"
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="workers per tool (default: cores)"
    )
    parser.add_argument(
        "--optuna-parallel",
        choices=("processes", "threads"),
        default="processes",
        help="Optuna workers: processes on one journal file, or optimize(n_jobs) threads",
    )
    args = parser.parse_args(argv)
    if not args.minutes > 0 or args.jobs < 1:
        parser.error("--minutes must be > 0 and --jobs >= 1")
    budget = args.minutes * 60

    from hpsearch.errors import HpsearchError
    from hpsearch.spec.study_spec import load_spec
    from hpsearch.workers.loop import load_split

    try:
        spec = load_spec(SPEC)
        data, _ = load_split(spec)  # the data is there, and these are the rows both use
    except HpsearchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    assert not isinstance(data, Sequence)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores; {budget:.0f} s wall per tool, one "
        f"tool at a time, {args.jobs} workers each; {spec.data.dataset}: the same "
        f"{len(data.y_train)} training / {len(data.y_validation)} validation rows "
        f"({SPEC.relative_to(ROOT)}, seed {spec.study.seed}); clock from process start, "
        "complete trials only",
        flush=True,
    )
    reached: dict[str, dict[float, float | None]] = {}
    try:
        for tool in args.tools:
            load = os.getloadavg()[0]
            if tool == "hpsearch":
                run = run_hpsearch(budget, args.jobs)
            else:
                run = run_optuna_sklearn(budget, args.jobs, args.seed, args.optuna_parallel)
            reached[tool] = report(run, args.thresholds, load)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if len(reached) == len(TOOLS):
        for threshold in args.thresholds:
            ours = reached["hpsearch"][threshold]
            theirs = reached["optuna-sklearn"][threshold]
            print(
                f"time to validation accuracy >= {threshold:g}: hpsearch "
                f"{seconds_text(ours, budget)}, Optuna + scikit-learn "
                f"{seconds_text(theirs, budget)}: {ratio_text(ours, theirs, budget)}"
            )
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
