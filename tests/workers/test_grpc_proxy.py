"""A study run through ``hpsearch proxy``: workers on ``grpc://`` hold no database connection.

The proxy is a real ``hpsearch proxy`` process over a fresh SQLite database; the workers
are ``hpsearch worker`` processes that know only ``HPSEARCH_STORAGE=grpc://...``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.cli import main
from hpsearch.errors import StorageError
from hpsearch.storage.proxy import HEARTBEAT_ATTR, parse_proxy_url

pytest.importorskip("grpc")
pytest.importorskip("google.protobuf")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proxy:
    """``hpsearch proxy --storage database --port port`` in its own process (``env``)."""

    def __init__(self, database: str, port: int, tmp_path: Path, env: dict[str, str]) -> None:
        self.port = port
        self.log = tmp_path / "proxy.log"
        command = ["proxy", "--storage", database, "--port", str(port)]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hpsearch", *command],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def wait_ready(self) -> Proxy:
        deadline = time.monotonic() + 60
        while "storage proxy for" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_four_workers_through_the_proxy_end_with_the_exact_grid_after_a_sigkill(
    cluster_at: Any, tmp_path: Path
) -> None:
    port = _free_port()
    cluster = cluster_at(f"grpc://127.0.0.1:{port}")
    # The proxy gets the workers' environment (heartbeat every 1 s, stale after 3 s),
    # less the storage URL: its own is the database's.
    env = {key: value for key, value in cluster.env.items() if key != "HPSEARCH_STORAGE"}
    proxy = Proxy(f"sqlite:///{tmp_path / 'behind-proxy.db'}", port, tmp_path, env).wait_ready()
    try:
        grid = 'eta = [0.01, 0.03]\nhidden_width = [10, 20]\nactivation = ["sigmoid"]\n'
        assert "created in grpc://127.0.0.1:" in cluster.create(
            n_trials=None, grid=grid, sampler="grid", slow=True
        )
        victim, *others = cluster.start(4)
        killed = cluster.running_trial_of(victim)
        os.kill(victim.pid, signal.SIGKILL)
        cluster.wait_all(timeout=120)
        assert all(w.process.returncode == 0 for w in others), cluster.all_output()

        trials = {t.number: t for t in cluster.trials()}
        # The killed worker's trial went stale at the proxy, which failed it and re-queued it.
        assert trials[killed.number].state == TrialState.FAIL
        retries = [
            t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number
        ]
        assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
        assert retries[0].params == trials[killed.number].params
        # Exactly the grid: 4 finished trials, each point once, nothing left over.
        counted, states = cluster.counted()
        assert states == {"COMPLETE": 4}, states
        points = Counter((t.params["eta"], t.params["hidden_width"]) for t in counted)
        assert len(points) == 4 and set(points.values()) == {1}, points
        assert len(trials) == 5  # the 4 points + the killed trial
        # Heartbeats went to the database's heartbeat table, not into the trials' attrs.
        assert not any(HEARTBEAT_ATTR in t.system_attrs for t in trials.values())
        # Every worker talked to the proxy only: the database is a file only the proxy opened.
        assert "behind-proxy.db" not in cluster.all_output()
        # Ctrl-C stops the proxy cleanly, as it does `hpsearch run`: exit 130, one line.
        proxy.process.send_signal(signal.SIGINT)
        assert proxy.process.wait(timeout=30) == 130, proxy.output()
        assert "proxy stopped" in proxy.output() and "Traceback" not in proxy.output()
    finally:
        cluster.stop_all()
        proxy.stop()


def test_a_claim_through_the_proxy_storage_is_atomic_under_racing_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy answers many workers from threads; on SQLite Optuna's claim (read, then
    write) could hand one WAITING trial to two of them. Each trial goes to one thread."""
    from hpsearch.storage.proxy_server import StaleTrialReaper, open_served_storage
    from hpsearch.storage.running import trial_id_of

    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("HPSEARCH_GRACE_PERIOD", "1")
    storage = open_served_storage(f"sqlite:///{tmp_path / 'race.db'}")
    study = optuna.create_study(study_name="race", storage=storage)
    for _ in range(20):
        study.enqueue_trial({})
    ids = [trial_id_of(t) for t in study.get_trials(states=(TrialState.WAITING,))]
    wins: list[int] = []
    start = threading.Barrier(8)

    def claim_all() -> None:
        start.wait()
        for trial_id in ids:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                wins.append(trial_id)

    threads = [threading.Thread(target=claim_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(ids)  # each trial claimed exactly once
    # A lost claim keeps Optuna's answers: False for a running trial, an error for a finished one.
    assert storage.set_trial_state_values(ids[0], state=TrialState.RUNNING) is False
    storage.set_trial_state_values(ids[0], state=TrialState.COMPLETE, values=[1.0])
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_state_values(ids[0], state=TrialState.RUNNING)
    # Each claim recorded the first heartbeat: the trials of a worker killed right after
    # its claims go stale and the proxy re-queues them (without one they never would).
    time.sleep(2.5)
    StaleTrialReaper(storage).reap()
    trials = study.get_trials()
    assert sum(t.state == TrialState.FAIL for t in trials) == 19
    assert sum(t.state == TrialState.WAITING for t in trials) == 19  # their retries


def test_a_client_rides_out_a_proxy_that_is_not_up_yet(cluster_at: Any, tmp_path: Path) -> None:
    """A call made while the proxy is unreachable (restarting, starting) is retried."""
    from hpsearch.storage.proxy import ProxyStorage

    port = _free_port()
    client = ProxyStorage(f"grpc://127.0.0.1:{port}", heartbeat_interval=None)
    answers: list[object] = []
    call = threading.Thread(target=lambda: answers.append(client.get_all_studies()))
    call.start()
    time.sleep(1.0)  # the call has failed at least once by now
    assert answers == []
    env = {k: v for k, v in cluster_at("unused").env.items() if k != "HPSEARCH_STORAGE"}
    proxy = Proxy(f"sqlite:///{tmp_path / 'late.db'}", port, tmp_path, env)
    try:
        call.join(timeout=60)
        assert answers == [[]], proxy.output()
    finally:
        proxy.stop()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("grpc://127.0.0.1", "has no port"),
        ("grpc://:5000", "has no host"),
        ("grpc://127.0.0.1:99999", "out of range"),
        ("grpc://user:pw@127.0.0.1:5000/db", "only a host and a port"),
    ],
)
def test_a_bad_proxy_url_is_one_line_naming_the_valid_form(url: str, problem: str) -> None:
    with pytest.raises(StorageError, match=problem) as error:
        parse_proxy_url(url)
    assert "grpc://HOST:PORT" in str(error.value)


