"""The package's shape: imports between reid modules run one way, and no module grows too long.

Every import counts, wherever it sits: at module level, inside a function (a lazy import that
closes a circle is still a circle) and under ``if TYPE_CHECKING:`` (a circle in the types is
one in the design). The modules are parsed, never imported, so the test needs no framework.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 300


def package_modules(root: Path = REPO) -> dict[str, Path]:
    """Dotted name -> source file, for every module of the reid package under ``root``."""
    modules = {}
    for path in sorted((root / "reid").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The reid modules that ``name``'s source imports, relative imports resolved. ``from X
    import y`` depends on module ``X.y`` when there is one, else on ``X``; the edge goes to
    the module named, not to the packages above it (their ``__init__`` runs first, but the
    importer depends on the module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # A package is its own anchor; a module's anchor is its package.
                anchor = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {module for module in found if module in modules and module != name}


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Module -> the reid modules it imports."""
    modules = package_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], list[str]]]:
    """The strongly connected groups of more than one module (Tarjan): each group's modules,
    and one circle through them, so the message shows how the imports come back."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

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
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [(sorted(group), circle_through(graph, group)) for group in groups]


def circle_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One import path inside ``group`` from its first module back to itself."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    raise AssertionError(f"no circle in {sorted(group)}")


def test_no_import_circle():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(
        f"{', '.join(group)} (e.g. {' -> '.join(circle)})" for group, circle in found
    )


def test_no_module_over_the_limit():
    long = {
        str(path.relative_to(REPO)): lines
        for path in package_modules().values()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: " + ", ".join(f"{p} ({n})" for p, n in sorted(long.items()))


def test_the_walk_sees_every_kind_of_import(tmp_path):
    # A small package with a circle closed only by a relative import inside a function.
    package = tmp_path / "reid" / "pkg"
    package.mkdir(parents=True)
    (tmp_path / "reid" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("from reid.pkg import b\n")
    (package / "b.py").write_text("def late():\n    from .a import thing\n")
    (package / "c.py").write_text("import reid.pkg.b\nfrom ..pkg import a\n")
    graph = import_graph(tmp_path)
    assert graph == {
        "reid": set(),
        "reid.pkg": {"reid.pkg.a"},
        "reid.pkg.a": {"reid.pkg.b"},
        "reid.pkg.b": {"reid.pkg.a"},
        "reid.pkg.c": {"reid.pkg.a", "reid.pkg.b"},
    }
    assert cycles(graph) == [(["reid.pkg.a", "reid.pkg.b"], ["reid.pkg.a", "reid.pkg.b", "reid.pkg.a"])]
