"""The one way the CLI makes a rich console, and the verbosity (-q/-v) every command shares."""

from __future__ import annotations

import os
import sys

from rich.console import Console

#: Width of tables when the output is not a terminal (a pipe, a file, a test) and
#: ``COLUMNS`` is not set: wide enough that paths and hashes are not cut, so the output
#: can be grepped. ``COLUMNS`` (e.g. ``COLUMNS=80 hpsearch trials X | less``) wins.
PIPED_WIDTH = 240


class Verbosity:
    """-q (level -1: only the output asked for, and errors), default 0, -v (1, 2: more)."""

    level = 0

    @classmethod
    def quiet(cls) -> bool:
        return cls.level < 0


def output_width(stream: object) -> int | None:
    """Columns to lay tables out in: the terminal's (None: rich asks it), else ``COLUMNS``,
    else ``PIPED_WIDTH``."""
    if getattr(stream, "isatty", lambda: False)():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 20 else PIPED_WIDTH


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as ``output_width`` says, that prints strings literally: markup
    is off, so a study name, a description or a path such as ``[/]`` or ``[bold red]x``
    is shown as written (and cannot crash a table). Output that is styled on purpose
    passes ``markup=True`` and escapes every value it interpolates (``rich.markup.escape``)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(
        stderr=stderr,
        width=output_width(stream),
        highlight=False,
        soft_wrap=False,
        markup=False,
    )


def note(message: str, *, stderr: bool = False) -> None:
    """Print a progress or status line unless -q was given; ``stderr`` when stdout carries
    data. ``message`` is rich markup: escape the values put in it."""
    if not Verbosity.quiet():
        make_console(stderr=stderr).print(message, markup=True)
