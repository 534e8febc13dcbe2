"""Search efficiency the way the field measures it: incumbent *test* accuracy vs compute.

Run::

    python benchmarks/search_efficiency.py --quick             # digits, 10 seeds
    python benchmarks/search_efficiency.py                     # Fashion-MNIST 10k/5k
    python benchmarks/search_efficiency.py --strategies auto,tpe+median --seeds 2 --jobs 2

The Fashion-MNIST defaults fit the protocol into about 2 hours of a 2-core machine:
half the grid (``--grid-subset 2``), runs cut at 0.1 B, 5 seeds of the strategies the
bars compare and of the cheap baselines, 2 of TPE, TPE + Hyperband and QMC
(``FASHION_STRATEGIES``). ``--quick`` runs every strategy 10 times, cut at 0.1 B: under
10 minutes on 2 cores.

Protocol (issue 18):

* *Space:* the mission's, eight dimensions: eta, lambda, hidden_layers (1-3),
  hidden_width, activation, loss (all three), dropout and batch_size (momentum SGD).
* *Grid:* the grid a careful person writes for that space (2-3 values per dimension,
  576 points), run to completion once (it is deterministic); its summed epochs are
  the budget B.
* *Held-out test:* every finished trial's network (best epoch's weights, as ``train``
  restores them) is also scored on the dataset's test set. That score lives in this
  benchmark's results only; the sampler and pruner see the validation accuracy alone
  (an in-memory Optuna study per run, which never holds the test score).
* *Curves:* the test accuracy of a run's incumbent (the completed trial with the best
  validation accuracy so far) against cumulative epochs and CPU seconds (pruned and
  failed trials count: they cost compute).
* *Target:* within 0.5 points of the grid's final incumbent's test accuracy; time to
  target = cumulative epochs / CPU seconds when the incumbent first tests there.
* *Overtuning:* a run is overtuned when a later incumbent tests more than 0.5 points
  worse than an earlier one.

Each trial is what a worker runs: ``suggest_params`` from the spec's space,
``build_network``/``training_options`` from the objective, ``hpsearch.nn.train`` with
the validation accuracy reported to the pruner after every epoch, and the sampler and
pruner from ``make_sampler``/``make_pruner`` for the strategy's ``StudySpec``
("auto" included, so the default measured is the default shipped). Seconds are CPU
seconds (``time.process_time``, 1 BLAS thread) of ask + train + tell, and of the test
scoring too (one forward pass, about 1% of a trial's training).

``--budget-fraction`` cuts every strategy's runs at that share of B (the grid always
runs in full): strategies that reach the target do so long before B.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shlex
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from hpsearch.data import split
from hpsearch.nn import History, Network, StopReason, train
from hpsearch.nn.cohort import CohortMember, train_cohort
from hpsearch.nn.training import Callback
from hpsearch.spec.strategies import describe_auto
from hpsearch.spec.study_spec import StudySpec, parse_spec
from hpsearch.tuning.objective import build_network, data_seed, training_options, trial_seed
from hpsearch.tuning.samplers import make_pruner, make_sampler
from hpsearch.tuning.space import grid_points, params_from_trial_params, suggest_params

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "out" / "search_efficiency.png"
#: The study seed of every study: it fixes the data split and each trial's init.
DATA_SEED = 7
#: Target: within this much of the grid's final incumbent's test accuracy.
TOLERANCE = 0.005
#: strategy -> (sampler, pruner); ``None`` pruner: left out of the spec (its default).
STRATEGIES: dict[str, tuple[str, str | None]] = {
    "auto": ("auto", None),
    "random": ("random", "none"),
    "tpe": ("tpe", "none"),
    "tpe+median": ("tpe", "median"),
    "tpe+hyperband": ("tpe", "hyperband"),
    "tpe+asha": ("tpe", "successive_halving"),
    "top-k": ("random", "none"),  # one epoch each, keep the top k (below)
    "qmc": ("qmc", "none"),
    "auto+cohort1": ("auto", None),  # auto's openers and pruner, trials one by one
}
#: Strategies run with another ``[study] cohort`` than their sampler's default.
COHORTS = {"auto+cohort1": 1}
#: The Fashion-MNIST default of --strategies: 2 seeds of the strategies that never
#: reached the target within 0.1 B in earlier runs, 5 of the others.
FASHION_STRATEGIES = (
    "auto,tpe+median,auto+cohort1,tpe+asha,top-k,random,tpe:2,tpe+hyperband:2,qmc:2"
)
#: "top-k": each round trains ROUND_SIZE random configurations one epoch, then the
#: best TOP_K of them (by validation accuracy after that epoch) to the end.
ROUND_SIZE = 27
TOP_K = 3


@dataclass
class Setting:
    """The data, training and space every strategy shares, and the grid inside it."""

    label: str
    data: dict[str, Any]
    training: dict[str, Any]
    space: dict[str, Any]
    grid: dict[str, list[Any]]


def _space(width: tuple[int, int], batch: tuple[int, int]) -> dict[str, Any]:
    return {
        "eta": {"type": "float", "low": 0.003, "high": 0.3, "log": True},
        "lambda": {"type": "float", "low": 0.01, "high": 10.0, "log": True},
        "hidden_layers": {"type": "int", "low": 1, "high": 3},
        "hidden_width": {"type": "int", "low": width[0], "high": width[1], "log": True},
        "activation": {"choices": ["sigmoid", "tanh", "relu", "leaky_relu"]},
        "loss": {"choices": ["quadratic", "cross_entropy", "log_likelihood"]},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "batch_size": {"type": "int", "low": batch[0], "high": batch[1], "log": True},
        "optimizer": "momentum",
        "momentum": 0.9,
        "init": "scaled",
    }


def _grid(width: list[int], batch: list[int]) -> dict[str, list[Any]]:
    # 3 x 2 x 2 x 2 x 2 x 3 x 2 x 2 = 576 points.
    return {
        "eta": [0.01, 0.03, 0.1],
        "lambda": [0.1, 1.0],
        "hidden_layers": [1, 2],
        "hidden_width": width,
        "activation": ["tanh", "relu"],
        "loss": ["quadratic", "cross_entropy", "log_likelihood"],
        "dropout": [0.0, 0.3],
        "batch_size": batch,
    }


def fashion_setting() -> Setting:
    """Fashion-MNIST: 10k train / 5k validation (test: the 10k test images), 30 epochs."""
    return Setting(
        label="Fashion-MNIST (10k train / 5k validation / 10k test)",
        data={"dataset": "fashion-mnist", "subset": 10000, "validation": 5000},
        training={"epochs": 30, "patience": 5, "schedule": "none", "dtype": "float32"},
        space=_space((32, 256), (16, 128)),
        grid=_grid([64, 256], [32, 128]),
    )


def quick_setting() -> Setting:
    """Digits 8x8: 1,138 train / 300 validation (test: the 359 test images), 20 epochs."""
    return Setting(
        label="digits (1,138 train / 300 validation / 359 test)",
        data={"dataset": "digits", "validation": 300},
        training={"epochs": 20, "patience": 5, "schedule": "none"},
        space=_space((16, 128), (8, 64)),
        grid=_grid([32, 128], [16, 64]),
    )


def make_spec(
    setting: Setting, name: str, sampler: str, pruner: str | None, cohort: int | None = None
) -> StudySpec:
    """The study spec a user would write for this strategy (``None``: left out)."""
    study: dict[str, Any] = {
        "name": name,
        "metric": "validation_accuracy",
        "sampler": sampler,
        "seed": DATA_SEED,
    }
    if pruner is not None:
        study["pruner"] = pruner
    if cohort is not None:
        study["cohort"] = cohort
    raw: dict[str, Any] = {
        "study": study,
        "data": setting.data,
        "training": setting.training,
        "space": setting.space,
    }
    if sampler == "grid":
        raw["grid"] = setting.grid
    else:
        study["n_trials"] = 100_000
    return parse_spec(raw, source=f"benchmark study {name!r}")


@dataclass
class Data:
    """A split's arrays and the held-out test set no strategy sees."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    n_features: int
    n_classes: int


