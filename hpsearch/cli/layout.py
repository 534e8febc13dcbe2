"""Fit a table to the terminal: whole cells, abbreviated headers, least useful columns dropped.

Rich squeezes a table that is too wide by folding every cell (``0.99`` becomes ``0.9`` over
``9``). Here each column says how much it matters; values never wrap (``no_wrap``), free
text may wrap between words only, and when the columns do not fit the width, headers are
abbreviated first and then the lowest-priority columns are dropped (the caption says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.table import Table

#: Width a column costs beyond its text in rich's default box: two of padding, one border.
COLUMN_OVERHEAD = 3


@dataclass(frozen=True)
class Col:
    """One table column: header, its abbreviation, priority (higher stays longer), layout."""

    header: str
    short: str | None = None
    priority: int = 50
    justify: Literal["left", "right", "center"] = "left"
    #: Free text that may wrap between words (a stop reason, a description); never mid-word.
    wrap: bool = False

    def min_width(self, cells: list[str], *, abbreviated: bool) -> int:
        header = self.short if abbreviated and self.short else self.header
        widths = [cell_len(header)]
        for cell in cells:
            if self.wrap:
                widths.append(max((cell_len(word) for word in cell.split()), default=0))
            else:
                widths.append(max((cell_len(line) for line in cell.splitlines()), default=0))
        return max(widths)


def fit_table(
    columns: list[Col],
    rows: list[list[str]],
    width: int,
    *,
    title: str | None = None,
    caption: str | None = None,
) -> Table:
    """A rich Table of ``rows`` whose columns fit ``width`` cells without cutting a value."""
    kept = list(range(len(columns)))
    cells = [[row[i] for row in rows] for i in range(len(columns))]

    def needed(indices: list[int], abbreviated: bool) -> int:
        return 1 + sum(
            columns[i].min_width(cells[i], abbreviated=abbreviated) + COLUMN_OVERHEAD
            for i in indices
        )

    abbreviated = needed(kept, False) > width
    # Drop the lowest priority first; among equals, the rightmost.
    order = sorted(kept, key=lambda i: (columns[i].priority, -i))
    dropped: list[int] = []
    while len(kept) > 1 and needed(kept, abbreviated) > width:
        victim = order.pop(0)
        kept.remove(victim)
        dropped.append(victim)
    widths = _wrap_widths(columns, cells, kept, abbreviated, width)
    table = Table(title=title)
    for i in kept:
        column = columns[i]
        header = column.short if abbreviated and column.short else column.header
        table.add_column(
            header,
            justify=column.justify,
            no_wrap=not column.wrap,
            overflow="fold" if column.wrap else "ellipsis",
            width=widths.get(i),
        )
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    notes = [caption] if caption else []
    if dropped:
        names = ", ".join(columns[i].header for i in sorted(dropped))
        notes.append(f"not shown at {width} columns: {names} (wider terminal or --format csv)")
    if notes:
        table.caption = "\n".join(notes)
    return table


def _wrap_widths(
    columns: list[Col], cells: list[list[str]], kept: list[int], abbreviated: bool, width: int
) -> dict[int, int]:
    """Widths of the kept wrapping columns: each its longest word at least, then the space
    left shared out evenly up to each one's widest cell (rich's own squeeze ignores words)."""
    wrapping = [i for i in kept if columns[i].wrap]
    fixed = sum(
        columns[i].min_width(cells[i], abbreviated=abbreviated) for i in kept if not columns[i].wrap
    )
    widths = {i: columns[i].min_width(cells[i], abbreviated=abbreviated) for i in wrapping}
    widest = {
        i: max([widths[i], *(cell_len(line) for cell in cells[i] for line in cell.splitlines())])
        for i in wrapping
    }
    left = width - 1 - COLUMN_OVERHEAD * len(kept) - fixed - sum(widths.values())
    while left > 0:
        growing = [i for i in wrapping if widths[i] < widest[i]]
        if not growing:
            break
        share = max(1, left // len(growing))
        for i in growing:
            step = min(share, widest[i] - widths[i], left)
            widths[i] += step
            left -= step
            if left <= 0:
                break
    return widths
