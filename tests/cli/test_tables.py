"""Every table command is readable at 80 columns and at 200: no line is wider than the
terminal, no value is cut ("…") or wrapped mid-value, and what does not fit is named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hpsearch.cli.tables import _fmt

WIDTHS = (80, 200)


def _fits(text: str, width: int) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, f"lines over {width} columns: {too_wide}"
    assert "…" not in text, text


def _records(cli: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    result = cli(*args, "--format", "json")
    assert result.code == 0, result.output
    return json.loads(result.out)


@pytest.mark.parametrize("width", WIDTHS)
def test_trials_rows_are_one_line_each_with_whole_values(
    cli_studies: Any, cli: Callable[..., Any], parse_table: Callable[..., Any], width: int
) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    result = cli("trials", name, "--storage", url, columns=width)
    assert result.code == 0, result.output
    _fits(result.out, width)
    header, rows = parse_table(result.out)
    records = _records(cli, "trials", name, "--storage", url)
    # One line per trial: a wrapped cell would add a line whose "#" cell is empty.
    assert [row[0] for row in rows] == [str(r["number"]) for r in records]
    for row, record in zip(rows, records, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["state"] == record["state"]
        assert cells["value"] == _fmt(record["value"])
        for param, value in record["params"].items():
            column = param if param in header else _short_headers(header).get(param)
            if column is not None:
                assert cells[column] == _fmt(value)
    assert _short_headers(header) or "eta" in header, "no param column at all"
    if width == 80:
        assert "not shown at 80 columns" in result.out
    else:
        assert "not shown" not in result.out
        assert {"eta", "lambda", "hidden_layers", "batch_size", "stop"} <= set(header)


def _short_headers(header: list[str]) -> dict[str, str]:
    """Param name -> its abbreviated column, for the abbreviations shown."""
    from hpsearch.cli.tables import PARAM_SHORT

    return {name: short for name, short in PARAM_SHORT.items() if short in header}


@pytest.mark.parametrize("width", WIDTHS)
def test_status_shows_failed_trials_and_fits(
    cli_studies: Any, cli: Callable[..., Any], parse_table: Callable[..., Any], width: int
) -> None:
    result = cli("status", "--storage", cli_studies.url, columns=width)
    assert result.code == 0, result.output
    _fits(result.out, width)
    header, rows = parse_table(result.out)
    assert [row[0] for row in rows] == list(cli_studies.names)
    fail_column = "failed" if "failed" in header else "fail"
    failed = {r[0]: r[header.index(fail_column)] for r in rows}
    assert failed == {"wide": "1", "wide-random": "0"}
    records = {r["name"]: r for r in _records(cli, "status", "--storage", cli_studies.url)}
    for row in rows:
        assert row[header.index("best")] == _fmt(records[row[0]]["best_value"])


@pytest.mark.parametrize("width", WIDTHS)
def test_best_keeps_numbers_whole_and_wraps_params_between_words(
    cli_studies: Any, cli: Callable[..., Any], parse_table: Callable[..., Any], width: int
) -> None:
    url, name = cli_studies.url, cli_studies.names[0]
    result = cli("best", name, "--storage", url, "--limit", "3", columns=width)
    assert result.code == 0, result.output
    _fits(result.out, width)
    header, rows = parse_table(result.out)
    records = _records(cli, "best", name, "--storage", url, "--limit", "3")
    firsts = [row for row in rows if row[0]]
    assert [row[0] for row in firsts] == [str(r["number"]) for r in records]
    for row, record in zip(firsts, records, strict=True):
        assert row[1] == _fmt(record["value"])
    # Continuation lines carry only the params text, split after a whole "name=value,".
    params = header.index("params")
    for row in rows:
        if not row[0]:
            assert all(not cell for i, cell in enumerate(row) if i != params), row
    text = " ".join(row[params] for row in rows)
    for record in records:
        for key, value in record["params"].items():
            assert f"{key}={_fmt(value)}" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_fits_with_whole_values(
    cli_studies: Any, cli: Callable[..., Any], parse_table: Callable[..., Any], width: int
) -> None:
    args = ("compare", *cli_studies.names, "--storage", cli_studies.url)
    result = cli(*args, columns=width)
    assert result.code == 0, result.output
    _fits(result.out, width)
    header, rows = parse_table(result.out)
    records = _records(cli, *args)
    assert [row[0] for row in rows] == [r["name"] for r in records]
    for row, record in zip(rows, records, strict=True):
        assert row[header.index("best")] == _fmt(record["best_value"])
        assert row[header.index("trials")] == str(record["trials"])


@pytest.mark.parametrize("width", WIDTHS)
def test_data_list_fits(
    cli: Callable[..., Any], parse_table: Callable[..., Any], width: int
) -> None:
    result = cli("data", "list", columns=width)
    assert result.code == 0, result.output
    _fits(result.out, width)
    header, rows = parse_table(result.out)
    names = [row[0] for row in rows if row[0]]
    assert {"digits", "fashion-mnist", "mnist"} <= set(names)
    available = header.index("available" if "available" in header else "ok")
    assert all(row[available] in ("yes", "no") for row in rows if row[0])


@pytest.mark.parametrize("width", WIDTHS)
def test_validate_tables_fit(
    cli: Callable[..., Any], parse_table: Callable[..., Any], width: int
) -> None:
    from hpsearch.spec.study_spec import HYPERPARAMETER_NAMES

    spec = str(Path(__file__).parents[2] / "studies" / "fashion-mnist.toml")
    result = cli("validate", spec, columns=width)
    assert result.code == 0, result.output
    _fits(result.out, width)
    _, rows = parse_table(result.out)
    assert [row[0] for row in rows if row[0]] == list(HYPERPARAMETER_NAMES)
