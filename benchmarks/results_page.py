"""Run the benchmarks and write ``docs/RESULTS.md`` from what they print.

Every figure on the page is the verbatim output of a run, with its command, the
machine (cores, BLAS) and the date; nothing is typed in by hand. Plots the
benchmarks write are copied next to the page.

    python benchmarks/results_page.py [--only NAME ...] [--quick]

``--quick`` runs the search-efficiency comparison on digits instead of Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGE = DOCS / "RESULTS.md"


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
            ("benchmarks/cohort_speed.py", "--epochs", "3"),
        ),
        Benchmark(
            "workers",
            "Workers on PostgreSQL: scaling, storage overhead, stress (issue 5)",
            ("benchmarks/workers.py",),
        ),
        Benchmark(
            "dashboard",
            "Dashboard API on a 5,000-trial study (issue 6)",
            ("benchmarks/dashboard_api.py",),
        ),
        Benchmark(
            "quality",
            "Model quality: run + retrain on Fashion-MNIST and digits (issue 7)",
            ("benchmarks/model_quality.py",),
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
            ("benchmarks/time_to_accuracy.py",),
        ),
    ]


def machine() -> str:
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


def run(benchmark: Benchmark) -> tuple[str, float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *benchmark.args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    output = (done.stdout + done.stderr).strip()
    return output, time.perf_counter() - started, done.returncode


def section(benchmark: Benchmark, output: str, seconds: float, code: int) -> str:
    """The page's section for one run: title, command, date, output, plots."""
    status = "" if code == 0 else f" **(exit code {code})**"
    lines = [
        f"## {benchmark.title}",
        "",
        f"`python {' '.join(benchmark.args)}` — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{seconds:.0f} s{status}",
        "",
        "```",
        output,
        "```",
        "",
    ]
    for plot in benchmark.plots:
        source = ROOT / plot
        if source.exists():
            target = DOCS / "img" / source.name
            shutil.copyfile(source, target)
            lines += [f"![{source.stem}](img/{source.name})", ""]
    return "\n".join(lines)


def previous_sections(page: Path) -> dict[str, str]:
    """The sections of an existing page by title, so that ``--only`` keeps the others."""
    if not page.exists():
        return {}
    text = page.read_text()
    parts = text.split("\n## ")[1:]
    return {part.split("\n", 1)[0]: "## " + part.rstrip("\n") + "\n" for part in parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="*",
        help=f"run only these ({', '.join(b.name for b in benchmarks(quick=False))}); "
        "the others keep their section from the current page",
    )
    parser.add_argument("--quick", action="store_true", help="search efficiency on digits")
    args = parser.parse_args()
    (DOCS / "img").mkdir(parents=True, exist_ok=True)
    kept = previous_sections(PAGE)
    sections = []
    for benchmark in benchmarks(args.quick):
        if args.only and benchmark.name not in args.only:
            if benchmark.title in kept:
                sections.append(kept[benchmark.title])
            continue
        print(f"running {benchmark.name} ...", flush=True)
        sections.append(section(benchmark, *run(benchmark)))
    header = [
        "# Results",
        "",
        "Generated by `python benchmarks/results_page.py` (one section at a time with",
        "`--only NAME`): every figure below is the verbatim output of the command above it.",
        "Machine: " + machine() + ".",
        "These machines are shared and noisy: compare ratios measured in one run.",
        "",
    ]
    PAGE.write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
