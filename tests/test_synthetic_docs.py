"""docs/synthetic.md's tables of exact statistics agree with the code that computes them."""
from __future__ import annotations

from pathlib import Path

import pytest

from fairseq_nat_study.data.phrase_table import build_phrase_table
from fairseq_nat_study.data.synthetic import PRESETS, SynthConfig, expected_statistics

DOC = Path(__file__).resolve().parents[1] / "docs" / "synthetic.md"
PRESET_KEYS = ("H_joint", "H_marginals_sum", "C", "expected_target_tokens", "H_joint_per_token", "C_per_token")
SWEEP_KEYS = ("H_joint", "C", "H_joint_per_token", "C_per_token")


def _rows(width: int) -> list[list[str]]:
    """Table rows of ``width`` cells whose first cell is a preset name."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == width and cells[0] in PRESETS:
            rows.append(cells)
    return rows


def _stats(preset: str, ambiguity: float = 1.0) -> dict[str, float]:
    cfg = SynthConfig(preset=preset, ambiguity=ambiguity)
    return expected_statistics(cfg, build_phrase_table(cfg))


def test_preset_table_matches_the_code() -> None:
    rows = _rows(1 + len(PRESET_KEYS))
    assert [r[0] for r in rows] == list(PRESETS)
    for preset, *values in rows:
        stats = _stats(preset)
        assert [float(v) for v in values] == pytest.approx([stats[k] for k in PRESET_KEYS], abs=5e-5), preset


def test_ambiguity_table_matches_the_code() -> None:
    rows = _rows(2 + len(SWEEP_KEYS))
    assert len(rows) == 10
    for preset, lam, *values in rows:
        stats = _stats(preset, float(lam))
        assert [float(v) for v in values] == pytest.approx([stats[k] for k in SWEEP_KEYS], abs=5e-5), (preset, lam)