_DATA: dict[str, Data] = {}


def load_data(spec: StudySpec) -> Data:
    """The spec's split (as a worker loads it) and the dataset's test set, once per process."""
    key = repr(spec.to_dict()["data"])
    if key not in _DATA:
        dataset = spec.data.load()
        part = split(
            dataset, validation=spec.data.validation, subset=spec.data.subset, seed=DATA_SEED
        )
        _DATA[key] = Data(
            (part.X_train, part.y_train),
            (part.X_validation, part.y_validation),
            (dataset.X_test, dataset.y_test),
            part.X_train.shape[1],
            part.n_classes,
        )
    return _DATA[key]


@dataclass
class Trial:
    """One finished trial: what the search saw (state, value) and the held-out score."""

    state: str  # "complete", "pruned" or "fail"
    epochs: int  # added to its run's cumulative epochs when it stopped (_cohort_round)
    seconds: float  # CPU seconds of ask + train + tell
    value: float | None  # validation accuracy at the best epoch (complete trials)
    test: float | None  # held-out test accuracy of the same weights


def fit(
    params: dict[str, Any],
    spec: StudySpec,
    data: Data,
    seed: int,
    trial: optuna.Trial | None,
    *,
    epochs: int | None = None,
) -> tuple[str, int, float | None, float | None]:
    """Train one network as the objective does: (state, epochs run, value, test accuracy).

    With ``trial``, the validation accuracy is reported after every epoch and the
    pruner asked; ``epochs`` overrides the spec's maximum (top-k's one-epoch round).
    """
    network = build_network(params, spec, data.n_features, data.n_classes, seed)
    options = training_options(params, spec)
    if epochs is not None:
        options["epochs"] = epochs
    history = train(
        network,
        data.train,
        data.validation,
        callback=_reporter(trial),
        seed=seed,
        data_seed=data_seed(spec),
        **options,
    )
    return _outcome(history, network, data)


