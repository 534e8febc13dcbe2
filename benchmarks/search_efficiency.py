"""Search efficiency: exact grid vs random, TPE, TPE + Hyperband, CMA-ES and QMC.

Run::

    python benchmarks/search_efficiency.py                  # Fashion-MNIST, 5 seeds (long)
    python benchmarks/search_efficiency.py --quick --seeds 2  # digits, a few minutes
    python benchmarks/search_efficiency.py --strategies tpe,tpe+hyperband --jobs 2

All strategies search the same space (eta, lambda, hidden_width; everything else
fixed: sigmoid, log-likelihood, SGD, one hidden layer) on the same data split (the
split follows the study seed, so every study here has the same ``[study] seed``; the
strategy seeds go to the samplers through ``worker_index``).

1. The exact grid (Fashion-MNIST: 5 x 4 x 2 = 40 points; ``--quick``: digits, 3 x 3 x 2
   = 18 points) runs once with ``run_study`` (``--jobs`` processes). It is deterministic,
   so one run: the sum of its trials' ``epochs_run`` is the compute budget B and its
   best validation accuracy is the target.
2. Every other strategy runs ``--seeds`` times (``--jobs`` runs side by side, each in
   its own process), one trial at a time (``run_worker(max_trials=1)``), until the finished trials' epochs reach B. Pruned and
   failed trials count (they cost compute). The trial that crosses B finishes, but
   only what finished within B epochs counts in the results, so every strategy gets
   the same budget.

Printed per strategy: the best validation accuracy within B (median, min-max over
seeds), cumulative epochs and trial seconds (the sum of the trials' start-to-finish
times, so data loading and process start-up are left out) until the best-so-far
reaches the grid's best (median over the seeds that got there; "never" counts the
rest), trials run and pruned (medians). A PNG shows best-so-far vs cumulative epochs (median over
seeds, min-max shaded) with the grid's curve and the target line (``--out``).

The pruner is asked after every epoch (``reporting.STORAGE_SHARE = 1.0`` here; hpsearch
otherwise batches tiny epochs, which on digits leaves Hyperband about one decision
per trial). Each study lives in its own SQLite file in a temporary directory, deleted at the end.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hpsearch.results.compare import best_so_far_curves, epochs_to_reach
from hpsearch.results.summary import trial_duration
from hpsearch.spec.strategies import sampler_problem
from hpsearch.spec.study_spec import StudySpec, parse_spec
from hpsearch.storage.urls import open_storage
from hpsearch.study.lifecycle import counted_trials, create_or_resume, load_study_and_spec
from hpsearch.tuning import reporting
from hpsearch.tuning.record import read_record
from hpsearch.tuning.samplers import make_sampler
from hpsearch.workers import loop as worker_module
from hpsearch.workers.controller import blas_threads, run_study
from hpsearch.workers.loop import run_worker

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "out" / "search_efficiency.png"
#: The study seed of every study: it fixes the data split, so it must not vary.
DATA_SEED = 7
#: strategy name -> (sampler, pruner).
STRATEGIES: dict[str, tuple[str, str]] = {
    "random": ("random", "none"),
    "tpe": ("tpe", "none"),
    "tpe+hyperband": ("tpe", "hyperband"),
    "cmaes": ("cmaes", "none"),
    "qmc": ("qmc", "none"),
}
#: Safety net on trials per strategy run, as a multiple of the grid size.
TRIALS_PER_GRID_POINT = 10


@dataclass
class Setting:
    """The data, training and space every strategy shares, and the grid inside it."""

    label: str
    data: dict[str, Any]
    training: dict[str, Any]
    space: dict[str, Any]
    grid: dict[str, list[Any]]


def fashion_setting() -> Setting:
    """Fashion-MNIST, 10k train / 5k validation, batch 32, a 40-point grid."""
    return Setting(
        label="fashion-mnist (10k train / 5k validation)",
        data={"dataset": "fashion-mnist", "subset": 10000, "validation": 5000},
        training={"epochs": 30, "patience": 5, "schedule": "none"},
        space=_space(batch_size=32),
        grid={
            "eta": [0.03, 0.1, 0.3, 1.0, 3.0],
            "lambda": [0.01, 0.1, 1.0, 10.0],
            "hidden_width": [30, 100],
        },
    )


def quick_setting() -> Setting:
    """Digits 8x8 (1,137 train / 300 validation), 20 epochs, an 18-point grid."""
    return Setting(
        label="digits (quick: 1,137 train / 300 validation)",
        data={"dataset": "digits", "validation": 300},
        training={"epochs": 20, "patience": 5, "schedule": "none"},
        space=_space(batch_size=10),
        grid={
            "eta": [0.03, 0.3, 3.0],
            "lambda": [0.01, 0.3, 10.0],
            "hidden_width": [30, 100],
        },
    )


def _space(*, batch_size: int) -> dict[str, Any]:
    # The book's ch. 3 network (sigmoid hidden layer, softmax + log-likelihood, plain
    # SGD); the categoricals fixed, so that an exact grid over the three numeric names
    # covers every varying name.
    return {
        "eta": {"type": "float", "low": 0.01, "high": 3.0, "log": True},
        "lambda": {"type": "float", "low": 0.01, "high": 10.0, "log": True},
        "hidden_width": {"type": "int", "low": 30, "high": 100, "log": True},
        "hidden_layers": 1,
        "activation": "sigmoid",
        "loss": "log_likelihood",
        "optimizer": "sgd",
        "dropout": 0.0,
        "batch_size": batch_size,
        "init": "scaled",
    }


def make_spec(
    setting: Setting, name: str, sampler: str, pruner: str, n_trials: int | None = None
) -> StudySpec:
    study: dict[str, Any] = {
        "name": name,
        "metric": "validation_accuracy",
        "sampler": sampler,
        "pruner": pruner,
        "seed": DATA_SEED,
    }
    raw: dict[str, Any] = {
        "study": study,
        "data": setting.data,
        "training": setting.training,
        "space": setting.space,
    }
    if sampler == "grid":
        raw["grid"] = setting.grid
    else:
        study["n_trials"] = n_trials
    return parse_spec(raw, source=f"benchmark study {name!r}")


@dataclass
class Run:
    """One search: its trials in completion order, cut at the budget."""

    strategy: str
    seed: int | None
    epochs: list[int] = field(default_factory=list)  # cumulative, per finished trial
    seconds: list[float] = field(default_factory=list)  # cumulative trial seconds
    best: list[float | None] = field(default_factory=list)  # best-so-far
    values: list[float | None] = field(default_factory=list)  # the trial's own value
    trials_run: int = 0  # all finished trials, the one that crossed the budget included
    pruned: int = 0  # of those, pruned

    def curves(self) -> dict[str, list[Any]]:
        return {"epochs": self.epochs, "best": self.best}

    @property
    def final_best(self) -> float | None:
        return self.best[-1] if self.best else None

    def reach(self, target: float | None) -> tuple[int | None, float | None]:
        """Cumulative epochs and trial seconds when the best-so-far first reaches target."""
        epochs = epochs_to_reach(self.curves(), target, maximize=True)
        if epochs is None:
            return None, None
        index = self.epochs.index(epochs)
        return epochs, self.seconds[index]


def collect(study: optuna.Study, strategy: str, seed: int | None, budget: int | None) -> Run:
    """The study's trials in completion order; those past ``budget`` epochs are left out."""
    curves = best_so_far_curves(study)
    by_number = {t.number: t for t in counted_trials(study)}
    pruned = sum(1 for n in curves["number"] if by_number[n].state == TrialState.PRUNED)
    run = Run(strategy, seed, trials_run=len(curves["number"]), pruned=pruned)
    elapsed = 0.0
    for epochs, best, number in zip(
        curves["epochs"], curves["best"], curves["number"], strict=True
    ):
        if budget is not None and epochs > budget:
            break
        trial = by_number[number]
        duration = trial_duration(trial)
        elapsed += duration if duration is not None else float(trial.user_attrs.get("seconds", 0))
        run.epochs.append(int(epochs))
        run.seconds.append(elapsed)
        run.best.append(best)
        run.values.append(trial.value)
    return run


