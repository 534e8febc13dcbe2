"""The one way the CLI makes a rich console."""

from __future__ import annotations

import sys

from rich.console import Console

#: Width of tables when the output is not a terminal (a pipe, a file, a test):
#: wide enough that paths and hashes are not cut, so the output can be grepped.
PIPED_WIDTH = 240


def make_console(*, stderr: bool = False) -> Console:
    """A console that prints strings literally: markup is off, so a study name, a
    description or a path such as ``[/]`` or ``[bold red]x`` is shown as written (and
    cannot crash a table). Output that is styled on purpose passes ``markup=True`` and
    escapes every value it interpolates (``rich.markup.escape``)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPED_WIDTH
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False, markup=False)
