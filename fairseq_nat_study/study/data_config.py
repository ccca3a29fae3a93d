"""The ``data`` section of a study config: what the study trains and tests on, a synthetic corpus or parallel text
files, its checks and the synthetic corpus's own config (``study/config.py`` holds the rest of a study config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fairseq_nat_study.study.errors import StudyConfigError, checked
from fairseq_nat_study.utils.config_check import Count, Fraction, NonNegative, NonNegativeReal, check_types
from fairseq_nat_study.utils.config_check import check as check_section


@dataclass
class DataConfig:
    """The ``data`` section: a synthetic corpus (``kind`` synth) or parallel text files (``kind`` text)."""

    kind: str = "synth"
    num_train: Count = 6000
    #: synthetic data: test pairs (each split has its own RNG, so this changes neither training nor validation
    #: data; more test pairs narrow the paired bootstrap's intervals as 1/sqrt(N))
    num_test: Count = 500
    preset: str = "default"
    #: synthetic data: weight of the preset's translation probabilities against each word's most likely
    #: translation (0: every word deterministic, C = 0; 1: the preset's own corpus); the C sweep varies it
    ambiguity: Fraction = 1.0
    #: synthetic data: P(a source word is ambiguous) (null: the corpus's own, 0.3; not for ``two_mode``, which
    #: has one ambiguous word per sentence); the tied-word C sweep varies it at ``ambiguity`` 1
    p_ambiguous: Fraction | None = None
    dir: str = ""
    src: str = "src"
    tgt: str = "tgt"
    train: str = "train"
    valid: str = "valid"
    test: str = "test"
    valid_lines: list[NonNegative] = field(default_factory=list)
    test_lines: list[NonNegative] = field(default_factory=list)
    max_train: NonNegative = 0
    bpe_merges: Count = 8000
    #: SentencePiece vocabulary size; > 0 uses SentencePiece (of ``spm_type``) instead of BPE
    spm_vocab: NonNegative = 0
    spm_type: str = "unigram"
    tokenize: bool = False
    lowercase: bool = False
    romanian: bool = False
    clean_max_len: NonNegative = 0
    clean_ratio: NonNegativeReal = 0.0
    workers: Count = 1
    #: the out-of-distribution test set (``study.ood``): synthetic data: overrides of the corpus's sentence
    #: lengths and ambiguity ({} = ``DEFAULT_SYNTH_SHIFT``); text data: {"dir", "prefix", "lines"} of a second
    #: parallel test set ({} = none); null: none
    ood: dict[str, Any] | None = field(default_factory=dict)


@dataclass
class TextOodSection:
    """``data.ood`` of text data (``study/ood.py``)."""

    dir: str = ""
    prefix: str = ""
    lines: list[NonNegative] = field(default_factory=list)
    join_hyphens: bool = False
    lowercase: bool = False


def synth_config(d: DataConfig, seed: int = 1) -> Any:
    """The :class:`~fairseq_nat_study.data.synth_config.SynthConfig` of a synthetic data section at ``seed``
    (``p_ambiguous`` the corpus's own unless the section sets it)."""
    from fairseq_nat_study.data.synth_config import SynthConfig

    extra = {} if d.p_ambiguous is None else {"p_ambiguous": d.p_ambiguous}
    return SynthConfig(seed=seed, num_train=d.num_train, num_test=d.num_test, preset=d.preset,
                       ambiguity=d.ambiguity, **extra)


def validate_data(d: DataConfig) -> None:
    """Raises ``StudyConfigError`` naming the first problem of a data section."""
    if d.kind not in ("synth", "text"):
        raise StudyConfigError(f"data.kind: {d.kind!r} is neither 'synth' nor 'text'")
    if d.kind == "text" and not d.dir:
        raise StudyConfigError("data.dir: required for data.kind 'text'")
    if d.kind == "synth":
        try:  # the corpus's own check, before any stage runs (its messages begin with the field's name)
            synth_config(d).validate()
        except ValueError as err:
            raise StudyConfigError(f"data.{err}") from None
        if d.preset == "two_mode" and d.p_ambiguous is not None:
            raise StudyConfigError("data.p_ambiguous: the two_mode preset has exactly one ambiguous word per "
                                   "sentence; choose another preset or drop data.p_ambiguous")
    if d.kind == "text" and d.ambiguity != DataConfig.ambiguity:
        raise StudyConfigError("data.ambiguity: synthetic data only (it scales the synthetic corpus's C)")
    if d.kind == "text" and d.p_ambiguous is not None:
        raise StudyConfigError("data.p_ambiguous: synthetic data only (the share of ambiguous source words)")
    if d.kind == "text" and d.num_test != DataConfig.num_test:
        raise StudyConfigError("data.num_test: synthetic data only; text data chooses its test split with "
                               "data.test and data.test_lines")
    for key, flag, least in (("bpe_merges", "--bpe-merges", 1), ("workers", "--workers", 1),
                             ("clean_max_len", "--clean-max-len", 0), ("max_train", "--max-train", 0)):
        if getattr(d, key) < least:
            raise StudyConfigError(f"data.{key} ({flag}): must be >= {least}, got {getattr(d, key)}")
    if d.clean_ratio and d.clean_ratio < 1:
        raise StudyConfigError(f"data.clean_ratio: {d.clean_ratio} must be 0 (off) or >= 1")
    if (d.lowercase or d.romanian) and not d.tokenize:
        raise StudyConfigError("data.lowercase / data.romanian apply while tokenizing: set data.tokenize too")
    if d.ood is not None:
        from fairseq_nat_study.study.ood_config import validate_ood

        if isinstance(d.ood, dict):  # value types first; validate_ood checks the keys and their meaning
            if d.kind == "synth":
                from fairseq_nat_study.data.synthetic import SynthConfig

                checked(check_types, SynthConfig, d.ood, "data.ood")
            else:
                checked(check_section, TextOodSection, d.ood, "data.ood")
        validate_ood(d)
