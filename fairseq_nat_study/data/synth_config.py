"""The configuration of the synthetic corpus (:mod:`fairseq_nat_study.data.synthetic`): its presets, sizes,
sentence lengths and the two knobs of its ambiguity.

This module imports nothing from :mod:`fairseq_nat_study.data`, so the phrase table and the sampler can both
depend on it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

#: ``default``: random multi-token phrases, unequal random probabilities (``a0`` 50/50);
#: ``two_mode``: one ``a0`` per sentence; ``aligned``: two-token phrases, tied modes sharing no token;
#: ``unequal``: two-token phrases, three modes sharing no token at ``UNEQUAL_PROBS``;
#: ``crossed``: two-token phrases, three modes at ``CROSSED_PROBS`` whose per-position argmax is no translation.
PRESETS: tuple[str, ...] = ("default", "two_mode", "aligned", "unequal", "crossed")
#: Presets whose target phrases are all two tokens long (target position 2i, 2i+1 <- source word i).
ALIGNED_PRESETS: tuple[str, ...] = ("aligned", "unequal", "crossed")


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
        p_ambiguous: Probability that a source word is ambiguous (ignored by ``two_mode``).
        preset: One of :data:`PRESETS`.
        ambiguity: Weight ``λ`` in [0, 1] of each ambiguous word's translation distribution ``p`` against a
            point mass on its most likely phrase: ``p_λ = λ·p + (1 − λ)·δ_mode``. 1 is the preset's own
            corpus, 0 makes every word deterministic (H = C = 0). Source sentences, vocabularies and the
            sampler's random stream do not depend on it, so corpora that differ only in ``ambiguity`` have
            the same source side and differ in their targets only where an ambiguous word is translated.
            C grows strictly with ``λ`` when no two alternatives of a word share a token at the same
            position (the ``two_mode``, ``aligned`` and ``unequal`` presets).
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
    ambiguity: float = 1.0

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
        if not 0.0 <= self.ambiguity <= 1.0:
            raise ValueError(f"ambiguity must be in [0, 1] (0: every word deterministic, 1: the preset's "
                             f"own probabilities), got {self.ambiguity}")

    def effective(self) -> SynthConfig:
        """Return the validated configuration with preset overrides applied."""
        self.validate()
        if self.preset == "two_mode":
            return replace(self, n_amb=1)
        return replace(self)
