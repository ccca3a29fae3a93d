"""The synthetic corpus's ``unequal`` preset (one best translation per ambiguous word) and its ``ambiguity`` knob
(C scaled continuously from 0 to the preset's own value on the same source sentences)."""
from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from fairseq_nat_study.cli.synth import add_args, main
from fairseq_nat_study.data.phrase_table import (
    UNEQUAL_PROBS,
    build_phrase_table,
    target_distribution,
)
from fairseq_nat_study.data.synthetic import expected_statistics, sample_corpus, write_corpus
from fairseq_nat_study.data.synth_config import SynthConfig
from synth_brute_force import ALIGNED_SOURCES, aligned_table, entropy, enumerated

#: H(0.6, 0.3, 0.1) in nats, written out: the C (and H) of one ambiguous word of the unequal preset.
H_UNEQUAL = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))
LAMBDAS = [i / 10 for i in range(11)]


def test_unequal_phrase_table_one_best_translation_per_word() -> None:
    table = aligned_table("unequal")  # with the same deterministic words as the aligned preset of the same seed
    assert UNEQUAL_PROBS == (0.6, 0.3, 0.1)
    assert table.ambiguous["a0"] == [(("no", "problem"), 0.6), (("of", "course"), 0.3), (("all", "right"), 0.1)]
    for word, alts in table.ambiguous.items():
        assert [q for _, q in alts] == [0.6, 0.3, 0.1]
        assert all(len(p) == 2 for p, _ in alts)
        assert len({tok for p, _ in alts for tok in p}) == 6  # no token shared between alternatives
        h_joint, h_marg, c = table.ambiguous_stats[word]
        assert h_joint == pytest.approx(H_UNEQUAL, abs=1e-12) and h_joint == pytest.approx(0.8979457, abs=1e-7)
        assert h_marg == pytest.approx(2 * H_UNEQUAL, abs=1e-12)
        assert c == pytest.approx(H_UNEQUAL, abs=1e-12) and c > 0


@pytest.mark.parametrize("src", ALIGNED_SOURCES)
def test_unequal_sentence_entropies_against_enumeration(src: list[str]) -> None:
    table = aligned_table("unequal")
    h_joint, h_marg, c, n_amb = enumerated(src, table)
    assert (h_joint, h_marg, c) == pytest.approx((n_amb * H_UNEQUAL, 2 * n_amb * H_UNEQUAL, n_amb * H_UNEQUAL))
    dist = target_distribution(src, table)
    assert len(dist) == 3 ** n_amb
    best_tokens, best_prob = max(dist, key=lambda yp: yp[1])
    assert best_prob == pytest.approx(0.6 ** n_amb, abs=1e-12)  # one best target sentence
    assert sum(p == pytest.approx(best_prob, abs=1e-12) for _, p in dist) == 1
    if src[0] == "a0":
        assert best_tokens[:2] == ("no", "problem")


def test_unequal_expected_statistics_closed_form() -> None:
    cfg = SynthConfig(preset="unequal")
    exp = expected_statistics(cfg, build_phrase_table(cfg))
    exp_amb = 5.5 * 0.3  # E[words] * p_ambiguous
    assert exp["expected_target_tokens"] == pytest.approx(11.0, abs=1e-12)
    assert exp["H_joint"] == pytest.approx(exp_amb * H_UNEQUAL, abs=1e-12)
    assert exp["H_marginals_sum"] == pytest.approx(2 * exp_amb * H_UNEQUAL, abs=1e-12)
    assert exp["C"] == pytest.approx(exp_amb * H_UNEQUAL, abs=1e-12)
    assert exp["C_per_token"] == pytest.approx(exp_amb * H_UNEQUAL / 11.0, abs=1e-12)
    assert exp["H_joint_per_token"] == pytest.approx(exp_amb * H_UNEQUAL / 11.0, abs=1e-12)


def test_unequal_sampler_frequencies() -> None:
    """40,000 draws of one-word sentences: each phrase's frequency within 4 standard errors of its probability,
    and pairs of ambiguous words independent (the best two-word target at 0.36)."""
    cfg = SynthConfig(preset="unequal", n_amb=4, min_phrases=1, max_phrases=1, p_ambiguous=1.0)
    table = build_phrase_table(cfg)
    pairs = sample_corpus(cfg, table, 40000, random.Random(0))
    for word, alts in table.ambiguous.items():
        tgts = Counter(t for s, t in pairs if s == word)
        n = sum(tgts.values())
        assert 9000 < n < 11000
        assert set(tgts) == {" ".join(p) for p, _ in alts}
        for phrase, prob in alts:
            assert abs(tgts[" ".join(phrase)] / n - prob) < 4 * math.sqrt(prob * (1 - prob) / n)
    cfg2 = SynthConfig(preset="unequal", n_amb=1, min_phrases=2, max_phrases=2, p_ambiguous=1.0)
    pairs = sample_corpus(cfg2, build_phrase_table(cfg2), 20000, random.Random(1))
    share = sum(t == "no problem no problem" for _, t in pairs) / len(pairs)
    assert abs(share - 0.36) < 4 * math.sqrt(0.36 * 0.64 / len(pairs))