def _reporter(trial: optuna.Trial | None) -> Callback:
    """The epoch callback a worker gives a trial: report, then ask the pruner."""
    prunes = trial is not None and not isinstance(trial.study.pruner, optuna.pruners.NopPruner)

    def report(epoch: int, metrics: dict[str, Any]) -> bool:
        value = metrics["validation_accuracy"]
        if trial is None or value is None or not np.isfinite(value):
            return False
        trial.report(float(value), epoch)
        return prunes and trial.should_prune()

    return report


def _outcome(
    history: History, network: Network, data: Data
) -> tuple[str, int, float | None, float | None]:
    """(state, epochs run, value, held-out test accuracy) of a trained network."""
    if history.stop_reason == StopReason.DIVERGED:
        return "fail", history.epochs_run, None, None
    state = "pruned" if history.stop_reason == StopReason.CALLBACK else "complete"
    value = history.best_validation_accuracy
    return state, history.epochs_run, value, network.evaluate(*data.test)[1]


def run_grid_points(setting: Setting, indices: list[int]) -> list[tuple[int, Trial]]:
    """Grid points ``indices`` (of ``grid_points``), each trained to the end."""
    spec = make_spec(setting, "grid", "grid", None)
    data = load_data(spec)
    points = grid_points(spec)
    out = []
    for index in indices:
        started = time.process_time()
        params = params_from_trial_params(points[index], spec)
        state, epochs, value, test = fit(params, spec, data, trial_seed(spec, index), None)
        seconds = time.process_time() - started
        out.append((index, Trial(state, epochs, seconds, value, test)))
    return out


def run_strategy(setting: Setting, strategy: str, seed: int, budget: int) -> Run:
    """One seeded run of ``strategy`` until its trials' epochs reach ``budget``."""
    sampler_name, pruner_name = STRATEGIES[strategy]
    cohort = COHORTS.get(strategy)
    spec = make_spec(setting, f"{strategy}-{seed}", sampler_name, pruner_name, cohort)
    data = load_data(spec)
    # Every worker builds these from the spec (hpsearch.study.lifecycle); the seed is
    # the run's, not the study's (which fixes the data split).
    run_seed = int(np.random.SeedSequence([DATA_SEED, seed]).generate_state(1)[0])
    study = optuna.create_study(
        direction="maximize",
        sampler=make_sampler(spec.study.sampler, seed=run_seed, spec=spec),
        pruner=make_pruner(spec.study.pruner, max_epochs=spec.training.epochs),
    )
    run = Run(strategy, seed)
    spent = 0
    while spent < budget:
        if strategy == "top-k":
            trials = _top_k_round(study, spec, data)
        elif spec.study.cohort > 1:
            trials = _cohort_round(study, spec, data)
        else:
            trials = [_one_trial(study, spec, data)]
        for trial in trials:
            run.trials.append(trial)
            spent += trial.epochs
    return run


