"""The modules of ``fairseq_nat_study.data`` import one another without a circle, counting imports made only for
type checking and inside functions, and the synthetic corpus's public names stay importable from where callers
import them."""
from __future__ import annotations

import ast
from pathlib import Path

import fairseq_nat_study.data as data_pkg

PACKAGE = "fairseq_nat_study.data"


def _data_imports(path: Path) -> set[str]:
    """Names of the ``fairseq_nat_study.data`` modules that ``path`` imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(PACKAGE + "."):
                found.add(node.module[len(PACKAGE) + 1:].split(".")[0])
            elif node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name[len(PACKAGE) + 1:].split(".")[0] for a in node.names
                         if a.name.startswith(PACKAGE + "."))
    return found


def _graph() -> dict[str, set[str]]:
    folder = Path(data_pkg.__file__).parent
    return {p.stem: _data_imports(p) for p in folder.glob("*.py") if p.stem != "__init__"}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A list of modules forming an import circle, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else path + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle_in_data() -> None:
    graph = _graph()
    assert {"synthetic", "phrase_table", "synth_config"} <= set(graph)
    assert graph["synth_config"] == set()
    assert "synthetic" not in graph["phrase_table"]
    assert _cycle(graph) is None, _cycle(graph)


def test_public_names_importable_from_their_old_places() -> None:
    from fairseq_nat_study.data import synth_config, synthetic

    assert synthetic.SynthConfig is synth_config.SynthConfig
    assert synthetic.PRESETS is synth_config.PRESETS
    assert "unequal" in synthetic.PRESETS
