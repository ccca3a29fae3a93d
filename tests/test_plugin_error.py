"""PluginError: caught as a ValueError in Python, a one-line exit (no traceback) when left uncaught."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fairseq_nat_study.utils.errors import PluginError


def test_caught_as_value_error_with_the_tool_prefix() -> None:
    with pytest.raises(ValueError, match=r": error: --latent-dim must be >= 1 \(got 0\)$") as info:
        raise PluginError("--latent-dim must be >= 1 (got 0)")
    assert info.value.message == "--latent-dim must be >= 1 (got 0)"


def test_uncaught_prints_one_line_and_exits_1(tmp_path) -> None:
    script = tmp_path / "fairseq-train"
    script.write_text("from fairseq_nat_study.utils.errors import PluginError\nraise PluginError('bad pairing')\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["fairseq-train: error: bad pairing"]
    assert "Traceback" not in proc.stderr
