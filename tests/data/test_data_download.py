"""Downloads against a local HTTP server: verified, atomic, and clear when offline."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from hpsearch.data import cache_root, load, sources
from hpsearch.data.download import DownloadError, download
from hpsearch.errors import DataError

CLOSED_PORT_URL = "http://127.0.0.1:9/"  # the discard port: nothing listens, refused at once


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_good_file_is_verified_and_stored(http_server, tmp_path: Path) -> None:
    """Rule: a file whose SHA-256 matches lands at its destination, with no temp file left."""
    body = b"hello idx" * 1000
    http_server.routes["/f.gz"] = body
    dest = tmp_path / "cache" / "f.gz"
    assert download(f"{http_server.url}/f.gz", dest, _sha(body), progress=False) == dest
    assert dest.read_bytes() == body
    assert sorted(p.name for p in dest.parent.iterdir()) == ["f.gz"]


def test_progress_bar_does_not_disturb_the_download(http_server, tmp_path: Path) -> None:
    """Rule: with the rich progress bar on, the file arrives just the same."""
    body = bytes(range(256)) * 4096
    http_server.routes["/big"] = body
    dest = download(f"{http_server.url}/big", tmp_path / "big", _sha(body), progress=True)
    assert dest.read_bytes() == body


def test_wrong_checksum_is_an_error_and_leaves_nothing(http_server, tmp_path: Path) -> None:
    """Rule: a SHA-256 mismatch raises, naming both digests, and nothing is left in the folder."""
    http_server.routes["/f.gz"] = b"tampered"
    dest = tmp_path / "cache" / "f.gz"
    with pytest.raises(DataError, match=r"SHA-256 mismatch: expected 0+, got [0-9a-f]{64}"):
        download(f"{http_server.url}/f.gz", dest, "0" * 64, progress=False)
    assert list(dest.parent.iterdir()) == []


def test_truncated_transfer_is_an_error_and_leaves_nothing(http_server, tmp_path: Path) -> None:
    """Rule: a transfer that stops before Content-Length is an error; no partial file remains."""
    body = b"x" * 50_000
    http_server.routes["/f.gz"] = body
    http_server.truncate.add("/f.gz")
    dest = tmp_path / "cache" / "f.gz"
    with pytest.raises(DownloadError, match=r"truncated transfer"):
        download(f"{http_server.url}/f.gz", dest, _sha(body), progress=False)
    assert list(dest.parent.iterdir()) == []


def test_http_error_is_a_download_error(http_server, tmp_path: Path) -> None:
    """Rule: a 404 is reported with the URL and status, and nothing is stored."""
    with pytest.raises(DownloadError, match=r"/missing: HTTP 404"):
        download(f"{http_server.url}/missing", tmp_path / "m", "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def _serve(http_server, tmp_path: Path, source: sources.IdxSource) -> None:
    for file_name, _ in source.files.values():
        http_server.routes[f"/mirror/{file_name}"] = (
            tmp_path / "published" / file_name
        ).read_bytes()


def test_dataset_download_goes_to_the_cache_once(
    http_server, tmp_path: Path, tiny_source, isolated: Path
) -> None:
    """Rule: missing IDX files are downloaded into cache/NAME, verified; the next load is offline."""
    _serve(http_server, tmp_path, tiny_source)
    data = load("tiny", base_url=f"{http_server.url}/mirror/", progress=False)
    assert len(http_server.requests) == 4
    cached = isolated / "tiny"
    assert sorted(p.name for p in cached.iterdir()) == sorted(
        n for n, _ in tiny_source.files.values()
    )
    assert data.provenance["origin"] == "download"
    assert data.provenance["url"] == f"{http_server.url}/mirror/"
    published = {name: sha for name, sha in tiny_source.files.values()}
    for record in data.provenance["files"]:
        assert record["sha256"] == published[record["name"]]
        assert record["matches_published_sha256"] is True
    again = load("tiny", base_url=f"{http_server.url}/mirror/")
    assert len(http_server.requests) == 4  # served from the cache
    assert again.provenance["origin"] == "cache"


def test_data_url_environment_variable(
    http_server, tmp_path: Path, tiny_source, monkeypatch
) -> None:
    """Rule: HPSEARCH_DATA_URL replaces the canonical mirrors as the download base."""
    _serve(http_server, tmp_path, tiny_source)
    monkeypatch.setenv("HPSEARCH_DATA_URL", f"{http_server.url}/mirror")
    data = load("tiny", progress=False)
    assert data.provenance["origin"] == "download"
    assert all(path.startswith("/mirror/") for path in http_server.requests)


def test_bad_mirror_file_fails_the_load_and_caches_nothing(
    http_server, tmp_path: Path, tiny_source, isolated: Path
) -> None:
    """Rule: a mirror serving a file with the wrong checksum makes load fail; it is not cached."""
    _serve(http_server, tmp_path, tiny_source)
    name = tiny_source.files["test_images"][0]
    http_server.routes[f"/mirror/{name}"] = b"\x1f\x8bnot the published file"
    with pytest.raises(DataError, match=rf"{name}: SHA-256 mismatch"):
        load("tiny", base_url=f"{http_server.url}/mirror/", progress=False)
    assert name not in {p.name for p in (isolated / "tiny").iterdir()}


def test_offline_error_lists_every_way_to_get_fashion_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule: with no local copy and no network, the error lists the places looked in and the
    fixes: data_dir, HPSEARCH_DATA_DIR, `apt-get install dataset-fashion-mnist`, a mirror URL."""
    offline = dataclasses.replace(
        sources.FASHION_MNIST,
        system_dirs=(str(tmp_path / "not-installed"),),
        mirrors=(CLOSED_PORT_URL,),
    )
    monkeypatch.setitem(sources.IDX_SOURCES, "fashion-mnist", offline)
    with pytest.raises(DataError) as caught:
        load("fashion-mnist", progress=False)
    message = str(caught.value)
    for expected in (
        "could not be downloaded",
        "data_dir (not given)",
        "$HPSEARCH_DATA_DIR/fashion-mnist (not set)",
        "user cache",
        "package dataset-fashion-mnist",
        "127.0.0.1:9",
        "data_dir=DIR",
        "HPSEARCH_DATA_DIR=ROOT",
        "apt-get install dataset-fashion-mnist",
        "HPSEARCH_DATA_URL",
    ):
        assert expected in message, expected
    assert not (cache_root() / "fashion-mnist").exists()  # no empty folder left behind


def test_download_off_is_an_error_not_a_network_call(tiny_source, http_server) -> None:
    """Rule: download=False never touches the network; the error says downloading is off."""
    with pytest.raises(DataError, match=r"not found and downloading is off"):
        load("tiny", download=False, base_url=http_server.url)
    assert http_server.requests == []
