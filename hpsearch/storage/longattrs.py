"""Trial user attrs longer than a MySQL ``TEXT`` column, stored split across several attrs.

Optuna keeps each attr's JSON in a ``Text`` column, which is ``TEXT`` on MySQL and
MariaDB: 65,535 bytes, about 250 epochs of a trial's learning curves. hpsearch leaves
Optuna's schema as Optuna made it, so a value whose JSON is longer is stored as a head
attr ``{"hpsearch_split": n}`` under its own key and its JSON text in ``n`` string
pieces under ``KEY#part1`` ... ``KEY#partn``, each short enough for ``TEXT`` even
after JSON escaping. ``ResilientRDBStorage`` splits on every write and joins on every
read (``join_attrs``), so everything that reads trials through hpsearch's storage
sees the whole value; other tools (optuna-dashboard, plain ``RDBStorage``) see the
pieces. The same rule holds on every database, so a study moves between them as is.
"""

from __future__ import annotations

import json
from typing import Any

#: Longest JSON text stored as one attr: what a MySQL/MariaDB ``TEXT`` column holds.
WHOLE_CHARS = 65_535
#: JSON text per piece; escaping quotes and backslashes at most doubles it, under TEXT.
PIECE_CHARS = 32_000
#: The head attr's one key: how many pieces follow.
SPLIT_MARK = "hpsearch_split"


def piece_key(key: str, index: int) -> str:
    """The attr key of piece ``index`` (from 1) of the split value of ``key``."""
    return f"{key}#part{index}"


def split_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` as they are stored: each value whose JSON (ASCII, as Optuna writes it)
    passes ``WHOLE_CHARS`` becomes a head attr and its pieces; the rest as they are."""
    stored: dict[str, Any] = {}
    for key, value in attrs.items():
        text = json.dumps(value)
        if len(text) <= WHOLE_CHARS:
            stored[key] = value
            continue
        pieces = [text[at : at + PIECE_CHARS] for at in range(0, len(text), PIECE_CHARS)]
        stored[key] = {SPLIT_MARK: len(pieces)}
        for index, piece in enumerate(pieces, start=1):
            stored[piece_key(key, index)] = piece
    return stored


def join_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` as they were written: each split value joined from its pieces, the
    piece attrs left out. Attrs with nothing split come back as they are (same dict)."""
    heads = [key for key, value in attrs.items() if _is_head(value)]
    if not heads:
        return attrs
    joined = dict(attrs)
    for key in heads:
        keys = [piece_key(key, index) for index in range(1, attrs[key][SPLIT_MARK] + 1)]
        if not all(isinstance(attrs.get(k), str) for k in keys):
            continue  # not (or not yet all) written by hpsearch: leave it as stored
        try:
            joined[key] = json.loads("".join(attrs[k] for k in keys))
        except ValueError:
            continue
        for k in keys:
            del joined[k]
    return joined


def _is_head(value: Any) -> bool:
    return (
        type(value) is dict
        and len(value) == 1
        and type(value.get(SPLIT_MARK)) is int
        and value[SPLIT_MARK] > 0
    )
