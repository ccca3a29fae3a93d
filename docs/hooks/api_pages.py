"""MkDocs hook: the API page, generated at build time from the package tree.

Every module under ``fairseq_nat_study/`` gets a ``::: module`` block (rendered by mkdocstrings from its
docstrings), grouped by sub-package, so moving or adding a module never needs an edit here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

PACKAGE = "fairseq_nat_study"


def module_names(root: Path) -> list[str]:
    """Dotted names of every module and package of ``root/PACKAGE``, packages before their modules."""
    names = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(set(names), key=lambda n: n.split("."))


def api_markdown(names: list[str]) -> str:
    """The API page: one section per sub-package (the top-level package and its own modules first)."""
    lines = ["# API reference", "",
             "Generated from the docstrings at build time: one entry per module of the package tree.", ""]
    group = None
    for name in names:
        parts = name.split(".")
        this = ".".join(parts[:2]) if len(parts) > 1 and not name.endswith(".py") else parts[0]
        if this != group:
            group = this
            lines += [f"## `{group}`", ""]
        lines += [f"::: {name}", ""]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    root = Path(config["config_file_path"]).parent
    files.append(File.generated(config, "api.md", content=api_markdown(module_names(root))))
    return files
