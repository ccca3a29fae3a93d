"""BLEU as reported in the NAT literature, computed with sacreBLEU's Python API.

Three numbers are produced for a hypothesis/reference pair of corpora:

* ``score``: sacreBLEU on detokenised text (default tokenizer ``13a``), with
  its signature string;
* ``tokenized_score``: BLEU on the text exactly as given (sacreBLEU
  ``tokenize="none"``), i.e. what ``multi-bleu.perl`` reports on tokenized
  text;
* ``compound_split_score``: tokenized BLEU after the WMT'14 En-De
  compound-splitting convention (``Bahn-Hof`` -> ``Bahn ##AT##-##AT## Hof``).

Hypotheses decoded from a data-bin are segmented: :func:`remove_subwords` undoes subword-nmt BPE or
SentencePiece first, so that every number is computed on the text the subword model was learned from.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from sacrebleu.metrics import BLEU
from sacremoses import MosesDetokenizer

logger = logging.getLogger(__name__)

# Same substitution as `perl -ple 's{(\S)-(\S)}{$1 ##AT##-##AT## $2}g'` in the
# tensor2tensor get_ende_bleu.sh / fairseq compound_split_bleu.sh scripts.
# Matches do not overlap, so "a-b-c" becomes "a ##AT##-##AT## b-c" exactly as
# with Perl's /g.
_COMPOUND_RE = re.compile(r"(\S)-(\S)")
_BPE_RE = re.compile(r"@@( |$)")
#: SentencePiece's word-start mark (U+2581), which stands for the space before a piece
SPM_SPACE = "\u2581"
#: the segmentations :func:`remove_subwords` undoes (the names of fairseq's ``--post-process`` options)
SUBWORD_SCHEMES = ("subword_nmt", "sentencepiece", "none")


@dataclass
class BleuResult:
    """BLEU scores for one corpus.

    Attributes:
        score: sacreBLEU score (0-100) on detokenised text.
        signature: sacreBLEU signature string of ``score``.
        tokenized_score: BLEU with ``tokenize="none"`` on the given text.
        compound_split_score: Tokenized BLEU after compound splitting, or
            ``None`` if not requested.
        num_sentences: Number of hypothesis/reference pairs.
    """

    score: float
    signature: str
    tokenized_score: float
    compound_split_score: float | None
    num_sentences: int


def read_lines(path: str | Path) -> list[str]:
    """Read a text file into lines, stripping only the trailing newline.

    Args:
        path: UTF-8 text file, one sentence per line.

    Returns:
        The lines without their ``"\\n"`` terminators.

    Raises:
        ValueError: If the file is empty.
    """
    with open(path, encoding="utf-8", newline="\n") as handle:
        lines = [line[:-1] if line.endswith("\n") else line for line in handle]
    if not lines:
        raise ValueError(f"file {str(path)!r} is empty")
    return lines


def compound_split(line: str) -> str:
    """Split hyphenated compounds the WMT'14 En-De way.

    Args:
        line: Tokenized sentence.

    Returns:
        The sentence with every ``X-Y`` (``X``, ``Y`` non-space) rewritten as
        ``X ##AT##-##AT## Y``.
    """
    return _COMPOUND_RE.sub(r"\1 ##AT##-##AT## \2", line)


def remove_bpe(line: str) -> str:
    """Undo subword-nmt ``@@ `` continuation markers (also at line end)."""
    return _BPE_RE.sub("", line).rstrip()


def decode_sentencepiece(line: str) -> str:
    """Join SentencePiece pieces back into text: ``"▁the ▁qu ick"`` → ``"the quick"`` (fairseq's
    ``--post-process sentencepiece``: the spaces between pieces go, each ``▁`` becomes a space)."""
    return line.replace(" ", "").replace(SPM_SPACE, " ").strip()


def remove_subwords(line: str, subwords: str = "subword_nmt") -> str:
    """Undo one subword segmentation.

    Args:
        line: A segmented sentence (dictionary symbols joined by spaces).
        subwords: ``subword_nmt`` (``@@ `` joins), ``sentencepiece`` (pieces) or ``none`` (kept as given).

    Returns:
        The sentence as the text the subword model was learned from.
    """
    if subwords not in SUBWORD_SCHEMES:
        raise ValueError(f"subwords {subwords!r} is not one of {', '.join(SUBWORD_SCHEMES)}")
    if subwords == "sentencepiece":
        return decode_sentencepiece(line)
    return remove_bpe(line) if subwords == "subword_nmt" else line


def subword_scheme(symbols: Iterable[str]) -> str:
    """``sentencepiece`` when a dictionary's symbols hold SentencePiece word-start pieces (``▁…``), else
    ``subword_nmt`` (whose removal leaves text without ``@@ `` joins untouched)."""
    return "sentencepiece" if any(s.startswith(SPM_SPACE) for s in symbols) else "subword_nmt"


@lru_cache(maxsize=None)
def _detokenizer(lang: str) -> MosesDetokenizer:
    """Return a cached Moses detokenizer for ``lang``."""
    return MosesDetokenizer(lang=lang)


def detokenize(lines: Sequence[str], lang: str = "en") -> list[str]:
    """Moses-detokenise lines, undoing ``@@ `` subword joins first.

    Args:
        lines: Tokenized (possibly BPE-segmented) sentences.
        lang: Language code for the Moses detokenizer.

    Returns:
        Detokenised sentences.
    """
    detok = _detokenizer(lang)
    return [detok.detokenize(remove_bpe(line).split()) for line in lines]


def _check_inputs(hyps: Sequence[str], refs: Sequence[str]) -> None:
    """Raise ``ValueError`` for empty or mismatched corpora."""
    if len(hyps) == 0:
        raise ValueError("no hypotheses given (empty hypothesis list)")
    if len(hyps) != len(refs):
        raise ValueError(
            f"number of hypotheses ({len(hyps)}) != number of references ({len(refs)})"
        )


def tokenized_bleu(hyps: Sequence[str], refs: Sequence[str], *, compound: bool = False) -> float:
    """BLEU on whitespace tokens as given (sacreBLEU ``tokenize="none"``).

    Args:
        hyps: Tokenized hypotheses.
        refs: Tokenized references, one per hypothesis.
        compound: Apply :func:`compound_split` to both sides first.

    Returns:
        BLEU in 0-100.
    """
    _check_inputs(hyps, refs)
    if compound:
        hyps = [compound_split(h) for h in hyps]
        refs = [compound_split(r) for r in refs]
    metric = BLEU(tokenize="none", force=True)
    return float(metric.corpus_score(list(hyps), [list(refs)]).score)


def corpus_bleu(
    hyps: Sequence[str], refs: Sequence[str], *, compound: bool = False, tokenize: str = "13a"
) -> BleuResult:
    """Compute sacreBLEU, tokenized BLEU and optionally compound-split BLEU.

    Args:
        hyps: Hypotheses (detokenised for a meaningful sacreBLEU score).
        refs: References, one per hypothesis.
        compound: Also compute compound-split tokenized BLEU.
        tokenize: sacreBLEU tokenizer for ``score``.

    Returns:
        The scores with the sacreBLEU signature.

    Raises:
        ValueError: If ``hyps`` is empty or the counts differ.
    """
    _check_inputs(hyps, refs)
    metric = BLEU(tokenize=tokenize)
    score = float(metric.corpus_score(list(hyps), [list(refs)]).score)
    return BleuResult(
        score=score,
        signature=str(metric.get_signature()),
        tokenized_score=tokenized_bleu(hyps, refs),
        compound_split_score=tokenized_bleu(hyps, refs, compound=True) if compound else None,
        num_sentences=len(hyps),
    )


def undo_segmentation(lines: list[str], subwords: str) -> list[str]:
    """``lines`` with their ``subwords`` segmentation undone; SentencePiece pieces are decoded only in a file that
    holds some (a plain-text reference, which has no ``▁``, would otherwise lose its spaces)."""
    if subwords == "sentencepiece" and not any(SPM_SPACE in line for line in lines):
        return lines
    return [remove_subwords(line, subwords) for line in lines]
