"""The README's tour, run as written top to bottom in a fresh folder, with the long
studies swapped for small copies of themselves (same names, data, samplers and spaces; a
few hundred images, 2 epochs, 2 to 4 trials, no pruning) so that it takes a minute, not an hour."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[2]
#: What each long command of the tour gets appended here (and only here).
SMALLER = {
    "studies/digits-quick.toml": ["--n-trials", "3"],
    "studies/fashion-mnist.toml": ["--n-trials", "4"],  # retrain --top 4 needs 4 complete
    "studies/fashion-mnist-grid.toml": ["--n-trials", "2"],
}


def tour() -> list[list[str]]:
    """The commands of the README's "A short tour" block, comments dropped."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## A short tour") :]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start : section.index("```", start)]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def _small_fashion(text: str) -> str:
    for key, value in (("subset", 500), ("validation", 200), ("epochs", 2)):
        text, n = re.subn(rf"(?m)^{key} = \d+", f"{key} = {value}", text)
        assert n == 1, key
    # Every trial completes, so that the tour's `retrain --top 4` finds its 4 best.
    return re.sub(r'(?m)^pruner = "\w+"', 'pruner = "none"', text)


def test_the_tour_lists_what_the_issue_asks_for() -> None:
    commands = [c[1] for c in tour()]
    assert commands[0] == "validate" and commands[-1] == "data"
    runs = [c[2] for c in tour() if c[1] == "run"]
    compare = next(i for i, c in enumerate(tour()) if c[1] == "compare")
    ran_before = [c[2] for c in tour()[:compare] if c[1] == "run"]
    assert runs == ran_before, "compare must come after both studies' runs"
    assert set(SMALLER) == set(runs)


@pytest.mark.slow
def test_the_tour_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    from hpsearch.data import describe_sources

    fashion = next(s for s in describe_sources() if s.name == "fashion-mnist")
    if not fashion.available:
        message = "Fashion-MNIST is not here (sudo apt-get install dataset-fashion-mnist)"
        if os.environ.get("HPSEARCH_REQUIRE_DATASETS"):
            pytest.fail(message)
        pytest.skip(message)
    studies = tmp_path / "studies"
    shutil.copytree(REPO / "studies", studies)
    for name in ("fashion-mnist.toml", "fashion-mnist-grid.toml"):
        (studies / name).write_text(_small_fashion((studies / name).read_text()))
    monkeypatch.chdir(tmp_path)
    for words in tour():
        assert words[0] == "hpsearch"
        args = words[1:]
        if args[0] == "run":
            args += SMALLER[args[1]]
        if args[0] == "retrain":
            args += ["--epochs", "2"]
        result = cli(*args, columns=80)
        assert result.code == 0, f"{shlex.join(words)}:\n{result.output}"
        assert "Traceback" not in result.output and "error" not in result.err, result.err
    assert json.loads((tmp_path / "digits.json").read_text())["study"]["name"] == "digits-quick"
    status = cli("status", "-f", "json")
    assert {s["name"] for s in status.out and json.loads(status.out)} == {
        "digits-quick",
        "fashion-mnist",
        "fashion-mnist-grid",
    }
    compare = cli("compare", "fashion-mnist", "fashion-mnist-grid", "-f", "json")
    assert [r["name"] for r in json.loads(compare.out)] == ["fashion-mnist", "fashion-mnist-grid"]
