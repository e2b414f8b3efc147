"""The code's shape, checked on its source (issue 12): no import cycle, short functions.

Everything here reads files with ``ast``; nothing is imported or run, so the
checks cost a fraction of a second. Each failure names what to fix.

- The package's import graph has no cycle, counting every ``import``
  statement that can run: at module level or inside a function (a lazy
  import still makes one module need the other). Imports under
  ``if TYPE_CHECKING:`` never run and are left out of this one.
- The layers point one way: a module of a lower room never imports one of a
  higher room (protocol <- net, storage <- crawl, exporting, progress <- cli), not even
  for a type annotation.
- No function or method in ``src/`` or ``scripts/`` is longer than 60 lines.
- Nothing in ``src/`` or ``scripts/`` edits ``sys.path``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "custom_wheel_offset"
PACKAGE_DIR = ROOT / "src" / PACKAGE
MAX_FUNCTION_LINES = 60

# Rooms from lowest to highest; a room may import only rooms at or below its own
# level. Modules not listed (errors, settings, logsetup, ...) are shared and
# unconstrained by this check; the cycle check still covers them.
LAYERS: dict[str, int] = {
    "protocol": 0,
    # The export format is pure (records -> dictionaries, no I/O): the writer
    # stores a vehicle as its flattened export record; it never imports storage.
    "exporting.format": 0,
    # The change format of `cwo diff` (content hash, field changes): pure too; the
    # writer's history rows are made with it.
    "exporting.changes": 0,
    "net": 1,
    "storage": 1,
    "crawl": 2,
    # Both read storage; storage knows neither the export format nor the display.
    "exporting": 2,
    "progress": 2,
    # Read-only answers over storage (lookup, fits, views) and the data audit.
    "query": 2,
    "audit": 2,
    "progress_view": 2,
    "cli": 3,
}


@functools.cache
def _tree(path: Path) -> ast.Module:
    """Each file parsed once for all the checks."""
    return ast.parse(path.read_text(encoding="utf-8"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, *, type_only: bool) -> Iterator[ast.AST]:
    """Every node of ``tree``; without ``type_only``, not those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if not type_only and isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imported(module: str, path: Path, known: dict[str, Path], *, type_only: bool) -> set[str]:
    """The package's modules that ``module`` imports, at any depth of its code."""
    found: set[str] = set()
    for node in _import_nodes(_tree(path), type_only=type_only):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path, node)
            # ``from pkg import name`` imports the submodule when ``name`` is one.
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        found.update(n for n in names if n in known and n != module)
    return found


def import_graph(*, type_only: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``type_only``: also for annotations)."""
    known = _modules()
    return {name: _imported(name, path, known, type_only=type_only) for name, path in known.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return cycles


def _describe_cycle(graph: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "cycle among " + ", ".join(component) + ":\n    " + "\n    ".join(edges)


def _room(module: str) -> str | None:
    """The longest entry of LAYERS that ``module`` is or is inside of."""
    inner = module.removeprefix(f"{PACKAGE}.")
    rooms = [r for r in LAYERS if inner == r or inner.startswith(f"{r}.")]
    return max(rooms, key=len) if rooms else None


def test_find_cycles_names_a_cycle_and_passes_a_tree() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_import_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    # cli/__init__.py imports its command modules inside functions only.
    assert any(name.startswith(f"{PACKAGE}.cli.") for name in graph[f"{PACKAGE}.cli"])
    assert len(graph) > 50
    # storage/runs.py names OptimizedDatabaseManager under TYPE_CHECKING only.
    runs, database = f"{PACKAGE}.storage.runs", f"{PACKAGE}.storage.database"
    assert database not in graph[runs]
    assert database in import_graph(type_only=True)[runs]


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(_describe_cycle(graph, c) for c in cycles)


def test_layers_point_one_way() -> None:
    wrong = []
    for module, imported in sorted(import_graph(type_only=True).items()):
        room = _room(module)
        if room is None:
            continue
        for target in sorted(imported):
            other = _room(target)
            if other is not None and LAYERS[other] > LAYERS[room]:
                wrong.append(f"{module} ({room}) imports {target} ({other})")
            elif other != room and {room, other} == {"net", "storage"}:
                wrong.append(f"{module} ({room}) imports {target} ({other}): siblings")
    assert not wrong, "\n".join(wrong)


def _python_files() -> list[Path]:
    return sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")])


def functions_over(tree: ast.AST, where: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # From the def line (decorators excluded) to the last line of the body.
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_functions_over_names_the_long_one_only() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = f"def short() -> None:\n    pass\n\n\nclass C:\n    def long(self) -> None:\n{body}\n"
    source = source.replace("\n    x", "\n        x")
    expected = [f"m.py:6 long ({MAX_FUNCTION_LINES + 1} lines)"]
    assert functions_over(ast.parse(source), "m.py") == expected


def test_no_function_over_sixty_lines() -> None:
    found = [
        line
        for path in _python_files()
        for line in functions_over(_tree(path), str(path.relative_to(ROOT)))
    ]
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(found)


def _edits_sys_path(tree: ast.AST) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path":
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                yield node.lineno
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "sys"
            and any(alias.name == "path" for alias in node.names)
        ):
            yield node.lineno


def test_no_sys_path_edits() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _python_files()
        for line in _edits_sys_path(_tree(path))
    ]
    assert not found, "sys.path used in:\n" + "\n".join(found)


def test_rooms_by_longest_prefix() -> None:
    assert _room(f"{PACKAGE}.exporting.format") == "exporting.format"
    assert _room(f"{PACKAGE}.exporting.export") == "exporting"
    assert _room(f"{PACKAGE}.storage.migrations.versions") == "storage"
    assert _room(f"{PACKAGE}.errors") is None
