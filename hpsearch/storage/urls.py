"""Storage URLs: which one to use, how to open it, how to show it without its password."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any, Literal, overload

import optuna
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError

from hpsearch.errors import StorageError
from hpsearch.storage.proxy import is_proxy_url, open_proxy
from hpsearch.storage.readonly import open_read_only
from hpsearch.storage.resilient import ResilientRDBStorage
from hpsearch.storage.speed import speed_paths_off

DEFAULT_STORAGE = "sqlite:///hpsearch.db"
STORAGE_ENV = "HPSEARCH_STORAGE"
log = logging.getLogger(__name__)

#: Seconds a SQLite writer waits for the lock before giving up ("database is locked").
SQLITE_BUSY_TIMEOUT = 120
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
#: Connections a process keeps open to a database server, and opens beyond them when
#: busy.
POOL = (2, 4)


#: Schemes without a driver, and the driver hpsearch's extras install for them:
#: ``postgres://`` (what Heroku and many hosts print) is PostgreSQL too.
SCHEME_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
#: The extra that installs each backend's driver (``pip install 'hpsearch[EXTRA]'``).
BACKEND_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def resolve_storage_url(option: str | None = None) -> str:
    """``--storage`` > env ``HPSEARCH_STORAGE`` > ``sqlite:///hpsearch.db`` (working directory),
    with a driverless scheme given the extras' driver (``normalize_storage_url``)."""
    return normalize_storage_url(option or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE)


def storage_origin(option: str | None = None) -> str:
    """Where ``resolve_storage_url(option)`` took its URL from, for error messages."""
    if option:
        return "--storage"
    if os.environ.get(STORAGE_ENV):
        return STORAGE_ENV
    return f"the default, {DEFAULT_STORAGE} in the working directory"


