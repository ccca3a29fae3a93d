"""The synthetic corpus's ``crossed`` preset: one best translation per ambiguous word whose per-position argmax is
no translation, so decoding each position on its own can produce a mixed output an AR model does not."""
from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from fairseq_nat_study.analysis.mixed_output import mixed_masses
from fairseq_nat_study.cli.synth import add_args, main
from fairseq_nat_study.data.phrase_table import (
    CROSSED_PROBS,
    build_phrase_table,
    target_distribution,
)
from fairseq_nat_study.data.synth_config import SynthConfig
from fairseq_nat_study.data.synthetic import expected_statistics, sample_corpus
from synth_brute_force import ALIGNED_SOURCES, aligned_table, entropy, enumerated

#: H(0.45, 0.3, 0.25): one word's joint entropy; its first position has H(0.45, 0.55), its second the joint's
H_WORD = entropy([0.45, 0.3, 0.25])
C_WORD = entropy([0.45, 0.55])  # H1 + H2 - H with H2 = H: the first position's entropy


def _argmax_per_position(alts: list[tuple[tuple[str, ...], float]]) -> tuple[str, ...]:
    out = []
    for j in range(len(alts[0][0])):
        marginal: Counter[str] = Counter()
        for phrase, q in alts:
            marginal[phrase[j]] += q
        out.append(marginal.most_common(1)[0][0])
    return tuple(out)


def test_crossed_phrase_table_argmax_is_no_translation() -> None:
    table = aligned_table("crossed")
    assert CROSSED_PROBS == (0.45, 0.3, 0.25)
    assert table.ambiguous["a0"] == [(("no", "problem"), 0.45), (("of", "course"), 0.3), (("of", "note"), 0.25)]
    for word, alts in table.ambiguous.items():
        phrases = [p for p, _ in alts]
        best = max(alts, key=lambda pq: pq[1])[0]
        assert best == phrases[0]
        argmax = _argmax_per_position(alts)
        assert argmax not in phrases and argmax == (phrases[1][0], phrases[0][1])  # "of problem" for a0
        h_joint, h_marg, c = table.ambiguous_stats[word]
        assert (h_joint, c) == pytest.approx((H_WORD, C_WORD), abs=1e-12)
        assert (h_joint, c) == pytest.approx((1.0670939, 0.6881388), abs=1e-7)
        assert h_marg == pytest.approx(H_WORD + C_WORD, abs=1e-12)


@pytest.mark.parametrize("src", ALIGNED_SOURCES)
def test_crossed_sentence_entropies_against_enumeration(src: list[str]) -> None:
    table = aligned_table("crossed")
    h_joint, h_marg, c, n_amb = enumerated(src, table)
    assert (h_joint, c) == pytest.approx((n_amb * H_WORD, n_amb * C_WORD), abs=1e-12)
    dist = dict(target_distribution(src, table))
    best_tokens = max(dist, key=dist.get)
    assert dist[best_tokens] == pytest.approx(0.45 ** n_amb, abs=1e-12)
    # the per-position argmax of the whole sentence has probability 0 wherever an ambiguous word occurs
    argmax = tuple(tok for w in src for tok in (_argmax_per_position(table.ambiguous[w]) if w in table.ambiguous
                                                else table.deterministic[w]))
    assert (argmax in dist) == (n_amb == 0)


def test_crossed_mixed_output_mass_of_the_marginals() -> None:
    """A model with the data's marginals puts 1 − Σ_phrases Π_j P(y_j) = 0.495 on mixed outputs of a word."""
    alts = build_phrase_table(SynthConfig(preset="crossed")).ambiguous["a0"]
    marginals = [{"no": math.log(0.45), "of": math.log(0.55)},
                 {"problem": math.log(0.45), "course": math.log(0.3), "note": math.log(0.25)}]
    model, product = mixed_masses(alts, marginals)
    assert model == pytest.approx(1 - (0.45 * 0.45 + 0.55 * 0.3 + 0.55 * 0.25), abs=1e-9)
    assert product == pytest.approx(model, abs=1e-9)


def test_crossed_expected_statistics_and_sampler() -> None:
    cfg = SynthConfig(preset="crossed")
    exp = expected_statistics(cfg, build_phrase_table(cfg))
    exp_amb = 5.5 * 0.3  # E[words] * p_ambiguous
    assert exp["expected_target_tokens"] == pytest.approx(11.0, abs=1e-12)
    assert (exp["H_joint"], exp["C"]) == pytest.approx((exp_amb * H_WORD, exp_amb * C_WORD), abs=1e-12)
    cfg1 = SynthConfig(preset="crossed", n_amb=2, min_phrases=1, max_phrases=1, p_ambiguous=1.0)
    table = build_phrase_table(cfg1)
    pairs = sample_corpus(cfg1, table, 20000, random.Random(0))
    for word, alts in table.ambiguous.items():
        tgts = Counter(t for s, t in pairs if s == word)
        n = sum(tgts.values())
        assert set(tgts) == {" ".join(p) for p, _ in alts}  # the mixed output is never sampled
        for phrase, prob in alts:
            assert abs(tgts[" ".join(phrase)] / n - prob) < 4 * math.sqrt(prob * (1 - prob) / n)


def test_crossed_cli_and_study_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fairseq_nat_study.study.data_config import DataConfig, validate_data

    parser = argparse.ArgumentParser()
    add_args(parser)
    assert "crossed" in parser.format_help() and f"{C_WORD:.3f}" in parser.format_help()
    argv = ["--out", str(tmp_path), "--preset", "crossed", "--num-train", "50", "--num-valid", "10", "--num-test", "10"]
    assert main(parser.parse_args(argv)) == 0
    capsys.readouterr()
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert (stats["config"]["preset"], stats["C"]) == ("crossed", pytest.approx(1.65 * C_WORD, abs=1e-12))
    assert stats["phrase_table"]["a0"] == [["no problem", 0.45], ["of course", 0.3], ["of note", 0.25]]
    validate_data(DataConfig(kind="synth", preset="crossed"))