def spent_epochs(study: optuna.Study) -> int:
    return sum(
        (read_record(t).epochs_run or 0) for t in counted_trials(study) if t.state.is_finished()
    )


def run_grid(setting: Setting, directory: Path, jobs: int) -> Run:
    spec = make_spec(setting, "grid", "grid", "none")
    url = f"sqlite:///{directory / 'grid.db'}"
    run_study(spec, url, jobs=jobs)
    study, _ = load_study_and_spec(url, "grid")
    return collect(study, "grid", None, None)


def run_strategy(
    setting: Setting, strategy: str, seed: int, budget: int, grid_size: int, directory: Path
) -> Run:
    sampler, pruner = STRATEGIES[strategy]
    name = f"{strategy}-seed{seed}"
    spec = make_spec(setting, name, sampler, pruner, n_trials=TRIALS_PER_GRID_POINT * grid_size)
    storage = open_storage(f"sqlite:///{directory / (name.replace('+', '_') + '.db')}")
    create_or_resume(spec, storage)
    study, spec = load_study_and_spec(storage, name, worker_index=seed)
    if sampler == "qmc":
        # QMC keeps the study seed in every worker (one shared sequence), and the study
        # seed here is the data seed: scramble with a seed of this run instead.
        derived = int(np.random.SeedSequence([DATA_SEED, seed]).generate_state(1)[0])
        study.sampler = make_sampler("qmc", seed=derived, spec=spec)
    while spent_epochs(study) < budget:
        if run_worker(study, spec, max_trials=1).trials == 0:
            break  # the trial queue ran out (TRIALS_PER_GRID_POINT x the grid)
    return collect(study, strategy, seed, budget)


