"""A fuzz of ``hpsearch validate``: mutations of the shipped specs in studies/.

Each case takes a spec from ``studies/``, applies one to four mutations (a value
replaced by a hostile one, a key dropped or renamed, a table where a value belongs,
deep nesting, raw bytes spliced into the text) and runs the CLI's entry point,
``main(["validate", PATH])``. It must return 0 with "ok" or 1 with one "error:"
message: no exception may escape, whatever the file holds. ``FUZZ_CASES`` cases per
run; the seed changes every run and is printed on a failure (``HPSEARCH_FUZZ_SEED``
replays it).
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from hpsearch.cli import main

STUDIES = Path(__file__).parents[2] / "studies"
FUZZ_CASES = 2_000
SEED = int(os.environ.get("HPSEARCH_FUZZ_SEED", random.SystemRandom().randrange(2**32)))

HOSTILE: list[Any] = [
    0,
    -1,
    1,
    2**31,
    2**63,
    10**400,
    -(10**400),
    1e308,
    -1e308,
    1e-320,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    "",
    " ",
    "[/]",
    "[bold red]x",
    "a\x00b",
    "\x1b[31m",
    "x" * 600,
    "npz:" + "a" * 300,
    "csv:/proc/self/mem",
    "npz:/",
    "digits",
    "fashion-mnist",
    "grid",
    "tpe",
    "qmc",
    "cmaes",
    "none",
    "hyperband",
    "float32",
    [],
    [1, 2, 3],
    [0.1, "a", True],
    [[1]],
    {},
    {"type": "float", "low": 1e-5, "high": 1e5, "log": True},
    {"type": "int", "low": 1, "high": 10**300},
    {"type": "int", "low": 5, "high": 1},
    {"type": "float", "low": 0.0, "high": 1.0, "step": 10**400},
    {"type": "categorical", "choices": []},
    {"choices": ["sgd", "sgd"]},
    {"type": "weird"},
    {"low": "a", "high": []},
]


def _shipped() -> list[dict[str, Any]]:
    return [tomllib.loads(p.read_text()) for p in sorted(STUDIES.glob("*.toml"))]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def _dump(spec: dict[str, Any]) -> str:
    top = [f"{json.dumps(str(k))} = {_toml(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    lines = [*top, ""]
    for section, table in spec.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(str(section))}]")
            lines += [f"{json.dumps(str(k))} = {_toml(v)}" for k, v in table.items()]
            lines.append("")
    return "\n".join(lines)


def _hostile(rng: random.Random) -> Any:
    """A fresh copy of a hostile value: a shared list or table could end up inside itself."""
    return copy.deepcopy(rng.choice(HOSTILE))


def _mutate(spec: dict[str, Any], rng: random.Random) -> None:
    """One structural mutation of the parsed spec, in place."""
    sections = [s for s, t in spec.items() if isinstance(t, dict)] or ["study"]
    section = rng.choice([*sections, "study", "data", "space", "grid", "training", "bogus"])
    table = spec.setdefault(section, {})
    if not isinstance(table, dict):
        return
    keys = list(table) or ["name"]
    key = rng.choice([*keys, "n_trials", "timeout", "name", "dataset", "eta", "subset"])
    kind = rng.randrange(7)
    if kind <= 2:
        table[key] = _hostile(rng)
    elif kind == 3:
        table.pop(key, None)
    elif kind == 4:
        table[key + rng.choice(["_", "s", "x"])] = table.pop(key, 1)
    elif kind == 5:
        spec[section] = _hostile(rng)  # a scalar or list where a table belongs
    else:
        entry = table.get(key)
        if isinstance(entry, dict) and entry:
            entry[rng.choice(list(entry))] = _hostile(rng)
        else:
            table[key] = {"type": rng.choice(["float", "int", "categorical"]), "low": 1, "high": 2}


def _text_mutation(text: str, rng: random.Random) -> bytes:
    """Raw edits the TOML parser sees: deep nesting, spliced bytes, a cut."""
    kind = rng.randrange(4)
    if kind == 0:
        depth = rng.choice([50, 400, 2000])
        return (text + "\n[extra]\nx = " + "[" * depth + "]" * depth + "\n").encode()
    data = bytearray(text.encode())
    where = rng.randrange(len(data) + 1)
    if kind == 1:
        data[where:where] = rng.choice([b"\xff\xfe", b"\x00", b"[[", b"= =", b'"""', b"\\u0000"])
    elif kind == 2:
        del data[where:]
    else:
        data[where:where] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    return bytes(data)


def _case(rng: random.Random, shipped: list[dict[str, Any]]) -> bytes:
    spec = json.loads(json.dumps(rng.choice(shipped)))  # a deep copy
    for _ in range(rng.randint(1, 4)):
        _mutate(spec, rng)
    text = _dump(spec)
    return _text_mutation(text, rng) if rng.random() < 0.2 else text.encode()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_validate_survives_mutated_shipped_specs(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    shipped = _shipped()
    path = tmp_path / "fuzz.toml"
    codes = {0: 0, 1: 0}
    for case in range(FUZZ_CASES):
        content = _case(rng, shipped)
        path.write_bytes(content)
        out, err = io.StringIO(), io.StringIO()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(["validate", str(path)])
        except BaseException as error:  # the escape this test exists to catch
            raise AssertionError(
                f"case {case} (HPSEARCH_FUZZ_SEED={SEED}): {type(error).__name__}: {error}\n"
                f"spec: {content[:600]!r}"
            ) from error
        where = f"case {case} (HPSEARCH_FUZZ_SEED={SEED}): {content[:300]!r}"
        assert code in (0, 1), where
        if code == 1:
            assert err.getvalue().startswith("error: "), where
            assert "Traceback" not in err.getvalue(), where
        else:
            assert out.getvalue().startswith("ok "), where
        codes[code] += 1
    assert sum(codes.values()) == FUZZ_CASES
    assert codes[1] > FUZZ_CASES // 2  # most mutations break the spec
