"""Which storage the dashboard reads, how its URL is shown, and how it is opened (read-only use)."""

from __future__ import annotations

from pathlib import Path

import optuna
import sqlalchemy.engine

from hpsearch.errors import StorageError
from hpsearch.storage.explain import explain
from hpsearch.storage.urls import mask_url, resolve_storage_url

__all__ = ["mask_url", "open_storage", "resolve_storage_url", "sqlite_path"]


def sqlite_path(url: str) -> Path | None:
    """The database file of a file-backed SQLite URL, else None."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` on an existing Optuna schema; never creates tables or files.

    Raises ``StorageError`` (with the password masked) when the URL is malformed,
    the SQLite file is missing, or the database has no Optuna tables.
    """
    try:
        path = sqlite_path(url)
    except Exception as error:
        raise StorageError(f"not a storage URL: {mask_url(url)!r} ({error})") from None
    if path is not None and not path.is_file():
        raise StorageError(f"no SQLite database at {str(path)!r} (storage {mask_url(url)})")
    engine_kwargs = {} if path is not None else {"pool_pre_ping": True, "pool_size": 2}
    try:
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, skip_table_creation=True
        )
    except Exception as error:
        reason = explain(error)
        raise StorageError(
            f"cannot open the Optuna storage {mask_url(url)}: {reason.replace(url, mask_url(url))}"
        ) from None
