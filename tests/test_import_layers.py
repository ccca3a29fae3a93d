"""The package's rooms and floors: no import circles between modules, and no import from a lower room to a
higher one. Every import counts, those inside functions and under ``TYPE_CHECKING`` too.

Floors, from the top (a room may import its own modules and any room on a lower floor): the entry points
(command-line tools, hydra's config package, the package itself); the study and its reading; the training
driver and distillation; metrics; plugin registration; the task; decoding; an AR teacher's score; criterions and
models; modules; data; leaf helpers.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "fairseq_nat_study"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: floors from the top; rooms on one floor may not import each other
FLOORS: list[list[str]] = [
    ["cli", "config", ""],  # entry points: the tools, hydra's config package, the package's own __init__
    ["study"],
    ["study.report"],
    ["training", "distill"],
    ["analysis"],
    ["registration"],
    ["tasks"],
    ["generation"],
    ["scoring"],
    ["criterions", "models"],
    ["modules"],
    ["data"],
    ["utils"],
]


def module_names() -> dict[str, Path]:
    """Dotted module name (without the package prefix; ``""`` for the package) -> file."""
    names = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def import_edges(names: dict[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) pairs between the package's modules, every ``import`` statement included."""
    edges = set()
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = [PACKAGE] + [p for p in package.split(".") if p]
                    base = base[: len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
            for target in targets:
                if target != PACKAGE and not target.startswith(PACKAGE + "."):
                    continue
                short = target[len(PACKAGE) + 1:]
                if short in names and short != name:
                    edges.add((name, short))
                    break
    return edges


def room(name: str) -> str:
    """The room of a module: the longest floor entry its name starts with."""
    rooms = [r for floor in FLOORS for r in floor if r and (name == r or name.startswith(r + "."))]
    return max(rooms, key=len) if rooms else name


def floor_of(room_name: str) -> int:
    for i, floor in enumerate(FLOORS):
        if room_name in floor:
            return i
    raise AssertionError(f"{PACKAGE}.{room_name} is on no floor: add it to FLOORS in {__file__}")


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_circles_and_upward_edges() -> None:
    assert cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert room("study.report.findings") == "study.report" and room("study.pipeline") == "study"
    assert floor_of("utils") > floor_of("analysis") > floor_of("study")


def test_no_import_circles() -> None:
    assert cycles(import_edges(module_names())) == []


def test_no_import_climbs_to_a_higher_room() -> None:
    upward = []
    for a, b in sorted(import_edges(module_names())):
        ra, rb = room(a), room(b)
        if ra != rb and floor_of(rb) <= floor_of(ra):
            upward.append(f"{a or PACKAGE} ({ra or 'package'}) imports {b or PACKAGE} ({rb or 'package'})")
    assert upward == []
