"""The house's import graph: no circle among mrcnn_edge's modules. Imports inside functions count (they
still run); those under `if TYPE_CHECKING:` do not (annotations only)."""
import ast
import os

import mrcnn_edge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mrcnn_edge.__file__)))


def _modules() -> dict[str, tuple[str, bool]]:
    """dotted name -> (path, is a package's __init__)."""
    found = {}
    for folder, _, files in os.walk(os.path.join(ROOT, "mrcnn_edge")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = (path, name.endswith("__init__"))
    return found


def _imports(name: str, path: str, is_package: bool, modules) -> set[str]:
    tree = ast.parse(open(path).read())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    package = name if is_package else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package if node.level else ""
            for _ in range(max(node.level - 1, 0)):
                base = base.rsplit(".", 1)[0]
            target = ".".join(p for p in (base, node.module) if p)
            for alias in node.names:  # `from . import x` imports the module x; `from .m import f`, m
                out.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in modules and m != name}


def import_cycles() -> list[list[str]]:
    modules = _modules()
    graph = {m: _imports(m, *modules[m], modules) for m in modules}
    index, low, stack, cycles = {}, {}, [], []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle():
    assert import_cycles() == []


def test_the_chain_sits_above_the_stages():
    """ARCHITECTURE.md: the chain imports the stages, no stage imports it; the demo builds through it."""
    modules = _modules()
    graph = {m: _imports(m, *modules[m], modules) for m in modules}
    above = {"mrcnn_edge.chain", "mrcnn_edge.demo", "mrcnn_edge.cli"}
    assert {m for m in graph if "mrcnn_edge.chain" in graph[m]} <= above
    assert "mrcnn_edge.chain" in graph["mrcnn_edge.demo"]
    assert not [m for m in graph if m not in above and graph[m] & above]
