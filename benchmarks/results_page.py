"""Run the benchmarks and write ``docs/RESULTS.md`` from what they print.

Every figure on the page is the verbatim output of a run, with its command, the
machine (cores, BLAS), the date and the load average at its start; nothing is typed
in by hand. Plots the benchmarks write are copied next to the page.

    python benchmarks/results_page.py [--only NAME ...] [--quick]

``--only`` runs those sections and keeps the others as the current page has them.
``--quick`` runs the search-efficiency comparison on digits instead of Fashion-MNIST.
A benchmark that fails gets its exit code in its section; the page is still written
with the others, and this script then exits 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGE = DOCS / "RESULTS.md"
#: The 100,000-trial dashboard database, built by the first run and reused after
#: (tests/dashboard/big_fakes.py, ~1 min, ~700 MB; benchmarks/out/ is not committed).
DASHBOARD_DB = "benchmarks/out/dash_100k.db"


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    args: tuple[str, ...]
    plots: tuple[str, ...] = ()


def benchmarks(quick: bool) -> list[Benchmark]:
    efficiency = ("--jobs", "2", *(("--quick",) if quick else ()))
    return [
        Benchmark(
            "network",
            "Network speed: s/epoch vs scikit-learn and PyTorch (issue 2)",
            ("benchmarks/network_speed.py", "--repeats", "5"),
        ),
        Benchmark(
            "optimizers",
            "Adaptive optimizers: sweeping tiny weights out of the float subnormals",
            ("benchmarks/optimizer_speed.py",),
        ),
        Benchmark("data", "Data loading (issue 3)", ("benchmarks/data_load.py",)),
        Benchmark(
            "cohorts",
            "Cohorts: K networks in lockstep vs one after another (issue 17)",
            (
                "benchmarks/cohort_speed.py",
                "--spaces",
                "digits-quick",
                "--epochs",
                "3",
                "--repeat",
                "3",
            ),
        ),
        Benchmark(
            # One epoch and K <= 16: each Fashion-MNIST net-epoch is seconds, not ms.
            "cohorts-fashion",
            "Cohorts on the Fashion-MNIST space (issue 17)",
            (
                "benchmarks/cohort_speed.py",
                "--spaces",
                "fashion-mnist",
                "--epochs",
                "1",
                "--ks",
                "1,4,8,16",
                "--no-widths",
            ),
        ),
        Benchmark(
            "cohort-search",
            "Cohorts in a search: wall time to the budget, storage overhead (issue 17)",
            (
                "benchmarks/cohort_speed.py",
                "--level",
                "search",
                "--cohorts",
                "8,16",
                "--runs",
                "3",
                "--overhead",
                "1,8",
            ),
        ),
        Benchmark(
            # No --skip: scaling, storage overhead, each storage speed path off in turn,
            # the 32-process stress and the 64-process stress through the gRPC proxy.
            "workers",
            "Workers on PostgreSQL: scaling, storage overhead, stress (issue 5)",
            ("benchmarks/workers.py",),
        ),
        Benchmark(
            "dashboard",
            "Dashboard API on a 100,000-trial study with curves (issue 21)",
            (
                "benchmarks/dashboard_api.py",
                "--trials",
                "100000",
                "--repeats",
                "3",
                "--db",
                DASHBOARD_DB,
            ),
        ),
        Benchmark(
            "quality",
            "Model quality: run + retrain on Fashion-MNIST, 5 runs (issue 22)",
            ("benchmarks/model_quality.py", "--study", "fashion-mnist"),
        ),
        Benchmark(
            "quality-digits",
            "Model quality: run + retrain on digits (issue 22)",
            ("benchmarks/model_quality.py", "--study", "digits"),
        ),
        Benchmark(
            "efficiency",
            "Search efficiency: incumbent test accuracy vs epochs, grid vs strategies (issue 18)",
            ("benchmarks/search_efficiency.py", *efficiency),
            ("benchmarks/out/search_efficiency.png",),
        ),
        Benchmark(
            "tta",
            "Time to a good model: hpsearch vs Optuna + scikit-learn MLPClassifier (issue 22)",
            ("benchmarks/time_to_accuracy.py", "--minutes", "4"),
        ),
    ]


@functools.cache
def machine() -> str:
    """Architecture, cores, CPU, Python and the BLAS NumPy loads."""
    import numpy  # noqa: F401 - loads the BLAS that threadpoolctl then reports
    from threadpoolctl import threadpool_info

    blas = sorted(
        {
            f"{i['internal_api']} {i['version']}"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, BLAS: {', '.join(blas)}"
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def run(benchmark: Benchmark) -> tuple[str, float, int]:
    """The benchmark's stdout and stderr (also echoed as they come: some run for an
    hour), its wall seconds and its exit code."""
    started = time.perf_counter()
    lines = []
    with subprocess.Popen(
        [sys.executable, *benchmark.args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(f"  {line}", end="", flush=True)
            lines.append(line)
    return "".join(lines).strip(), time.perf_counter() - started, process.returncode


def fence_for(output: str) -> str:
    """A code fence longer than any run of backticks opening a line of the output, so
    that the output cannot close it."""
    runs = [len(m.group(1)) for m in re.finditer(r"^[ \t]*(`+)", output, re.MULTILINE)]
    return "`" * max([3, *(n + 1 for n in runs)])


def modified(path: Path) -> int | None:
    """The file's modification time in nanoseconds; None when there is none."""
    return path.stat().st_mtime_ns if path.exists() else None


