"""Storages filled with fake-but-realistic hpsearch studies (see ``dashboard_fakes``).

``filled_storage`` is built once per session with ``study.add_trials`` and must not be
changed by tests; ``fresh_storage`` is a new one for tests that write (live updates).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from flask import Flask
from flask.testing import FlaskClient

from hpsearch.dashboard import create_app

# The helpers beside this file are imported by name (pytest's import mode may not add it).
sys.path.insert(0, str(Path(__file__).parent))
from dashboard_fakes import fill

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="session")
def filled_storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'studies.db'}"
    fill(url)
    return url


@pytest.fixture
def fresh_storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    fill(url, bulk=True)  # same rows as add_trials writes (checked in test_fakes), 10x faster
    return url


@pytest.fixture(scope="session")
def app(filled_storage: str) -> Flask:
    return create_app(filled_storage)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    """Where screenshots go: $HPSEARCH_ARTIFACTS or tests/artifacts/ (gitignored)."""
    path = Path(os.environ.get("HPSEARCH_ARTIFACTS") or Path(__file__).parents[1] / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    yield path
