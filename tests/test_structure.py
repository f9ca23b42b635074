"""The package's shape: no import cycles among modeldeck's own modules.

Two graphs: the imports that run when a module is imported (module level, class bodies,
module-level ``if``/``try``), where a cycle breaks importing; and those plus the imports inside
functions, where a cycle means two modules lean on each other (hub <-> download once did).
Imports under ``if TYPE_CHECKING`` never count.
"""

import ast
from pathlib import Path

import modeldeck

ROOT = Path(modeldeck.__file__).parent
PACKAGE = "modeldeck"


def module_names() -> dict[str, Path]:
    names = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join([PACKAGE, *parts])] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_statements(tree: ast.Module, lazy: bool = False):
    """The import statements that run at import time (with ``lazy``, those inside functions too)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not lazy:
            continue
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in import_statements(ast.parse(path.read_text(), str(path)), lazy):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(base + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                # "from . import settings" imports the module modeldeck.settings (the package is loaded already)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) for each group of modules that import each other (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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
    found = []
    for group in groups:
        start = min(group)
        path, seen = [start], {start}
        # walk inside the group back to the start (every node of an SCC reaches every other)
        def walk(node: str) -> bool:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    path.append(start)
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    path.append(nxt)
                    if walk(nxt):
                        return True
                    path.pop()
            return False

        walk(start)
        found.append(path)
    return found


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_module_level_imports_only():
    graph = import_graph()
    assert "modeldeck.errors" in graph["modeldeck.spec"]  # from .errors import ...
    assert "modeldeck.settings" in graph["modeldeck.hub"]  # from . import settings
    assert "modeldeck.pool" not in graph[PACKAGE]  # modeldeck.load imports it inside the function
    assert "modeldeck.spec" not in graph[PACKAGE]  # under TYPE_CHECKING
    lazy = import_graph(lazy=True)
    assert "modeldeck.pool" in lazy[PACKAGE] and "modeldeck.spec" not in lazy[PACKAGE]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles among modeldeck's modules:\n" + "\n".join(" -> ".join(c) for c in found)


def test_no_import_cycles_through_lazy_imports():
    found = cycles(import_graph(lazy=True))
    assert not found, "modules importing each other (inside functions too):\n" + "\n".join(" -> ".join(c) for c in found)
