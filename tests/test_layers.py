"""House rule (issue 15): the code has three layers and its imports point one way.

- channels: ``kiosk`` and ``miniprogram_api`` (and the plain-Flask channels inside ``backend``);
- domains and infrastructure: ``backend`` (``backend/citizens`` is the citizen's home that both
  citizen channels share);
- the pure library: ``reports``.

Checked on the source (AST, no import of the code: about a second), counting every import, at
module level or inside a function:

(a) the two citizen channels import nothing from each other;
(b) nothing under ``backend/`` imports a channel, except the composition root ``backend/app.py``
    (``ALLOWED_CHANNEL_IMPORTERS``): the app factory is the one place that knows every channel,
    to register its blueprints, CLI group, outbox handlers, metrics gauges and console alert
    (DESIGN.md: "One composition root (the app factory) knows every channel");
(c) no import cycles between modules. Imports under ``if TYPE_CHECKING:`` never run and do not
    count for cycles (they still count for (a) and (b)).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "kiosk", "miniprogram_api", "reports")
CHANNELS = ("kiosk", "miniprogram_api")
# The composition root: registers the channels' blueprints, CLI, outbox handlers, gauges, alerts.
ALLOWED_CHANNEL_IMPORTERS = frozenset({"backend.app"})

# TEMPORARY: import cycles in an area another helper is reworking in this same session (issue
# 15, item 3: console areas as their own blueprints). Each entry is one import edge (importer,
# imported) that closes a cycle; the test ignores these edges, fails on any other cycle, and
# fails on an entry whose import is gone. The lead empties this at merge.
# (objections <-> repairs, item 4, is no module cycle: each operations module imports the other
# case's *models* inside a function, and the models import neither operations module.)
PENDING_CYCLES: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    type_checking: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts and "versions" in path.parts:
                # Alembic revisions are loaded by file, not imported as modules; they are still
                # checked for (b) below.
                found[f"{_module_name(path.parent)}.{path.stem}"] = path
                continue
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_checking: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for item in child.body:
                yield item, True
                yield from _walk(item, True)
            for item in child.orelse:
                yield item, type_checking
                yield from _walk(item, type_checking)
            continue
        yield child, type_checking
        yield from _walk(child, type_checking)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import of ``module`` naming one of ours, resolved to the most specific module
    (``from . import messages`` is the module ``<package>.messages``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node, type_checking in _walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        for target in targets:
            if target.split(".")[0] in PACKAGES:
                found.append(Import(module, target, node.lineno, type_checking))
    return found


@functools.cache
def _all_imports() -> tuple[Import, ...]:
    known = _modules()
    return tuple(imp for module, path in known.items() for imp in imports_of(module, path, known))


def _package(module: str) -> str:
    return module.split(".")[0]


def test_channels_import_nothing_from_each_other():
    crossing = [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in _all_imports()
        if _package(imp.importer) in CHANNELS
        and _package(imp.imported) in CHANNELS
        and _package(imp.importer) != _package(imp.imported)
    ]
    assert not crossing, "channels call the domains (backend/citizens ...), never each other:\n" + "\n".join(crossing)


def test_backend_imports_no_channel_but_in_the_composition_root():
    offending = [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in _all_imports()
        if _package(imp.importer) == "backend"
        and _package(imp.imported) in CHANNELS
        and imp.importer not in ALLOWED_CHANNEL_IMPORTERS
    ]
    assert not offending, (
        "the core imports no channel (register through a hook: pii_registry, metrics, operator_alerts):\n"
        + "\n".join(offending)
    )


def test_reports_imports_nothing_of_ours():
    offending = [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in _all_imports()
        if _package(imp.importer) == "reports" and _package(imp.imported) != "reports"
    ]
    assert not offending, "reports/ is a pure library:\n" + "\n".join(offending)


def _graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.type_checking or imp.importer == imp.imported:
            continue
        graph.setdefault(imp.importer, set()).add(imp.imported)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (linear in modules + imports): components of >1 module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(graph) | {m for targets in graph.values() for m in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _cycle_report(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component, as a readable chain."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    node = start
    while True:
        following = sorted(graph[node] & members)
        closing = start if start in following else None
        step = closing or next((m for m in following if m not in seen), following[0])
        path.append(step)
        if step == start or step in seen:
            break
        seen.add(step)
        node = step
    return " -> ".join(path)


def test_no_import_cycles():
    imports = _all_imports()
    graph = _graph(imports)
    stale = sorted(edge for edge in PENDING_CYCLES if edge[1] not in graph.get(edge[0], set()))
    assert not stale, f"PENDING_CYCLES lists imports that are gone, remove them: {stale}"
    for importer, imported in PENDING_CYCLES:
        graph[importer].discard(imported)
    cycles = [_cycle_report(graph, component) for component in strongly_connected(graph)]
    assert not cycles, "import cycles (a function-level import counts too):\n" + "\n".join(cycles)


def test_the_checks_see_a_planted_violation(tmp_path):
    """The checks above fail on what they forbid: a cycle, a channel importing the other, the
    core importing a channel (planted in a throw-away tree, not in the code)."""
    known = {"kiosk.views": tmp_path / "k.py", "backend.x": tmp_path / "x.py", "backend.y": tmp_path / "y.py"}
    known["kiosk.views"].write_text("def f():\n    from miniprogram_api.operations import open_session\n")
    known["backend.x"].write_text("from . import y\nfrom kiosk.models import KioskDevice\n")
    known["backend.y"].write_text("def g():\n    from backend import x\n")
    imports = [imp for module, path in known.items() for imp in imports_of(module, path, known)]
    assert ("kiosk.views", "miniprogram_api.operations") in {(i.importer, i.imported) for i in imports}
    assert ("backend.x", "kiosk.models") in {(i.importer, i.imported) for i in imports}
    assert strongly_connected(_graph(imports)) == [["backend.x", "backend.y"]]
