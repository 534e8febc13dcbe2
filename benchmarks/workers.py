"""Distributed workers on PostgreSQL: scaling, storage overhead per trial and per speed path,
32-worker stress, 64-worker stress through ``hpsearch proxy``.

Run: ``python benchmarks/workers.py [--url postgresql+psycopg://...] [--seconds 60]``.
Without ``--url`` a fresh database is created on 127.0.0.1:5432 (user postgres) and
dropped at the end. Five measurements (all by default), each printed on its own lines:

1. Trials per minute with 1 and with 2 ``hpsearch worker`` processes (one BLAS thread
   each) on a fixed small spec whose trials all cost the same (~1 s). Throughput is
   counted from the first trial's start to the last trial's end (process start-up, a
   couple of seconds of imports, is left out and printed separately).
2. Storage overhead of a worker on ``studies/digits-quick.toml``, over the spec's own
   budget (150 trials; ``--overhead-trials`` to change): every storage method the
   worker's study calls is wrapped with a timer; the time spent in them on the
   worker's main thread (the trial's critical path) is compared with the trial time.
   The share over the first trials alone (TPE's random start-up: smaller, shorter
   nets, and a cold start) is printed from the same run. Heartbeat-thread calls run
   beside the trial and are printed separately. Only this part:
   ``--skip scaling --skip speed --skip stress --skip proxy``.
2b. The same storage overhead with every speed path on, then with each one off in
   turn (``HPSEARCH_SPEED_OFF``; the paths are listed in ``hpsearch.storage.speed``):
   what each saves per trial, in ms and as a share of trial time (a path that saves
   less than 1% has no place in the code). Only this part:
   ``--skip scaling --skip overhead --skip stress --skip proxy``.
3. N processes (default 32) with a near-zero-cost objective for S seconds (default 60):
   each claims a trial from the hpsearch queue (``claim_trial``), suggests one float and
   tells the value, against ``open_storage``; trials per second and errors.
4. The same with M processes (default 64) through ``hpsearch proxy`` (Optuna's gRPC
   storage proxy, one process in front of the same database): every worker uses
   ``grpc://127.0.0.1:PORT`` and holds no database connection. Only this part:
   ``--skip scaling --skip overhead --skip speed --skip stress``.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCALING_SPEC = """
[study]
name = "{name}"
metric = "validation_accuracy"
sampler = "random"
pruner = "none"
seed = 11
n_trials = {n_trials}

[data]
dataset = "digits"
subset = 1000
validation = 300

[training]
epochs = 20
patience = 20

