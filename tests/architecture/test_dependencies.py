"""Every third-party package hpsearch imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "hpsearch"
#: Private scikit-learn names the estimator uses because scikit-learn has no public
#: equivalent (its parameter-validation framework); anything else must be public.
PRIVATE_SKLEARN_ALLOWED = {"sklearn.base._fit_context", "sklearn.utils._param_validation"}


def _imports() -> set[tuple[str, str]]:
    """(top-level module, dotted name) of every absolute import in hpsearch/."""
    found: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(a.name.split(".")[0], a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found |= {
                    (node.module.split(".")[0], f"{node.module}.{a.name}") for a in node.names
                }
    return found


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra, extra_requirements in project["optional-dependencies"].items():
        if extra != "dev":
            requirements += extra_requirements
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def test_every_imported_package_is_declared() -> None:
    """scipy (hpsearch.nn.backend) is declared itself, not only as scikit-learn's dependency."""
    distributions = packages_distributions()
    stdlib = sys.stdlib_module_names
    missing = set()
    for top, _ in _imports():
        if top in stdlib or top in ("hpsearch", "__future__"):
            continue
        names = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
        if not names & _declared():
            missing.add(f"{top} ({', '.join(sorted(names))})")
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_scikit_learn_floor_has_validate_data() -> None:
    """validate_data is public from scikit-learn 1.6 on: the floor says so."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sklearn = next(Requirement(r) for r in project["dependencies"] if r.startswith("scikit-learn"))
    assert "1.5.9" not in sklearn.specifier and "1.6" in sklearn.specifier
    pytest.importorskip("sklearn.utils.validation").validate_data  # noqa: B018


def test_no_private_scikit_learn_imports() -> None:
    private = {
        name
        for top, name in _imports()
        if top == "sklearn" and any(part.startswith("_") for part in name.split(".")[1:])
    }
    assert private <= {
        n for n in private if any(n.startswith(a) for a in PRIVATE_SKLEARN_ALLOWED)
    }, private
