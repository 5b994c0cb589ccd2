"""The layering, read from the source: no import cycles between modules, and lower layers never
import upper ones (the store knows no analyzer, pipeline, web, cli or stage; analyzers know no
store, web or cli). Every import counts, also those inside functions; only imports under
``if TYPE_CHECKING:`` (never run) do not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import veriscan

SRC = Path(veriscan.__file__).parent
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = {
    # Each closes a cycle that exists today through an import inside a function: the console
    # script imports the app lazily so a broken installation still ends in one line.
    ("veriscan.cli.entry", "veriscan.cli.app"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The veriscan modules ``name`` imports: a name imported from a package is that submodule
    when one exists, else the package itself."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_no_import_cycles_between_modules() -> None:
    graph = import_graph()
    for module, target in KNOWN_CYCLE_EDGES:
        graph[module].discard(target)
    assert cycles(graph) == [], "import cycle(s); break them (or, never: allow-list an edge)"


@pytest.mark.parametrize("edge", sorted(KNOWN_CYCLE_EDGES), ids="->".join)
def test_each_allowed_edge_still_closes_a_cycle(edge: tuple[str, str]) -> None:
    """The allow-list only shrinks: once an edge or its cycle is gone, remove it here."""
    graph = import_graph()
    module, target = edge
    assert target in graph[module], f"{module} no longer imports {target}: drop the entry"
    assert any({module, target} <= c for c in cycles(graph)), f"{edge} closes no cycle now"


def _violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    graph = import_graph()
    prefix = f"veriscan.{layer}"
    bad = tuple(f"veriscan.{f}" for f in forbidden)
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module == prefix or module.startswith(prefix + ".")
        for target in targets
        if any(target == b or target.startswith(b + ".") for b in bad)
    )


def test_the_store_imports_no_upper_layer() -> None:
    assert _violations("store", ("analyzers", "pipeline", "web", "cli", "stages")) == []


def test_analyzers_import_no_store_web_or_cli() -> None:
    assert _violations("analyzers", ("store", "web", "cli")) == []


def test_the_graph_sees_imports() -> None:
    """A layering test that reads no import would pass on anything."""
    graph = import_graph()
    assert "veriscan.store.case" in graph["veriscan.pipeline.ingest"]
    assert "veriscan.analyzers.provenance.redecide" in graph["veriscan.stages.detector"]
