"""The shape of `src/autonomic` as an import graph: small modules, arrows only where they belong, no cycles.

Every import counts: at module level, under `TYPE_CHECKING`, and inside functions (a lazy import is
still a dependency; it only moves the cost).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "autonomic"
MAX_LINES = 400


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path) -> Iterator[str]:
    """The autonomic modules `module` imports (a `from pkg import name` counts `pkg.name` if a module)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("autonomic"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("autonomic"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in modules() else base


@cache
def graph() -> dict[str, frozenset[str]]:
    known = modules()
    return {
        module: frozenset(
            target for target in _imported(module, path) if target in known and target != module
        )
        for module, path in known.items()
    }


def _cycles() -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan's algorithm)."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_is_read() -> None:
    edges = graph()
    assert "autonomic.worker.loop" in edges and "autonomic.errors" in edges
    assert "autonomic.worker.outcome" in edges["autonomic.worker.execution"]
    assert "autonomic.config" in edges["autonomic.cli.worker"]  # lazy imports count


def test_no_module_is_over_400_lines() -> None:
    long = {
        module: count
        for module, path in modules().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("autonomic.probes", "autonomic.supervisor"),
        ("autonomic.queue", "autonomic.config"),
        ("autonomic.worker", "autonomic.config"),
        ("autonomic.queue", "autonomic.scaffold"),
        ("autonomic.worker", "autonomic.scaffold"),
    ],
)
def test_forbidden_arrows(package: str, forbidden: str) -> None:
    arrows = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if _under(module, package)
        for target in targets
        if _under(target, forbidden)
    )
    assert not arrows, f"{package} must not import {forbidden}: {arrows}"


def test_no_import_cycles() -> None:
    cycles = _cycles()
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(cycle) for cycle in cycles)
