"""One line saying why a storage call failed, from the database driver's own words.

Optuna wraps every failed commit in ``StorageInternalError("... e.g. exceeding max
length")``, whatever the cause, so a refused connection or a missing table reads like
bad data. The driver's message is further down the exception chain: find it.
"""

from __future__ import annotations

import optuna
import sqlalchemy.exc

__all__ = ["explain", "is_storage_failure"]

MAX_CHARS = 300


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_storage_failure(error: BaseException) -> bool:
    """True when ``error`` comes from the database (SQLAlchemy or Optuna's wrapper of it)."""
    return any(
        isinstance(e, sqlalchemy.exc.SQLAlchemyError | optuna.exceptions.StorageInternalError)
        for e in _chain(error)
    )


def explain(error: BaseException) -> str:
    """The innermost database message of ``error`` (first line), else its own first line."""
    for e in reversed(_chain(error)):
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.orig is not None:
            text = str(e.orig)
            break
    else:
        drivers = [e for e in _chain(error) if not isinstance(e, optuna.exceptions.OptunaError)]
        text = str(drivers[-1] if drivers else error)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return (line or type(error).__name__)[:MAX_CHARS]
