"""The phrase inventory of the synthetic language pair (:mod:`fairseq_nat_study.data.synthetic`) and its exact
entropies: which target phrases each source word has, with which probabilities, and ``H(y|x)``,
``sum_i H(y_i|x)`` and ``C`` of a word and of a sentence in closed form; every target sentence of a source
sentence enumerated with its probability (what the tests check the sampler and the models against)."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from fairseq_nat_study.data.synth_config import ALIGNED_PRESETS, SynthConfig

TWO_WORD_DET_FRACTION = 0.25
MIN_ALT_PROB_UNITS = 1000  # probabilities are multiples of 1e-4; minimum 0.1
PROB_UNITS = 10000
Phrase = tuple[str, ...]
Alternatives = list[tuple[Phrase, float]]
A0_ALTERNATIVES: Alternatives = [(("no", "problem"), 0.5), (("of", "course"), 0.5)]
#: The ``unequal`` preset's translation probabilities of every ambiguous word: one best translation per word.
UNEQUAL_PROBS: tuple[float, ...] = (0.6, 0.3, 0.1)
#: ``a0`` in the ``unequal`` preset: "no problem" is its best translation.
A0_UNEQUAL_PHRASES: tuple[Phrase, ...] = (("no", "problem"), ("of", "course"), ("all", "right"))
#: The ``crossed`` preset's translation probabilities: the first translation is the most likely, yet less likely
#: than the other two together, which share their first token; so the first position's most likely token is
#: theirs, the second position's is the first translation's, and the per-position argmax is no translation.
CROSSED_PROBS: tuple[float, ...] = (0.45, 0.3, 0.25)
#: ``a0`` in the ``crossed`` preset: "no problem" is its best translation, "of problem" its per-position argmax.
A0_CROSSED_PHRASES: tuple[Phrase, ...] = (("no", "problem"), ("of", "course"), ("of", "note"))


def crossed_phrases(k: int) -> tuple[Phrase, ...]:
    """Ambiguous word ``a<k>``'s translations in the ``crossed`` preset: ``x0 y0``, ``x1 y1``, ``x1 y2``."""
    return (f"u{k}x0", f"u{k}y0"), (f"u{k}x1", f"u{k}y1"), (f"u{k}x1", f"u{k}y2")


