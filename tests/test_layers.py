"""The package's layers, read from its imports (every kind: top level, TYPE_CHECKING, inside
functions): the emulator reaches the kernel only through KernelSide, the loader through
state.KernelState, the views sit on top, and no file imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pseudokernel"


def _name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    files = {_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in files:
                        graph[name].add(full)
                    elif target in files:
                        graph[name].add(target)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in files)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one file (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def imports_of(graph: dict[str, set[str]], prefix: str) -> set[str]:
    return {t for f, targets in graph.items() if f == prefix or f.startswith(prefix + ".") for t in targets}


def test_no_file_imports_itself_back():
    assert cycles(import_graph()) == []


def test_the_emulator_knows_nothing_above_it():
    """emu/ (the CPU and the handlers) imports no loader, kernel, view or dumper: what it asks
    of them goes through KernelApi's collaborators."""
    above = ("pseudokernel.kernel", "pseudokernel.module", "pseudokernel.fs", "pseudokernel.oops",
             "pseudokernel.unwind", "pseudokernel.leaks", "pseudokernel.state", "pseudokernel.daemon")
    bad = {t for t in imports_of(import_graph(), "pseudokernel.emu") if t.startswith(above)}
    assert bad == set()


def test_the_loader_and_the_dumpers_see_the_kernel_only_as_declared():
    graph = import_graph()
    for part in ("pseudokernel.module", "pseudokernel.oops", "pseudokernel.unwind", "pseudokernel.leaks"):
        bad = {t for t in imports_of(graph, part) if t.startswith(("pseudokernel.kernel", "pseudokernel.fs"))}
        assert bad == set(), part


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
