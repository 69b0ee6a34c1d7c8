"""The layout's rules, read from the code (docs/architecture.md draws them): which part may import which, no
import cycles (function-level imports included), the core never imports a front end, no function over 100
lines."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "deepprior"

#: part -> the parts it may import. The core is everything but the front ends; a part not listed here fails.
ALLOWED = {
    "errors": set(), "version": set(), "fields": {"errors"}, "config": {"errors", "fields"},
    "operators": {"errors"}, "nets": {"errors", "config"}, "imaging": {"errors", "operators"},
    "fitting": {"errors", "config", "operators", "imaging"}, "classical": {"errors", "imaging"},
    "jobs": {"errors", "config", "version", "operators", "nets", "imaging", "fitting", "classical"},
    "report": {"errors", "imaging"}, "bench": {"errors", "imaging", "classical", "jobs"},
    "__init__": {"errors", "config", "version", "fitting", "imaging", "jobs"},
    "cli": {"errors", "config", "fields", "version", "operators", "nets", "imaging", "fitting", "classical", "jobs",
            "report", "bench", "web", "batch"},
    "batch": {"errors", "imaging", "operators", "jobs", "report"},
    "web": {"errors", "imaging", "operators", "fitting", "jobs", "report"},
    "__main__": {"cli"},
}
FRONT_ENDS = {"cli", "web", "batch"}


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(name: str, path: pathlib.Path) -> set[str]:
    """The package's modules that ``name`` imports anywhere (module level or in a function), but under
    ``if TYPE_CHECKING:`` (never run)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("deepprior"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                if not base.startswith("deepprior"):
                    continue
                for alias in child.names:  # "from . import tricks" names a module
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
            visit(child)

    visit(tree)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_every_part_imports_only_what_its_layer_allows():
    wrong = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
             if _part(t) != _part(m) and _part(t) not in ALLOWED[_part(m)]]
    assert not wrong, "\n".join(wrong)


def test_the_core_never_imports_a_front_end():
    wrong = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
             if _part(t) in FRONT_ENDS and _part(m) not in FRONT_ENDS | {"__main__"}]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph: each must be a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            strong(v)
    assert not cycles, cycles


def test_the_graph_is_read_right():
    """The rules above mean something only if the reader finds real edges, function-level ones included."""
    assert "deepprior.jobs.planning" in GRAPH["deepprior.jobs"]
    assert "deepprior.fitting.loop" in GRAPH["deepprior.fitting"]
    assert "deepprior.imaging.metrics" in GRAPH["deepprior.classical.compare"]  # "from ..imaging import metrics"
    assert "deepprior.cli.app" in GRAPH["deepprior.cli"]


@pytest.mark.parametrize("folder", ["src", "benchmarks"])
def test_no_function_is_longer_than_100_lines(folder):
    long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 100:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    assert not long, "\n".join(long)
