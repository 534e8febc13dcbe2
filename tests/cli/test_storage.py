"""Read-only commands never create files; storage errors say what is wrong, which extra
installs a missing driver, and where the URL came from."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

READ_ONLY = [
    ("status",),
    ("trials", "digits-quick"),
    ("best", "digits-quick"),
    ("export", "digits-quick", "-o", "-"),
    ("compare", "digits-quick"),
    ("retrain", "digits-quick"),
    ("delete", "digits-quick", "--yes"),
]


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: a[0])
def test_reading_in_the_wrong_folder_creates_no_database(
    empty_folder: Path, cli: Callable[..., Any], args: tuple[str, ...]
) -> None:
    result = cli(*args)
    assert result.code == 1, result.output
    database = empty_folder / "hpsearch.db"
    assert f"no storage at sqlite:///{database}" in result.err
    assert "the default" in result.err  # where the URL came from
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert list(empty_folder.iterdir()) == []


def test_an_error_from_the_environment_says_so(
    empty_folder: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_STORAGE", "sqlite:///missing.db")
    from_env = cli("status")
    assert from_env.code == 1 and "HPSEARCH_STORAGE" in from_env.err
    assert f"no storage at sqlite:///{empty_folder / 'missing.db'}" in from_env.err
    from_option = cli("status", "--storage", "nonsense://x")
    assert from_option.code == 1 and "from --storage" in from_option.err
    assert "unknown database 'nonsense'" in from_option.err


def test_postgres_scheme_is_postgresql(cli: Callable[..., Any]) -> None:
    """postgres:// (and postgresql://) open with the driver of hpsearch[postgres], psycopg:
    the error is about the server that is not there, not "Can't load plugin"."""
    pytest.importorskip("psycopg")
    for scheme in ("postgres", "postgresql"):
        result = cli("status", "--storage", f"{scheme}://nobody@127.0.0.1:9/none")
        assert result.code == 1
        assert "Can't load plugin" not in result.err and "psycopg2" not in result.err
        assert "postgresql+psycopg://nobody@127.0.0.1:9/none" in result.err
        assert "connect" in result.err.lower()


def test_a_missing_driver_names_the_extra(
    cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if hpsearch[postgres] were missing
    result = cli("status", "--storage", "postgres://u@127.0.0.1:9/db")
    assert result.code == 1 and result.err.count("\n") == 1
    assert "pip install 'hpsearch[postgres]'" in result.err
    assert "Please install appropriate one" not in result.err
    monkeypatch.setitem(sys.modules, "pymysql", None)
    result = cli("status", "--storage", "mysql://u@127.0.0.1:9/db")
    assert "pip install 'hpsearch[mysql]'" in result.err
    other = cli("status", "--storage", "postgresql+psycopg2://u@127.0.0.1:9/db")
    assert "pip install 'hpsearch[postgres]'" in other.err
    assert "postgresql+psycopg://" in other.err  # the URL form that driver takes


def test_retrain_to_an_unwritable_path_fails_before_training(
    cli_studies: Any, cli: Callable[..., Any]
) -> None:
    result = cli("retrain", cli_studies.names[0], "--storage", cli_studies.url, "-o", "/proc/m.npz")
    assert result.code == 1, result.output
    assert "retraining" not in result.out and "epoch" not in result.output
    assert result.err.count("\n") == 1 and "/proc/m.npz" in result.err


def test_compare_plot_path_is_checked_first(
    cli_studies: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    plot = tmp_path / "no-such-folder" / "plot.png"
    result = cli("compare", *cli_studies.names, "--storage", cli_studies.url, "--plot", str(plot))
    assert result.code == 1 and result.out == "" and "does not exist" in result.err
    assert not plot.parent.exists()


def test_reading_a_sqlite_file_that_is_not_a_storage_leaves_it_unchanged(
    empty_folder: Path, cli: Callable[..., Any]
) -> None:
    import sqlite3

    other = empty_folder / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text)")
    before = other.read_bytes()
    result = cli("status", "--storage", f"sqlite:///{other}")
    assert result.code == 1 and result.err.count("\n") == 1
    assert f"no storage at sqlite:///{other}: the database has no Optuna tables" in result.err
    assert other.read_bytes() == before
    assert sorted(p.name for p in empty_folder.iterdir()) == ["other.db"]
