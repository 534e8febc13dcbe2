"""Fixtures for the distributed-worker tests: real databases, worker processes, tiny specs.

Server databases (``pg_url``, ``mysql_url``: a fresh one per test session) come from
``tests/conftest.py``, which all test packages share.
Workers are real processes (``python -m hpsearch worker``) that find the storage in
``HPSEARCH_STORAGE`` and beat their heartbeat every second with a 3-second grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

# Re-exported: the tests of this package import them from here.
from ..conftest import MYSQL_HOST as MYSQL_HOST
from ..conftest import MYSQL_PORT as MYSQL_PORT
from ..conftest import PASSWORD as PASSWORD
from ..conftest import PG_HOST as PG_HOST
from ..conftest import PG_PORT as PG_PORT

HEARTBEAT_ENV = {"HPSEARCH_HEARTBEAT_INTERVAL": "1", "HPSEARCH_GRACE_PERIOD": "3"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite")


@pytest.fixture(params=["postgres", "sqlite", "mysql"])
def storage_url(request: pytest.FixtureRequest, sqlite_dir: Path) -> str:
    """The same test on PostgreSQL, SQLite (local processes) and MariaDB."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    if request.param == "mysql":
        return request.getfixturevalue("mysql_url")
    return f"sqlite:///{sqlite_dir / 'workers.db'}"


def spec_text(
    name: str,
    *,
    n_trials: int | None = 8,
    epochs: int = 3,
    subset: int = 200,
    timeout: float | None = None,
    grid: str | None = None,
    sampler: str = "random",
    slow: bool = False,
    cohort: int = 1,
) -> str:
    """A tiny digits study: trials of a few ms per epoch on 2 cores, or with ``slow``
    about 2 s (batch size 1, 40 epochs on 1,000 images), long enough to interrupt."""
    if slow:
        epochs, subset = 40, 1000
    budget = f"n_trials = {n_trials}\n" if n_trials else ""
    budget += f"timeout = {timeout}\n" if timeout else ""
    budget += f"cohort = {cohort}\n" if cohort != 1 else ""
    space = (
        f'eta = {{ type = "float", low = {0.01 if slow else 0.05}, high = {0.05 if slow else 1.0}, log = true }}\n'
        'hidden_width = { type = "int", low = 10, high = 40 }\n'
        'activation = { choices = ["sigmoid", "tanh"] }\n'
    ) + ("batch_size = 1\n" if slow else "")
    text = (
        f'[study]\nname = "{name}"\nmetric = "validation_accuracy"\nsampler = "{sampler}"\n'
        f'pruner = "none"\nseed = 3\n{budget}\n'
        f'[data]\ndataset = "digits"\nsubset = {subset}\nvalidation = 100\n\n'
        f"[training]\nepochs = {epochs}\npatience = {epochs}\n\n[space]\n{space}"
    )
    if grid:
        text += f"\n[grid]\n{grid}"
    return text


@dataclass
class Worker:
    process: subprocess.Popen[str]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float = 90) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text()


class Cluster:
    """Creates a study with ``hpsearch create`` and starts ``hpsearch worker`` processes."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.tmp_path = tmp_path
        self.name = f"s{uuid.uuid4().hex[:8]}"
        self.workers: list[Worker] = []
        self.create_output = ""

    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HPSEARCH_")}
        env.update(HEARTBEAT_ENV)
        env["HPSEARCH_STORAGE"] = self.url  # workers get the URL from the environment only
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        return env

    def create(self, **spec: Any) -> str:
        path = self.tmp_path / f"{self.name}.toml"
        path.write_text(spec_text(self.name, **spec))
        done = subprocess.run(
            [sys.executable, "-m", "hpsearch", "create", str(path)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.create_output = done.stdout + done.stderr
        assert done.returncode == 0, self.create_output
        return self.create_output

    def start(self, n: int = 1, *args: str) -> list[Worker]:
        started = []
        for _ in range(n):
            log = self.tmp_path / f"worker-{len(self.workers)}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "hpsearch", "worker", "--study", self.name, *args],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            worker = Worker(process, log)
            self.workers.append(worker)
            started.append(worker)
        return started

    def wait_all(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            code = worker.wait(timeout=max(1.0, deadline - time.monotonic()))
            assert code in (0, -signal.SIGKILL), (
                f"worker {worker.pid} exited {code}:\n{worker.output()}"
            )

    def study(self) -> optuna.Study:
        from hpsearch.storage.urls import open_storage

        return optuna.load_study(study_name=self.name, storage=open_storage(self.url))

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        return self.study().get_trials(deepcopy=False)

    def running_trial_of(self, worker: Worker, timeout: float = 60) -> optuna.trial.FrozenTrial:
        """Wait until ``worker`` is in the middle of a trial (its pid is on a RUNNING trial)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for trial in self.study().get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if trial.user_attrs.get("worker", {}).get("pid") == worker.pid:
                    return trial
            assert worker.process.poll() is None, worker.output()
            time.sleep(0.1)
        raise AssertionError(f"worker {worker.pid} never ran a trial:\n{worker.output()}")

    def running_trials_of(
        self, worker: Worker, count: int, timeout: float = 60
    ) -> list[optuna.trial.FrozenTrial]:
        """Wait until ``worker`` runs ``count`` trials at once (a cohort), and return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [
                trial
                for trial in self.study().get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if trial.user_attrs.get("worker", {}).get("pid") == worker.pid
            ]
            if len(running) >= count:
                return running
            assert worker.process.poll() is None, worker.output()
            time.sleep(0.1)
        raise AssertionError(f"worker {worker.pid} never ran {count} trials:\n{worker.output()}")

    def all_output(self) -> str:
        return self.create_output + "".join(w.output() for w in self.workers)

    def counted(self) -> tuple[list[optuna.trial.FrozenTrial], dict[str, int]]:
        """Trials that use up the budget (retried failures left out), and their states."""
        from hpsearch.study.lifecycle import counted_trials

        counted = counted_trials(self.study())
        states: dict[str, int] = {}
        for t in counted:
            states[t.state.name] = states.get(t.state.name, 0) + 1
        return counted, states

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()


@pytest.fixture
def cluster(storage_url: str, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(storage_url, tmp_path)
    yield c
    c.stop_all()


@pytest.fixture
def pg_cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(pg_url, tmp_path)
    yield c
    c.stop_all()


@pytest.fixture
def cluster_sqlite(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(f"sqlite:///{tmp_path / 'study.db'}", tmp_path)
    yield c
    c.stop_all()


@pytest.fixture
def spec_file(tmp_path: Path) -> Any:
    """``spec_file(name, **spec_text_options)`` -> the path of a tiny spec TOML file."""

    def write(name: str, **options: Any) -> str:
        path = tmp_path / f"{name}.toml"
        path.write_text(spec_text(name, **options))
        return str(path)

    return write


@pytest.fixture
def cluster_at(tmp_path: Path) -> Iterator[Any]:
    """``cluster_at(url)``: a ``Cluster`` on any storage URL (e.g. a proxy's grpc://)."""
    made: list[Cluster] = []

    def make(url: str) -> Cluster:
        made.append(Cluster(url, tmp_path))
        return made[-1]

    yield make
    for c in made:
        c.stop_all()
