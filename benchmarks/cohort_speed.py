"""Cohorts: net-epochs per second of K networks trained as one cohort vs one after another.

Network level (one run, so the ratios are comparable on a shared machine): for each
space (digits-quick; fashion-mnist on its 20k subset) and each K in {1, 4, 8, 16, 32},
K configurations drawn at random from the spec's [space] are trained for a fixed
number of epochs (no early stopping) by

* ``train()``, one network after another (today's worker),
* ``train_cohort`` (``hpsearch.nn.cohort``), all K at once,
* PyTorch, one after another, and ``torch.func`` vmap over the members whose
  architecture matches the first (when torch is importable; skipped cleanly if not),

and the net-epochs per second of each are printed with the cohort's speed-up. A
second table measures the price of mixed widths: a cohort of K members of widths
drawn from the space against cohorts of equal widths (each member's own width),
as the ratio of the mixed cohort's time to the mean of the equal-width cohorts'.
The last columns bound what any trainer doing the same arithmetic could gain over
sequential train(): "GEMM ceiling" is sequential time over the time of the matrix
products alone that train() runs for those K networks, each timed at its own shape
(``gemm_floor``); "FLOP ceiling" is sequential time over the time those products'
operations take at the core's peak rate (one large product, ``peak_rate``).
"Measure ceiling" is sequential time over what a cohort cannot share: the
measurements each epoch's record needs (loss and accuracy over the training sample
and the validation set, gradient norms on the probe), at what ``train()`` pays for
them, plus the training steps' products at peak (``measure_floor``). The "measure
s" column shows train()'s and the cohort's own measurement seconds side by side.

    python benchmarks/cohort_speed.py [--epochs 3] [--ks 1,4,8,16,32] [--repeat 1]
        [--spaces digits-quick,fashion-mnist]

Search level (``--level search``): ``hpsearch run studies/digits-quick.toml --jobs 2``
with ``--cohort`` 1 and each K of ``--cohorts`` (default 4,8,16), ``--runs`` seeds each
(default 3; the spec's seed and the next ones), each on a fresh SQLite database: wall
time to the full 150-trial budget and the best validation accuracy (median, min-max),
the ceiling that cohort 1's own trials set (``search_ceiling``), then the storage
overhead per trial of one in-process worker at each cohort (every storage call on the
worker's main thread timed, as ``benchmarks/workers.py`` does).

    python benchmarks/cohort_speed.py --level search [--cohorts 4,8,16] [--runs 3]
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from threadpoolctl import threadpool_limits

from hpsearch.nn import train
from hpsearch.nn.cohort import CohortMember, group_members, train_cohort
from hpsearch.nn.cohort_group import StackGroup, eval_rows
from hpsearch.nn.cohort_member import MemberState
from hpsearch.nn.network import EVAL_CHUNK
from hpsearch.nn.stack_optimizers import StackOptimizer
from hpsearch.nn.training import METRICS_SAMPLE, PROBE_SIZE
from hpsearch.spec.study_spec import StudySpec, load_spec
from hpsearch.tuning.objective import build_network, training_options
from hpsearch.tuning.space import suggest_params
from hpsearch.workers.loop import load_split

ROOT = Path(__file__).resolve().parent.parent
SPACES = {
    "digits-quick": "studies/digits-quick.toml",
    "fashion-mnist": "studies/fashion-mnist.toml",
}
#: The issue's bars at K = 16: cohort net-epochs/s over sequential train().
BARS = {"digits-quick": 6.0, "fashion-mnist": 1.5}
DATA_SEED = 12345


@dataclass
class Config:
    params: dict[str, Any]
    seed: int


def draw_configs(spec: StudySpec, k: int, seed: int) -> list[Config]:
    """``k`` params dicts drawn at random from the spec's space."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [Config(suggest_params(study.ask(), spec), seed * 1000 + i) for i in range(k)]


def member_for(config: Config, spec: StudySpec, data: Any, epochs: int) -> CohortMember:
    network = build_network(config.params, spec, data.X_train.shape[1], data.n_classes, config.seed)
    options = training_options(config.params, spec)
    return CohortMember(
        network=network,
        batch_size=options["batch_size"],
        eta=options["eta"],
        optimizer=options["optimizer"],
        momentum=options["momentum"],
        l2=options["l2"],
        l1=options["l1"],
        input_noise=options["input_noise"],
        seed=config.seed,
    )


