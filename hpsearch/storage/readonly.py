"""Read-only storages: what the dashboard opens, so it can never change a study.

SQLite is opened through a ``mode=ro`` URI (the database file itself refuses
writes); PostgreSQL and MySQL/MariaDB sessions start read-only on every connection
(``default_transaction_read_only`` / ``SET SESSION TRANSACTION READ ONLY``), so a
write fails in the server whatever code issues it. No tables or files are created.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import optuna
from sqlalchemy.engine import URL, make_url

from hpsearch.errors import StorageError
from hpsearch.storage.explain import explain
from hpsearch.storage.resilient import ResilientRDBStorage

#: Connections the dashboard keeps to a database server, and opens beyond them when busy.
READ_POOL = (2, 2)


def sqlite_path(url: str) -> Path | None:
    """The database file of a file-backed SQLite URL, else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_read_only(url: str, masked: str) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` on an existing Optuna schema that refuses every write.

    ``masked`` is ``url`` as messages show it. Raises ``StorageError`` when the URL is
    malformed, the SQLite file is missing or the database has no Optuna tables.
    """
    try:
        parsed = make_url(url)
        path = sqlite_path(url)
    except Exception as error:
        raise StorageError(f"not a storage URL: {masked!r} ({error})") from None
    engine_kwargs: dict[str, object]
    if parsed.get_backend_name() == "sqlite":
        if path is None:
            raise StorageError(f"a read-only storage needs a SQLite file, not {masked}")
        if not path.is_file():
            raise StorageError(f"no SQLite database at {str(path)!r} (storage {masked})")
        target: str | URL = f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
        engine_kwargs = {}
    else:
        target = parsed
        engine_kwargs = {
            "pool_pre_ping": True,
            "pool_size": READ_POOL[0],
            "max_overflow": READ_POOL[1],
            "connect_args": _read_only_session(parsed.get_backend_name()),
        }
    try:
        # hpsearch's storage, for its reads: long attrs joined (``longattrs``), retries.
        storage = ResilientRDBStorage(
            target.render_as_string(hide_password=False) if isinstance(target, URL) else target,
            engine_kwargs=engine_kwargs,
            skip_table_creation=True,
        )
        storage.retry_seconds = 0.0  # a page answers 503 now and polls again, never hangs
    except Exception as error:
        reason = explain(error)  # the driver's words, not Optuna's "exceeding max length"
        raise StorageError(
            f"cannot open the Optuna storage {masked}: {reason.replace(url, masked)}"
        ) from None
    return storage


def _read_only_session(backend: str) -> dict[str, object]:
    """Driver arguments that make each new session read-only."""
    if backend == "postgresql":
        return {"options": "-c default_transaction_read_only=on"}
    if backend in ("mysql", "mariadb"):
        return {"init_command": "SET SESSION TRANSACTION READ ONLY"}
    raise StorageError(
        f"read-only storages are SQLite, PostgreSQL or MySQL/MariaDB, not {backend!r}"
    )