[space]
eta = {{ type = "float", low = 0.01, high = 0.05, log = true }}
hidden_width = 30
activation = "sigmoid"
loss = "log_likelihood"
batch_size = 1
"""


# --------------------------------------------------------------------------- database


def fresh_database() -> tuple[str, Any]:
    import psycopg

    name = f"hpsearch_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def worker_env(url: str) -> dict[str, str]:
    env = dict(os.environ, HPSEARCH_STORAGE=url)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


# --------------------------------------------------------------------------- 1. scaling


def scaling(url: str, workers: int, trials_per_worker: int) -> tuple[float, float]:
    """(trials per minute in steady state, seconds from launch to the last exit)."""
    import optuna

    from hpsearch.storage.urls import open_storage

    name = f"scaling-{workers}-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.toml"
        spec.write_text(SCALING_SPEC.format(name=name, n_trials=workers * trials_per_worker))
        env = worker_env(url)
        subprocess.run(
            [sys.executable, "-m", "hpsearch", "create", str(spec)],
            env=env,
            check=True,
            capture_output=True,
        )
        launched = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "hpsearch", "worker", "--study", name],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        codes = [p.wait() for p in processes]
        wall = time.perf_counter() - launched
    assert codes == [0] * workers, codes
    trials = optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()
    assert all(t.state.name == "COMPLETE" for t in trials), [t.state for t in trials]
    first = min(t.datetime_start for t in trials)
    last = max(t.datetime_complete for t in trials)
    return len(trials) / (last - first).total_seconds() * 60, wall


# --------------------------------------------------------------------------- 2. overhead


class StorageTimer:
    """Wraps storage methods; sums seconds per thread kind.

    Both the study's storage and the RDB storage below it are wrapped, so no path to
    the database escapes the timer; a timed call inside another one (the cache calling
    its backend) counts once, in the outermost call. The SQL statements the main
    thread runs are counted too (from the engines' events).
    """

    def __init__(self) -> None:
        self.main = 0.0
        self.background = 0.0
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.statements = 0
        #: (perf_counter, main-thread storage seconds so far) at the end of each trial
        self.trial_ends: list[tuple[float, float]] = []
        self.main_thread = threading.main_thread()
        self._depth = threading.local()

    def wrap(self, obj: Any, names: list[str]) -> None:
        for name in names:
            method = getattr(obj, name, None)
            if callable(method):
                setattr(obj, name, self._timed(name, method))

    def count_statements(self) -> None:
        """Count the SQL statements of every engine (hpsearch has a second pool for its
        trial operations on PostgreSQL)."""
        from sqlalchemy import Engine, event

        @event.listens_for(Engine, "before_cursor_execute")
        def counted(*_args: Any) -> None:
            if threading.current_thread() is self.main_thread:
                self.statements += 1

    def _timed(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "value", 0)
            self._depth.value = depth + 1
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self._depth.value = depth
                if depth == 0 and threading.current_thread() is self.main_thread:
                    self.main += elapsed
                    self.calls[name] = self.calls.get(name, 0) + 1
                    self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
                    if name == "set_trial_state_values":
                        self.trial_ends.append((time.perf_counter(), self.main))
                elif depth == 0:
                    self.background += elapsed

        return timed


def time_storage(study: Any) -> StorageTimer:
    """A ``StorageTimer`` wrapped around every storage layer of ``study``: each storage
    method, the heartbeat and progress calls and hpsearch's retried operations."""
    import optuna

    from hpsearch.storage.resilient import OWN_OPERATIONS, RETRIED
    from hpsearch.storage.running import storage_layers

    timer = StorageTimer()
    names = [n for n in dir(optuna.storages.BaseStorage) if not n.startswith("__")]
    names += ["record_heartbeat", "_get_stale_trial_ids", "record_progress"]
    names += [*RETRIED, *OWN_OPERATIONS]
    for layer in storage_layers(study):
        timer.wrap(layer, sorted(set(names)))
    return timer


def overhead(url: str, n_trials: int | None, first: int) -> dict[str, Any]:
    from hpsearch.spec.study_spec import load_spec
    from hpsearch.study.lifecycle import create_or_resume, load_study_and_spec
    from hpsearch.workers import loop as worker_module

    name = f"overhead-{uuid.uuid4().hex[:6]}"
    spec = load_spec(ROOT / "studies" / "digits-quick.toml")
    spec = spec.with_overrides(name=name, n_trials=n_trials or spec.study.n_trials)
    create_or_resume(spec, url)
    study, spec = load_study_and_spec(url, name, worker_index=0)
    timer = time_storage(study)
    timer.count_statements()

    load_seconds = 0.0
    loaded_at = 0.0
    real_load = worker_module.load_split

    def timed_load(spec: Any) -> Any:
        nonlocal load_seconds, loaded_at
        started = time.perf_counter()
        try:
            return real_load(spec)
        finally:
            loaded_at = time.perf_counter()
            load_seconds = loaded_at - started

    worker_module.load_split = timed_load
    try:
        started = time.perf_counter()
        report = worker_module.run_worker(study, spec)
        total = time.perf_counter() - started - load_seconds
    finally:
        worker_module.load_split = real_load
    trials = report.trials
    first = min(first, len(timer.trial_ends))
    first_end, first_storage = timer.trial_ends[first - 1]
    first_total = first_end - loaded_at
    return {
        "first": {
            "trials": first,
            "trial_ms": first_total / first * 1000,
            "storage_ms": first_storage / first * 1000,
            "share": first_storage / first_total,
        },
        "trials": trials,
        "trial_ms": total / trials * 1000,
        "storage_ms": timer.main / trials * 1000,
        "share": timer.main / total,
        "heartbeat_ms": timer.background / trials * 1000,
        "calls": sum(timer.calls.values()) / trials,
        "statements": timer.statements / trials,
        "by_call": {
            k: (v / trials, timer.seconds[k] / trials * 1000)
            for k, v in sorted(timer.calls.items(), key=lambda kv: -timer.seconds[kv[0]])
        },
    }


# --------------------------------------------------------------------------- 2b. speed paths


def speed_paths(url: str, n_trials: int | None, first: int) -> list[tuple[str, dict[str, Any]]]:
    """The storage overhead (``overhead``) with every speed path on, then with each
    one off in turn (``HPSEARCH_SPEED_OFF``, read by ``hpsearch.storage.speed``): a
    fresh study of the same spec each time, in this process."""
    from hpsearch.storage.speed import SPEED_OFF_ENV, SPEED_PATHS

    runs = []
    before = os.environ.get(SPEED_OFF_ENV)
    try:
        for off in ("", *SPEED_PATHS):
            os.environ[SPEED_OFF_ENV] = off
            runs.append((off, overhead(url, n_trials, first)))
    finally:
        if before is None:
            os.environ.pop(SPEED_OFF_ENV, None)
        else:
            os.environ[SPEED_OFF_ENV] = before
    return runs


def print_speed_paths(runs: list[tuple[str, dict[str, Any]]]) -> None:
    """One line for all paths on, one per path off: what the path saves, as the rise in
    the storage's share of trial time when it is off. Shares, each of its own run's
    trial time, are what survives a shared machine's load changing between runs
    (milliseconds rise and fall with it)."""
    base = runs[0][1]
    print(
        f"speed paths (digits-quick, {base['trials']} trials per run, 1 worker): all on "
        f"{base['storage_ms']:.1f} ms storage per trial of {base['trial_ms']:.0f} ms "
        f"= {base['share']:.2%}; {base['statements']:.1f} SQL statements per trial"
    )
    for off, o in runs[1:]:
        print(
            f"  {off + ' off:':<22} {o['storage_ms']:6.1f} ms storage per trial of "
            f"{o['trial_ms']:.0f} ms = {o['share']:.2%} ({o['statements']:.1f} SQL "
            f"statements); the path saves {o['share'] - base['share']:+.2%} of trial time "
            f"(bar >= 1%)"
        )


# --------------------------------------------------------------------------- 3. stress


def _stress_process(url: str, name: str, start_at: float, seconds: float, results: Any) -> None:
    import optuna

    from hpsearch.storage.urls import open_storage
    from hpsearch.study.queue import claim_trial, enqueue_budget

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    done = errors = 0
    first_error = ""
    study = optuna.load_study(
        study_name=name, storage=open_storage(url), sampler=optuna.samplers.RandomSampler()
    )
    time.sleep(max(0.0, start_at - time.time()))
    end = start_at + seconds
    while time.time() < end:
        try:
            trial = claim_trial(study)
            if trial is None:  # keep the queue topped up: the budget is time here
                enqueue_budget(study, [], 16)
                continue
            x = trial.suggest_float("x", -1.0, 1.0)
            study.tell(trial, x * x)
            done += 1
        except Exception:
            errors += 1
            first_error = first_error or traceback.format_exc(limit=3)
    results.put((done, errors, first_error))


def stress(url: str, processes: int, seconds: float) -> tuple[float, int, int, str]:
    import optuna

    from hpsearch.storage.urls import open_storage
    from hpsearch.study.queue import enqueue_budget

    name = f"stress-{uuid.uuid4().hex[:6]}"
    study = optuna.create_study(study_name=name, storage=open_storage(url))
    enqueue_budget(study, [], 64)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 10 + processes * 0.3  # every process imported and connected
    workers = [
        context.Process(target=_stress_process, args=(url, name, start_at, seconds, results))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join()
    done = sum(o[0] for o in outcomes)
    errors = sum(o[1] for o in outcomes) + sum(1 for w in workers if w.exitcode != 0)
    complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    first_error = next((o[2] for o in outcomes if o[2]), "")
    return done / seconds, errors, complete, first_error


# --------------------------------------------------------------------------- 4. proxy stress


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proxy_stress_process(
    url: str, name: str, ready: Any, go: Any, seconds: float, results: Any
) -> None:
    """One stress worker through the proxy: connect, say so, wait for all, then run."""
    import optuna

    from hpsearch.storage.urls import open_storage
    from hpsearch.study.queue import claim_trial, enqueue_budget

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    done = errors = 0
    first_error = ""
    study = optuna.load_study(
        study_name=name, storage=open_storage(url), sampler=optuna.samplers.RandomSampler()
    )
    ready.put(os.getpid())
    go.wait()
    end = time.time() + seconds
    while time.time() < end:
        try:
            trial = claim_trial(study)
            if trial is None:  # keep the queue topped up: the budget is time here
                enqueue_budget(study, [], 16)
                continue
            x = trial.suggest_float("x", -1.0, 1.0)
            study.tell(trial, x * x)
            done += 1
        except Exception:
            errors += 1
            first_error = first_error or traceback.format_exc(limit=3)
    results.put((done, errors, first_error))


def proxy_stress(url: str, processes: int, seconds: float) -> dict[str, Any]:
    """``processes`` near-zero-cost workers through one ``hpsearch proxy`` on ``url``,
    all started together once every one has connected (64 imports take a while)."""
    import signal

    import optuna

    from hpsearch.storage.urls import open_storage
    from hpsearch.study.queue import enqueue_budget

    port = _free_port()
    proxy_url = f"grpc://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="proxy-")  # noqa: SIM115
    proxy = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "proxy", "--storage", url, "--port", str(port)],
        env=worker_env(url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        name = f"proxy-stress-{uuid.uuid4().hex[:6]}"
        study = optuna.create_study(study_name=name, storage=open_storage(proxy_url))
        enqueue_budget(study, [], 64)
        context = multiprocessing.get_context("spawn")
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        workers = [
            context.Process(
                target=_proxy_stress_process,
                args=(proxy_url, name, ready, go, seconds, results),
            )
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        for _ in workers:
            ready.get(timeout=900)
        go.set()
        outcomes = [results.get(timeout=seconds + 300) for _ in workers]
        for w in workers:
            w.join()
        done = sum(o[0] for o in outcomes)
        errors = sum(o[1] for o in outcomes) + sum(1 for w in workers if w.exitcode != 0)
        trials = study.get_trials(deepcopy=False)
        complete = sum(1 for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
        running = sum(1 for t in trials if t.state == optuna.trial.TrialState.RUNNING)
        first_error = next((o[2] for o in outcomes if o[2]), "")
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(timeout=60)
        log.seek(0)
        proxy_output = log.read()
        log.close()
    return {
        "rate": done / seconds,
        "errors": errors,
        "complete": complete,
        "running": running,
        "first_error": first_error,
        "proxy_warnings": sum(
            "Traceback" in line or "WARNING" in line for line in proxy_output.splitlines()
        ),
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="PostgreSQL URL (default: a fresh database on 127.0.0.1)")
    parser.add_argument("--trials-per-worker", type=int, default=10)
    parser.add_argument("--overhead-trials", type=int, help="default: the spec's budget (n_trials)")
    parser.add_argument(
        "--overhead-first", type=int, default=12, help="also the share over these first trials"
    )
    parser.add_argument("--processes", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--proxy-processes", type=int, default=64)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["scaling", "overhead", "speed", "stress", "proxy"],
    )
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import optuna

    from hpsearch.storage.urls import mask_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" lines

    url, drop = (args.url, None) if args.url else fresh_database()
    print(f"storage: {mask_url(url)}; {os.cpu_count()} CPU cores")
    try:
        if "scaling" not in args.skip:
            one, wall_one = scaling(url, 1, args.trials_per_worker)
            two, wall_two = scaling(url, 2, args.trials_per_worker)
            print(
                f"scaling: 1 worker {one:.1f} trials/min, 2 workers {two:.1f} trials/min "
                f"-> {two / one:.2f}x (bar >= 1.8x); {args.trials_per_worker} trials per "
                f"worker of ~1 s, wall incl. start-up {wall_one:.1f} s / {wall_two:.1f} s"
            )
        if "overhead" not in args.skip:
            o = overhead(url, args.overhead_trials, args.overhead_first)
            print(
                f"storage overhead (digits-quick, {o['trials']} trials, 1 worker): "
                f"{o['storage_ms']:.1f} ms per trial of {o['trial_ms']:.0f} ms = "
                f"{o['share']:.2%} of trial time (bar <= 2%); {o['calls']:.1f} storage "
                f"calls ({o['statements']:.1f} SQL statements) per trial; heartbeat thread "
                f"{o['heartbeat_ms']:.1f} ms per trial beside it"
            )
            top = ", ".join(
                f"{k} {n:.1f}x {ms:.1f} ms" for k, (n, ms) in list(o["by_call"].items())[:7]
            )
            print(f"  per trial: {top}")
            f = o["first"]
            print(
                f"  the first {f['trials']} trials alone (TPE's random start-up, cold start): "
                f"{f['storage_ms']:.1f} ms per trial of {f['trial_ms']:.0f} ms = "
                f"{f['share']:.2%}"
            )
        if "speed" not in args.skip:
            print_speed_paths(speed_paths(url, args.overhead_trials, args.overhead_first))
        if "stress" not in args.skip:
            rate, errors, complete, first_error = stress(url, args.processes, args.seconds)
            print(
                f"stress: {args.processes} processes, near-zero objective, "
                f"{args.seconds:.0f} s: {rate:.1f} trials/s, {errors} errors (bar 0), "
                f"{complete} COMPLETE trials in the study"
            )
            if first_error:
                print(first_error)
        if "proxy" not in args.skip:
            p = proxy_stress(url, args.proxy_processes, args.seconds)
            print(
                f"proxy stress: {args.proxy_processes} processes through hpsearch proxy "
                f"(grpc://, one proxy process), near-zero objective, {args.seconds:.0f} s: "
                f"{p['rate']:.1f} trials/s, {p['errors']} errors (bar 0), {p['complete']} "
                f"COMPLETE and {p['running']} RUNNING trials in the study, "
                f"{p['proxy_warnings']} warnings in the proxy's log"
            )
            if p["first_error"]:
                print(p["first_error"])
    finally:
        if drop is not None:
            drop()


if __name__ == "__main__":
    main()
