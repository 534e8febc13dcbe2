"""One behaviour for every command: help, exit codes, -q/-v, worker STUDY, a spent budget."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TINY_TOML = """
[study]
name = "tiny"
sampler = "random"
seed = 2
n_trials = 2

[data]
dataset = "digits"
subset = 200
validation = 100

[training]
epochs = 2
patience = 2

[space]
eta = { type = "float", low = 0.1, high = 3.0, log = true }
"""


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, str]:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_TOML)
    return spec, f"sqlite:///{tmp_path / 'tiny.db'}"


def test_hpsearch_alone_prints_help_and_exits_0(cli: Callable[..., Any]) -> None:
    result = cli()
    assert result.code == 0, result.output
    assert "Usage: hpsearch" in result.out and "status" in result.out and "worker" in result.out


def test_help_texts(cli: Callable[..., Any]) -> None:
    status = cli("status", "--help")
    assert "Usage: hpsearch status [OPTIONS] [STUDY]" in status.out
    assert "--format" in status.out and "-f" in status.out
    create = " ".join(cli("create", "--help").out.split())
    assert "for this run" not in create and "whole study" in create
    run = " ".join(cli("run", "--help").out.split())
    assert "for this run" in run
    worker = cli("worker", "--help").out
    assert "Usage: hpsearch worker [OPTIONS] STUDY" in worker and "--study" in worker


def test_run_on_a_spent_budget_says_so_and_hints_n_trials(
    tiny: tuple[Path, str], cli: Callable[..., Any]
) -> None:
    spec, url = tiny
    first = cli("run", str(spec), "--storage", url)
    assert first.code == 0, first.output
    assert "spent its budget" not in first.output
    again = cli("run", str(spec), "--storage", url)
    assert again.code == 0, again.output
    assert "spent its budget (2 of 2 trials done)" in again.err
    assert f"hpsearch run {spec} --n-trials 4" in again.err
    assert "best trials of tiny" in again.out
    extended = cli("run", str(spec), "--storage", url, "--n-trials", "3")
    assert extended.code == 0 and "spent its budget" not in extended.output
    assert "3/3" in cli("status", "--storage", url).out


def test_quiet_prints_only_the_result_and_verbose_logs_each_trial(
    tiny: tuple[Path, str], cli: Callable[..., Any]
) -> None:
    spec, url = tiny
    quiet = cli("-q", "run", str(spec), "--storage", url)
    assert quiet.code == 0, quiet.output
    assert "created" not in quiet.output and "trials ━" not in quiet.output
    assert "best trials of tiny" in quiet.out
    verbose = cli("-v", "run", str(spec), "--storage", url, "--n-trials", "3")
    assert verbose.code == 0, verbose.output
    assert re.search(r"INFO hpsearch.worker: trial 2 (complete|pruned)", verbose.err), verbose.err


def test_worker_takes_the_study_as_argument_or_option(
    tiny: tuple[Path, str], cli: Callable[..., Any]
) -> None:
    spec, url = tiny
    assert cli("create", str(spec), "--storage", url).code == 0
    positional = cli("worker", "tiny", "--storage", url, "--max-trials", "1")
    assert positional.code == 0, positional.output
    assert "worker done: 1 trial(s)" in positional.out
    option = cli("worker", "--study", "tiny", "--storage", url, "--max-trials", "1")
    assert option.code == 0 and "worker done: 1 trial(s)" in option.out
    both = cli("worker", "tiny", "--study", "other", "--storage", url)
    assert both.code == 2 and "two studies" in both.err
    neither = cli("worker", "--storage", url)
    assert neither.code == 2 and "missing the STUDY" in neither.err


def test_shell_completion_script(tmp_path: Path) -> None:
    """The completion line the README gives prints a bash completion function."""
    env = {**os.environ, "_HPSEARCH_COMPLETE": "bash_source"}
    script = subprocess.run(
        [sys.executable, "-c", "import sys; from hpsearch.cli import main; sys.exit(main())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0, script.stderr
    assert "_hpsearch_completion" in script.stdout
    words = subprocess.run(
        [sys.executable, "-c", "import sys; from hpsearch.cli import main; sys.exit(main())"],
        env={
            **os.environ,
            "_HPSEARCH_COMPLETE": "bash_complete",
            "COMP_WORDS": "hpsearch sta",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "status" in words.stdout
