"""A PostgreSQL server of the test's own: ``initdb`` into a temporary folder, a free port.

Restart and outage tests stop and start this server only, never the machine's own
cluster (which other tests and other users share). When the PostgreSQL binaries are
missing the test skips, unless ``HPSEARCH_REQUIRE_PG`` is set (CI): then it fails.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class OwnPostgres:
    """One throwaway PostgreSQL server: ``url`` to a database on it, ``stop``/``start``."""

    def __init__(self, bindir: Path, root: Path, user: str | None) -> None:
        self.bindir, self.root, self.user = bindir, root, user
        self.data, self.log = root / "data", root / "server.log"
        self.port = _free_port()

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "hp")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres:pw-s3cret-9f2c@127.0.0.1:{self.port}/hp"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _skip(reason: str) -> None:
    if os.environ.get("HPSEARCH_REQUIRE_PG"):
        pytest.fail(f"{reason} (HPSEARCH_REQUIRE_PG is set)")
    pytest.skip(reason)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh server for one test, stopped and deleted afterwards."""
    bindir = next((d for d in BIN_DIRS if (d / "initdb").exists()), None)
    if bindir is None:
        _skip("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql")
    user = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            _skip("running as root without runuser: initdb cannot run")
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            _skip("running as root and there is no 'postgres' user for initdb")
    root = Path(tempfile.mkdtemp(prefix="hpsearch-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = OwnPostgres(bindir, root, user)  # type: ignore[arg-type]
    try:
        server.init()
        yield server
    finally:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            server.stop("immediate")  # unless already stopped (or never started)
        shutil.rmtree(root, ignore_errors=True)