def test_proxy_url_parts() -> None:
    assert parse_proxy_url("grpc://10.0.0.5:13000") == ("10.0.0.5", 13000)
    assert parse_proxy_url("GRPC://[::1]:13000/") == ("::1", 13000)


def test_no_proxy_listening_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import hpsearch.storage.proxy as proxy_module

    old, proxy_module.CONNECT_SECONDS = proxy_module.CONNECT_SECONDS, 0.5
    try:
        assert main(["status", "--storage", f"grpc://127.0.0.1:{_free_port()}"]) == 1
    finally:
        proxy_module.CONNECT_SECONDS = old
    err = capsys.readouterr().err
    assert err.startswith("error: no storage proxy answers at grpc://127.0.0.1:")
    assert "hpsearch proxy --storage" in err and len(err.strip().splitlines()) == 1


def test_the_proxy_refuses_a_proxy_url_and_a_busy_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["proxy", "--storage", "grpc://127.0.0.1:5000", "--port", "5001"]) == 1
    assert "needs the database URL" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        database = f"sqlite:///{tmp_path / 'p.db'}"
        assert main(["proxy", "--storage", database, "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_missing_grpc_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from hpsearch.storage.urls import open_storage

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "grpc" else real(name)
    )
    with pytest.raises(StorageError, match=r"need grpcio.*pip install 'hpsearch\[grpc\]'"):
        open_storage("grpc://127.0.0.1:5000")


def test_the_dashboard_asks_for_the_database_url_not_the_proxys() -> None:
    from hpsearch.storage.urls import open_storage

    with pytest.raises(StorageError, match="reads the database itself"):
        open_storage("grpc://127.0.0.1:5000", read_only=True)  # what the dashboard opens
