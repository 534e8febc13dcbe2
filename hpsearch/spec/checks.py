"""Small field checkers shared by the spec parser: each appends problems, never raises.

Every message starts with the key path (``study.n_trials``) and says what is valid
and what was received, so a user can fix a spec from the message alone.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()

#: Longest study name: Optuna's ``studies.study_name`` column is VARCHAR(512) on
#: PostgreSQL and MySQL/MariaDB (SQLite does not check it; hpsearch does, everywhere).
MAX_NAME_LENGTH = 512
#: Longest study description (stored as a study attribute).
MAX_DESCRIPTION_LENGTH = 10_000


def show(value: Any) -> str:
    """A short description of a received value for messages (tables are not dumped)."""
    if isinstance(value, Mapping):
        return "a table"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int of over 4,300 digits, a very deep list
        text = f"a very large {type(value).__name__}"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def unknown_keys(
    raw: Mapping[Any, Any], allowed: Iterable[str], path: str, problems: list[str]
) -> None:
    """One problem per key of ``raw`` not in ``allowed``, suggesting the closest valid key."""
    allowed = tuple(allowed)
    for key in raw:
        if key in allowed:
            continue
        where = f"{path}.{key}" if path else str(key)
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        problems.append(f"{where}: unknown key; {hint}valid keys: {', '.join(allowed)}")


def table(
    raw: Mapping[str, Any], key: str, path: str, problems: list[str]
) -> Mapping[str, Any] | None:
    """The sub-table ``raw[key]``, ``{}`` when absent, ``None`` (and a problem) when not a table."""
    value = raw.get(key, _MISSING)
    if value is _MISSING:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{path}: expected a table, got {show(value)}")
        return None
    return value


def choice(
    raw: Mapping[str, Any],
    key: str,
    path: str,
    valid: Iterable[str],
    default: Any,
    problems: list[str],
) -> Any:
    """A name from ``valid``; unknown names get the list of valid ones."""
    valid = tuple(valid)
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, str) and value in valid:
        return value
    close = difflib.get_close_matches(value, valid, n=1) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    problems.append(f"{path}: expected one of {', '.join(valid)}, got {show(value)}{hint}")
    return default


def integer(
    raw: Mapping[str, Any],
    key: str,
    path: str,
    default: Any,
    problems: list[str],
    *,
    minimum: int = 1,
    maximum: int | None = None,
) -> Any:
    """An int in ``minimum..maximum`` (booleans refused), or ``default`` when absent."""
    if key not in raw:
        return default
    value = raw[key]
    valid = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum:,}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        problems.append(f"{path}: expected an int {valid}, got {show(value)}")
        return default
    return value


def positive_number(
    raw: Mapping[str, Any],
    key: str,
    path: str,
    default: Any,
    problems: list[str],
    *,
    maximum: float | None = None,
) -> Any:
    """A finite number > 0 (and <= ``maximum``), or ``default`` when absent."""
    if key not in raw:
        return default
    value = raw[key]
    limit = "" if maximum is None else f" and <= {maximum:,.0f}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not finite(value)
        or value <= 0
        or (maximum is not None and value > maximum)
    ):
        problems.append(f"{path}: expected a number > 0{limit}, got {show(value)}")
        return default
    return value


def finite(value: int | float) -> bool:
    """``math.isfinite`` that answers False for ints too large for a float (10**400)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def boolean(
    raw: Mapping[str, Any], key: str, path: str, default: bool, problems: list[str]
) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{path}: expected true or false, got {show(value)}")
        return default
    return value


def string(
    raw: Mapping[str, Any],
    key: str,
    path: str,
    default: str | None,
    problems: list[str],
    *,
    kind: str | None = None,
    limit: int = MAX_NAME_LENGTH,
) -> str | None:
    """A non-empty string; with ``kind`` ("a study name"), also checked by ``text_problem``."""
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: expected a non-empty string, got {show(value)}")
        return default
    problem = text_problem(value, kind, limit) if kind else None
    if problem:
        problems.append(f"{path}: {problem}")
        return default
    return value


def count_or_fraction(
    raw: Mapping[str, Any], key: str, path: str, default: Any, problems: list[str]
) -> Any:
    """An int count >= 1 or a float fraction in (0, 1) of the training set."""
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, float) and 0 < value < 1:
        return value
    problems.append(
        f"{path}: expected an int count >= 1 or a float fraction in (0, 1), got {show(value)}"
    )
    return default


def text_problem(value: str, what: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored as a name or description, or None.

    Too long for the backends, or holding control characters (NUL is refused by
    PostgreSQL; a newline or escape would break every table that shows the name).
    """
    if len(value) > limit:
        return f"{what} is {len(value):,} characters long; at most {limit:,} are allowed"
    bad = next((c for c in value if ord(c) < 32 or 127 <= ord(c) < 160), None)
    if bad is not None and not (what != "a study name" and bad in "\n\t"):
        return f"{what} contains the control character {bad!r}; use printable characters only"
    if what == "a study name" and value != value.strip():
        return f"{what} cannot start or end with spaces"
    return None
