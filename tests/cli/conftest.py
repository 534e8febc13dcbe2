"""Fixtures of the CLI tests: the CLI in-process at a chosen width, and real studies.

``cli_studies``: two small studies with digits-quick's whole search space (eight searched
hyperparameters: the widest tables), run through the real controller, one with a trial
that failed and was re-queued as an interrupted worker leaves it.
"""

from __future__ import annotations

import io
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from hpsearch.cli import main

REPO = Path(__file__).parents[2]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """``cli(*args, columns=200)``: ``hpsearch ARGS`` in-process, output piped at ``columns``."""
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)

    def run(*args: str, columns: int = 200, input: str | None = None) -> CliResult:
        monkeypatch.setenv("COLUMNS", str(columns))
        if input is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(input))
        capfd.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capfd.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def small_spec(name: str, sampler: str, n_trials: int) -> dict[str, Any]:
    """digits-quick.toml's spec with its [space], on 200 images for 2 epochs."""
    raw = tomllib.loads((REPO / "studies" / "digits-quick.toml").read_text())
    raw["study"].update(name=name, sampler=sampler, n_trials=n_trials, seed=5)
    raw["study"].pop("timeout", None)
    raw["data"] = {"dataset": "digits", "subset": 200, "validation": 100}
    raw["training"] = {**raw.get("training", {}), "epochs": 2, "patience": 2}
    # The tests count the one FAIL trial the fixture makes. A study that has started a
    # trial draws fresh sampler seeds (lifecycle._worker_seed), so its points differ
    # from run to run, and eta near 5 sometimes diverged: a second, random FAIL.
    raw["space"]["eta"] = {"type": "float", "low": 0.05, "high": 0.5, "log": True}
    return raw


@dataclass(frozen=True)
class CliStudies:
    url: str
    names: tuple[str, ...]  # the TPE study (with one retried FAIL trial) first
    folder: Path


@pytest.fixture(scope="session")
def cli_studies(tmp_path_factory: pytest.TempPathFactory) -> CliStudies:
    from hpsearch.spec.study_spec import parse_spec
    from hpsearch.study.lifecycle import create_or_resume
    from hpsearch.study.queue import claim_trial, requeue
    from hpsearch.workers.controller import run_study

    folder = tmp_path_factory.mktemp("cli-studies")
    url = f"sqlite:///{folder / 'studies.db'}"
    wide = parse_spec(small_spec("wide", "tpe", 5))
    study, _ = create_or_resume(wide, url)
    # As an interrupted worker leaves it (workers/loop.py _give_up): FAIL, then re-queued.
    trial = claim_trial(study)
    assert trial is not None
    trial.set_user_attr("fail_reason", "interrupted: the worker was stopped")
    study.tell(trial, state=TrialState.FAIL)
    requeue(study, trial)
    run_study(wide, url, jobs=1)
    run_study(parse_spec(small_spec("wide-random", "random", 3)), url, jobs=1)
    return CliStudies(url, ("wide", "wide-random"), folder)


def table_lines(text: str) -> tuple[list[str], list[list[str]]]:
    """The header cells and the body rows (cells stripped) of the rich table in ``text``."""
    header: list[str] = []
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("┃") and not header:
            header = [c.strip() for c in line.strip("┃").split("┃")]
        elif line.startswith("│"):
            rows.append([c.strip() for c in re.split("│", line.strip().strip("│"))])
    return header, rows


@pytest.fixture
def parse_table() -> Callable[[str], tuple[list[str], list[list[str]]]]:
    return table_lines
