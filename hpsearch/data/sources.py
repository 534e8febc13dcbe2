"""Where the IDX datasets come from: the registry, the search order and the download.

The four IDX files of a dataset are looked for, in order, in

1. an explicit ``data_dir`` (the folder holding the four files),
2. ``$HPSEARCH_DATA_DIR/NAME``,
3. the user cache ``cache_root()/NAME`` (``~/.cache/hpsearch/NAME``),
4. the system folders of a distribution package
   (Debian's ``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``),

and otherwise downloaded into the user cache from ``base_url``, ``$HPSEARCH_DATA_URL``
or the dataset's canonical mirrors, each file checked against its SHA-256.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from hpsearch.data.cache import cache_root
from hpsearch.data.download import DownloadError, download
from hpsearch.errors import DataError

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
ENV_DATA_DIR = "HPSEARCH_DATA_DIR"
ENV_DATA_URL = "HPSEARCH_DATA_URL"


@dataclass(frozen=True)
class IdxSource:
    """One IDX dataset: its files (gzip name and SHA-256 as published) and where to find them."""

    name: str
    class_names: tuple[str, ...]
    files: dict[str, tuple[str, str]]  # role -> (file name, SHA-256 of the published .gz)
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    apt_package: str | None = None
    description: str = ""
    image_shape: tuple[int, int] = (28, 28)


@dataclass(frozen=True)
class Located:
    """The four files of a dataset and where they were found (``origin``)."""

    origin: str  # "data_dir", "env", "cache", "system" or "download"
    directory: Path
    files: dict[str, Path]
    url: str | None = None


FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    # SHA-256 of the files in Zalando's S3 bucket (Debian recompresses them, so
    # its .gz files differ byte-wise while holding the same IDX data).
    files={
        "train_images": (
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        "train_labels": (
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        "test_images": (
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        "test_labels": (
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    },
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    apt_package="dataset-fashion-mnist",
    description="Zalando's 28x28 clothing images, 10 classes, 60000 train / 10000 test",
)

MNIST = IdxSource(
    name="mnist",
    class_names=tuple(str(digit) for digit in range(10)),
    files={
        "train_images": (
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        "train_labels": (
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        "test_images": (
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        "test_labels": (
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    },
    # yann.lecun.com no longer serves the files reliably; these mirrors hold the same bytes.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    description="LeCun's 28x28 handwritten digits, 10 classes, 60000 train / 10000 test",
)

#: The IDX datasets by name (tests may add their own).
IDX_SOURCES: dict[str, IdxSource] = {source.name: source for source in (FASHION_MNIST, MNIST)}


def candidate_names(file_name: str) -> tuple[str, ...]:
    """File names accepted for a role: the .gz, the raw file, and the dotted variant."""
    raw = file_name.removesuffix(".gz")
    dotted = raw.replace("-idx", ".idx")
    return (file_name, raw, dotted, dotted + ".gz")


def find_files(source: IdxSource, directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Return the files of ``source`` present in ``directory`` and the names still missing."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for role in ROLES:
        file_name = source.files[role][0]
        for candidate in candidate_names(file_name):
            path = directory / candidate
            if path.is_file():
                found[role] = path
                break
        else:
            missing.append(file_name)
    return found, missing


def search_path(
    source: IdxSource, data_dir: str | Path | None = None, cache_dir: str | Path | None = None
) -> list[tuple[str, str, Path | None]]:
    """The folders searched for ``source``, in order, as (origin, label, folder or None)."""
    places: list[tuple[str, str, Path | None]] = []
    given = Path(data_dir).expanduser() if data_dir is not None else None
    places.append(("data_dir", "data_dir (not given)" if given is None else "data_dir", given))
    env = os.environ.get(ENV_DATA_DIR)
    env_dir = Path(env).expanduser() / source.name if env else None
    places.append(
        ("env", f"${ENV_DATA_DIR}/{source.name}" + ("" if env else " (not set)"), env_dir)
    )
    places.append(("cache", "user cache", cache_root(cache_dir) / source.name))
    for folder in source.system_dirs:
        label = f"package {source.apt_package}" if source.apt_package else "system folder"
        places.append(("system", label, Path(folder)))
    return places


def base_urls(source: IdxSource, base_url: str | None = None) -> tuple[str, ...]:
    """The URLs to download from: ``base_url``, else ``$HPSEARCH_DATA_URL``, else the mirrors."""
    chosen = base_url or os.environ.get(ENV_DATA_URL)
    return (chosen,) if chosen else source.mirrors


def _join(base: str, file_name: str) -> str:
    return base.rstrip("/") + "/" + file_name


def find_local(
    source: IdxSource, data_dir: str | Path | None = None, cache_dir: str | Path | None = None
) -> tuple[Located | None, list[str]]:
    """Return the first complete local copy of ``source`` (or None) and what each place lacked."""
    report: list[str] = []
    for origin, label, folder in search_path(source, data_dir, cache_dir):
        if folder is None:
            report.append(label)
            continue
        if not folder.is_dir():
            report.append(f"{label} {folder}: no such folder")
            continue
        found, missing = find_files(source, folder)
        if not missing:
            return Located(origin, folder, found), report
        report.append(f"{label} {folder}: missing {', '.join(missing)}")
    return None, report


def _help_text(source: IdxSource) -> str:
    fixes = [
        "pass data_dir=DIR (CLI: --data-dir DIR) naming a folder with the four files",
        f"set {ENV_DATA_DIR}=ROOT with the files in ROOT/{source.name}/",
    ]
    if source.apt_package:
        fixes.append(f"install the Debian package: sudo apt-get install {source.apt_package}")
    else:
        fixes.append(
            "or use fashion-mnist, which Debian packages offline: "
            "sudo apt-get install dataset-fashion-mnist"
        )
    fixes.append(
        f"set {ENV_DATA_URL} (CLI: --url) to a reachable mirror, or connect to the network"
    )
    return "To fix, do one of:\n" + "\n".join(f"  - {fix}" for fix in fixes)


def locate(
    source: IdxSource,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download_missing: bool = True,
    base_url: str | None = None,
    progress: bool | None = None,
) -> Located:
    """Find the four files of ``source`` (see the module docstring), downloading if needed."""
    located, report = find_local(source, data_dir, cache_dir)
    if located is not None:
        return located
    files = source.files
    looked = "Looked in:\n" + "\n".join(f"  - {line}" for line in report)
    if not download_missing:
        raise DataError(
            f"{source.name}: the IDX files ({', '.join(name for name, _ in files.values())}) "
            f"were not found and downloading is off.\n{looked}\n{_help_text(source)}"
        )
    target = cache_root(cache_dir) / source.name
    found, _ = find_files(source, target) if target.is_dir() else ({}, [])
    failures: list[str] = []
    for base in base_urls(source, base_url):
        try:
            for role in ROLES:
                if role in found:
                    continue
                file_name, sha256 = files[role]
                found[role] = download(
                    _join(base, file_name), target / file_name, sha256, progress=progress
                )
        except DownloadError as error:
            failures.append(str(error))
            continue
        except OSError as error:
            raise DataError(
                f"{source.name}: cannot write to the cache {target}: {error}"
            ) from error
        return Located("download", target, found, url=base)
    with contextlib.suppress(OSError):
        target.rmdir()  # only if empty: leave no trace of a failed first download
    tried = "Download failed:\n" + "\n".join(f"  - {line}" for line in failures)
    raise DataError(
        f"{source.name}: the IDX files were not found locally and could not be downloaded.\n"
        f"{looked}\n{tried}\n{_help_text(source)}"
    )
