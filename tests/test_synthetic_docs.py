"""docs/synthetic.md's tables of exact statistics agree with the code that computes them."""
from __future__ import annotations

from pathlib import Path

import pytest

from fairseq_nat_study.data.phrase_table import build_phrase_table
from fairseq_nat_study.data.synthetic import PRESETS, SynthConfig, expected_statistics

DOC = Path(__file__).resolve().parents[1] / "docs" / "synthetic.md"
PRESET_KEYS = ("H_joint", "H_marginals_sum", "C", "expected_target_tokens", "H_joint_per_token", "C_per_token")
SWEEP_KEYS = ("H_joint", "C", "H_joint_per_token", "C_per_token")


def _rows(width: int, section: str = "") -> list[list[str]]:
    """Table rows of ``width`` cells whose first cell is a preset name (under the heading starting ``section``,
    up to the next heading, when given)."""
    rows, inside = [], not section
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if section and line.startswith("#"):
            inside = line.lstrip("# ").startswith(section)
        if not inside:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == width and cells[0] in PRESETS:
            rows.append(cells)
    return rows


def _stats(preset: str, ambiguity: float = 1.0, **extra: float) -> dict[str, float]:
    cfg = SynthConfig(preset=preset, ambiguity=ambiguity, **extra)
    return expected_statistics(cfg, build_phrase_table(cfg))


def test_preset_table_matches_the_code() -> None:
    rows = _rows(1 + len(PRESET_KEYS), "Presets")
    assert [r[0] for r in rows] == list(PRESETS)
    for preset, *values in rows:
        stats = _stats(preset)
        assert [float(v) for v in values] == pytest.approx([stats[k] for k in PRESET_KEYS], abs=5e-5), preset


def test_ambiguity_table_matches_the_code() -> None:
    rows = _rows(2 + len(SWEEP_KEYS), "Scaling C: `SynthConfig.ambiguity`")
    assert len(rows) == 10
    for preset, lam, *values in rows:
        stats = _stats(preset, float(lam))
        assert [float(v) for v in values] == pytest.approx([stats[k] for k in SWEEP_KEYS], abs=5e-5), (preset, lam)


def test_share_of_ambiguous_words_table_matches_the_code() -> None:
    rows = _rows(3 + len(SWEEP_KEYS), "Scaling C by the share of ambiguous words")
    assert [r[1] for r in rows] == ["0.0", "0.1", "0.2", "0.3", "0.4"]
    for preset, p, words, *values in rows:
        stats = _stats(preset, p_ambiguous=float(p))
        assert float(words) == pytest.approx(stats["expected_num_ambiguous"], abs=5e-5)
        assert [float(v) for v in values] == pytest.approx([stats[k] for k in SWEEP_KEYS], abs=5e-5), (preset, p)
    c = [float(r[4]) for r in rows]
    assert c == pytest.approx([c[1] * i for i in range(5)], abs=2e-4)  # C proportional to the share
