"""Fixtures shared across test packages.

``results_studies``: two tiny real studies (digits, 4 trials of 3 epochs, TPE and
random), run once per session through the real controller and objective, for the
tests of export, retrain/predict and compare.

Server databases: ``server_database("postgres" | "mysql")`` makes a fresh, uniquely
named database on the local PostgreSQL (127.0.0.1:5432, user postgres) or MariaDB
(127.0.0.1:3306, root) and drops it afterwards; ``pg_url`` and ``mysql_url`` are one
each per test session. When a server is unreachable the tests that need it skip,
unless ``HPSEARCH_REQUIRE_PG`` is set (CI): then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306
#: Any password works (trust auth); it must never show up in any output.
PASSWORD = "pw-s3cret-9f2c"

#: A study that trains for a fraction of a second per trial.
RESULTS_SPEC: dict[str, Any] = {
    "study": {"name": "tiny-tpe", "sampler": "tpe", "seed": 3, "n_trials": 4},
    "data": {"dataset": "digits", "subset": 300, "validation": 100},
    "training": {"epochs": 3, "patience": 2},
    "space": {
        "eta": {"type": "float", "low": 0.1, "high": 3.0, "log": True},
        "hidden_width": {"type": "int", "low": 10, "high": 30},
    },
}


@dataclass(frozen=True)
class ResultsStudies:
    """Where the studies are: a SQLite URL and the study names (TPE first)."""

    url: str
    names: tuple[str, ...]


@pytest.fixture(scope="session")
def results_studies(tmp_path_factory: pytest.TempPathFactory) -> ResultsStudies:
    from hpsearch.spec.study_spec import parse_spec
    from hpsearch.workers.controller import run_study

    url = f"sqlite:///{tmp_path_factory.mktemp('results') / 'studies.db'}"
    names = []
    for name, sampler in (("tiny-tpe", "tpe"), ("tiny-random", "random")):
        raw = {**RESULTS_SPEC, "study": {**RESULTS_SPEC["study"], "name": name, "sampler": sampler}}
        run_study(parse_spec(raw), url, jobs=1)
        names.append(name)
    return ResultsStudies(url, tuple(names))


def unreachable(what: str, error: BaseException) -> None:
    """Skip the test (fail it when ``HPSEARCH_REQUIRE_PG`` is set): a server is missing."""
    message = f"{what} not reachable: {type(error).__name__}: {error}"
    if os.environ.get("HPSEARCH_REQUIRE_PG"):
        pytest.fail(f"{message} (HPSEARCH_REQUIRE_PG is set)")
    pytest.skip(message)


@contextmanager
def server_database(backend: str, prefix: str = "hpsearch_workers") -> Iterator[str]:
    """A fresh database named ``{prefix}_<random>`` on the local ``"postgres"`` or
    ``"mysql"`` (MariaDB) server, as a SQLAlchemy URL; dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        with _postgres_database(name) as url:
            yield url
    elif backend == "mysql":
        with _mysql_database(name) as url:
            yield url
    else:
        raise ValueError(f"backend {backend!r}: expected 'postgres' or 'mysql'")


@contextmanager
def _postgres_database(name: str) -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except Exception as error:
        unreachable(f"PostgreSQL on {PG_HOST}:{PG_PORT}", error)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres:{PASSWORD}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        try:
            with psycopg.connect(
                host=PG_HOST,
                port=PG_PORT,
                user="postgres",
                dbname="postgres",
                autocommit=True,
                connect_timeout=10,
            ) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:  # a restart test may have left the server starting up
            pass


@contextmanager
def _mysql_database(name: str) -> Iterator[str]:
    try:
        import pymysql

        admin = pymysql.connect(
            host=MYSQL_HOST,
            port=MYSQL_PORT,
            user="root",
            password="",
            autocommit=True,
            connect_timeout=3,
        )
    except Exception as error:
        unreachable(f"MariaDB on {MYSQL_HOST}:{MYSQL_PORT}", error)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    with server_database("postgres") as url:
        yield url


@pytest.fixture(scope="session")
def mysql_url() -> Iterator[str]:
    """A fresh MariaDB/MySQL database for this test session (dropped afterwards)."""
    with server_database("mysql") as url:
        yield url
