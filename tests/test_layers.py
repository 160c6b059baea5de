"""The house rules that keep the layers apart, checked on the code itself.

- No import cycle among router's modules, counting imports inside functions
  too (so a cycle cannot be hidden by moving an import into a function).
- SQL stays in the state package: nothing else imports sqlite3, psycopg or psycopg_pool.
"""

from __future__ import annotations

import ast
from pathlib import Path

import router

ROOT = Path(router.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The router modules `path` imports, anywhere in the file.

    `from pkg import mod` counts as importing `pkg.mod` when that is a module,
    else `pkg`; a package's `__init__` is counted only when names come from it.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    out.add(full)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(path, name, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_router_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = import_graph()
    graph["router.records"] = graph["router.records"] | {"router.runner"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and "router.runner" in cycle


_DATABASE_DRIVERS = {"sqlite3", "psycopg", "psycopg_pool", "psycopg2"}


def test_only_the_state_package_speaks_sql() -> None:
    offenders = []
    for name, path in _modules().items():
        if name == "router.state" or name.startswith("router.state."):
            continue
        if _raw_imports(path) & _DATABASE_DRIVERS:
            offenders.append(name)
    assert offenders == []


def _raw_imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out
