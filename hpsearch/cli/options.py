"""Options shared by several commands: storage, output paths, spec overrides."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import optuna

from hpsearch.errors import ConfigError
from hpsearch.spec.strategies import SAMPLER_NAMES
from hpsearch.spec.study_spec import MAX_COHORT
from hpsearch.storage.urls import open_storage, resolve_storage_url, storage_origin
from hpsearch.study.lifecycle import check_study_name


class StorageOrigin:
    """Where this command's storage URL came from (--storage, HPSEARCH_STORAGE, the default):
    ``main`` adds it to a storage error, so a bad URL in the environment is found."""

    value: str | None = None


def _resolve_storage(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    StorageOrigin.value = storage_origin(value)
    return resolve_storage_url(value)


storage_option = click.option(
    "--storage",
    default=None,
    metavar="URL",
    callback=_resolve_storage,
    help="Database URL, or grpc://HOST:PORT of an `hpsearch proxy` (default: env "
    "HPSEARCH_STORAGE, else sqlite:///hpsearch.db); postgres:// means postgresql+psycopg://.",
)


def open_reader(url: str, *names: str) -> optuna.storages.BaseStorage:
    """The storage of a command that only uses existing studies: the study names are
    checked first, and a missing storage is an error, never a new file."""
    for name in names:
        check_study_name(name)
    return open_storage(url, create=False)


def check_output_path(path: str, *, what: str = "output") -> Path:
    """Fail now, in one line, if ``path`` cannot be written (before any work is done).

    Its folder must exist (it is never created) and take a new file; an existing file
    must be a writable file. Nothing is left behind by the check.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ConfigError(f"{what} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise ConfigError(f"{what} {path}: folder {folder} does not exist (create it first)")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise ConfigError(f"{what} {path}: the file is not writable")
        return target
    try:
        with open(target, "x"):
            pass
    except OSError as error:
        raise ConfigError(f"{what} {path}: cannot write there ({error.strerror})") from None
    target.unlink()
    return target


def output_path_option(help: str, *, what: str = "output") -> Callable[..., Any]:
    """``--output/-o FILE``, checked by ``check_output_path`` as it is parsed; "-" passes."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None or value == "-":
            return value
        check_output_path(value, what=what)
        return value

    return click.option(
        "--output", "-o", type=click.Path(dir_okay=False), default=None, callback=check, help=help
    )


cohort_option = click.option(
    "--cohort",
    type=click.IntRange(min=1, max=MAX_COHORT),
    default=None,
    help="Trials each worker trains at once, as one cohort (overrides the spec's "
    "[study] cohort; 1 = one at a time; a trial learns the same either way).",
)


def jobs_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--jobs/-j N``: local processes (1 by default); ``help`` says what each one does."""
    return click.option(
        "--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help=help
    )


def spec_overrides(*, timeout_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--n-trials, --timeout, --sampler, --cohort, --seed, --study-name: override the spec
    (CLI > spec > default)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(
            [
                click.option(
                    "--n-trials",
                    type=click.IntRange(min=1),
                    default=None,
                    help="Total trials of the study, across runs (overrides the spec; "
                    "raise it to extend a finished study).",
                ),
                click.option(
                    "--timeout",
                    type=click.FloatRange(min=0, min_open=True),
                    default=None,
                    help=timeout_help,
                ),
                click.option(
                    "--sampler",
                    type=click.Choice(SAMPLER_NAMES),
                    default=None,
                    help="Sampler (overrides the spec).",
                ),
                cohort_option,
                click.option(
                    "--seed",
                    type=click.IntRange(min=0),
                    default=None,
                    help="Seed of the sampler, the data subset and every trial (overrides "
                    "the spec's [study] seed): the same study, drawn anew.",
                ),
                click.option(
                    "--study-name",
                    "name",
                    default=None,
                    help="Study name (overrides the spec's [study] name).",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate
