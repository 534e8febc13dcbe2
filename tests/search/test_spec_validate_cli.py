"""`hpsearch validate SPEC`: a summary for a good spec, every problem and exit 1 for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpsearch.cli import main
from hpsearch.spec import study_spec as spec_module

STUDIES = Path(__file__).parents[2] / "studies"


@pytest.fixture(autouse=True)
def stub_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI test is about output; dataset names are hpsearch.data's business."""
    monkeypatch.setattr(
        spec_module,
        "_dataset_problem",
        lambda name: None if name in ("digits", "fashion-mnist") else f"unknown dataset {name!r}",
    )


def test_good_spec_prints_summary_and_space(capsys: pytest.CaptureFixture[str]) -> None:
    """A valid spec prints its name, dataset, sampler, pruner, budget and space; exit 0."""
    assert main(["validate", str(STUDIES / "nielsen-ch3.toml")]) == 0
    out = capsys.readouterr().out
    for fragment in ("ok", "nielsen-ch3", "fashion-mnist", "grid", "none", "48 of 48 grid points"):
        assert fragment in out
    assert "0.025, 0.25, 2.5" in out and "'quadratic', 'cross_entropy'" in out
    assert "default" in out and "fixed" in out


def test_augmentation_row_says_what_training_batches_go_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """validate shows [data.augmentation]: each transform with its range, or none."""
    text = (STUDIES / "fashion-mnist.toml").read_text()
    assert main(["validate", str(STUDIES / "fashion-mnist.toml")]) == 0
    assert any(
        line.split() == ["augmentation", "none"] for line in capsys.readouterr().out.splitlines()
    )
    spec = tmp_path / "spec.toml"
    spec.write_text(text + "\n[data.augmentation]\nrotation = 8\nshift = 2\nflip = true\n")
    assert main(["validate", str(spec)]) == 0
    assert (
        "rotation +-8 deg, shift +-2 px, flip (half the images mirrored)" in capsys.readouterr().out
    )


def test_bad_spec_prints_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid spec prints 'error:' and one line per problem on stderr; exit 1."""
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[study]\nname = "b"\nsampler = "tpee"\nn_trials = 5\n'
        '[data]\ndataset = "cifar"\n'
        "[space]\neta = {low = 2.0, high = 1.0}\n"
    )
    assert main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith(f"error: {bad}: 3 problems:")
    assert "study.sampler" in err and "data.dataset: unknown dataset 'cifar'" in err
    assert "space.eta: low (2.0) must be <= high (1.0)" in err
    assert "Traceback" not in err


def test_missing_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing spec file is a one-line error and exit 1, not a traceback."""
    assert main(["validate", str(tmp_path / "nope.toml")]) == 1
    assert "no such file" in capsys.readouterr().err