def normalize_storage_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` -> ``postgresql+psycopg://``, ``mysql://`` ->
    ``mysql+pymysql://``: the drivers ``hpsearch[postgres]`` and ``hpsearch[mysql]`` install."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in SCHEME_DRIVERS:
        return f"{SCHEME_DRIVERS[scheme.lower()]}://{rest}"
    return url


def describe_url(url: str) -> str:
    """``mask_url``, with a SQLite file's path made absolute (where is ``hpsearch.db``?)."""
    path = sqlite_file(url)
    if path is not None:
        return f"sqlite:///{path.resolve()}"
    return mask_url(url)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for output and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable storage URL>"


@overload
def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = ...,
    grace_period: int | None = ...,
    create: bool = ...,
    read_only: Literal[True],
) -> optuna.storages.RDBStorage: ...
@overload
def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = ...,
    grace_period: int | None = ...,
    create: bool = ...,
    read_only: bool = ...,
) -> optuna.storages.BaseStorage: ...
def open_storage(
    url: str,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    create: bool = True,
    read_only: bool = False,
) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage for ``url``, tuned for many processes.

    ``read_only``: on an existing schema only, refusing every write (what the
    dashboard reads through; ``hpsearch.storage.readonly``).

    SQLite: WAL journal and a long busy timeout, so local workers queue for the write
    lock instead of failing. Server databases: pre-ping (survives restarts) and a small
    pool; operations retry through a server restart (``ResilientRDBStorage``).
    Heartbeats (interval and grace from the arguments, else env
    ``HPSEARCH_HEARTBEAT_INTERVAL`` / ``HPSEARCH_GRACE_PERIOD``, else 10 s / 30 s) mark
    the trials of killed workers as failed, and they are put back in the queue.
    ``create=False`` (commands that only use an existing storage) refuses a database
    without Optuna's tables, or a SQLite file that does not exist, instead of creating
    them; ``read_only`` implies it.
    ``grpc://HOST:PORT``: a client of ``hpsearch proxy`` (``hpsearch.storage.proxy``),
    whose heartbeats go through the proxy; the proxy's grace period applies.
    """
    url = normalize_storage_url(url)
    if is_proxy_url(url):
        if read_only:
            raise StorageError(
                f"a read-only storage reads the database itself, not through a proxy ({url}): "
                "give the database URL that `hpsearch proxy --storage` serves"
            )
        heartbeat_interval = heartbeat_interval or _env_int(
            "HPSEARCH_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL
        )
        return open_proxy(url, heartbeat_interval=heartbeat_interval)
    speed_paths_off()  # an unknown name in HPSEARCH_SPEED_OFF is an error before anything
    try:
        parsed = make_url(url)
        parsed.get_dialect()  # an unknown scheme fails here, not deep in Optuna
    except ImportError:  # the dialect's driver is not installed
        raise StorageError(f"cannot open {mask_url(url)}: {_missing_driver(parsed)}") from None
    except NoSuchModuleError:
        raise StorageError(
            f"storage URL {mask_url(url)}: unknown database {parsed.drivername!r}; expected "
            "sqlite:///FILE, postgresql+psycopg://... (or postgres://), mysql+pymysql://... "
            "or grpc://HOST:PORT"
        ) from None
    except ArgumentError:
        raise StorageError(
            f"storage URL {url!r} is not a database URL; expected e.g. "
            "sqlite:///hpsearch.db, postgresql+psycopg://user@host/db or grpc://HOST:PORT"
        ) from None
    if read_only or not create:
        path = sqlite_file(url)
        if path is not None:
            _check_sqlite_readable(path, url)
        _require_optuna_tables(url)
    if read_only:
        return open_read_only(url, mask_url(url))
    heartbeat_interval = heartbeat_interval or _env_int(
        "HPSEARCH_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL
    )
    grace_period = grace_period or _env_int("HPSEARCH_GRACE_PERIOD", GRACE_PERIOD)
    engine_kwargs: dict[str, object]
    if parsed.get_backend_name() == "sqlite":
        if create:  # a reader leaves the file as it is (its creator set WAL)
            _prepare_sqlite(parsed.database)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    else:
        kept, extra = POOL
        engine_kwargs = {
            "pool_pre_ping": True,
            "pool_size": kept,
            "max_overflow": extra,
            "pool_recycle": 3600,
        }
    heartbeat: dict[str, Any] = {}
    # Heartbeats and their retry callback are marked experimental in Optuna 5.0; they
    # are what makes crashed workers' trials come back, so hpsearch relies on them.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if heartbeat_interval:
        heartbeat = {
            "heartbeat_interval": heartbeat_interval,
            "grace_period": grace_period or 3 * heartbeat_interval,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(),
        }
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            storage = ResilientRDBStorage(
                url, engine_kwargs=engine_kwargs, skip_table_creation=not create, **heartbeat
            )
            return storage
        except ImportError:
            raise StorageError(f"cannot open {mask_url(url)}: {_missing_driver(parsed)}") from None
        except StorageError:
            raise
        except Exception as error:  # sqlalchemy OperationalError and friends
            # Processes that create the schema of a new database at the same moment collide
            # ("already exists", a unique constraint): the schema is there, open it again.
            racing = isinstance(error, IntegrityError) or "already exists" in str(error)
            if not racing or attempt == attempts:
                raise StorageError(f"cannot open {mask_url(url)}: {_first_line(error)}") from None
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise StorageError(f"{name}={value!r}: expected a whole number of seconds") from None
    if number < 1:
        raise StorageError(f"{name}={value!r}: must be at least 1 second")
    return number


def _prepare_sqlite(database: str | None) -> None:
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not path.parent.exists():
        raise StorageError(
            f"cannot create SQLite database {path}: folder {path.parent} does not exist"
        )
    if path.is_dir():
        raise StorageError(f"cannot open SQLite database {path}: it is a folder, not a file")
    # WAL is persistent: set once per file. Switching to it needs the file to itself and
    # SQLite answers "database is locked" at once, without waiting out the busy timeout,
    # while another process that opens the same new file holds it: wait and try again.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    try:
        connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT)
    except sqlite3.Error as error:
        raise StorageError(f"cannot open SQLite database {path}: {error}") from None
    try:
        while True:
            try:
                if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.DatabaseError as error:
                locked = isinstance(error, sqlite3.OperationalError) and "locked" in str(error)
                if not locked or time.monotonic() > deadline:
                    raise StorageError(
                        f"cannot open SQLite database {path}: {error} "
                        "(expected a SQLite database file, or a new file name)"
                    ) from None
                time.sleep(0.05)
    finally:
        connection.close()


def _check_sqlite_readable(path: Path, url: str) -> None:
    """A reader's checks of a SQLite file, read-only: it exists, is a file, is SQLite."""
    if not path.exists():
        raise StorageError(
            f"no storage at {describe_url(url)}: cannot open SQLite database {path}: no such file"
        )
    if path.is_dir():
        raise StorageError(f"cannot open SQLite database {path}: it is a folder, not a file")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise StorageError(
            f"cannot open SQLite database {path}: {error} (expected a SQLite database file)"
        ) from None


def _require_optuna_tables(url: str) -> None:
    """A reader's check that ``url`` holds Optuna's schema (it never creates it)."""
    try:
        engine = create_engine(url)
    except ImportError:  # the dialect's driver is not installed
        raise StorageError(
            f"cannot open {mask_url(url)}: {_missing_driver(make_url(url))}"
        ) from None
    try:
        with engine.connect() as connection:
            present = inspect(connection).has_table("studies")
    except Exception as error:  # an unreachable server, a wrong password, ...
        raise StorageError(f"cannot open {mask_url(url)}: {_first_line(error)}") from None
    finally:
        engine.dispose()
    if not present:
        raise StorageError(f"no storage at {describe_url(url)}: the database has no Optuna tables")


def _missing_driver(parsed: URL) -> str:
    """The one line for a URL whose database driver is not installed: which extra has it."""
    backend = parsed.get_backend_name()
    problem = f"the database driver for {parsed.drivername}:// is not installed"
    extra = BACKEND_EXTRAS.get(backend)
    if extra is None:
        return problem
    ours = SCHEME_DRIVERS[backend]
    if parsed.drivername == ours:
        return f"{problem}; install it with: pip install 'hpsearch[{extra}]'"
    return (
        f"{problem}; pip install 'hpsearch[{extra}]' installs the driver of {ours}:// "
        f"URLs (also written {backend}://)"
    )


def _first_line(error: BaseException) -> str:
    # The driver's own words (Optuna's wrapper says "e.g. exceeding max length" for all).
    from hpsearch.storage.explain import explain

    return explain(error)