def _one_trial(
    study: optuna.Study, spec: StudySpec, data: Data, epochs: int | None = None
) -> Trial:
    started = time.process_time()
    trial = study.ask()
    params = suggest_params(trial, spec)
    state, ran, value, test = fit(
        params, spec, data, trial_seed(spec, trial.number), trial, epochs=epochs
    )
    if state == "complete" and epochs is None:
        study.tell(trial, value)
    else:
        study.tell(trial, state=TrialState.FAIL if state == "fail" else TrialState.PRUNED)
    seconds = time.process_time() - started
    if epochs is not None:  # a one-epoch probe: never an incumbent
        return Trial("pruned", ran, seconds, value, test)
    return Trial(state, ran, seconds, value, test)


def _cohort_round(study: optuna.Study, spec: StudySpec, data: Data) -> list[Trial]:
    """``spec.study.cohort`` trials asked at once and trained as one cohort, as a worker
    with ``--cohort K`` does, listed in the order they stopped. A trial's epochs are
    those the whole cohort trained since the one before it stopped, so a run's
    cumulative epochs at each stop are what it had spent by then; its CPU seconds
    are the cohort's, shared in proportion."""
    started = time.process_time()
    asked = [study.ask() for _ in range(spec.study.cohort)]
    networks, members = [], []
    for trial in asked:
        params = suggest_params(trial, spec)
        seed = trial_seed(spec, trial.number)
        network = build_network(params, spec, data.n_features, data.n_classes, seed)
        options = training_options(params, spec)
        del options["epochs"]  # the cohort's
        networks.append(network)
        members.append(CohortMember(network, seed=seed, callback=_reporter(trial), **options))
    histories = train_cohort(
        members, data.train, data.validation, epochs=spec.training.epochs, data_seed=data_seed(spec)
    )
    outcomes = [_outcome(h, n, data) for h, n in zip(histories, networks, strict=True)]
    for trial, (state, _, value, _) in zip(asked, outcomes, strict=True):
        if state == "complete":
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState.FAIL if state == "fail" else TrialState.PRUNED)
    per_epoch = (time.process_time() - started) / max(1, sum(h.epochs_run for h in histories))
    return in_stop_order(outcomes, per_epoch)


def in_stop_order(
    outcomes: list[tuple[str, int, float | None, float | None]], per_epoch: float
) -> list[Trial]:
    """A cohort's outcomes ``(state, epochs run, value, test)`` as trials in the order
    they stopped, each charged the epochs the cohort trained since the one before."""
    trials, before, live = [], 0, len(outcomes)
    for state, ran, value, test in sorted(outcomes, key=lambda outcome: outcome[1]):
        spent = (ran - before) * live  # every member still training ran these epochs
        trials.append(Trial(state, spent, spent * per_epoch, value, test))
        before, live = ran, live - 1
    return trials


def _top_k_round(study: optuna.Study, spec: StudySpec, data: Data) -> list[Trial]:
    probes = []
    for _ in range(ROUND_SIZE):
        probe = _one_trial(study, spec, data, epochs=1)
        # deepcopy=False: study.trials copies every trial, quadratic over a run
        probes.append((probe, study.get_trials(deepcopy=False)[-1].params))
    ranked = sorted(probes, key=lambda p: -(p[0].value or 0.0))[:TOP_K]
    out = [probe for probe, _ in probes]
    for _, params in ranked:
        study.enqueue_trial(params)
        out.append(_one_trial(study, spec, data))
    return out


@dataclass
class Run:
    """One search: its trials in the order they finished."""

    strategy: str
    seed: int | None
    trials: list[Trial] = field(default_factory=list)

    def curve(self, budget: float | None = None) -> tuple[list[int], list[float], list[float]]:
        """Cumulative epochs and seconds at each change of incumbent, and its test accuracy."""
        epochs, seconds, tests = [], [], []
        total_epochs, total_seconds, best = 0, 0.0, -1.0
        for t in self.trials:
            total_epochs += t.epochs
            total_seconds += t.seconds
            if budget is not None and total_epochs > budget:
                break
            if t.state == "complete" and t.value is not None and t.value > best:
                best = t.value
                epochs.append(total_epochs)
                seconds.append(total_seconds)
                tests.append(float(t.test if t.test is not None else np.nan))
        return epochs, seconds, tests

    def within(self, budget: float | None) -> list[Trial]:
        out, total = [], 0
        for t in self.trials:
            total += t.epochs
            if budget is not None and total > budget:
                break
            out.append(t)
        return out

    def final_test(self, budget: float | None) -> float | None:
        tests = self.curve(budget)[2]
        return tests[-1] if tests else None

    def reach(self, target: float, budget: float | None) -> tuple[int | None, float | None]:
        """Cumulative epochs and seconds when the incumbent first tests within target."""
        for e, s, test in zip(*self.curve(budget), strict=True):
            if test >= target - TOLERANCE - 1e-12:
                return e, s
        return None, None

    def overtuned(self, budget: float | None) -> bool:
        """A later incumbent tests more than TOLERANCE worse than an earlier one."""
        tests = self.curve(budget)[2]
        return any(later < max(tests[:i]) - TOLERANCE for i, later in enumerate(tests) if i > 0)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: list[float], spec: str) -> str:
    if not values:
        return "-"
    mid = format(statistics.median(values), spec)
    return mid if len(values) == 1 else f"{mid} ({min(values):{spec}}-{max(values):{spec}})"