def _cached_split() -> None:
    """``run_worker`` loads the data split on each call: keep it, one call per trial here."""
    original = worker_module.load_split
    cache: dict[str, Any] = {}

    def load_split(spec: StudySpec) -> Any:
        key = repr((spec.to_dict()["data"], spec.study.seed))
        if key not in cache:
            cache[key] = original(spec)
        return cache[key]

    worker_module.load_split = load_split


def _configure_process() -> None:
    """What every process of this benchmark needs before it runs trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _cached_split()
    # Ask the pruner after every epoch. The reporter batches epochs so that storage
    # stays ~2% of a trial's time; with digits' ~10 ms epochs that means about one
    # flush (and one pruning decision) per trial, and Hyperband would never prune.
    reporting.STORAGE_SHARE = 1.0


def _timed_strategy(
    setting: Setting,
    strategy: str,
    seed: int,
    budget: int,
    grid_size: int,
    directory: Path,
    threads: int,
) -> tuple[Run, float]:
    """``run_strategy`` in a pool process (``threads`` BLAS threads), with its wall seconds."""
    from threadpoolctl import threadpool_limits

    begun = time.perf_counter()
    with threadpool_limits(threads):
        run = run_strategy(setting, strategy, seed, budget, grid_size, directory)
    return run, time.perf_counter() - begun


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(grid: Run, runs: dict[str, list[Run]], target: float | None) -> str:
    header = (
        f"{'strategy':<14} {'seeds':>5} {'best val acc: median (min-max)':>31} "
        f"{'epochs to grid best':>20} {'never':>5} {'trial s to grid best':>21} {'trials':>6} "
        f"{'pruned':>6}"
    )
    lines = [header, "-" * len(header)]
    for strategy, group in [("grid", [grid]), *runs.items()]:
        bests = [r.final_best for r in group if r.final_best is not None]
        reached = [r.reach(target) for r in group]
        epochs = [float(e) for e, _ in reached if e is not None]
        seconds = [s for _, s in reached if s is not None]
        never = sum(1 for e, _ in reached if e is None)
        accuracy = (
            f"{statistics.median(bests):.4f} ({min(bests):.4f}-{max(bests):.4f})" if bests else "-"
        )
        lines.append(
            f"{strategy:<14} {len(group):>5} {accuracy:>31} {_fmt(_median(epochs), '.0f'):>20} "
            f"{never:>5} {_fmt(_median(seconds), '.1f'):>21} "
            f"{_fmt(_median([float(r.trials_run) for r in group]), '.0f'):>6} "
            f"{_fmt(_median([float(r.pruned) for r in group]), '.0f'):>6}"
        )
    return "\n".join(lines)


def step_values(run: Run, grid_x: np.ndarray) -> np.ndarray:
    """Best-so-far at each cumulative-epoch point (NaN before the first complete trial)."""
    out = np.full(grid_x.shape, np.nan)
    for epochs, best in zip(run.epochs, run.best, strict=True):
        if best is not None:
            out[grid_x >= epochs] = best
    return out


def plot(
    grid: Run, runs: dict[str, list[Run]], budget: int, target: float | None, title: str, path: Path
) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    x = np.arange(0, budget + 1)
    axes.plot(x, step_values(grid, x), color="black", label="grid (1 run)")
    for strategy, group in runs.items():
        curves = np.vstack([step_values(r, x) for r in group])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            median = np.nanmedian(curves, axis=0)
            low, high = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
        (line,) = axes.plot(x, median, label=f"{strategy} (median of {len(group)})")
        axes.fill_between(x, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    if target is not None:
        axes.axhline(target, color="grey", linestyle="--", label=f"grid best {target:.4f}")
        finite = [
            v
            for r in [grid, *(r for g in runs.values() for r in g)]
            for v in r.best
            if v is not None
        ]
        axes.set_ylim(max(min(finite) - 0.01, target - 0.15), min(1.0, target + 0.03))
    axes.set(
        xlabel="cumulative epochs",
        ylabel="best validation accuracy so far",
        title=title,
        xlim=(0, budget),
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="digits, 20 epochs, 18-point grid")
    parser.add_argument("--seeds", type=int, default=5, help="runs per strategy (default 5)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes: the grid's workers, then strategy runs side by side (default 1)",
    )
    parser.add_argument(
        "--strategies",
        default=",".join(STRATEGIES),
        help=f"comma list of {', '.join(STRATEGIES)} (default: all)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in args.strategies if s not in STRATEGIES]
    if unknown:
        parser.error(f"unknown strategies {', '.join(unknown)}; valid: {', '.join(STRATEGIES)}")
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    setting = quick_setting() if args.quick else fashion_setting()
    strategies = []
    for strategy in args.strategies:
        problem = sampler_problem(STRATEGIES[strategy][0])
        if problem:
            print(f"skipping {strategy}: {problem}")
        else:
            strategies.append(strategy)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    print(f"# {command}")
    print(
        f"# {datetime.now(UTC).isoformat(timespec='seconds')}; {platform.node()}: "
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"optuna {optuna.__version__}, numpy {np.__version__}"
    )
    print(
        f"# data: {setting.label}; grid: {' x '.join(f'{k} {v}' for k, v in setting.grid.items())}"
    )
    _configure_process()
    print("# pruner consulted every epoch (hpsearch.tuning.reporting.STORAGE_SHARE = 1.0)")
    print(f"# {args.jobs} process(es), {blas_threads(args.jobs)} BLAS thread(s) each")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hpsearch-efficiency-") as tmp:
        directory = Path(tmp)
        grid = run_grid(setting, directory, args.jobs)
        budget = grid.epochs[-1] if grid.epochs else 0
        target = grid.final_best
        grid_size = len(grid.epochs)
        print(
            f"# grid: {grid_size} trials, budget B = {budget} epochs, best {_fmt(target, '.4f')} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        tasks = [
            (setting, strategy, seed, budget, grid_size, directory, blas_threads(args.jobs))
            for strategy in strategies
            for seed in range(args.seeds)
        ]
        finished: dict[tuple[str, int], Run] = {}
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            args.jobs, mp_context=context, initializer=_configure_process
        ) as pool:
            futures = {pool.submit(_timed_strategy, *task): task for task in tasks}
            for future in as_completed(futures):
                run, seconds = future.result()
                finished[(run.strategy, run.seed or 0)] = run
                print(
                    f"#   {run.strategy} seed {run.seed}: {run.trials_run} trials, best "
                    f"{_fmt(run.final_best, '.4f')} ({seconds:.0f} s)",
                    flush=True,
                )
        runs: dict[str, list[Run]] = {}
        for _, strategy, seed, *_rest in tasks:
            runs.setdefault(strategy, []).append(finished[(strategy, seed)])
    print()
    print(f"budget: {budget} epochs (the grid's); target: the grid's best, {_fmt(target, '.4f')}")
    print(table(grid, runs, target))
    title = f"{setting.label}: best so far, budget {budget} epochs"
    path = plot(grid, runs, budget, target, title, args.out)
    print(f"\nplot: {path}   (total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
