"""Bad input from a new user or a hostile tester: one clear line, exit 1, nothing stored.

Each case here used to end in a traceback (or in silently wrong output); see issue 19.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from hpsearch.nn import Network


def _one_line_error(result: Any, *fragments: str) -> None:
    assert result.code == 1, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# --- specs -------------------------------------------------------------------------------

SPEC_CASES: dict[str, tuple[str, str]] = {
    "deep array": (
        "x = " + "[" * 500 + "]" * 500 + "\n",
        "nested too deeply",
    ),
    "huge timeout": ("[study]\ntimeout = 1" + "0" * 400 + "\n", "study.timeout"),
    "int of 5000 digits": ("[study]\nn_trials = 1" + "0" * 5000 + "\n", "invalid TOML"),
    "n_trials 1e29": (
        "[study]\nn_trials = 1" + "0" * 29 + "\n",
        "study.n_trials: expected an int in 1..100,000",
    ),
    "huge int range": (
        '[space]\nhidden_width = {type = "int", low = 1, high = 1' + "0" * 400 + "}\n",
        "space.hidden_width.high: expected an int in [1, 8192]",
    ),
    "huge float step": (
        "[space]\neta = {low = 0.1, high = 1.0, step = 1" + "0" * 400 + "}\n",
        "space.eta.step",
    ),
    "100000 layers": (
        "[space]\nhidden_layers = 100000\n",
        "space.hidden_layers: expected an int in [0, 20]",
    ),
    "16M wide": (
        "[space]\nhidden_width = 16000000\n",
        "space.hidden_width: expected an int in [1, 8192]",
    ),
    "file name too long": (
        '[data]\ndataset = "npz:' + "a" * 300 + '"\n',
        "data.dataset: dataset 'npz:aaa",
    ),
    "NUL in dataset path": ('[data]\ndataset = "npz:a\\u0000b"\n', "NUL"),
    "name of 513 characters": (
        '[study]\nname = "' + "n" * 513 + '"\n',
        "study.name: a study name is 513 characters long; at most 512 are allowed",
    ),
    "NUL in name": (
        '[study]\nname = "a\\u0000b"\n',
        "study.name: a study name contains the control",
    ),
    "epochs 10**9": (
        "[training]\nepochs = 1000000000\n",
        "training.epochs: expected an int in 1..10,000",
    ),
}


def _spec_with(extra: str, spec_tools: Any) -> str:
    """The tiny spec with ``extra`` TOML appended (a repeated key replaces nothing: the
    extra sections are merged by writing them as the only copy of their keys)."""
    import tomllib

    base = spec_tools.merged(spec_tools.tiny, {})
    try:
        overlay = tomllib.loads(extra)
    except Exception:  # not parseable on purpose: the file is the case itself
        return extra + spec_tools.to_toml(base)
    for section, table in overlay.items():
        if isinstance(table, dict):
            base.setdefault(section, {}).update(table)
    text = spec_tools.to_toml(base)
    return text if "\x00" not in str(overlay) else extra + text  # keep escapes literal


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_hostile_specs_are_one_line_in_validate_and_run(
    case: str, tmp_path: Path, cli: Callable[..., Any], spec_tools: Any
) -> None:
    text, fragment = SPEC_CASES[case]
    path = tmp_path / "hostile.toml"
    if "[" * 400 in text or "0" * 300 in text or "\\u0000" in text:
        # Raw text: appended before the tiny spec's own sections, where TOML allows it.
        path.write_text(_raw_case(text, spec_tools))
    else:
        path.write_text(_spec_with(text, spec_tools))
    _one_line_error(cli("validate", str(path)), fragment)
    db = tmp_path / "s.db"
    _one_line_error(cli("run", str(path), "--storage", f"sqlite:///{db}"), fragment)
    assert not db.exists()


def _raw_case(text: str, spec_tools: Any) -> str:
    """The case's section replaces the tiny spec's section of the same name."""
    base = spec_tools.merged(spec_tools.tiny, {})
    if text.startswith("["):
        section = text[1 : text.index("]")]
        key = text.split("\n", 1)[1].split("=", 1)[0].strip()
        base.setdefault(section, {}).pop(key, None)
        rest = {k: v for k, v in base.items() if k != section}
        own = spec_tools.to_toml({section: base[section]}).split("\n", 1)[1]
        return f"[{section}]\n" + text.split("\n", 1)[1] + own + spec_tools.to_toml(rest)
    return text + spec_tools.to_toml(base)


MARKUP_NAMES = ["[/]", "[bold red]x", "[link=http://e.x]y[/link]"]


@pytest.mark.parametrize("name", MARKUP_NAMES)
def test_markup_in_names_and_descriptions_is_shown_literally(
    name: str, tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    """`validate` prints the name and description as written; a study created under such
    a name stays readable by `status`, `trials` and `best`, which show it as written."""
    spec = spec_file({"study": {"name": name, "description": f"about {name}", "n_trials": 1}})
    result = cli("validate", str(spec))
    assert result.code == 0, result.output
    assert name in result.out and f"about {name}" in result.out
    url = f"sqlite:///{tmp_path / 's.db'}"
    result = cli("run", str(spec), "--storage", url, "--study-name", name)
    assert result.code == 0, result.output
    assert f"study {name} created" in result.out
    for command in (["status"], ["trials", name], ["best", name]):
        result = cli(*command, "--storage", url)
        assert result.code == 0, result.output
        assert name in result.out, result.out


@pytest.mark.parametrize("name", ["x" * 513, "a\x00b", "tab\there"])
def test_bad_study_names_are_refused_before_anything_is_stored(
    name: str, tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    for command in ("create", "run"):
        result = cli(command, str(spec_file()), "--storage", url, "--study-name", name)
        _one_line_error(result, "study.name: a study name")
    for command in (["trials", name], ["best", name], ["export", name]):
        _one_line_error(cli(*command, "--storage", url), "study name")
    assert not (tmp_path / "s.db").exists() or optuna.get_all_study_names(url) == []


# --- storages ----------------------------------------------------------------------------


def _unopenable(kind: str, tmp_path: Path) -> tuple[str, str]:
    if kind == "proc":
        return "sqlite:////proc/x.db", "unable to open database file"
    if kind == "folder":
        (tmp_path / "folder.db").mkdir()
        return f"sqlite:///{tmp_path / 'folder.db'}", "it is a folder"
    readme = tmp_path / "README.md"
    readme.write_text("# not a database\n" * 100)
    return f"sqlite:///{readme}", "file is not a database"


@pytest.mark.parametrize("kind", ["proc", "folder", "not a database"])
def test_sqlite_storages_that_cannot_open_are_one_line_from_every_command(
    kind: str,
    tmp_path: Path,
    cli: Callable[..., Any],
    spec_file: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, fragment = _unopenable(kind, tmp_path)
    spec = str(spec_file())
    commands = [
        ["status"],
        ["status", "tiny"],
        ["trials", "tiny"],
        ["best", "tiny"],
        ["export", "tiny"],
        ["compare", "tiny"],
        ["retrain", "tiny"],
        ["delete", "tiny", "--yes"],
        ["create", spec],
        ["run", spec],
    ]
    for command in commands:
        # Readers never create a file: for them a missing one is "no such file" (issue 20).
        reader = command[0] not in ("create", "run")
        expected = "no such file" if kind == "proc" and reader else fragment
        _one_line_error(cli(*command, "--storage", url), "cannot open SQLite database", expected)
    monkeypatch.setenv("HPSEARCH_STORAGE", url)
    _one_line_error(cli("worker", "--study", "tiny"), "cannot open SQLite database", fragment)


# --- data and models ---------------------------------------------------------------------


def test_a_non_utf8_csv_is_one_line_in_run_and_stores_nothing(
    tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    data = tmp_path / "latin1.csv"
    rows = "".join(f"{i % 3},{i},{i * 2}\n" for i in range(300))
    data.write_bytes("label,caf\xe9,b\n".encode("latin-1") + rows.encode())
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = spec_file({"data": {"dataset": f"csv:{data}", "subset": 100, "validation": 50}})
    _one_line_error(
        cli("run", str(spec), "--storage", url), "not UTF-8 text", "save the file as UTF-8"
    )
    assert not (tmp_path / "s.db").exists() or optuna.get_all_study_names(url) == []


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    Network([64, 12, 10]).save(path)
    return path


def test_predict_with_a_truncated_model_file(saved_model: Path, cli: Callable[..., Any]) -> None:
    data = saved_model.read_bytes()
    saved_model.write_bytes(data[: len(data) // 2])
    _one_line_error(cli("predict", str(saved_model), "--data", "digits"), "not a network saved")


def test_predict_with_weights_of_the_wrong_shape(
    saved_model: Path, cli: Callable[..., Any]
) -> None:
    arrays = dict(np.load(saved_model))
    arrays["weights_1"] = np.zeros((11, 10), dtype=np.float32)
    np.savez(saved_model, **arrays)
    _one_line_error(
        cli("predict", str(saved_model), "--data", "digits"),
        "layer 1 has weights (11, 10)",
        "need (12, 10)",
    )


@pytest.mark.parametrize("sidecar", ["{not json", "[1, 2]", '{"standardize": "yes"}'])
def test_predict_with_a_corrupt_sidecar_says_so(
    sidecar: str, saved_model: Path, cli: Callable[..., Any]
) -> None:
    saved_model.with_suffix(".json").write_text(sidecar)
    _one_line_error(
        cli("predict", str(saved_model), "--data", "digits"),
        "model.json",
        "sidecar" if sidecar != '{"standardize": "yes"}' else "standardize",
    )
    # Both choices given on the command line: the sidecar is not needed.
    result = cli("predict", str(saved_model), "--data", "digits", "--no-standardize", "--no-deskew")
    assert result.code == 0, result.output


# --- validate checks what run checks -------------------------------------------------------

VALIDATE_DATA_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "empty space": ({"space": {"eta": 0.5, "hidden_width": 20}}, "space: nothing is searched"),
    "validation larger than the dataset": (
        {"data": {"subset": 200, "validation": 5000}},
        "validation=5000 is larger than the training set",
    ),
    "validation of 3 images": (
        {"data": {"validation": 3}},
        "validation=3 examples is fewer than the 10 classes",
    ),
    "validation of 15 images": (
        {"data": {"validation": 15}},
        "data.validation: the validation set has 15 examples; accuracy on so few measures "
        "nothing: use at least 20",
    ),
}


@pytest.mark.parametrize("case", sorted(VALIDATE_DATA_CASES))
def test_validate_rejects_what_run_rejects_against_the_data(
    case: str, tmp_path: Path, cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    changes, fragment = VALIDATE_DATA_CASES[case]
    spec = str(spec_file(changes))
    _one_line_error(cli("validate", spec), fragment)
    db = tmp_path / "s.db"
    _one_line_error(cli("run", spec, "--storage", f"sqlite:///{db}"), fragment)
    assert not db.exists() or optuna.get_all_study_names(f"sqlite:///{db}") == []


def test_validate_says_when_the_data_is_not_here_to_check(
    cli: Callable[..., Any], spec_file: Callable[..., Path]
) -> None:
    from hpsearch.data import describe_sources

    if next(i for i in describe_sources() if i.name == "mnist").available:
        pytest.skip("MNIST is on this machine: nothing to say")
    result = cli("validate", str(spec_file({"data": {"dataset": "mnist"}})))
    assert result.code == 0, result.output
    assert "data not checked: mnist is not on this machine" in result.out