def table(grid: Run, runs: dict[str, list[Run]], target: float, cap: float) -> str:
    header = (
        f"{'strategy':<14} {'runs':>4} {'epochs to target':>22} {'never':>5} "
        f"{'CPU s to target':>20} {'final incumbent test acc':>26} {'trials':>6} "
        f"{'pruned':>6} {'overtuned':>9}"
    )
    lines = [header, "-" * len(header)]
    for strategy, group, budget in [
        ("grid", [grid], None),
        *((s, g, cap) for s, g in runs.items()),
    ]:
        reached = [r.reach(target, budget) for r in group]
        epochs = [float(e) for e, _ in reached if e is not None]
        seconds = [s for _, s in reached if s is not None]
        finals = [f for r in group if (f := r.final_test(budget)) is not None]
        trials = [r.within(budget) for r in group]
        lines.append(
            f"{strategy:<14} {len(group):>4} {_spread(epochs, '.0f'):>22} "
            f"{len(group) - len(epochs):>5} {_spread(seconds, '.1f'):>20} "
            f"{_spread(finals, '.4f'):>26} "
            f"{_median([float(len(t)) for t in trials]) or 0:>6.0f} "
            f"{_median([float(sum(x.state == 'pruned' for x in t)) for t in trials]) or 0:>6.0f} "
            f"{sum(r.overtuned(budget) for r in group) / len(group):>9.0%}"
        )
    return "\n".join(lines)


def _steps(xs: list[float], ys: list[float], grid_x: np.ndarray) -> np.ndarray:
    out = np.full(grid_x.shape, np.nan)
    for x, y in zip(xs, ys, strict=True):
        out[grid_x >= x] = y
    return out


