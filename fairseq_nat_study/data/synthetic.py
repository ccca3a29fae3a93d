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
in few updates, and every ambiguous word is as multimodal as it can be.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from fairseq_nat_study.data.phrase_table import Phrase, PhraseTable, build_phrase_table, sentence_entropies

logger = logging.getLogger(__name__)

PRESETS: tuple[str, ...] = ("default", "two_mode", "aligned")
SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclass
class SynthConfig:
    """Configuration of the synthetic corpus.

    Attributes:
        seed: Seed for the phrase inventory and for sampling every split.
        num_train: Number of training sentence pairs.
        num_valid: Number of validation sentence pairs.
        num_test: Number of test sentence pairs.
        n_det: Number of deterministic source words.
        n_amb: Number of ambiguous source words (forced to 1 by ``two_mode``).
        min_phrases: Minimum number of source words per sentence.
        max_phrases: Maximum number of source words per sentence.
        p_ambiguous: Probability that a source word is ambiguous (``default``
            preset only; ignored by ``two_mode``).
        preset: ``"default"``, ``"two_mode"`` or ``"aligned"``.
    """

    seed: int = 1
    num_train: int = 20000
    num_valid: int = 500
    num_test: int = 500
    n_det: int = 40
    n_amb: int = 6
    min_phrases: int = 3
    max_phrases: int = 8
    p_ambiguous: float = 0.3
    preset: str = "default"

    def validate(self) -> None:
        """Check the configuration.

        Raises:
            ValueError: If a field is out of range; the message names the
                field and its command-line option.
        """
        for name in ("num_train", "num_valid", "num_test"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name} (--{name.replace('_', '-')}) must be > 0, got {value}")
        for name in ("n_det", "n_amb", "min_phrases"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_phrases > self.max_phrases:
            raise ValueError(
                f"min_phrases ({self.min_phrases}) must be <= max_phrases ({self.max_phrases})"
            )
        if not 0.0 <= self.p_ambiguous <= 1.0:
            raise ValueError(
                f"p_ambiguous (--p-ambiguous) must be in [0, 1], got {self.p_ambiguous}"
            )
        if self.preset not in PRESETS:
            raise ValueError(f"preset (--preset) must be one of {PRESETS}, got {self.preset!r}")

    def effective(self) -> SynthConfig:
        """Return the validated configuration with preset overrides applied."""
        self.validate()
        if self.preset == "two_mode":
            return replace(self, n_amb=1)
        return replace(self)


def _sample_alternative(rng: random.Random, alts: Sequence[tuple[Phrase, float]]) -> Phrase:
    """Draw one phrase from ``alts`` by inverse-CDF sampling."""
    r = rng.random()
    cumulative = 0.0
    for phrase, prob in alts:
        cumulative += prob
        if r < cumulative:
            return phrase
    return alts[-1][0]  # guards against float rounding of the cumulative sum


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
        ``expected_target_tokens`` and ``C_per_token`` (ratio of expectations).
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
