"""The house's import graph (ARCHITECTURE.md): no circle among mrcnn_edge's modules, and no stage imports a later
one. Every import counts: those inside functions (they still run) and those under `if TYPE_CHECKING:` (a type
checker follows them, and a circle there is a circle in the design)."""
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
    package = name if is_package else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
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


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of mrcnn_edge it imports."""
    modules = _modules()
    return {m: _imports(m, *modules[m], modules) for m in modules}


def import_cycles() -> list[list[str]]:
    graph = import_graph()
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
    graph = import_graph()
    above = {"mrcnn_edge.chain", "mrcnn_edge.demo", "mrcnn_edge.cli"}
    assert {m for m in graph if "mrcnn_edge.chain" in graph[m]} <= above
    assert "mrcnn_edge.chain" in graph["mrcnn_edge.demo"]
    assert not [m for m in graph if m not in above and graph[m] & above]


# The stages in the chain's order (ARCHITECTURE.md), each after what it may import. The bottom layer (the
# package's root modules: the contract, names, the sidecar, files, images, the letterbox, RLE, ...) comes first;
# the synthetic data sets next (the calibration, the eval and the benches draw from them); then the chain's
# stages from checkpoint to runtime; eval (which runs the runtime's predictors), the serving bundles and
# training; the chain, which imports them all; and the commands above it.
STAGES = ("data", "model", "export", "surgery", "precision", "check", "engine", "runtime", "eval", "serving",
          "train", "chain", "demo", "describe", "cli")


def stage_of(module: str) -> int:
    """The module's place in STAGES; -1 for the bottom layer."""
    part = module.split(".")[1] if "." in module else ""
    return STAGES.index(part) if part in STAGES else -1


def backward_imports(graph: dict[str, set[str]]) -> list[str]:
    """`importer -> imported` for every import of a later stage than the importer's own."""
    return sorted(f"{m} ({STAGES[stage_of(m)] if stage_of(m) >= 0 else 'bottom layer'}) -> {d} "
                  f"({STAGES[stage_of(d)]})" for m, deps in graph.items() for d in deps if stage_of(d) > stage_of(m))


def test_every_package_has_a_stage():
    """A new package takes its place in STAGES, so that the order is checked for it too."""
    packages = {m.split(".")[1] for m, (_, is_package) in _modules().items() if is_package and m.count(".") == 1}
    assert packages <= set(STAGES), sorted(packages - set(STAGES))


def test_no_stage_imports_a_later_one():
    assert backward_imports(import_graph()) == []
