"""The study commands through the CLI: run end to end, validate/run on bad specs, status,
trials, best and delete on a storage."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from optuna.trial import TrialState

from hpsearch.spec.hyperparams import HYPERPARAMETER_NAMES
from hpsearch.spec.study_spec import SECTIONS, load_spec
from hpsearch.study.lifecycle import SPEC_ATTR, counted_trials, load_study_and_spec

REPO = Path(__file__).parents[2]
DIGITS_QUICK = REPO / "studies" / "digits-quick.toml"

RESULT_ATTRS = ("history", "stop_reason", "epochs_run", "seconds", "worker", "data_provenance")


@pytest.mark.slow
def test_digits_quick_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]
) -> None:
    """`hpsearch run studies/digits-quick.toml --n-trials 6 --jobs 2` in a fresh directory
    creates ./hpsearch.db, exits 0 with a full budget of finished trials, each carrying its
    learning curve and diagnostics (one intermediate value per epoch); status/trials/best
    show the study; the study stores the file's spec (with the --n-trials override)."""
    monkeypatch.chdir(tmp_path)
    result = cli("run", str(DIGITS_QUICK), "--n-trials", "6", "--jobs", "2")
    assert result.code == 0, result.output
    assert "Traceback" not in result.output
    assert "best trials of digits-quick" in result.out
    assert (tmp_path / "hpsearch.db").is_file()

    url = "sqlite:///hpsearch.db"
    study, spec = load_study_and_spec(url, "digits-quick")
    expected = load_spec(DIGITS_QUICK).with_overrides(n_trials=6)
    assert spec == expected
    assert study.user_attrs[SPEC_ATTR] == expected.to_dict()

    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6 and len(counted_trials(study)) == 6
    assert all(t.state.is_finished() for t in trials)
    assert any(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert t.state in (TrialState.COMPLETE, TrialState.PRUNED), (t.number, t.user_attrs)
        missing = [a for a in RESULT_ATTRS if a not in t.user_attrs]
        assert not missing, f"trial {t.number} lacks {missing}"
        epochs = t.user_attrs["epochs_run"]
        assert 1 <= epochs <= spec.training.epochs
        assert len(t.user_attrs["history"]["records"]) == epochs
        steps = sorted(t.intermediate_values)
        assert len(steps) == epochs and steps == list(range(steps[0], steps[0] + epochs))
        assert t.user_attrs["data_provenance"]["name"] == "digits"
        assert t.user_attrs["worker"]["pid"] > 0
        if t.state == TrialState.COMPLETE:
            assert t.value == pytest.approx(max(t.intermediate_values.values()))

    status = cli("status")
    assert status.code == 0 and "digits-quick" in status.out and "digits" in status.out
    listing = cli("trials", "digits-quick")
    assert listing.code == 0
    for t in trials:
        assert f"│ {t.number} " in listing.out
    best = cli("best", "digits-quick")
    assert best.code == 0 and "best params:" in best.out
    assert f"{study.best_value:.4g}" in best.out


# --- bad specs -------------------------------------------------------------------------

# case -> (changes merged into TINY_SPEC, or the file's raw text; what the error names)
BAD_SPECS: dict[str, tuple[dict[str, Any] | str | bytes, str]] = {
    "not TOML": ("[study\nname = 'x'\n", "invalid TOML"),
    "not UTF-8": (b"[study]\nname = '\xff'\n", "not UTF-8"),
    "missing study": ({"study": None}, "study: missing"),
    "no budget": ({"study": {"n_trials": None}}, "needs a budget"),
    "unknown sampler": ({"study": {"sampler": "tpee"}}, "study.sampler"),
    "zero trials": ({"study": {"n_trials": 0}}, "study.n_trials"),
    "unknown section": ({"sampler": {"x": 1}}, "sampler: unknown key"),
    "unknown hyperparameter": ({"space": {"etaa": 0.1}}, "space.etaa"),
    "low above high": ({"space": {"eta": {"low": 2.0, "high": 1.0}}}, "space.eta"),
    "bad choice": (
        {"space": {"activation": {"choices": ["sigmoid", "swish"]}}},
        "space.activation",
    ),
    "unknown dataset": ({"data": {"dataset": "cifar"}}, "data.dataset"),
    "grid sampler without grid": ({"study": {"sampler": "grid"}}, "grid: missing"),
    "grid smaller than n_trials": (
        {
            "study": {"sampler": "grid", "n_trials": 5},
            "space": {"eta": None, "hidden_width": None},
            "grid": {"eta": [0.1, 1.0]},
        },
        "study.n_trials",
    ),
    "wrong type": ({"training": {"epochs": "ten"}}, "training.epochs"),
}


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_is_one_clear_error(
    case: str, command: str, tmp_path: Path, cli: Callable[..., Any], spec_tools: Any
) -> None:
    """A bad spec given to `validate` or `run` exits 1 with an 'error:' message naming the
    problem, never a traceback; `run` opens no storage for it."""
    content, fragment = BAD_SPECS[case]
    if isinstance(content, dict):
        content = spec_tools.to_toml(spec_tools.merged(spec_tools.tiny, content))
    path = tmp_path / "bad.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    db = tmp_path / "s.db"
    args = [command, str(path)] + (["--storage", f"sqlite:///{db}"] if command == "run" else [])
    result = cli(*args)
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert result.err.startswith("error: "), result.err
    assert fragment in result.err
    assert not db.exists()


def test_run_missing_spec_file(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """`run` on a file that does not exist: exit 1, 'no such file', no traceback."""
    result = cli("run", str(tmp_path / "nope.toml"), "--storage", f"sqlite:///{tmp_path}/s.db")
    assert result.code == 1
    assert "no such file" in result.err and "Traceback" not in result.output


def test_run_bad_storage_url(spec_file: Callable[..., Path], cli: Callable[..., Any]) -> None:
    """`run` with a storage URL that is not a database URL: exit 1, one line, no traceback."""
    result = cli("run", str(spec_file()), "--storage", "not a url")
    assert result.code == 1
    assert "not a database URL" in result.err and "Traceback" not in result.output


def test_run_on_a_storage_that_cannot_open_shows_no_progress(
    spec_file: Callable[..., Path], tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """`run` on a SQLite file in a missing folder: exit 1 with the one error line, and no
    study header or progress bar before it (they start once the storage works)."""
    url = f"sqlite:///{tmp_path}/missing/s.db"
    result = cli("run", str(spec_file()), "--storage", url)
    assert result.code == 1, result.output
    assert "does not exist" in result.err and "Traceback" not in result.output
    assert "study tiny" not in result.output and "trials" not in result.output
    assert not (tmp_path / "missing").exists()


def test_run_on_data_too_small_for_the_spec_stores_nothing(
    spec_file: Callable[..., Path], tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """`run` whose dataset cannot hold the spec's subset + validation (found only once the
    data is loaded): exit 1 with one error line saying so, no traceback from the CLI or
    any worker, and no study stored."""
    import numpy as np

    from hpsearch.data import load

    digits = load("digits")
    data = tmp_path / "small.npz"
    np.savez(data, X=digits.X_train[:300], y=digits.y_train[:300])  # 240 train after the test
    url = f"sqlite:///{tmp_path}/s.db"
    spec = spec_file({"data": {"dataset": f"npz:{data}"}})  # subset 200 + validation 100
    result = cli("run", str(spec), "--storage", url, "--jobs", "2")
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "more than the 240 in the training set" in errors[0], result.err
    assert optuna.get_all_study_names(url) == []


def test_a_worker_stopped_by_an_error_fails_the_run_and_keeps_the_study(
    spec_file: Callable[..., Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The data goes missing after `run` checked it (here: as the study opens): each worker
    prints one error line and exits WORKER_ERROR, no traceback, and `run_study` then raises
    naming them. The study stays stored, its budget waiting for a resumed run."""
    import numpy as np

    from hpsearch.data import load
    from hpsearch.errors import HpsearchError
    from hpsearch.workers.controller import run_study

    digits = load("digits")
    data = tmp_path / "digits.npz"
    np.savez(data, X=digits.X_train[:500], y=digits.y_train[:500])
    spec = load_spec(spec_file({"data": {"dataset": f"npz:{data}"}}))
    url = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(HpsearchError, match="hpsearch-worker-0 and hpsearch-worker-1 stopped"):
        run_study(spec, url, jobs=2, on_start=lambda created, progress: data.unlink())
    printed = capfd.readouterr().err
    assert "Traceback" not in printed
    assert sorted(line.split(":")[1] for line in printed.splitlines()) == [" worker 0", " worker 1"]
    assert all(str(data) in line for line in printed.splitlines())
    study, stored = load_study_and_spec(url, "tiny")
    assert stored == spec
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == spec.study.n_trials
    assert all(t.state == TrialState.WAITING for t in trials)


# Random TOML-ish specs: known section and key names (and some unknown ones) with values of
# every TOML type, plus entries that look like distributions.
_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(
        [
            "tpe",
            "grid",
            "random",
            "cmaes",
            "qmc",
            "median",
            "none",
            "digits",
            "sigmoid",
            "relu",
            "float",
            "int",
            "log_likelihood",
            "maximize",
        ]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                ["type", "low", "high", "log", "step", "choices", "rotation", "shift", "x"]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=8,
)
_KEYS = {
    "study": [
        "name",
        "metric",
        "direction",
        "sampler",
        "pruner",
        "seed",
        "n_trials",
        "timeout",
        "description",
        "bogus",
    ],
    "data": ["dataset", "subset", "validation", "standardize", "augmentation", "bogus"],
    "training": ["epochs", "patience", "schedule", "dtype", "bogus"],
    "space": [*HYPERPARAMETER_NAMES, "bogus"],
    "grid": [*HYPERPARAMETER_NAMES, "bogus"],
    "extra": ["x"],
}


@st.composite
def spec_changes(draw: st.DrawFn) -> tuple[bool, dict[str, Any]]:
    """(start from the tiny spec?, section -> key -> value; a scalar where a table belongs)"""
    changes: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "extra"]), max_size=4)):
        table = changes.setdefault(section, {})
        for key in draw(st.lists(st.sampled_from(_KEYS[section]), max_size=3)):
            table[key] = draw(_values)
    if draw(st.integers(0, 9)) == 0:
        changes[draw(st.sampled_from(SECTIONS))] = draw(_scalars)
    return draw(st.booleans()), changes


def _spec_text(tools: Any, from_tiny: bool, changes: dict[str, Any]) -> str:
    spec = tools.merged(tools.tiny, {}) if from_tiny else {}
    lines = []
    for section, table in changes.items():
        if isinstance(table, dict):
            spec[section] = {**(spec.get(section) or {}), **table}
        else:
            spec.pop(section, None)
            lines.append(f"{section} = {tools.toml_value(table)}")  # top-level keys come first
    return "\n".join(lines) + "\n" + tools.to_toml(spec)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=spec_changes())
def test_validate_never_tracebacks(
    drawn: tuple[bool, dict[str, Any]], cli: Callable[..., Any], spec_tools: Any
) -> None:
    """Whatever TOML-ish spec `hpsearch validate` gets, it exits 0 (valid) or 1 with an
    'error:' message: never an uncaught exception or a traceback."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.toml"
        path.write_text(_spec_text(spec_tools, *drawn), encoding="utf-8")
        result = cli("validate", str(path))
    event(f"exit code {result.code}")
    assert result.code in (0, 1), result.output
    assert "Traceback" not in result.output
    if result.code == 1:
        assert result.err.startswith("error: ")
    else:
        assert result.out.startswith("ok ")


# --- status, trials, best, delete on a storage -----------------------------------------


@pytest.fixture
def created(spec_file: Callable[..., Path], storage_url: str, cli: Callable[..., Any]) -> str:
    """A storage holding the study 'tiny' (created, no trials run)."""
    result = cli("create", str(spec_file()), "--storage", storage_url)
    assert result.code == 0, result.output
    return storage_url


@pytest.mark.parametrize("command", ["status", "trials", "best"])
def test_unknown_study_lists_the_studies(
    command: str, created: str, cli: Callable[..., Any]
) -> None:
    """status/trials/best on a study name that is not in the storage: exit 1, one line
    naming the missing study and the studies that are there; no traceback."""
    result = cli(command, "nope", "--storage", created)
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "no study named 'nope'" in result.err
    assert "studies there: tiny" in result.err


def test_status_of_created_study(created: str, cli: Callable[..., Any]) -> None:
    """status lists a created study with its queued budget (4 waiting trials)."""
    result = cli("status", "--storage", created, "--format", "json")
    assert result.code == 0, result.output
    (study,) = json.loads(result.out)
    assert study["name"] == "tiny" and study["budget"] == 4
    assert {k: v for k, v in study["counts"].items() if v} == {"WAITING": 4}


def test_delete_asks_first(created: str, cli: Callable[..., Any]) -> None:
    """`delete` without --yes asks; answering 'n' aborts (non-zero exit) and keeps the study;
    --yes deletes it without asking; deleting it again is a clear error."""
    declined = cli("delete", "tiny", "--storage", created, input="n\n")
    assert declined.code == 1, declined.output
    assert "Delete study 'tiny'" in declined.output and "aborted" in declined.err
    assert "tiny" in [s.study_name for s in optuna.get_all_study_summaries(created)]

    accepted = cli("delete", "tiny", "--storage", created, input="y\n")
    assert accepted.code == 0 and "deleted study 'tiny'" in accepted.out
    assert optuna.get_all_study_summaries(created) == []

    cli(
        "create",
        str(Path(created.removeprefix("sqlite:///")).parent / "spec.toml"),
        "--storage",
        created,
    )
    forced = cli("delete", "tiny", "--storage", created, "--yes")
    assert forced.code == 0 and "Delete study" not in forced.output
    assert optuna.get_all_study_summaries(created) == []

    again = cli("delete", "tiny", "--storage", created, "--yes")
    assert again.code == 1 and "no study named 'tiny'" in again.err
    assert "Traceback" not in again.output


@pytest.mark.parametrize(
    ("study_lines", "sampler_row", "pruner_row"),
    [
        ("", "auto -> tpe (seed 1)", "auto -> successive_halving: asynchronous successive halving"),
        ('sampler = "auto"\npruner = "none"', "auto -> tpe (seed 1)", "none"),
        ('sampler = "random"', "random (seed 1)", "median"),
    ],
    ids=["left-out", "auto-no-pruner", "named"],
)
def test_validate_shows_what_auto_resolves_to(
    study_lines: str, sampler_row: str, pruner_row: str, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """`validate` prints the sampler and pruner a spec will run: "auto" (also what leaving
    them out means) with the names it resolves to, a named one as written."""
    path = tmp_path / "auto.toml"
    path.write_text(
        f'[study]\nname = "auto"\nseed = 1\nn_trials = 3\n{study_lines}\n'
        '[data]\ndataset = "digits"\n[space]\neta = { low = 0.01, high = 1.0, log = true }\n'
    )
    result = cli("validate", str(path))
    assert result.code == 0, result.output
    rows = {
        line.split(None, 1)[0]: line.split(None, 1)[1].strip()
        for line in result.out.splitlines()[1:11]
        if not line.startswith(" ")
    }
    assert rows["sampler"] == sampler_row
    assert rows["pruner"].startswith(pruner_row)
    # "auto" shows the point it opens with (the space has eta alone: one point).
    assert rows.get("opening") == ("trial 0: eta=0.1" if "auto" in sampler_row else None)
