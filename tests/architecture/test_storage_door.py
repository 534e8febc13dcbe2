"""Optuna's internals have one door: ``hpsearch/storage/``.

Outside it, no module imports a private Optuna module (``optuna.storages._rdb``,
``optuna.storages._cached_storage``, ``optuna.trial._frozen``, ...), reads the private
members through which Optuna's objects reach their storage (``study._storage``,
``trial._trial_id``, ``storage._backend``, ...), or writes SQL against Optuna's
tables. Such code calls the storage package's functions instead (``storage.running``,
``storage.reads``). Ruff enforces the same rule (TID251 and SLF001 in pyproject.toml);
this test states it where the layout's other rules are, and runs with pytest.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import optuna
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2] / "hpsearch"
DOOR = ROOT / "storage"

#: The private members that lead from Optuna's public objects into its storage.
PRIVATE_MEMBERS = frozenset(
    {"_storage", "_backend", "_trial_id", "_study_id", "_cached_frozen_trial", "_cached_storage"}
)


def _is_private_optuna(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "optuna" and any(part.startswith("_") for part in parts[1:])


def _optuna_tables() -> list[str]:
    """The tables of the installed Optuna's RDB schema, read from a fresh database."""
    storage = optuna.storages.RDBStorage("sqlite:///:memory:")
    names = sa.inspect(storage.engine).get_table_names()
    storage.engine.dispose()
    return names


def _sql_naming(tables: list[str]) -> re.Pattern[str]:
    names = "|".join(sorted(map(re.escape, tables), key=len, reverse=True))
    return re.compile(rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+[`\"]?(?:{names})\b", re.IGNORECASE)


def door_violations(root: Path, door: Path) -> list[str]:
    """``path:line: what`` for every use of Optuna's internals under ``root`` outside ``door``."""
    sql = _sql_naming(_optuna_tables())
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(door):
            continue
        where = path.relative_to(root.parent)
        uses: list[tuple[int, int, str]] = []
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            what = None
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                private = [m for m in modules if _is_private_optuna(m)]
                what = f"imports {private[0]}" if private else None
            elif isinstance(node, ast.Import):
                private = [a.name for a in node.names if _is_private_optuna(a.name)]
                what = f"imports {private[0]}" if private else None
            elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_MEMBERS:
                what = f"reads .{node.attr}"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = sql.search(node.value)
                what = f"writes SQL on Optuna's tables ({match.group(0)!r})" if match else None
            if what:
                uses.append((node.lineno, node.col_offset, what))
        found += [f"{where}:{line}: {what}" for line, _, what in sorted(uses)]
    return found


def test_only_storage_touches_optunas_internals() -> None:
    found = door_violations(ROOT, DOOR)
    assert not found, (
        "Optuna's internals used outside hpsearch/storage/ (call a function of "
        "hpsearch.storage instead):\n" + "\n".join(found)
    )


def test_the_check_sees_each_kind_of_use(tmp_path: Path) -> None:
    """The scanner itself: each kind of use is reported, and storage/ is exempt."""
    package = tmp_path / "hpsearch"
    (package / "storage").mkdir(parents=True)
    (package / "tuning").mkdir()
    (package / "tuning" / "bad.py").write_text(
        "import optuna.storages._rdb.models\n"
        "from optuna.storages._cached_storage import _CachedStorage\n"
        "from optuna.trial import _frozen\n"
        "def f(study, trial):\n"
        "    study._storage.record_heartbeat(trial._trial_id)\n"
        "    return 'SELECT trial_id FROM trial_heartbeats'\n"
    )
    (package / "storage" / "fine.py").write_text(
        "from optuna.storages._rdb import models\nx = models.TrialModel\n"
    )
    found = door_violations(package, package / "storage")
    assert [line.split(": ", 1)[1] for line in found] == [
        "imports optuna.storages._rdb.models",
        "imports optuna.storages._cached_storage",
        "imports optuna.trial._frozen",
        "reads ._storage",
        "reads ._trial_id",
        "writes SQL on Optuna's tables ('FROM trial_heartbeats')",
    ]
