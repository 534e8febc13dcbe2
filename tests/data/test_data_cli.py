"""`hpsearch data list` and `hpsearch data fetch`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hpsearch.cli import main
from hpsearch.data import sources


def test_list_shows_every_dataset_and_its_availability(capsys) -> None:
    """Rule: `data list` prints each built-in dataset, whether it is available, and from where."""
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "fashion-mnist", "mnist"):
        assert name in out
    assert "scikit-learn" in out and "npz:PATH" in out and "csv:PATH" in out


def test_fetch_digits_prints_source_and_hash(capsys) -> None:
    """Rule: `data fetch NAME` loads the dataset and prints its shape and source SHA-256."""
    assert main(["data", "fetch", "digits"]) == 0
    out = capsys.readouterr().out
    assert "digits.csv.gz" in out and "10: 0, 1, 2" in out


def test_fetch_downloads_from_a_mirror(http_server, tmp_path: Path, tiny_source, capsys) -> None:
    """Rule: `data fetch NAME --url URL` downloads the files into the cache and says so."""
    for file_name, _ in tiny_source.files.values():
        http_server.routes[f"/m/{file_name}"] = (tmp_path / "published" / file_name).read_bytes()
    assert main(["data", "fetch", "tiny", "--url", f"{http_server.url}/m/", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "downloaded from" in out and "127.0.0.1" in out
    assert len(http_server.requests) == 4


def test_fetch_unknown_name_is_one_line_and_exit_1(capsys) -> None:
    """Rule: a bad name is a one-line error and exit code 1, no traceback."""
    assert main(["data", "fetch", "cifar"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset 'cifar'") and "Traceback" not in err


def test_fetch_option_that_does_not_apply_is_a_usage_error(capsys) -> None:
    """Rule: --data-dir means nothing for digits; saying so beats ignoring it."""
    assert main(["data", "fetch", "digits", "--data-dir", "/tmp"]) == 2
    assert "--data-dir does not apply to dataset 'digits'" in capsys.readouterr().err


def test_fetch_offline_lists_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Rule: fetching with no local copy and no network fails (exit 1) listing the fixes."""
    offline = dataclasses.replace(
        sources.FASHION_MNIST,
        system_dirs=(str(tmp_path / "none"),),
        mirrors=("http://127.0.0.1:9/",),
    )
    monkeypatch.setitem(sources.IDX_SOURCES, "fashion-mnist", offline)
    assert main(["data", "fetch", "fashion-mnist", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "apt-get install dataset-fashion-mnist" in err and "HPSEARCH_DATA_DIR" in err
