"""Fixtures for the data layer: an isolated environment, tiny IDX datasets, a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import sources
from hpsearch.data.idx import write_idx

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
TINY_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def tiny_arrays(seed: int = 0, n_train: int = 40, n_test: int = 20) -> dict[str, np.ndarray]:
    """A small image dataset, 4 classes of 6x5 bytes, each class in both parts."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, size=(n_train, 6, 5), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 4).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, 6, 5), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 4).astype(np.uint8),
    }


def write_tiny(folder: Path, arrays: dict[str, np.ndarray] | None = None) -> dict[str, Path]:
    """Write the tiny dataset as four .gz IDX files into ``folder``."""
    arrays = tiny_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    return {role: write_idx(folder / name, arrays[role]) for role, name in TINY_FILES.items()}


class TinyFiles:
    """The helpers above, for tests (which cannot import this conftest)."""

    arrays = staticmethod(tiny_arrays)
    write = staticmethod(write_tiny)


@pytest.fixture
def tiny_files() -> type[TinyFiles]:
    """Functions to make the tiny IDX dataset: ``arrays(seed)`` and ``write(folder, arrays)``."""
    return TinyFiles


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test gets an empty user cache and no data environment variables."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("HPSEARCH_DATA_DIR", raising=False)
    monkeypatch.delenv("HPSEARCH_DATA_URL", raising=False)
    return cache / "hpsearch"


@pytest.fixture
def fashion_dir() -> Path:
    """The Debian package's folder; skips without it unless HPSEARCH_REQUIRE_DATASETS is set."""
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        message = (
            f"{FASHION_DIR} is missing: sudo apt-get install dataset-fashion-mnist "
            "(HPSEARCH_REQUIRE_DATASETS is set, so this is a failure)"
        )
        if os.environ.get("HPSEARCH_REQUIRE_DATASETS"):
            pytest.fail(message)
        pytest.skip(message)
    return FASHION_DIR


@pytest.fixture
def tiny_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> sources.IdxSource:
    """Registers IDX dataset 'tiny' whose published files are in ``source.mirrors[0]`` (a folder)."""
    published = write_tiny(tmp_path / "published")
    source = sources.IdxSource(
        name="tiny",
        class_names=("a", "b", "c", "d"),
        files={
            role: (path.name, hashlib.sha256(path.read_bytes()).hexdigest())
            for role, path in published.items()
        },
        mirrors=(),
        image_shape=(6, 5),
        description="tiny test dataset",
    )
    monkeypatch.setitem(sources.IDX_SOURCES, "tiny", source)
    return source


@dataclass
class Server:
    """A local HTTP server: ``routes`` maps a path to bytes; ``truncate`` paths send half."""

    url: str
    routes: dict[str, bytes] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def http_server() -> Iterator[Server]:
    """An HTTP server on 127.0.0.1 (random port) in a thread, stopped after the test."""
    state = Server(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path in state.truncate:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
