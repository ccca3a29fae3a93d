"""Synthetic parallel corpus with an exactly known conditional total correlation.

Deterministic source words (``w0``, ``w1``, ...) always translate to the same
target phrase; ambiguous words (``a0``, ``a1``, ...) translate to one of several
equal-length alternative phrases with fixed probabilities.  Target length and
position alignment are therefore deterministic functions of the source, and
``H(y|x)``, ``sum_i H(y_i|x)`` and the conditional total correlation
``C = sum_i H(y_i|x) - H(y|x)`` are sums of per-ambiguous-word terms, known in
closed form (natural logarithms, nats per sentence).  ``a0`` is always
"no problem" / "of course" at 0.5 / 0.5, contributing ``C = log 2``.  The
``two_mode`` preset puts exactly one ``a0`` (the only ambiguous word) at a
uniformly random position of every sentence. The ``aligned`` preset makes every
source word a two-token target phrase (target length 2|x|, target positions 2i
and 2i+1 translate source word i) and every ambiguous word's alternatives
equally likely with no token shared between them (C = log k per word of k
alternatives): the alignment and the length are trivial, so small models fit it
in few updates, and every ambiguous word is as multimodal as it can be. The
``unequal`` preset has the ``aligned`` layout, but every ambiguous word has three
alternatives at 0.6 / 0.3 / 0.1 (``a0``: "no problem" / "of course" / "all
right"): each word has one best translation, and C = H(0.6, 0.3, 0.1) per
word; since no token is shared, each position's most likely token belongs to
the best translation. The ``crossed`` preset has the same layout with three
alternatives ``x0 y0`` / ``x1 y1`` / ``x1 y2`` at 0.45 / 0.3 / 0.25 (``a0``:
"no problem" / "of course" / "of note"): the best translation is ``x0 y0``,
but the per-position argmax ``x1 y0`` ("of problem") is no translation, so a
model that decodes each position on its own can miss what an AR model finds.
``SynthConfig.ambiguity`` scales C continuously down to 0 on the same
source sentences (:func:`~fairseq_nat_study.data.phrase_table.mix_toward_mode`).
The configuration lives in :mod:`fairseq_nat_study.data.synth_config`.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from fairseq_nat_study.data.phrase_table import Phrase, PhraseTable, build_phrase_table, sentence_entropies
from fairseq_nat_study.data.synth_config import PRESETS, SynthConfig

__all__ = ["PRESETS", "SPLITS", "SynthConfig", "expected_statistics", "sample_corpus", "write_corpus"]

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "valid", "test")


def _sample_alternative(rng: random.Random, alts: Sequence[tuple[Phrase, float]]) -> Phrase:
    """Draw one phrase from ``alts`` by inverse-CDF sampling."""
    r = rng.random()
    cumulative = 0.0
    for phrase, prob in alts:
        cumulative += prob
        if r < cumulative:
            return phrase
    # float rounding left the cumulative sum below r: the last phrase the distribution can produce
    return next(phrase for phrase, prob in reversed(alts) if prob > 0.0)


def sample_corpus(
    cfg: SynthConfig, table: PhraseTable, n: int, rng: random.Random
) -> list[tuple[str, str]]:
    """Sample ``n`` sentence pairs.

    Args:
        cfg: Corpus configuration (length range, ``p_ambiguous``, preset).
        table: Phrase table built by :func:`build_phrase_table`.
        n: Number of pairs.
        rng: Seeded ``random.Random`` instance; the only source of randomness.

    Returns:
        ``(source, target)`` strings with space-separated words.
    """
    cfg = cfg.effective()
    det_words = list(table.deterministic)
    amb_words = list(table.ambiguous)
    pairs: list[tuple[str, str]] = []
    for _ in range(n):
        length = rng.randint(cfg.min_phrases, cfg.max_phrases)
        if cfg.preset == "two_mode":
            position = rng.randrange(length)
            words = ["a0" if i == position else rng.choice(det_words) for i in range(length)]
        else:
            words = [
                rng.choice(amb_words) if rng.random() < cfg.p_ambiguous else rng.choice(det_words)
                for _ in range(length)
            ]
        target: list[str] = []
        for word in words:
            if word in table.ambiguous:
                target.extend(_sample_alternative(rng, table.ambiguous[word]))
            else:
                target.extend(table.deterministic[word])
        pairs.append((" ".join(words), " ".join(target)))
    return pairs


def expected_statistics(cfg: SynthConfig, table: PhraseTable) -> dict[str, float]:
    """Closed-form expectations over the source distribution (per sentence).

    Args:
        cfg: Corpus configuration.
        table: Phrase table.

    Returns:
        ``H_joint``, ``H_marginals_sum``, ``C`` (nats per sentence) plus
        ``expected_num_words``, ``expected_num_ambiguous``,
        ``expected_target_tokens`` (exact expected target length) and
        ``H_joint_per_token``, ``H_marginals_sum_per_token``, ``C_per_token``
        (each the ratio of the two expectations: nats per target token of
        the whole corpus, as a model's per-token LL is averaged).
    """
    cfg = cfg.effective()
    n_amb = len(table.ambiguous)
    mean_amb = [sum(s[i] for s in table.ambiguous_stats.values()) / n_amb for i in range(3)]
    mean_amb_len = sum(len(alts[0][0]) for alts in table.ambiguous.values()) / n_amb
    mean_det_len = sum(len(p) for p in table.deterministic.values()) / len(table.deterministic)
    exp_words = (cfg.min_phrases + cfg.max_phrases) / 2.0
    if cfg.preset == "two_mode":
        exp_amb = 1.0
    else:
        exp_amb = exp_words * cfg.p_ambiguous
    exp_tokens = exp_amb * mean_amb_len + (exp_words - exp_amb) * mean_det_len
    h_joint, h_marg = exp_amb * mean_amb[0], exp_amb * mean_amb[1]
    c = h_marg - h_joint
    return {
        "H_joint": h_joint,
        "H_marginals_sum": h_marg,
        "C": c,
        "expected_num_words": exp_words,
        "expected_num_ambiguous": exp_amb,
        "expected_target_tokens": exp_tokens,
        "H_joint_per_token": h_joint / exp_tokens,
        "H_marginals_sum_per_token": h_marg / exp_tokens,
        "C_per_token": c / exp_tokens,
    }


def _split_statistics(pairs: Sequence[tuple[str, str]], table: PhraseTable) -> dict[str, float]:
    """Exact per-sentence averages of the entropies over a split's sources."""
    totals = [0.0, 0.0, 0.0]
    num_tokens = 0
    for src, tgt in pairs:
        for i, value in enumerate(sentence_entropies(src.split(), table)):
            totals[i] += value
        num_tokens += len(tgt.split())
    n = len(pairs)
    return {
        "num_sentences": n,
        "num_target_tokens": num_tokens,
        "H_joint": totals[0] / n,
        "H_marginals_sum": totals[1] / n,
        "C": totals[2] / n,
        "H_joint_per_token": totals[0] / num_tokens,
        "H_marginals_sum_per_token": totals[1] / num_tokens,
        "C_per_token": totals[2] / num_tokens,
    }


def write_corpus(cfg: SynthConfig, out_dir: str | Path) -> dict[str, Any]:
    """Sample all splits, write ``{split}.{src,tgt}`` and ``stats.json``.

    Each split uses its own RNG derived from ``cfg.seed``, so changing one
    split's size does not change the other splits.

    Args:
        cfg: Corpus configuration.
        out_dir: Output directory (created if needed).

    Returns:
        The statistics dictionary written to ``stats.json``.
    """
    cfg = cfg.effective()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = build_phrase_table(cfg)
    stats: dict[str, Any] = {"units": "nats"}
    stats.update(expected_statistics(cfg, table))
    stats["config"] = asdict(cfg)
    if cfg.preset == "two_mode":
        stats["config"]["note"] = "two_mode: exactly one a0 per sentence; p_ambiguous unused"
    stats["splits"] = {}
    sizes = {"train": cfg.num_train, "valid": cfg.num_valid, "test": cfg.num_test}
    for index, split in enumerate(SPLITS):
        rng = random.Random(cfg.seed * 1_000_003 + index + 1)
        pairs = sample_corpus(cfg, table, sizes[split], rng)
        for side, column in (("src", 0), ("tgt", 1)):
            with open(out / f"{split}.{side}", "w", encoding="utf-8", newline="\n") as handle:
                handle.writelines(pair[column] + "\n" for pair in pairs)
        stats["splits"][split] = _split_statistics(pairs, table)
        logger.info("wrote %d %s pairs to %s", len(pairs), split, out)
    stats["ambiguous_word_stats"] = {
        w: dict(zip(("H_joint", "H_marginals_sum", "C"), s))
        for w, s in table.ambiguous_stats.items()
    }
    stats["phrase_table"] = table.to_json()
    with open(out / "stats.json", "w", encoding="utf-8") as handle:
        json.dump(stats, handle, indent=2)
        handle.write("\n")
    logger.info("wrote %s", out / "stats.json")
    return stats
