"""Shared fixtures of the search tests: tiny study specs as TOML files, the CLI in-process,
and a look at a study's trials in its storage."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest

from hpsearch.cli import main

#: A study that trains for a fraction of a second per trial: digits, 200 images, 2 epochs.
TINY_SPEC: dict[str, Any] = {
    "study": {"name": "tiny", "sampler": "tpe", "seed": 1, "n_trials": 4},
    "data": {"dataset": "digits", "subset": 200, "validation": 100},
    "training": {"epochs": 2, "patience": 2},
    "space": {
        "eta": {"type": "float", "low": 0.05, "high": 5.0, "log": True},
        "hidden_width": {"type": "int", "low": 10, "high": 30},
    },
}


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
            + "}"
        )
    raise TypeError(f"no TOML for {value!r}")


def to_toml(spec: Mapping[str, Any]) -> str:
    """A spec mapping (section -> table) as TOML text."""
    lines: list[str] = []
    for section, table in spec.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{json.dumps(str(key))} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in per section; a value of None removes the key."""
    result = copy.deepcopy(dict(base))
    for section, table in changes.items():
        if table is None:
            result.pop(section, None)
            continue
        target = result.setdefault(section, {})
        for key, value in table.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return result


@pytest.fixture
def spec_file(tmp_path: Path) -> Callable[..., Path]:
    """``spec_file(changes, name=...)``: TINY_SPEC with ``changes`` merged, written as TOML."""

    def write(
        changes: Mapping[str, Any] | None = None,
        *,
        file: str = "spec.toml",
        base: Mapping[str, Any] = TINY_SPEC,
    ) -> Path:
        path = tmp_path / file
        path.write_text(to_toml(merged(base, changes or {})))
        return path

    return write


class SpecTools:
    """The helpers above, for test modules (which do not import each other or conftest)."""

    tiny = TINY_SPEC
    merged = staticmethod(merged)
    to_toml = staticmethod(to_toml)
    toml_value = staticmethod(toml_value)


@pytest.fixture
def spec_tools() -> type[SpecTools]:
    return SpecTools


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh working directory, with no storage URL from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    return tmp_path


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err

    def __iter__(self):  # code, out, err = cli(...)
        return iter((self.code, self.out, self.err))


@pytest.fixture
def cli(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """``cli(*args)``: ``hpsearch ARGS`` in-process; exit code, stdout and stderr (file
    descriptors: what worker processes print is in them too)."""
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, input: str | None = None) -> CliResult:
        capfd.readouterr()
        if input is not None:
            import io

            monkeypatch.setattr("sys.stdin", io.StringIO(input))
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capfd.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def trials_of(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    """Every trial of study ``name`` in ``url`` (a fresh connection each time)."""
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        return study.get_trials(deepcopy=False)
    finally:
        storage.remove_session()
        storage.engine.dispose()


@pytest.fixture
def study_trials() -> Callable[[str, str], list[optuna.trial.FrozenTrial]]:
    return trials_of
