"""``fairseq-nat-study --help`` imports neither torch nor fairseq; registration still happens when fairseq imports
the plugin (``--user-dir``) or when a tool calls :func:`fairseq_nat_study.register`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "fairseq", "numpy", "hydra")


def _imported_after(code: str) -> dict:
    """Runs ``code`` in a fresh interpreter and returns which heavy modules it left imported (and its output)."""
    probe = f"import sys, json, contextlib, io\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_imports_neither_torch_nor_fairseq() -> None:
    code = ("from fairseq_nat_study.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n        main(['--help'])\n    except SystemExit as end:\n        assert end.code == 0\n"
            "assert 'loglik' in out.getvalue() and 'user-dir' in out.getvalue()")
    assert _imported_after(code) == []


def test_user_dir_subcommand_imports_neither() -> None:
    code = ("from fairseq_nat_study.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n    assert main(['user-dir']) == 0\n"
            "assert out.getvalue().strip().endswith('fairseq_nat_study')")
    assert _imported_after(code) == []


def test_register_after_a_light_import_registers_everything() -> None:
    code = ("import fairseq_nat_study.cli.main\n"
            "import fairseq_nat_study\n"
            "from fairseq.criterions import CRITERION_REGISTRY\n"
            "assert 'nat_study_elbo' not in CRITERION_REGISTRY\n"
            "fairseq_nat_study.register()\n"
            "from fairseq.models import ARCH_MODEL_REGISTRY\nfrom fairseq.tasks import TASK_REGISTRY\n"
            "assert {'nat_study_mle', 'nat_study_glat', 'nat_study_elbo'} <= set(CRITERION_REGISTRY)\n"
            "assert 'nat_study_fl_tiny' in ARCH_MODEL_REGISTRY and 'nat_study_translation' in TASK_REGISTRY")
    assert "fairseq" in _imported_after(code)


@pytest.mark.slow  # a new process (about 10 s on 2 cores); the light-import case runs by default
def test_importing_after_fairseq_registers_as_user_dir_does() -> None:
    code = ("import fairseq\nimport fairseq_nat_study\n"
            "from fairseq.criterions import CRITERION_REGISTRY\nassert 'nat_study_elbo' in CRITERION_REGISTRY")
    assert "torch" in _imported_after(code)
