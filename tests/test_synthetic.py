"""Tests for the synthetic corpus with known conditional total correlation."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from fairseq_nat_study.cli.synth import add_args, main
from fairseq_nat_study.data.phrase_table import build_phrase_table, sentence_entropies, target_distribution
from fairseq_nat_study.data.synthetic import SynthConfig, expected_statistics, sample_corpus, write_corpus
from synth_brute_force import brute_entropies, enumerated_expectations

LOG2 = math.log(2.0)


@pytest.fixture
def small_cfg() -> SynthConfig:
    """A config small enough to enumerate every source sentence."""
    return SynthConfig(seed=7, num_train=50, num_valid=10, num_test=10, n_det=5, n_amb=3,
                       min_phrases=1, max_phrases=3, p_ambiguous=0.4)


def test_sentence_entropies_match_brute_force(small_cfg: SynthConfig) -> None:
    table = build_phrase_table(small_cfg)
    words = list(table.deterministic) + list(table.ambiguous)
    checked = 0
    for length in (1, 2, 3):
        for src in itertools.product(words, repeat=length):
            h_joint, h_marg, c, _ = brute_entropies(list(src), table)
            got = sentence_entropies(src, table)
            assert got == pytest.approx((h_joint, h_marg, c), abs=1e-9)
            assert got[2] >= -1e-12
            checked += 1
    assert checked == 8 + 64 + 512
    # A sentence with two a0's: 4 equiprobable targets, C = 2 log 2.
    expected = (2 * LOG2, 4 * LOG2, 2 * LOG2)
    assert sentence_entropies(["a0", "w1", "a0"], table) == pytest.approx(expected)
    assert len(target_distribution(["a0", "w1", "a0"], table)) == 4


@pytest.mark.parametrize("preset", ["default", "two_mode", "aligned", "unequal", "crossed"])
def test_expected_statistics_match_enumeration(small_cfg: SynthConfig, preset: str) -> None:
    cfg = SynthConfig(**{**small_cfg.__dict__, "preset": preset})
    table = build_phrase_table(cfg)
    h_joint, h_marg, c, length = enumerated_expectations(cfg, table)
    exp = expected_statistics(cfg, table)
    assert exp["H_joint"] == pytest.approx(h_joint, abs=1e-9)
    assert exp["H_marginals_sum"] == pytest.approx(h_marg, abs=1e-9)
    assert exp["C"] == pytest.approx(c, abs=1e-9)
    assert exp["expected_target_tokens"] == pytest.approx(length, abs=1e-9)
    for key, value in (("H_joint", h_joint), ("H_marginals_sum", h_marg), ("C", c)):
        assert exp[f"{key}_per_token"] == pytest.approx(value / length, abs=1e-9)
    assert exp["C"] > 0


def test_aligned_preset_two_tokens_per_word_and_tied_modes(small_cfg: SynthConfig) -> None:
    """Every source word becomes two target tokens (positions 2i, 2i+1); an ambiguous word's k alternatives are
    equally likely (to the table's 1e-4 resolution) and share no token, so its C is log k, the most k modes allow."""
    cfg = SynthConfig(**{**small_cfg.__dict__, "preset": "aligned", "n_amb": 6})
    table = build_phrase_table(cfg)
    assert all(len(p) == 2 for p in table.deterministic.values())
    for word, alts in table.ambiguous.items():
        k = len(alts)
        assert k in (2, 3) and all(len(p) == 2 for p, _ in alts)
        assert all(abs(q - 1 / k) <= 1e-4 for _, q in alts) and sum(q for _, q in alts) == pytest.approx(1.0)
        assert len({tok for p, _ in alts for tok in p}) == 2 * k  # no token shared between alternatives
        assert table.ambiguous_stats[word][2] == pytest.approx(math.log(k), abs=1e-3)
    for src, tgt in sample_corpus(cfg, table, 200, random.Random(3)):
        words, tokens = src.split(), tgt.split()
        assert len(tokens) == 2 * len(words)
        for i, w in enumerate(words):
            phrases = [table.deterministic[w]] if w in table.deterministic else [p for p, _ in table.ambiguous[w]]
            assert tuple(tokens[2 * i:2 * i + 2]) in phrases


def test_a0_is_no_problem_of_course() -> None:
    for seed in (1, 2, 123):
        table = build_phrase_table(SynthConfig(seed=seed))
        assert table.ambiguous["a0"] == [(("no", "problem"), 0.5), (("of", "course"), 0.5)]
        h_joint, h_marg, c = sentence_entropies(["a0"], table)
        assert h_joint == pytest.approx(LOG2, abs=1e-12)
        assert h_marg == pytest.approx(2 * LOG2, abs=1e-12)
        assert c == pytest.approx(LOG2, abs=1e-12)


def test_phrase_table_properties() -> None:
    table = build_phrase_table(SynthConfig(seed=1))
    assert len(table.deterministic) == 40 and len(table.ambiguous) == 6
    assert set(table.deterministic) == {f"w{i}" for i in range(40)}
    for word, alts in table.ambiguous.items():
        assert 2 <= len(alts) <= 3
        assert len({len(p) for p, _ in alts}) == 1 and len(alts[0][0]) in (2, 3)
        assert sum(p for _, p in alts) == pytest.approx(1.0, abs=1e-12)
        assert all(p >= 0.1 and round(p, 4) == p for _, p in alts)
    src_vocab = set(table.deterministic) | set(table.ambiguous)
    tgt_vocab = {t for p in table.deterministic.values() for t in p}
    tgt_vocab |= {t for alts in table.ambiguous.values() for p, _ in alts for t in p}
    assert not src_vocab & tgt_vocab
    two_word = sum(len(p) == 2 for p in table.deterministic.values())
    assert 3 <= two_word <= 20  # about 25% of 40
    assert build_phrase_table(SynthConfig(seed=1)) == table


def _read(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_write_corpus_files_and_stats(tmp_path: Path) -> None:
    cfg = SynthConfig(seed=3, num_train=300, num_valid=40, num_test=50)
    stats = write_corpus(cfg, tmp_path / "a")
    write_corpus(cfg, tmp_path / "b")
    write_corpus(SynthConfig(seed=4, num_train=300, num_valid=40, num_test=50), tmp_path / "c")
    table = build_phrase_table(cfg)
    on_disk = json.loads((tmp_path / "a" / "stats.json").read_text())
    assert on_disk == json.loads(json.dumps(stats))
    assert on_disk["units"] == "nats"
    assert on_disk["config"]["seed"] == 3
    assert on_disk["phrase_table"]["a0"] == [["no problem", 0.5], ["of course", 0.5]]
    assert on_disk["C"] == pytest.approx(on_disk["H_marginals_sum"] - on_disk["H_joint"], abs=1e-12)
    assert on_disk["C"] == pytest.approx(expected_statistics(cfg, table)["C"], abs=1e-12)
    for split, size in (("train", 300), ("valid", 40), ("test", 50)):
        src = _read(tmp_path / "a" / f"{split}.src")
        tgt = _read(tmp_path / "a" / f"{split}.tgt")
        assert len(src) == len(tgt) == size
        for name in ("src", "tgt"):
            a = (tmp_path / "a" / f"{split}.{name}").read_bytes()
            assert a == (tmp_path / "b" / f"{split}.{name}").read_bytes()
            assert a != (tmp_path / "c" / f"{split}.{name}").read_bytes()
        ents = [sentence_entropies(s.split(), table) for s in src]
        split_stats = on_disk["splits"][split]
        assert split_stats["num_sentences"] == size
        n_tok = sum(len(t.split()) for t in tgt)
        assert split_stats["num_target_tokens"] == n_tok
        for i, key in enumerate(("H_joint", "H_marginals_sum", "C")):
            assert split_stats[key] == pytest.approx(sum(e[i] for e in ents) / size, abs=1e-12)
        for i, key in enumerate(("H_joint", "H_marginals_sum", "C")):
            assert split_stats[f"{key}_per_token"] == pytest.approx(sum(e[i] for e in ents) / n_tok, abs=1e-12)
        for s, t in zip(src, tgt):  # every target is in the support of p(y|x)
            support = {" ".join(y) for y, _ in target_distribution(s.split(), table)}
            assert t in support


def test_two_mode_corpus(tmp_path: Path) -> None:
    cfg = SynthConfig(seed=5, num_train=20000, num_valid=100, num_test=100, preset="two_mode")
    stats = write_corpus(cfg, tmp_path)
    assert stats["config"]["n_amb"] == 1
    assert stats["H_joint"] == pytest.approx(LOG2, abs=1e-12)
    assert stats["H_marginals_sum"] == pytest.approx(2 * LOG2, abs=1e-12)
    assert stats["C"] == pytest.approx(LOG2, abs=1e-12)
    counts: Counter[str] = Counter()
    for split in ("train", "valid", "test"):
        src_lines = _read(tmp_path / f"{split}.src")
        tgt_lines = _read(tmp_path / f"{split}.tgt")
        assert stats["splits"][split]["C"] == pytest.approx(LOG2, abs=1e-12)
        table = build_phrase_table(cfg)
        for src, tgt in zip(src_lines, tgt_lines):
            words = src.split()
            assert words.count("a0") == 1
            assert all(w == "a0" or w.startswith("w") for w in words)
            if split == "train":
                # locate a0's phrase in the target via the deterministic prefix length
                pos = words.index("a0")
                offset = sum(len(table.deterministic[w]) for w in words[:pos])
                counts[" ".join(tgt.split()[offset:offset + 2])] += 1
    assert set(counts) == {"no problem", "of course"}
    assert sum(counts.values()) == 20000
    assert abs(counts["no problem"] / 20000 - 0.5) < 0.02


def test_sample_corpus_empirical_marginals() -> None:
    cfg = SynthConfig(seed=11, n_det=3, n_amb=3, min_phrases=1, max_phrases=1, p_ambiguous=1.0)
    table = build_phrase_table(cfg)
    pairs = sample_corpus(cfg, table, 6000, random.Random(0))
    for word, alts in table.ambiguous.items():
        tgts = Counter(t for s, t in pairs if s == word)
        n = sum(tgts.values())
        assert n > 1500
        for phrase, prob in alts:
            assert abs(tgts[" ".join(phrase)] / n - prob) < 0.04


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"num_train": 0}, "num_train"),
        ({"num_valid": -1}, "num_valid"),
        ({"p_ambiguous": 1.5}, "p_ambiguous"),
        ({"p_ambiguous": -0.1}, "p_ambiguous"),
        ({"min_phrases": 5, "max_phrases": 4}, "min_phrases"),
        ({"preset": "three_mode"}, "preset"),
        ({"ambiguity": 1.5}, "ambiguity"),
        ({"ambiguity": -0.5}, "ambiguity"),
        ({"n_det": 0}, "n_det"),
    ],
)
def test_bad_config_raises(kwargs: dict, needle: str, tmp_path: Path) -> None:
    cfg = SynthConfig(**kwargs)
    with pytest.raises(ValueError, match=needle):
        build_phrase_table(cfg)
    with pytest.raises(ValueError, match=needle):
        write_corpus(cfg, tmp_path)
    with pytest.raises(ValueError, match="unknown source word"):
        sentence_entropies(["zzz"], build_phrase_table(SynthConfig()))


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_args(parser)
    for bad in (["--num-train", "0"], ["--p-ambiguous", "2"]):  # refused while the command line is parsed
        with pytest.raises(SystemExit) as end:
            parser.parse_args(["--out", str(tmp_path / "x"), *bad])
        assert end.value.code == 2 and bad[0] in capsys.readouterr().err
    args = parser.parse_args(["--out", str(tmp_path / "y"), "--num-train", "20", "--num-valid", "5",
                              "--num-test", "5", "--seed", "2"])
    assert main(args) == 0
    out = capsys.readouterr().out
    stats = json.loads((tmp_path / "y" / "stats.json").read_text())
    assert f"C={stats['C']:.6f}" in out
    assert len(_read(tmp_path / "y" / "train.src")) == 20
