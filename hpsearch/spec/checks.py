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


def show(value: Any) -> str:
    """A short description of a received value for messages (tables are not dumped)."""
    if isinstance(value, Mapping):
        return "a table"
    text = repr(value)
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
) -> Any:
    """An int ``>= minimum`` (booleans refused), or ``default`` when absent."""
    if key not in raw:
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(f"{path}: expected an int >= {minimum}, got {show(value)}")
        return default
    return value


def positive_number(
    raw: Mapping[str, Any], key: str, path: str, default: Any, problems: list[str]
) -> Any:
    """A finite number > 0, or ``default`` when absent."""
    if key not in raw:
        return default
    value = raw[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        problems.append(f"{path}: expected a number > 0, got {show(value)}")
        return default
    return value


def boolean(
    raw: Mapping[str, Any], key: str, path: str, default: bool, problems: list[str]
) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{path}: expected true or false, got {show(value)}")
        return default
    return value


def string(
    raw: Mapping[str, Any], key: str, path: str, default: str | None, problems: list[str]
) -> str | None:
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: expected a non-empty string, got {show(value)}")
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
