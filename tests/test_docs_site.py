"""The docs site's API page lists every module of the package tree, whatever moves."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hook():  # the hook imports mkdocs, which `make docs` installs
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("api_pages", ROOT / "docs" / "hooks" / "api_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_page_lists_every_module() -> None:
    hook = _hook()
    names = hook.module_names(ROOT)
    files = [p for p in (ROOT / "fairseq_nat_study").rglob("*.py") if "__pycache__" not in p.parts]
    assert len(names) == len(files)
    assert names[0] == "fairseq_nat_study"
    assert names.index("fairseq_nat_study.study") < names.index("fairseq_nat_study.study.report.headline")
    page = hook.api_markdown(names)
    assert page.count("\n::: ") == len(names)
    assert "## `fairseq_nat_study.models`" in page and "::: fairseq_nat_study.cli.docs" in page


def test_api_page_follows_a_moved_module(tmp_path: Path) -> None:
    hook = _hook()
    (tmp_path / "fairseq_nat_study" / "training").mkdir(parents=True)
    for rel in ("__init__.py", "training/__init__.py", "training/early_stopping.py"):
        (tmp_path / "fairseq_nat_study" / rel).write_text('"""x"""\n')
    assert hook.module_names(tmp_path) == ["fairseq_nat_study", "fairseq_nat_study.training",
                                           "fairseq_nat_study.training.early_stopping"]