def section(benchmark: Benchmark, docs: Path = DOCS) -> tuple[str, int]:
    """Run the benchmark; its section of the page (title, command, date, load average at
    the start, machine, verbatim output, plots) and its exit code."""
    date, load = dt.datetime.now(dt.UTC), load_average()
    before = {plot: modified(ROOT / plot) for plot in benchmark.plots}
    output, seconds, code = run(benchmark)
    status = "" if code == 0 else f" **(exit code {code})**"
    fence = fence_for(output)
    lines = [
        f"## {benchmark.title}",
        "",
        f"`python {' '.join(benchmark.args)}` — {date:%Y-%m-%d %H:%M} UTC, "
        f"{seconds:.0f} s, load average at start {load}{status};",
        f"machine: {machine()}.",
        "",
        fence,
        output,
        fence,
        "",
    ]
    for plot in benchmark.plots:
        source = ROOT / plot
        # Only a plot this run wrote: an older one would show another run's figures.
        if source.exists() and modified(source) != before[plot]:
            target = docs / "img" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            lines += [f"![{source.stem}](img/{source.name})", ""]
    return "\n".join(lines), code


def split_sections(text: str) -> dict[str, str]:
    """The page's ``## `` sections by title. A heading counts only outside code fences:
    benchmark output inside a fence may have lines starting with ``## ``."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fence = ""  # the open fence's backticks, "" outside one
    for line in text.splitlines():
        ticks = re.match(r"\s{0,3}(`{3,})(.*)$", line)
        if fence:
            if ticks and len(ticks.group(1)) >= len(fence) and not ticks.group(2).strip():
                fence = ""
        elif ticks:
            fence = ticks.group(1)
        elif line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        if current is not None:
            current.append(line)
    return {title: "\n".join(lines).rstrip("\n") + "\n" for title, lines in sections.items()}


def previous_sections(page: Path) -> dict[str, str]:
    """The sections of an existing page by title, so that ``--only`` keeps the others."""
    return split_sections(page.read_text()) if page.exists() else {}


HEADER = [
    "# Results",
    "",
    "Generated by `python benchmarks/results_page.py` (one section at a time with",
    "`--only NAME`): every figure below is the verbatim output of the command above it,",
    "run on the machine and at the load average given there. These machines are shared",
    "and noisy: compare ratios measured in one run.",
    "",
]


def write_page(page: Path, chosen: list[Benchmark], only: set[str] | None) -> list[str]:
    """Run the benchmarks named in ``only`` (all when None), keep the page's other
    sections, write the page; the names of the benchmarks that failed."""
    kept = previous_sections(page)
    sections: list[str] = []
    failed: list[str] = []
    for benchmark in chosen:
        if only is not None and benchmark.name not in only:
            if benchmark.title in kept:
                sections.append(kept[benchmark.title])
            continue
        print(f"running {benchmark.name} ...", flush=True)
        text, code = section(benchmark, page.parent)
        sections.append(text)
        if code != 0:
            failed.append(benchmark.name)
    for title in kept.keys() - {b.title for b in chosen}:
        print(f"dropped a section no benchmark writes: {title}")
    page.write_text("\n".join(HEADER) + "\n" + "\n".join(sections))
    print(f"wrote {page}")
    return failed


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in benchmarks(quick=False)]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        metavar="NAME",
        help=f"run only these ({', '.join(names)}); "
        "the others keep their section from the current page",
    )
    parser.add_argument("--quick", action="store_true", help="search efficiency on digits")
    args = parser.parse_args(argv)
    failed = write_page(PAGE, benchmarks(args.quick), set(args.only) if args.only else None)
    if failed:
        print(f"failed (exit code in their section): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