@dataclass
class PhraseTable:
    """Translation inventory of the synthetic language pair.

    Attributes:
        deterministic: Source word -> its single target phrase.
        ambiguous: Source word -> list of ``(target phrase, probability)``;
            all phrases of one word have the same length.
        ambiguous_stats: Source word -> ``(H_joint, H_marginals_sum, C)`` in
            nats, filled in automatically.
    """

    deterministic: dict[str, Phrase]
    ambiguous: dict[str, Alternatives]
    ambiguous_stats: dict[str, tuple[float, float, float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        overlap = set(self.deterministic) & set(self.ambiguous)
        if overlap:
            raise ValueError(f"words both deterministic and ambiguous: {sorted(overlap)}")
        self.ambiguous_stats = {w: word_entropies(alts) for w, alts in self.ambiguous.items()}

    def to_json(self) -> dict[str, list[list[Any]]]:
        """Return ``{source word: [[target phrase, prob], ...]}``."""
        table = {w: [[" ".join(p), 1.0]] for w, p in self.deterministic.items()}
        table.update({w: [[" ".join(p), q] for p, q in alts] for w, alts in self.ambiguous.items()})
        return table


def _entropy(probs: Sequence[float]) -> float:
    """Shannon entropy in nats of a probability vector (zeros ignored)."""
    return -sum(p * math.log(p) for p in probs if p > 0.0)


def word_entropies(alternatives: Sequence[tuple[Phrase, float]]) -> tuple[float, float, float]:
    """Entropies of one ambiguous word's translation distribution.

    Args:
        alternatives: ``(phrase, probability)`` pairs, equal-length phrases.

    Returns:
        ``(H_joint, H_marginals_sum, C)`` in nats.
    """
    lengths = {len(p) for p, _ in alternatives}
    if len(lengths) != 1:
        raise ValueError(f"alternatives must have equal lengths, got {sorted(lengths)}")
    h_joint = _entropy([prob for _, prob in alternatives])
    h_marg = 0.0
    for j in range(lengths.pop()):
        marginal: dict[str, float] = {}
        for phrase, prob in alternatives:
            marginal[phrase[j]] = marginal.get(phrase[j], 0.0) + prob
        h_marg += _entropy(list(marginal.values()))
    return h_joint, h_marg, h_marg - h_joint


def _alternative_probs(rng: random.Random, k: int) -> list[float]:
    """Draw ``k`` probabilities (multiples of 1e-4, each >= 0.1, summing to 1)."""
    free = PROB_UNITS - k * MIN_ALT_PROB_UNITS
    gammas = [rng.gammavariate(1.0, 1.0) for _ in range(k)]
    shares = [free * g / sum(gammas) for g in gammas]
    units = [math.floor(s) for s in shares]
    order = sorted(range(k), key=lambda i: shares[i] - units[i], reverse=True)
    for i in order[: free - sum(units)]:  # largest-remainder rounding
        units[i] += 1
    return [(MIN_ALT_PROB_UNITS + u) / PROB_UNITS for u in units]


def build_phrase_table(cfg: SynthConfig) -> PhraseTable:
    """Build the phrase inventory deterministically from ``cfg.seed``.

    Deterministic words are drawn first, so they are identical across presets
    for the same seed (``aligned``, ``unequal`` and ``crossed`` make them all two tokens).
    ``cfg.ambiguity < 1`` blends every ambiguous word's probabilities toward
    its mode (:func:`mix_toward_mode`) after all draws, so the phrases do not
    depend on it.

    Args:
        cfg: Corpus configuration.

    Returns:
        The phrase table.
    """
    cfg = cfg.effective()
    rng = random.Random(cfg.seed)
    deterministic: dict[str, tuple[str, ...]] = {}
    aligned = cfg.preset in ALIGNED_PRESETS
    for i in range(cfg.n_det):
        two_words = rng.random() < TWO_WORD_DET_FRACTION or aligned
        deterministic[f"w{i}"] = (f"t{i}a", f"t{i}b") if two_words else (f"t{i}",)
    ambiguous: dict[str, Alternatives] = {"a0": list(A0_ALTERNATIVES)}
    if cfg.preset == "unequal":
        ambiguous["a0"] = list(zip(A0_UNEQUAL_PHRASES, UNEQUAL_PROBS))
    if cfg.preset == "crossed":
        ambiguous["a0"] = list(zip(A0_CROSSED_PHRASES, CROSSED_PROBS))
    for k in range(1, cfg.n_amb if aligned else 0):  # two tokens per phrase
        if cfg.preset == "crossed":  # three alternatives, two sharing their first token
            ambiguous[f"a{k}"] = list(zip(crossed_phrases(k), CROSSED_PROBS))
            continue
        if cfg.preset == "unequal":  # three alternatives sharing no token, one best
            probs = list(UNEQUAL_PROBS)
        else:  # 2 or 3 tied alternatives
            n_alts = rng.choice((2, 3))
            probs = [(PROB_UNITS // n_alts + (j < PROB_UNITS % n_alts)) / PROB_UNITS for j in range(n_alts)]
        ambiguous[f"a{k}"] = [((f"u{k}x{j}", f"u{k}y{j}"), q) for j, q in enumerate(probs)]
    for k in range(1, cfg.n_amb if not aligned else 0):
        length = rng.choice((2, 3))
        n_alts = rng.choice((2, 3))
        while True:  # labels per (alternative, position); shared labels give shared tokens
            phrases = [
                tuple(f"u{k}{'xyz'[j]}{rng.randrange(n_alts)}" for j in range(length))
                for _ in range(n_alts)
            ]
            if len(set(phrases)) == n_alts:
                break
        ambiguous[f"a{k}"] = list(zip(phrases, _alternative_probs(rng, n_alts)))
    if cfg.ambiguity != 1.0:
        ambiguous = {w: mix_toward_mode(alts, cfg.ambiguity) for w, alts in ambiguous.items()}
    return PhraseTable(deterministic=deterministic, ambiguous=ambiguous)


def mix_toward_mode(alternatives: Alternatives, ambiguity: float) -> Alternatives:
    """Blend a word's translation distribution with a point mass on its most likely phrase.

    ``p_λ = λ·p + (1 − λ)·δ_mode`` with ``λ = ambiguity``; the mode is the first phrase of highest probability.
    Every phrase is kept (with probability 0 at ``λ = 0`` for all but the mode), so the target vocabulary
    does not depend on ``λ``.

    Args:
        alternatives: ``(phrase, probability)`` pairs of one ambiguous word.
        ambiguity: ``λ`` in [0, 1].

    Returns:
        The blended ``(phrase, probability)`` pairs, in the same order.
    """
    mode = max(range(len(alternatives)), key=lambda i: alternatives[i][1])
    return [(phrase, ambiguity * prob + (1.0 - ambiguity) * (i == mode))
            for i, (phrase, prob) in enumerate(alternatives)]


def _check_word(word: str, table: PhraseTable) -> None:
    """Raise ``ValueError`` if ``word`` is not in the phrase table."""
    if word not in table.deterministic and word not in table.ambiguous:
        raise ValueError(f"unknown source word {word!r}")


def sentence_entropies(src_words: Sequence[str], table: PhraseTable) -> tuple[float, float, float]:
    """Exact ``(H_joint, H_marginals_sum, C)`` in nats for one source sentence.

    Args:
        src_words: Source words of the sentence.
        table: Phrase table that generated the data.

    Returns:
        ``H(y|x)``, ``sum_i H(y_i|x)`` and their difference ``C``.
    """
    h_joint = h_marg = 0.0
    for word in src_words:
        _check_word(word, table)
        if word in table.ambiguous:
            wj, wm, _ = table.ambiguous_stats[word]
            h_joint += wj
            h_marg += wm
    return h_joint, h_marg, h_marg - h_joint


def target_distribution(src_words: Sequence[str], table: PhraseTable) -> Alternatives:
    """Enumerate every target sentence with its exact probability.

    Args:
        src_words: Source words of the sentence.
        table: Phrase table that generated the data.

    Returns:
        ``(target tokens, probability)`` pairs; probabilities sum to 1.
    """
    options: list[Alternatives] = []
    for word in src_words:
        _check_word(word, table)
        if word in table.ambiguous:
            options.append(table.ambiguous[word])
        else:
            options.append([(table.deterministic[word], 1.0)])
    result: Alternatives = []
    for combo in itertools.product(*options):
        tokens = tuple(tok for phrase, _ in combo for tok in phrase)
        result.append((tokens, math.prod(prob for _, prob in combo)))
    return result
