"""benchmarks/results_page.py: the page's sections survive ``--only`` reruns whole, bad
names and failing benchmarks are reported, each section states its run's conditions.

The module is imported by its path (benchmarks/ is not a package); the benchmarks run
here are one-line ``python -c`` commands, never the real ones.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "results_page", ROOT / "benchmarks" / "results_page.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


rp = _load()

COHORT = """## Cohorts (issue 17)

`python benchmarks/cohort_speed.py --epochs 3` — 2026-12-04 02:29 UTC, 90 s

```
# cohort_speed: vm x86_64
## digits-quick space: 1138 training rows, 3 epochs
  K  speed-up
## fashion-mnist space: 20000 training rows, 1 epochs
 16  1.11x
```

Read honestly: the bars were missed.
"""

PAGE = f"""# Results

Header text.

## Data loading (issue 3)

`python benchmarks/data_load.py` — old run

```
first load: 9.9 s
```

{COHORT}"""


def echo(name: str, title: str, code: str) -> Any:
    """A benchmark that runs ``python -c code``."""
    return rp.Benchmark(name, title, ("-c", code))


def test_fenced_heading_is_no_section() -> None:
    sections = rp.split_sections(PAGE)
    assert list(sections) == ["Data loading (issue 3)", "Cohorts (issue 17)"]
    assert sections["Cohorts (issue 17)"] == COHORT


def test_longer_fence_holds_three_backticks() -> None:
    text = "## A\n\n````\n```\n## inside\n```\n````\n\n## B\n\nb\n"
    assert list(rp.split_sections(text)) == ["A", "B"]


def test_only_rerun_keeps_fenced_section_whole(tmp_path: Path) -> None:
    page = tmp_path / "RESULTS.md"
    page.write_text(PAGE)
    chosen = [
        echo("data", "Data loading (issue 3)", "print('first load: 0.1 s')"),
        echo("cohorts", "Cohorts (issue 17)", "raise SystemExit('must not run')"),
    ]
    assert rp.write_page(page, chosen, {"data"}) == []
    text = page.read_text()
    assert COHORT in text
    assert "first load: 0.1 s" in text and "first load: 9.9 s" not in text
    assert list(rp.split_sections(text)) == ["Data loading (issue 3)", "Cohorts (issue 17)"]
    # and again: the rerun page splits the same way
    assert rp.write_page(page, chosen, {"data"}) == []
    assert rp.split_sections(page.read_text())["Cohorts (issue 17)"] == COHORT


def test_output_with_fence_and_heading_stays_in_its_section(tmp_path: Path) -> None:
    page = tmp_path / "RESULTS.md"
    chosen = [
        echo("a", "A", "print('```'); print('## not a section'); print('```')"),
        echo("b", "B", "print('b')"),
    ]
    rp.write_page(page, chosen, None)
    sections = rp.split_sections(page.read_text())
    assert list(sections) == ["A", "B"]
    assert "## not a section" in sections["A"]


def test_section_header_gives_date_load_and_machine(tmp_path: Path) -> None:
    text, code = rp.section(echo("a", "A", "print('out')"), tmp_path)
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "## A"
    assert lines[2].startswith("`python -c print('out')` — ")
    assert " UTC, " in lines[2] and "load average at start " in lines[2]
    assert lines[3] == f"machine: {rp.machine()}."
    assert "\n```\nout\n```\n" in text


def test_failed_benchmark_gets_exit_code_others_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "RESULTS.md"
    chosen = [
        echo("bad", "Bad", "import sys; print('half'); sys.exit(3)"),
        echo("good", "Good", "print('fine')"),
    ]
    monkeypatch.setattr(rp, "PAGE", page)
    monkeypatch.setattr(rp, "benchmarks", lambda quick: chosen)
    assert rp.main([]) == 1
    sections = rp.split_sections(page.read_text())
    assert "**(exit code 3)**" in sections["Bad"] and "half" in sections["Bad"]
    assert "fine" in sections["Good"] and "exit code" not in sections["Good"]
    assert "failed (exit code in their section): bad" in capsys.readouterr().err


def test_unknown_only_name_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        rp.main(["--only", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "nope" in line]
    assert all(f"'{b.name}'" in line for b in rp.benchmarks(quick=False))


def test_dashboard_section_is_the_100k_study() -> None:
    [dashboard] = [b for b in rp.benchmarks(quick=False) if b.name == "dashboard"]
    assert "100,000" in dashboard.title
    args = dashboard.args
    assert args[0] == "benchmarks/dashboard_api.py"
    assert args[args.index("--trials") + 1] == "100000"
    assert args[args.index("--repeats") + 1] == "3"
    assert args[args.index("--db") + 1] == rp.DASHBOARD_DB


def test_workers_section_skips_no_part() -> None:
    [workers] = [b for b in rp.benchmarks(quick=False) if b.name == "workers"]
    assert workers.args == ("benchmarks/workers.py",)


def test_quick_runs_search_efficiency_on_digits() -> None:
    [quick] = [b for b in rp.benchmarks(quick=True) if b.name == "efficiency"]
    [full] = [b for b in rp.benchmarks(quick=False) if b.name == "efficiency"]
    assert "--quick" in quick.args and "--quick" not in full.args


def test_plot_copied_only_when_the_run_wrote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rp, "ROOT", tmp_path)
    plot = tmp_path / "plot.png"
    write = f"open({str(plot)!r}, 'w').write('new')"
    docs = tmp_path / "docs"
    wrote = rp.Benchmark("p", "P", ("-c", write), ("plot.png",))
    text, _ = rp.section(wrote, docs)
    assert "![plot](img/plot.png)" in text and (docs / "img" / "plot.png").read_text() == "new"
    stale = rp.Benchmark("p", "P", ("-c", "raise SystemExit(1)"), ("plot.png",))
    text, code = rp.section(stale, docs)
    assert code == 1 and "![plot]" not in text
