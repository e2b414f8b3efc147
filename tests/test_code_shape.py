"""The code's shape, checked on its source (issue 12): no import cycle, short functions.

Everything here reads files with ``ast``; nothing is imported or run, so the
checks cost a fraction of a second. Each failure names what to fix.

- The package's import graph has no cycle, counting every ``import``
  statement wherever it stands: at module level, inside a function (a lazy
  import still makes one module need the other) or under ``TYPE_CHECKING``.
- The layers point one way: a module of a lower room never imports one of a
  higher room (protocol <- net, storage <- crawl <- cli).
- No function or method in ``src/`` or ``scripts/`` is longer than 60 lines.
- Nothing in ``src/`` or ``scripts/`` edits ``sys.path``.
"""

from __future__ import annotations

import ast
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
    "net": 1,
    "storage": 1,
    "crawl": 2,
    "cli": 3,
}


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


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imported(name, path, known) for name, path in known.items()}


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
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_find_cycles_names_a_cycle_and_passes_a_tree() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_import_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    # cli/__init__.py imports its command modules inside functions only.
    assert any(name.startswith(f"{PACKAGE}.cli.") for name in graph[f"{PACKAGE}.cli"])
    assert len(graph) > 50


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(_describe_cycle(graph, c) for c in cycles)


def test_layers_point_one_way() -> None:
    wrong = []
    for module, imported in sorted(import_graph().items()):
        room = _room(module)
        if room is None:
            continue
        for target in sorted(imported):
            other = _room(target)
            if other is not None and LAYERS[other] > LAYERS[room]:
                wrong.append(f"{module} ({room}) imports {target} ({other})")
            elif other is not None and {room, other} == {"net", "storage"}:
                wrong.append(f"{module} ({room}) imports {target} ({other}): siblings")
    assert not wrong, "\n".join(wrong)


def _python_files() -> list[Path]:
    return sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")])


def functions_over(source: str, where: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
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
    assert functions_over(source, "m.py") == [f"m.py:6 long ({MAX_FUNCTION_LINES + 1} lines)"]


def test_no_function_over_sixty_lines() -> None:
    found = [
        line
        for path in _python_files()
        for line in functions_over(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
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
        for line in _edits_sys_path(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, "sys.path used in:\n" + "\n".join(found)
