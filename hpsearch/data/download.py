"""Download one file with SHA-256 verification: nothing unverified ever lands in place.

The bytes go to a temporary file in the destination folder; only when the
transfer is complete and the checksum matches is it renamed (atomically) to
its final name. Any failure removes the temporary file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from hpsearch.errors import DataError

_CHUNK = 1 << 20
_USER_AGENT = "hpsearch-dataset-download/1"


class DownloadError(DataError):
    """The network or the server failed; the caller may try another source."""


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_bar(enabled: bool) -> Any:
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def download(
    url: str,
    dest: str | Path,
    sha256: str,
    *,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` into ``dest`` if its SHA-256 is ``sha256``; return ``dest``.

    ``progress`` shows a rich progress bar on stderr (default: when stderr is a
    terminal). Raises ``DownloadError`` when the server cannot be reached or the
    transfer breaks off, ``DataError`` when the checksum does not match.
    """
    dest = Path(dest)
    if progress is None:
        progress = sys.stderr.isatty()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=timeout) as response,
            _progress_bar(progress) as bar,
        ):
            length_header = response.headers.get("Content-Length")
            expected = int(length_header) if length_header and length_header.isdigit() else None
            task = bar.add_task(dest.name, total=expected) if bar is not None else None
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(task, advance=len(chunk))
        if expected is not None and received != expected:
            raise DownloadError(
                f"{url}: truncated transfer: received {received} of {expected} bytes"
            )
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise DataError(
                f"{url}: SHA-256 mismatch: expected {sha256}, got {actual} "
                f"({received} bytes); the file was not kept"
            )
        os.replace(tmp, dest)
        return dest
    except http.client.IncompleteRead as error:
        raise DownloadError(
            f"{url}: truncated transfer: received {len(error.partial)} bytes, "
            f"{error.expected} more were announced"
        ) from error
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: cannot connect ({error.reason})") from error
    except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise DownloadError(f"{url}: transfer failed ({error!r})") from error
    finally:
        tmp.unlink(missing_ok=True)