def time_sequential(configs: list[Config], spec: StudySpec, data: Any, epochs: int) -> float:
    started = time.process_time()
    for config in configs:
        m = member_for(config, spec, data, epochs)
        train(
            m.network,
            (data.X_train, data.y_train),
            (data.X_validation, data.y_validation),
            epochs=epochs,
            batch_size=m.batch_size,
            eta=m.eta,
            optimizer=m.optimizer,
            momentum=m.momentum,
            l2=m.l2,
            l1=m.l1,
            input_noise=m.input_noise,
            seed=m.seed,
            data_seed=DATA_SEED,
        )
    return time.process_time() - started


def time_cohort(configs: list[Config], spec: StudySpec, data: Any, epochs: int) -> float:
    started = time.process_time()
    members = [member_for(c, spec, data, epochs) for c in configs]
    train_cohort(
        members,
        (data.X_train, data.y_train),
        (data.X_validation, data.y_validation),
        epochs=epochs,
        data_seed=DATA_SEED,
    )
    return time.process_time() - started


def with_width(configs: list[Config], width: int) -> list[Config]:
    return [Config({**c.params, "hidden_width": width}, c.seed) for c in configs]


def torch_times(
    configs: list[Config], spec: StudySpec, data: Any, epochs: int
) -> tuple[float | None, float | None, int]:
    """(sequential seconds, vmap seconds for the members matching the first's
    architecture, how many matched); (None, None, 0) without torch."""
    try:
        import torch
        from torch.func import functional_call, grad, stack_module_state, vmap
    except ImportError:
        return None, None, 0
    torch.set_num_threads(1)
    X = torch.from_numpy(np.ascontiguousarray(data.X_train, dtype=np.float32))
    y = torch.from_numpy(data.y_train.astype(np.int64))
    n = len(X)

    def model(params: dict[str, Any]) -> torch.nn.Module:
        sizes = [X.shape[1]] + [int(params["hidden_width"])] * int(params["hidden_layers"])
        act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}.get(
            params["activation"], torch.nn.ReLU
        )
        layers: list[torch.nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), act(), torch.nn.Dropout(float(params["dropout"]))]
        layers.append(torch.nn.Linear(sizes[-1], data.n_classes))
        return torch.nn.Sequential(*layers)

    loss_fn = torch.nn.CrossEntropyLoss()
    started = time.process_time()
    for config in configs:
        net = model(config.params)
        opt = torch.optim.SGD(
            net.parameters(),
            lr=float(config.params["eta"]),
            weight_decay=float(config.params["lambda"]) / n,
        )
        bs = int(config.params["batch_size"])
        for _ in range(epochs):
            order = torch.randperm(n)
            for s in range(0, n, bs):
                idx = order[s : s + bs]
                opt.zero_grad()
                loss_fn(net(X[idx]), y[idx]).backward()
                opt.step()
    sequential = time.process_time() - started
    first = configs[0].params
    same = [
        c
        for c in configs
        if all(
            c.params[k] == first[k]
            for k in ("hidden_width", "hidden_layers", "activation", "batch_size")
        )
    ]
    models = [model(c.params) for c in same]
    params, buffers = stack_module_state(models)
    base = model(first).to("meta")

    def loss_of(p: dict[str, Any], b: dict[str, Any], xb: Any, yb: Any) -> Any:
        return loss_fn(functional_call(base, (p, b), (xb,)), yb)

    # Dropout on, as in the sequential runs: each member draws its own masks.
    step = vmap(grad(loss_of), in_dims=(0, 0, None, None), randomness="different")
    etas = torch.tensor([float(c.params["eta"]) for c in same])
    bs = int(first["batch_size"])
    started = time.process_time()
    for _ in range(epochs):
        order = torch.randperm(n)
        for s in range(0, n, bs):
            idx = order[s : s + bs]
            grads = step(params, buffers, X[idx], y[idx])
            with torch.no_grad():
                for name in params:
                    shape = (-1,) + (1,) * (params[name].dim() - 1)
                    params[name] -= etas.view(shape) * grads[name]
    return sequential, time.process_time() - started, len(same)


