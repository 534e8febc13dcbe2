"""The user cache: downloaded source files and decoded arrays.

Layout under ``cache_root()`` (``$XDG_CACHE_HOME/hpsearch``, else ``~/.cache/hpsearch``)::

    NAME/                 downloaded IDX files of dataset NAME
    decoded/KEY/          X_train.npy, y_train.npy, X_test.npy, y_test.npy, meta.json

KEY is derived from the SHA-256 of the source files and the preprocessing, so a
changed source or option can never be served stale arrays. Entries are written
to a temporary folder and renamed into place, so concurrent workers never see
half an entry. The arrays are opened memory-mapped and read-only: a second load
costs little more than hashing the sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: Bump when the decoded layout or the preprocessing code changes meaning.
FORMAT_VERSION = 1

ARRAY_NAMES = ("X_train", "y_train", "X_test", "y_test")


def cache_root(override: str | Path | None = None) -> Path:
    """Return the hpsearch cache folder (``override`` first, then XDG, then ~/.cache)."""
    if override is not None:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "hpsearch"


def cache_key(parts: dict[str, Any]) -> str:
    """Return a stable hex key for ``parts`` (JSON-serialisable: hashes and options)."""
    text = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load_arrays(root: Path, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """Return the cached arrays (read-only, memory-mapped) and metadata, or None on a miss."""
    folder = root / "decoded" / key
    try:
        meta = json.loads((folder / "meta.json").read_text())
        arrays = {
            name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r")) for name in ARRAY_NAMES
        }
    except (OSError, ValueError):
        return None  # absent, partly deleted or unreadable: decode again
    return arrays, meta


def save_arrays(root: Path, key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bool:
    """Store ``arrays`` and ``meta`` under ``key``; True on success.

    The cache is an optimisation: a read-only or full disk gives a warning, not an error.
    """
    decoded = root / "decoded"
    folder = decoded / key
    if folder.exists():
        return True
    tmp: Path | None = None
    try:
        decoded.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=decoded, prefix=f".{key[:12]}.", suffix=".part"))
        for name in ARRAY_NAMES:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arrays[name]))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        try:
            tmp.rename(folder)
        except OSError:
            if not folder.exists():  # lost a race with another worker: theirs is as good
                raise
        return True
    except OSError as error:
        warnings.warn(
            f"could not cache decoded arrays in {decoded}: {error}", RuntimeWarning, stacklevel=2
        )
        return False
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def clear_decoded(root: Path) -> int:
    """Delete every decoded entry under ``root``; return how many were removed."""
    decoded = root / "decoded"
    if not decoded.is_dir():
        return 0
    entries = [entry for entry in decoded.iterdir() if entry.is_dir()]
    for entry in entries:
        shutil.rmtree(entry, ignore_errors=True)
    return len(entries)
