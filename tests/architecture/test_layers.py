"""The package layout's rules, read from the code's own imports.

Imports run one way, down ``LAYERS``: a module may import from its own package or
from a package on a lower layer, never from one above or beside it (``errors`` sits
below everything). Any import counts, lazy or under ``TYPE_CHECKING``: an arrow in
the wrong direction is a circle waiting to happen.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "hpsearch"

#: Top to bottom; packages on one line are peers and may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("dashboard",),
    ("workers",),
    ("results",),
    ("study",),
    ("tuning",),
    ("spec", "storage"),
    ("nn", "data"),
    ("errors",),
)
LEVEL = {package: depth for depth, line in enumerate(LAYERS) for package in line}


def _imports(path: Path) -> set[str]:
    """Modules under ``hpsearch`` that ``path`` imports, as dotted names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("hpsearch.")}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _graph() -> dict[str, set[str]]:
    modules = {_module(path): path for path in ROOT.rglob("*.py")}
    return {
        name: {imported for imported in _imports(path) if imported in modules}
        for name, path in modules.items()
    }


def test_every_package_has_a_layer() -> None:
    packages = {_package(name) for name in _graph()} - {None, "__main__"}
    assert packages <= set(LEVEL), f"packages missing from LAYERS: {packages - set(LEVEL)}"


def test_imports_run_down_the_layers() -> None:
    wrong = []
    for module, imported in _graph().items():
        source = _package(module)
        if source in (None, "__main__"):
            continue
        for target in imported:
            destination = _package(target)
            if destination in (None, source):
                continue
            if LEVEL[destination] <= LEVEL[source]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_import_circles_between_modules() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own modules is not a circle of design.
    for module in graph:
        graph[module] = {target for target in graph[module] if not module.startswith(target + ".")}
    circles: list[str] = []
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state[target] == 1:
                circles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif state[target] == 0:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(circles)