def plot(
    grid: Run,
    runs: dict[str, list[Run]],
    budget: int,
    cap: float,
    target: float,
    title: str,
    path: Path,
) -> Path:
    """Incumbent test accuracy vs cumulative epochs (log x): median, min-max shaded."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    x = np.unique(np.geomspace(1, budget, 400).round())
    ge, _, gt = grid.curve()
    axes.plot(x, _steps(ge, gt, x), color="black", linewidth=2, label="grid (1 run)")
    for strategy, group in runs.items():
        curves = np.vstack([_steps(*r.curve(cap)[::2], x) for r in group])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            median = np.nanmedian(curves, axis=0)
            low, high = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
        shown = x <= cap
        (line,) = axes.plot(x[shown], median[shown], label=f"{strategy} (median of {len(group)})")
        axes.fill_between(
            x[shown], low[shown], high[shown], color=line.get_color(), alpha=0.12, linewidth=0
        )
    axes.axhline(target - TOLERANCE, color="grey", linestyle="--", label="target")
    axes.axvline(budget / 10, color="grey", linestyle=":", label="B / 10")
    axes.set_xscale("log")
    axes.set_ylim(target - 0.12, target + 0.04)
    axes.set(
        xlabel="cumulative epochs (log)",
        ylabel="incumbent's test accuracy",
        title=title,
        xlim=(1, budget),
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _init_process() -> None:
    """Each pool process: 1 BLAS thread (2 processes on 2 cores), Optuna's info quiet."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="digits instead of Fashion-MNIST")
    parser.add_argument("--seeds", type=int, help="runs per strategy (default 10 quick, 5)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument(
        "--strategies",
        help=f"comma list of {', '.join(STRATEGIES)}; NAME:N runs N seeds of NAME instead "
        f"of --seeds (default: all; Fashion-MNIST: {FASHION_STRATEGIES})",
    )
    parser.add_argument(
        "--budget-fraction",
        type=float,
        help="cut each strategy run at this share of the grid's epochs (default 0.1)",
    )
    parser.add_argument(
        "--grid-subset",
        type=int,
        help="run a random 1/k of the grid's points (default: all with --quick, else 2)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 10 if args.quick else 5
    if args.strategies is None:
        args.strategies = ",".join(STRATEGIES) if args.quick else FASHION_STRATEGIES
    if args.grid_subset is None and not args.quick:
        args.grid_subset = 2
    args.runs = {}  # strategy -> its number of seeds
    for item in filter(None, (s.strip() for s in args.strategies.split(","))):
        name, _, count = item.partition(":")
        if name not in STRATEGIES:
            parser.error(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
        if count and (not count.isdigit() or int(count) < 1):
            parser.error(f"{item!r}: the number after ':' must be an int >= 1")
        args.runs[name] = int(count) if count else args.seeds
    if args.budget_fraction is None:
        args.budget_fraction = 0.1
    if args.seeds < 1 or args.jobs < 1 or not 0 < args.budget_fraction <= 1:
        parser.error("--seeds and --jobs must be >= 1, --budget-fraction in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setting = quick_setting() if args.quick else fashion_setting()
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    print(f"# {command}")
    print(
        f"# {datetime.now(UTC).isoformat(timespec='seconds')}; {platform.node()}: "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start, "
        f"Python {platform.python_version()}, optuna {optuna.__version__}, numpy {np.__version__}"
    )
    print(f"# data: {setting.label}; training: {setting.training}")
    print(f"# grid: {' x '.join(f'{k} {v}' for k, v in setting.grid.items())}")
    print(f"# auto = {describe_auto()}")
    started = time.perf_counter()
    grid_spec = make_spec(setting, "grid", "grid", None)
    indices = list(range(len(grid_points(grid_spec))))
    if args.grid_subset:  # a seeded random 1/k of the points, kept in grid order
        rng = np.random.default_rng(DATA_SEED)
        indices = sorted(rng.choice(indices, len(indices) // args.grid_subset, replace=False))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context, initializer=_init_process) as pool:
        chunks = [indices[i :: args.jobs * 4] for i in range(args.jobs * 4)]
        done = sorted(
            (
                p
                for part in pool.map(run_grid_points, [setting] * len(chunks), chunks)
                for p in part
            ),
            key=lambda p: p[0],
        )
        grid = Run("grid", None, [t for _, t in done])
        budget = sum(t.epochs for t in grid.trials)
        target = grid.final_test(None)
        assert target is not None
        cap = args.budget_fraction * budget
        print(
            f"# grid: {len(grid.trials)} points, B = {budget} epochs, "
            f"{sum(t.seconds for t in grid.trials):.0f} CPU s; final incumbent test "
            f"{target:.4f}, target >= {target - TOLERANCE:.4f} "
            f"({time.perf_counter() - started:.0f} s wall)",
            flush=True,
        )
        tasks = [(s, seed) for s, seeds in args.runs.items() for seed in range(seeds)]
        futures = [pool.submit(run_strategy, setting, s, seed, int(cap)) for s, seed in tasks]
        runs: dict[str, list[Run]] = {}
        for future in futures:
            run = future.result()
            runs.setdefault(run.strategy, []).append(run)
            print(
                f"#   {run.strategy} seed {run.seed}: {len(run.trials)} trials "
                f"({time.perf_counter() - started:.0f} s wall)",
                file=sys.stderr,
                flush=True,
            )
    print(
        f"# strategies cut at {cap:.0f} epochs ({args.budget_fraction:g} B), "
        f"{time.perf_counter() - started:.0f} s wall in all, load average now "
        f"{os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        f"B = {budget} epochs (the grid's); target: incumbent test accuracy >= "
        f"{target - TOLERANCE:.4f} (grid's final incumbent {target:.4f} - 0.5 points); "
        "median (min-max) over runs; 'never': runs that did not reach it"
    )
    print(table(grid, runs, target, cap))
    title = f"{setting.label}: incumbent test accuracy, B = {budget} epochs"
    path = plot(grid, runs, budget, cap, target, title, args.out)
    print(f"\nplot: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