def gemm_floor(
    configs: list[Config], spec: StudySpec, data: Any, epochs: int
) -> tuple[float, float]:
    """(CPU seconds, floating-point operations) of the matrix products alone that
    ``train()`` runs for ``configs`` (training steps, then each epoch's sample, probe and
    validation passes), each distinct shape timed on its own. No trainer doing the same
    arithmetic in NumPy gets under those seconds, nor under those operations at the
    core's peak rate (``peak_rate``): sequential time over either bounds the speed-up."""
    n, n_val = len(data.X_train), len(data.X_validation)
    X_sample, _, probe = measured_rows(data)
    n_sample = len(X_sample)
    dtype = data.X_train.dtype
    timed: dict[tuple[int, int, int], float] = {}

    def cost(m: int, k: int, c: int) -> tuple[float, float]:
        if (m, k, c) not in timed:
            a, b = np.ones((m, k), dtype), np.ones((k, c), dtype)
            out = np.empty((m, c), dtype)
            reps = max(3, min(200, int(2e7 // (m * k * c + 1))))
            np.matmul(a, b, out=out)
            started = time.process_time()
            for _ in range(reps):
                np.matmul(a, b, out=out)
            timed[(m, k, c)] = (time.process_time() - started) / reps
        return timed[(m, k, c)], 2.0 * m * k * c

    def passes(rows: int, layers: list[tuple[int, int]], backward: bool) -> np.ndarray:
        chunks = [min(EVAL_CHUNK, rows - s) for s in range(0, rows, EVAL_CHUNK)]
        shapes = [(m, i, o) for m in chunks for i, o in layers]
        if backward:  # weight gradients, and errors below every layer but the first
            shapes += [(i, rows, o) for i, o in layers]
            shapes += [(rows, o, i) for i, o in layers[1:]]
        return np.sum([cost(*shape) for shape in shapes], axis=0)

    total = np.zeros(2)
    for config in configs:
        sizes = build_network(config.params, spec, data.X_train.shape[1], data.n_classes, 0).sizes
        layers = list(itertools.pairwise(sizes))
        batch = min(int(training_options(config.params, spec)["batch_size"]), n)
        steps = passes(batch, layers, True) * (n // batch)
        if n % batch:
            steps += passes(n % batch, layers, True)
        evaluation = passes(n_sample, layers, False) + passes(probe, layers, True)
        evaluation += passes(n_val, layers, False)
        total += epochs * (steps + evaluation) + passes(n_sample, layers, False)
    return float(total[0]), float(total[1])


def measured_rows(data: Any) -> tuple[Any, Any, int]:
    """The training sample ``train()`` measures each epoch (X, y) and its probe's rows."""
    sample = slice(None, None, -(-len(data.X_train) // METRICS_SAMPLE))
    X_sample, y_sample = data.X_train[sample], data.y_train[sample]
    return X_sample, y_sample, min(PROBE_SIZE, len(X_sample))


def measure_alone(network: Any, data: Any, epochs: int) -> float:
    """CPU seconds of the measurements ``train()`` makes for ``network`` over ``epochs``:
    the untrained loss, then each epoch's sample and validation loss and accuracy and
    probe gradient norms. Values do not change a pass's cost: any weights will do."""
    X_sample, y_sample, probe = measured_rows(data)
    started = time.process_time()
    network.evaluate(X_sample, y_sample)
    for _ in range(epochs):
        network.evaluate(X_sample, y_sample)
        network.gradients(X_sample[:probe], y_sample[:probe])
        network.evaluate(data.X_validation, data.y_validation)
    return time.process_time() - started


def step_flops(sizes: list[int], rows: int) -> float:
    """Floating-point operations of one epoch's training products over ``rows``
    examples: forward, weight gradients, and errors below every layer but the first."""
    layers = list(itertools.pairwise(sizes))
    macs = 2 * sum(a * b for a, b in layers) + sum(a * b for a, b in layers[1:])
    return 2.0 * macs * rows


def measure_floor(
    configs: list[Config], spec: StudySpec, data: Any, epochs: int
) -> tuple[float, float, float]:
    """CPU seconds of the measurements ``train()`` and ``train_cohort`` make for
    ``configs`` over ``epochs`` (``measure_alone``; the cohort's as its groups,
    ``group_members``, make them), and the training products' operations."""
    n = len(data.X_train)
    X_sample, y_sample, probe = measured_rows(data)
    validation = (data.X_validation, data.y_validation)
    members = [member_for(c, spec, data, epochs) for c in configs]
    alone = sum(measure_alone(m.network, data, epochs) for m in members)
    started = time.process_time()
    for indices in group_members(members):
        lives = [MemberState(members[i], n) for i in indices]
        rows = eval_rows(max(len(X_sample), len(validation[0])), lives)
        group = StackGroup(lives, members[indices[0]].batch_size, rows, StackOptimizer("sgd"))
        group.evaluate(X_sample, y_sample)
        for _ in range(epochs):
            group.evaluate(X_sample, y_sample, probe=probe)
            group.evaluate(*validation)
    together = time.process_time() - started
    flops = sum(epochs * step_flops(list(m.network.sizes), n) for m in members)
    return alone, together, flops


def peak_rate(dtype: Any, size: int = 1024) -> float:
    """Operations per CPU second of one large square product: about the core's peak."""
    a, b = np.ones((size, size), dtype), np.ones((size, size), dtype)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = math.inf
    for _ in range(3):
        started = time.process_time()
        np.matmul(a, b, out=out)
        best = min(best, time.process_time() - started)
    return 2.0 * size**3 / best


# --------------------------------------------------------------------------- search level

#: The issue's search-level bar: the default cohort reaches the budget this much sooner.
SEARCH_BAR = 4.0


@dataclass
class SearchRun:
    """One ``hpsearch run`` of the search level and where its study is."""

    wall: float  # seconds, process start-up included
    cpu: float  # seconds of the run and its workers
    best: float  # best validation accuracy
    finished: int  # trials
    url: str
    spec: StudySpec


def search_run(spec_path: Path, cohort: int, seed: int, folder: Path) -> SearchRun:
    """``hpsearch run SPEC --jobs 2 --cohort K`` with the spec's seed replaced, on a fresh
    SQLite database."""
    import re
    import resource
    import subprocess
    import sys

    from hpsearch.study.lifecycle import counted_trials, load_study_and_spec

    run_dir = folder / f"cohort{cohort}-seed{seed}"
    run_dir.mkdir()
    text = re.sub(r"(?m)^seed = \d+", f"seed = {seed}", spec_path.read_text())
    spec_file = run_dir / "spec.toml"
    spec_file.write_text(text)
    url = f"sqlite:///{run_dir / 'study.db'}"
    command = [sys.executable, "-m", "hpsearch", "-q", "run", str(spec_file), "--jobs", "2"]
    command += ["--cohort", str(cohort), "--storage", url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=run_dir)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    spec = load_spec(spec_file)
    study, _ = load_study_and_spec(url, spec.study.name)
    finished = [t for t in counted_trials(study) if t.state.is_finished()]
    return SearchRun(wall, cpu, float(study.best_value), len(finished), url, spec)


def search_ceiling(url: str, spec: StudySpec) -> tuple[float, float, float]:
    """(trial seconds, measurement seconds, training products at peak) summed over the
    finished trials of the study at ``url``: each trial's network rebuilt from its params
    and its ``epochs_run`` measured as ``train()`` measures them (``measure_alone``). A
    cohort shares neither, so trial seconds over the other two bound its speed-up on
    these very trials. Measured on one BLAS thread, as each worker of ``--jobs 2`` ran."""
    from hpsearch.study.lifecycle import counted_trials, load_study_and_spec
    from hpsearch.tuning.record import read_record
    from hpsearch.tuning.space import params_from_trial_params

    study, _ = load_study_and_spec(url, spec.study.name)
    data, _ = load_split(spec)
    seconds = measured = at_peak = 0.0
    with threadpool_limits(1):
        rows, peak = len(data.X_train), peak_rate(data.X_train.dtype)
        for trial in counted_trials(study):
            record = read_record(trial)
            epochs = record.epochs_run or 0
            if not trial.state.is_finished() or epochs == 0:
                continue
            params = params_from_trial_params(trial.params, spec)
            network = build_network(params, spec, data.X_train.shape[1], data.n_classes, 0)
            seconds += record.seconds or 0.0
            measured += measure_alone(network, data, epochs)
            at_peak += epochs * step_flops(list(network.sizes), rows) / peak
    return seconds, measured, at_peak


def search_overhead(spec_path: Path, cohort: int, folder: Path) -> dict[str, float]:
    """Storage seconds per trial on one in-process worker's main thread at ``cohort``
    (``benchmarks/workers.py``'s ``StorageTimer``), over the spec's budget, on SQLite."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from workers import time_storage  # benchmarks/workers.py

    from hpsearch.study.lifecycle import create_or_resume, load_study_and_spec
    from hpsearch.workers.loop import run_worker

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{folder / f'overhead-{cohort}.db'}"
    spec = load_spec(spec_path).with_overrides(name=f"overhead-{cohort}", cohort=cohort)
    create_or_resume(spec, url)
    study, spec = load_study_and_spec(url, spec.study.name, worker_index=0)
    timer = time_storage(study)
    started, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(1):  # as a worker of --jobs 2 on 2 cores
        report = run_worker(study, spec)
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu
    trials = max(1, report.trials)
    epochs = sum(int(t.user_attrs.get("epochs_run", 0)) for t in study.get_trials(deepcopy=False))
    return {
        "trials": report.trials,
        "epochs": epochs,
        "cpu_ms": cpu / trials * 1000,
        "trial_ms": total / trials * 1000,
        "storage_ms": timer.main / trials * 1000,
        "share": timer.main / total,
    }


def _spread(values: list[float], form: str = ".1f") -> str:
    """``median (min-max)``."""
    import statistics

    return f"{statistics.median(values):{form}} ({min(values):{form}}-{max(values):{form}})"


def search_level(cohorts: list[int], runs: int, overhead: list[int]) -> None:
    """The search-level table (module doc) and the storage overhead per cohort."""
    import os
    import statistics
    import tempfile

    spec_path = ROOT / "studies" / "digits-quick.toml"
    base_seed = load_spec(spec_path).study.seed or 0
    seeds = [base_seed + i for i in range(runs)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# cohort_speed --level search: {platform.node()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, load {load:.2f} at start; "
        f"hpsearch run {spec_path.relative_to(ROOT)} --jobs 2 --cohort K, seeds {seeds}, "
        "fresh SQLite each; wall time includes process start-up"
    )
    print(
        f"{'cohort':>6} {'wall s median (min-max)':>24} {'speed-up':>9} "
        f"{'CPU s median (min-max)':>24} {'speed-up':>9} "
        f"{'best val acc median (min-max)':>30} {'trials':>11}"
    )
    baseline: list[SearchRun] = []
    with tempfile.TemporaryDirectory(prefix="cohort-search-") as tmp:
        folder = Path(tmp)
        for cohort in [1, *cohorts]:
            done = [search_run(spec_path, cohort, seed, folder) for seed in seeds]
            baseline = baseline or done  # cohort 1 runs first
            walls = [r.wall for r in done]
            cpus = [r.cpu for r in done]
            bests = [r.best for r in done]
            counts = [r.finished for r in done]
            speed = statistics.median(r.wall for r in baseline) / statistics.median(walls)
            cpu_speed = statistics.median(r.cpu for r in baseline) / statistics.median(cpus)
            lo, hi = min(r.best for r in baseline), max(r.best for r in baseline)
            within = lo <= statistics.median(bests) <= hi
            verdict = ""
            if cohort > 1:
                met = speed >= SEARCH_BAR and within
                verdict = (
                    f"   bar (wall >= {SEARCH_BAR:g}x, median best in cohort 1's range): "
                    f"{'met' if met else 'NOT met'}"
                )
            print(
                f"{cohort:>6} {_spread(walls):>24} {speed:>8.2f}x {_spread(cpus):>24} "
                f"{cpu_speed:>8.2f}x {_spread(bests, '.4f'):>30} "
                f"{'/'.join(map(str, counts)):>11}{verdict}",
                flush=True,
            )
        print(
            "\nceiling on cohort 1's own trials (search_ceiling): their training seconds "
            "over what no cohort shares, train()'s measurements of their epochs plus "
            "their training products at peak:"
        )
        for seed, run in zip(seeds, baseline, strict=True):
            seconds, measured, at_peak = search_ceiling(run.url, run.spec)
            print(
                f"  seed {seed}: trials {seconds:.1f} s, measurements {measured:.1f} s, "
                f"products at peak {at_peak:.1f} s: at most "
                f"{seconds / (measured + at_peak):.2f}x (bar {SEARCH_BAR:g}x)",
                flush=True,
            )
        print("\nstorage overhead per trial (1 in-process worker, SQLite, digits-quick budget):")
        print(
            f"{'cohort':>6} {'trials':>7} {'epochs':>7} {'trial ms':>9} {'CPU ms':>7} "
            f"{'storage ms':>11} {'share':>7}"
        )
        for cohort in overhead:
            o = search_overhead(spec_path, cohort, folder)
            print(
                f"{cohort:>6} {o['trials']:>7} {o['epochs']:>7} {o['trial_ms']:>9.1f} "
                f"{o['cpu_ms']:>7.1f} {o['storage_ms']:>11.2f} "
                f"{o['share']:>6.1%}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", choices=["network", "search"], default="network")
    parser.add_argument("--cohorts", default="4,8,16", help="search level: cohorts besides 1")
    parser.add_argument("--runs", type=int, default=3, help="search level: seeds per cohort")
    parser.add_argument(
        "--overhead", default=None, help="search level: cohorts of the storage table (default: all)"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--ks", default="1,4,8,16,32")
    parser.add_argument("--spaces", default="digits-quick,fashion-mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each side per K; medians are shown"
    )
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-widths", action="store_true")
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the ceiling columns (gemm_floor, measure_floor)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads for both sides (default 1: a worker of --jobs 2)",
    )
    args = parser.parse_args()
    if args.level == "search":
        cohorts = [int(k) for k in args.cohorts.split(",")]
        overhead = (
            [1, *cohorts] if args.overhead is None else [int(k) for k in args.overhead.split(",")]
        )
        search_level(cohorts, args.runs, overhead)
        return
    threadpool_limits(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    print(
        f"# cohort_speed: {platform.node()} {platform.processor() or platform.machine()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}; epochs {args.epochs}; BLAS threads {args.threads}; "
        "CPU seconds (process_time) of this process, ratios within one run; "
        f"median of {args.repeat} alternated run(s) per K"
    )
    for name in args.spaces.split(","):
        spec = load_spec(ROOT / SPACES[name])
        try:
            data, _ = load_split(spec)
        except Exception as exc:
            print(f"\n## {name}: skipped ({exc})")
            continue
        print(f"\n## {name} space: {len(data.X_train)} training rows, {args.epochs} epochs")
        print(
            f"{'K':>3} {'train() net-ep/s':>17} {'cohort net-ep/s':>16} {'speed-up':>9} "
            f"{'torch seq':>10} {'torch vmap (n)':>15} {'GEMM ceiling':>13} {'FLOP ceiling':>13}"
            f" {'measure s (cohort)':>19} {'measure ceiling':>16}"
        )
        peak = peak_rate(data.X_train.dtype)
        print(f"# peak: {peak / 1e9:.1f} GFLOP/s ({data.X_train.dtype}, one 1024^3 product)")
        for k in ks:
            configs = draw_configs(spec, k, args.seed + k)
            # Alternated, then the median of each: a shared machine's load drifts.
            times = [
                (
                    time_sequential(configs, spec, data, args.epochs),
                    time_cohort(configs, spec, data, args.epochs),
                )
                for _ in range(args.repeat)
            ]
            seq = float(np.median([t[0] for t in times]))
            coh = float(np.median([t[1] for t in times]))
            torch_seq = torch_vmap = None
            matched = 0
            if not args.no_torch:
                torch_seq, torch_vmap, matched = torch_times(configs, spec, data, args.epochs)
            rate = k * args.epochs
            line = f"{k:>3} {rate / seq:>17.1f} {rate / coh:>16.1f} {seq / coh:>8.2f}x"
            if torch_seq is not None and torch_vmap is not None:
                line += f" {rate / torch_seq:>10.1f} {matched * args.epochs / torch_vmap:>10.1f} ({matched})"
            else:
                line += f" {'n/a':>10} {'n/a':>15}"
            if not args.no_floor:
                floor, flops = gemm_floor(configs, spec, data, args.epochs)
                line += f" {seq / floor:>12.2f}x {seq * peak / flops:>12.2f}x"
                alone, together, training = measure_floor(configs, spec, data, args.epochs)
                ceiling = seq / (alone + training / peak)
                line += f" {alone:>9.3f} ({together:.3f}) {ceiling:>15.2f}x"
            if k == 16:
                bar = BARS[name]
                line += f"   bar >= {bar}x: {'met' if seq / coh >= bar else 'NOT met'}"
            print(line, flush=True)
        if args.no_widths:
            continue
        k = 8
        configs = draw_configs(spec, k, args.seed + 100)
        mixed = time_cohort(configs, spec, data, args.epochs)
        equal = [
            time_cohort(with_width(configs, int(c.params["hidden_width"])), spec, data, args.epochs)
            for c in configs
        ]
        widths = sorted(int(c.params["hidden_width"]) for c in configs)
        print(
            f"mixed widths {widths}: cohort {mixed:.3f} s; mean of equal-width cohorts "
            f"{np.mean(equal):.3f} s; ratio {mixed / np.mean(equal):.2f} (bar <= 1.5)"
        )


if __name__ == "__main__":
    main()
