"""Brute-force ground truth for the synthetic corpus: entropies computed from the enumerated joint distribution
of a source sentence's targets, and every source sentence of a small configuration with its probability."""
from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Iterator

import pytest

from fairseq_nat_study.data.phrase_table import (PhraseTable, build_phrase_table, sentence_entropies,
                                                 target_distribution)
from fairseq_nat_study.data.synth_config import SynthConfig


def entropy(probs: list[float]) -> float:
    """Shannon entropy in nats (zeros ignored)."""
    return -sum(p * math.log(p) for p in probs if p > 0)


def brute_entropies(src: list[str], table: PhraseTable) -> tuple[float, float, float, int]:
    """H_joint, H_marg, C and target length computed directly from the joint."""
    dist = target_distribution(src, table)
    assert sum(p for _, p in dist) == pytest.approx(1.0, abs=1e-12)
    assert len({y for y, _ in dist}) == len(dist)
    lengths = {len(y) for y, _ in dist}
    assert len(lengths) == 1  # target length is a function of the source
    length = lengths.pop()
    h_joint = entropy([p for _, p in dist])
    h_marg = 0.0
    for j in range(length):
        marginal: Counter[str] = Counter()
        for y, p in dist:
            marginal[y[j]] += p
        h_marg += entropy(list(marginal.values()))
    return h_joint, h_marg, h_marg - h_joint, length


#: source sentences of the aligned-layout presets: one, several and repeated ambiguous words, and none
ALIGNED_SOURCES = [["a0"], ["a1", "w0", "a2"], ["a0", "a0"], ["w3", "a1", "a1", "a5"], ["w7"]]


def aligned_table(preset: str) -> PhraseTable:
    """The phrase table of an aligned-layout preset (``ALIGNED_PRESETS``), checked for what they all share: six
    ambiguous words, every deterministic phrase two tokens, the same deterministic words as ``aligned``."""
    table = build_phrase_table(SynthConfig(preset=preset))
    assert len(table.ambiguous) == 6 and all(len(p) == 2 for p in table.deterministic.values())
    assert table.deterministic == build_phrase_table(SynthConfig(preset="aligned")).deterministic
    return table


def enumerated(src: list[str], table: PhraseTable) -> tuple[float, float, float, int]:
    """H_joint, H_marg and C of ``src`` from the enumerated joint, checked against ``sentence_entropies`` and the
    aligned layout's target length 2|x|; with the number of ambiguous words of ``src``."""
    h_joint, h_marg, c, length = brute_entropies(src, table)
    assert sentence_entropies(src, table) == pytest.approx((h_joint, h_marg, c), abs=1e-12)
    assert length == 2 * len(src)
    return h_joint, h_marg, c, sum(w.startswith("a") for w in src)


def all_sources(cfg: SynthConfig, table: PhraseTable) -> Iterator[tuple[list[str], float]]:
    """Yield every possible source sentence with its exact probability."""
    cfg = cfg.effective()
    det, amb = list(table.deterministic), list(table.ambiguous)
    n_len = cfg.max_phrases - cfg.min_phrases + 1
    for length in range(cfg.min_phrases, cfg.max_phrases + 1):
        if cfg.preset == "two_mode":
            for pos in range(length):
                for rest in itertools.product(det, repeat=length - 1):
                    words = list(rest[:pos]) + ["a0"] + list(rest[pos:])
                    yield words, (1 / n_len) * (1 / length) * (1 / len(det)) ** (length - 1)
        else:
            word_probs = [(w, (1 - cfg.p_ambiguous) / len(det)) for w in det]
            word_probs += [(w, cfg.p_ambiguous / len(amb)) for w in amb]
            for combo in itertools.product(word_probs, repeat=length):
                yield [w for w, _ in combo], (1 / n_len) * math.prod(p for _, p in combo)


def enumerated_expectations(cfg: SynthConfig, table: PhraseTable) -> tuple[float, float, float, float]:
    """E[H_joint], E[H_marg], E[C] and E[target length] over every source sentence, by enumeration."""
    total_p = 0.0
    acc = [0.0, 0.0, 0.0, 0.0]
    for src, prob in all_sources(cfg, table):
        total_p += prob
        for i, value in enumerate(brute_entropies(src, table)):
            acc[i] += prob * value
    assert total_p == pytest.approx(1.0, abs=1e-12)
    return acc[0], acc[1], acc[2], acc[3]
