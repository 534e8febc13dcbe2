"""``--format table|json|csv`` (``-f``, as in Optuna's CLI) for the commands that list things.

JSON is a list of plain records (the keys are documented in the README and stay stable);
CSV is the same records flattened, nested mappings as ``key_sub`` columns (``params_eta``,
``trials_COMPLETE``), lists as JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import click
from rich.table import Table

from hpsearch.cli.console import make_console
from hpsearch.results.export import json_safe

OUTPUT_FORMATS = ("table", "json", "csv")


def format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--format/-f table|json|csv``, passed as ``fmt``."""
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="table for people; json or csv for scripts (the README lists the keys).",
    )(command)


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"params": {"eta": 1}}`` -> ``{"params_eta": 1}``; lists become JSON text."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}_"))
        elif isinstance(value, list | tuple):
            flat[name] = json.dumps(json_safe(list(value)))
        else:
            flat[name] = value
    return flat


def render_records(records: list[dict[str, Any]], fmt: str) -> str:
    """``records`` as JSON (a list, NaN as null) or CSV (header of every key seen)."""
    if fmt == "json":
        return json.dumps(json_safe(records), indent=2, allow_nan=False) + "\n"
    flat = [flatten(r) for r in records]
    header: list[str] = []
    for row in flat:
        header.extend(k for k in row if k not in header)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    for row in flat:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def emit(fmt: str, records: list[dict[str, Any]], table: Callable[[int], Table]) -> None:
    """Print ``records`` in ``fmt``; for "table", ``table(width)`` at the console's width."""
    if fmt == "table":
        console = make_console()
        console.print(table(console.width))
    else:
        click.echo(render_records(records, fmt), nl=False)
