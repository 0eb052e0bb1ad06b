"""The import graph of the repository's own modules: no import circle, and no module takes a
private name (`from X import _name`) from another top-level package; tests are a package too.

Every import counts, also one inside a function: a circle closed only at call time still ties the
two modules together."""

from __future__ import annotations

import ast
from pathlib import Path

from common.paths import REPO_ROOT

SKIPPED_DIRS = {"runs", "cache", ".git", "__pycache__"}


def repo_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the tree outside SKIPPED_DIRS."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if SKIPPED_DIRS.intersection(parts[:-1]):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules[".".join(parts)] = path
    return modules


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name an ImportFrom refers to (relative imports resolved against `module`)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _own(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is one of the repository's modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def import_edges(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """(module -> the own modules it imports, `file:line: from X import _name` across packages)."""
    graph, private = {name: set() for name in modules}, []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [_own(alias.name, modules) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(name, path, node)
                targets = [_own(f"{source}.{alias.name}", modules) for alias in node.names]
                hidden = [
                    alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
                if hidden and _own(source, modules) and source.split(".")[0] != name.split(".")[0]:
                    private.append(
                        f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}:"
                        f"{node.lineno}: from {source} import {', '.join(hidden)}"
                    )
            else:
                continue
            graph[name].update(target for target in targets if target and target != name)
    return graph, private


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(circles)


def test_the_checks_find_a_circle_and_a_private_import_in_a_small_tree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from . import b\n\n_hidden = 1\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg.a import _hidden\n")
    (tmp_path / "pkg" / "c.py").write_text("from pkg.a import _hidden\n")  # same package: allowed
    (tmp_path / "tool.py").write_text("import pkg.c\nfrom pkg.a import _hidden, __doc__\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "x.py").write_text("import tool\n")  # skipped folder: no tool <-> x circle
    graph, private = import_edges(repo_modules(tmp_path))
    assert import_circles(graph) == [["pkg.a", "pkg.b"]]
    assert graph["tool"] == {"pkg.c", "pkg.a"} and "cache.x" not in graph
    assert private == [f"{tmp_path / 'tool.py'}:2: from pkg.a import _hidden"]


def test_no_import_circle_among_the_repositorys_modules():
    graph, _ = import_edges(repo_modules(REPO_ROOT))
    assert "training.loop" in graph and "tests.conftest" in graph
    circles = import_circles(graph)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(circle) for circle in circles)


def test_no_private_name_is_imported_from_another_package():
    _, private = import_edges(repo_modules(REPO_ROOT))
    assert not private, "private names imported across packages:\n" + "\n".join(private)