def test_unequal_corpus_stats_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_args(parser)
    assert "unequal" in parser.format_help() and f"{H_UNEQUAL:.3f}" in parser.format_help()
    args = parser.parse_args(["--out", str(tmp_path), "--preset", "unequal", "--num-train", "200",
                              "--num-valid", "20", "--num-test", "30"])
    assert main(args) == 0
    capsys.readouterr()
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["config"]["preset"] == "unequal" and stats["config"]["ambiguity"] == 1.0
    assert stats["C"] == pytest.approx(1.65 * H_UNEQUAL, abs=1e-12)
    assert stats["C_per_token"] == pytest.approx(stats["C"] / stats["expected_target_tokens"], abs=1e-12)
    assert stats["phrase_table"]["a0"] == [["no problem", 0.6], ["of course", 0.3], ["all right", 0.1]]
    for split in ("train", "valid", "test"):
        src = (tmp_path / f"{split}.src").read_text().splitlines()
        tgt = (tmp_path / f"{split}.tgt").read_text().splitlines()
        n_amb = sum(w.startswith("a") for line in src for w in line.split())
        n_tok = sum(len(line.split()) for line in tgt)
        assert n_tok == 2 * sum(len(line.split()) for line in src)
        got = stats["splits"][split]
        assert got["C"] == pytest.approx(n_amb * H_UNEQUAL / len(src), abs=1e-12)
        assert got["C_per_token"] == pytest.approx(n_amb * H_UNEQUAL / n_tok, abs=1e-12)


def test_study_config_accepts_unequal_preset() -> None:
    from fairseq_nat_study.study.data_config import DataConfig, validate_data
    from fairseq_nat_study.study.errors import StudyConfigError

    validate_data(DataConfig(kind="synth", preset="unequal"))
    with pytest.raises(StudyConfigError, match="data.preset"):
        validate_data(DataConfig(kind="synth", preset="unequal_modes"))


def _stats(preset: str, ambiguity: float, **kwargs: float) -> dict[str, float]:
    cfg = SynthConfig(preset=preset, ambiguity=ambiguity, **kwargs)
    return expected_statistics(cfg, build_phrase_table(cfg))


@pytest.mark.parametrize("preset", ["unequal", "aligned", "two_mode"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ambiguity_scales_c_from_zero_to_the_preset(preset: str, seed: int) -> None:
    """C(λ) on an 11-point grid: 0 at λ = 0, the preset's own corpus at λ = 1, strictly increasing between."""
    cs = [_stats(preset, lam, seed=seed)["C"] for lam in LAMBDAS]
    assert cs[0] == 0.0 and _stats(preset, 0.0, seed=seed)["H_joint"] == 0.0
    assert cs[-1] == _stats(preset, 1.0, seed=seed)["C"] == expected_statistics(
        SynthConfig(preset=preset, seed=seed), build_phrase_table(SynthConfig(preset=preset, seed=seed)))["C"]
    assert all(b > a for a, b in zip(cs, cs[1:])), cs
    assert build_phrase_table(SynthConfig(preset=preset, seed=seed, ambiguity=1.0)) == build_phrase_table(
        SynthConfig(preset=preset, seed=seed))


def test_ambiguity_blends_toward_the_mode() -> None:
    table = build_phrase_table(SynthConfig(preset="unequal", ambiguity=0.5))
    assert [q for _, q in table.ambiguous["a1"]] == pytest.approx([0.8, 0.15, 0.05], abs=1e-12)
    assert table.ambiguous_stats["a1"][2] == pytest.approx(entropy([0.8, 0.15, 0.05]), abs=1e-12)
    tied = build_phrase_table(SynthConfig(preset="default", ambiguity=0.0)).ambiguous["a0"]
    assert tied == [(("no", "problem"), 1.0), (("of", "course"), 0.0)]  # ties: the first phrase is the mode
    # the default preset (shared tokens) reaches 0 and its own C at the two ends
    assert _stats("default", 0.0)["C"] == 0.0
    assert _stats("default", 1.0)["C"] == _stats("default", 1.0, p_ambiguous=0.3)["C"] > 0


def test_ambiguity_sweep_same_sources_rising_c(tmp_path: Path) -> None:
    """Five corpora at λ = 0, 0.25, 0.5, 0.75, 1: identical sources and vocabularies, targets differing only at
    ambiguous words, the exact C rising from 0 to the preset's; at λ = 0 every target is the modes' translation."""
    stats, sources, targets = [], [], []
    for lam in (0.0, 0.25, 0.5, 0.75, 1.0):
        out = tmp_path / f"lam{lam}"
        stats.append(write_corpus(SynthConfig(preset="unequal", num_train=300, num_valid=20, num_test=20,
                                              ambiguity=lam), out))
        sources.append((out / "train.src").read_text())
        targets.append((out / "train.tgt").read_text().splitlines())
    assert all(s == sources[0] for s in sources)
    assert all(set(s["phrase_table"]) == set(stats[0]["phrase_table"]) for s in stats)
    cs = [s["C"] for s in stats]
    assert cs[0] == 0.0 and all(b > a for a, b in zip(cs, cs[1:]))
    assert cs[-1] == pytest.approx(1.65 * H_UNEQUAL, abs=1e-12)
    assert stats[0]["splits"]["train"]["C"] == 0.0
    table = build_phrase_table(SynthConfig(preset="unequal"))
    for src, tgt in zip(sources[0].splitlines(), targets[0]):
        modes = [" ".join(table.ambiguous[w][0][0] if w in table.ambiguous else table.deterministic[w])
                 for w in src.split()]
        assert tgt == " ".join(modes)
    changed = sum(a != b for a, b in zip(targets[1], targets[-1]))
    assert 0 < changed < len(targets[1])
