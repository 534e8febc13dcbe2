"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hpsearch.spec.strategies import SAMPLER_NAMES

storage_option = click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="Database URL, or grpc://HOST:PORT of an `hpsearch proxy` (default: env "
    "HPSEARCH_STORAGE, else sqlite:///hpsearch.db).",
)


def spec_overrides(command: Callable[..., Any]) -> Callable[..., Any]:
    """--n-trials, --timeout, --sampler, --study-name: override the spec (CLI > spec > default)."""
    for option in reversed(
        [
            click.option(
                "--n-trials",
                type=click.IntRange(min=1),
                default=None,
                help="Total trials of the study (overrides the spec).",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0, min_open=True),
                default=None,
                help="Seconds of wall time for this run (overrides the spec).",
            ),
            click.option(
                "--sampler",
                type=click.Choice(SAMPLER_NAMES),
                default=None,
                help="Sampler (overrides the spec).",
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
