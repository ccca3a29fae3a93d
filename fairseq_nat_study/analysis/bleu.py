"""BLEU as reported in the NAT literature, computed with sacreBLEU's Python API.

Three numbers are produced for a hypothesis/reference pair of corpora:

* ``score``: sacreBLEU on detokenised text (default tokenizer ``13a``), with
  its signature string;
* ``tokenized_score``: BLEU on the text exactly as given (sacreBLEU
  ``tokenize="none"``), i.e. what ``multi-bleu.perl`` reports on tokenized
  text;
* ``compound_split_score``: tokenized BLEU after the WMT'14 En-De
  compound-splitting convention (``Bahn-Hof`` -> ``Bahn ##AT##-##AT## Hof``).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from sacrebleu.metrics import BLEU
from sacremoses import MosesDetokenizer

logger = logging.getLogger(__name__)

# Same substitution as `perl -ple 's{(\S)-(\S)}{$1 ##AT##-##AT## $2}g'` in the
# tensor2tensor get_ende_bleu.sh / fairseq compound_split_bleu.sh scripts.
# Matches do not overlap, so "a-b-c" becomes "a ##AT##-##AT## b-c" exactly as
# with Perl's /g.
_COMPOUND_RE = re.compile(r"(\S)-(\S)")
_BPE_RE = re.compile(r"@@( |$)")


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


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the ``bleu`` subcommand options to ``parser``."""
    parser.add_argument("--hyp", required=True, help="hypothesis file, one sentence per line")
    parser.add_argument("--ref", required=True, help="reference file, one sentence per line")
    parser.add_argument("--compound-split", action="store_true",
                        help="also report WMT'14 En-De compound-split tokenized BLEU")
    parser.add_argument("--detok", action="store_true",
                        help="inputs are tokenized: Moses-detokenise them for the sacreBLEU score")
    parser.add_argument("--lang", default="en", help="detokenizer language (with --detok)")
    parser.add_argument("--tokenize", default="13a", help="sacreBLEU tokenizer")
    parser.add_argument("--keep-bpe", action="store_true",
                        help="score the text exactly as given; by default subword-nmt '@@ ' joins are removed from "
                             "both files first (--detok always removes them)")
    parser.add_argument("--json", default=None, help="write the result as JSON to this file")


def main(args: argparse.Namespace) -> int:
    """Run the ``bleu`` subcommand.

    ``@@ `` BPE markers are removed from both files unless ``--keep-bpe`` is given.  With ``--detok`` the
    sacreBLEU score is computed on Moses-detokenised text while tokenized and
    compound-split BLEU use the tokenized input.

    Args:
        args: Parsed options from :func:`add_args`.

    Returns:
        0 on success, 2 on bad input files.
    """
    try:
        clean = (lambda line: line) if args.keep_bpe else remove_bpe
        hyps = [clean(line) for line in read_lines(args.hyp)]
        refs = [clean(line) for line in read_lines(args.ref)]
    except (OSError, ValueError) as err:
        print(f"bleu: error: {err}", file=sys.stderr)
        return 2
    if len(hyps) != len(refs):
        print(f"bleu: error: hypothesis file {args.hyp!r} has {len(hyps)} lines but reference "
              f"file {args.ref!r} has {len(refs)} lines", file=sys.stderr)
        return 2
    if args.detok:
        result = corpus_bleu(detokenize(hyps, args.lang), detokenize(refs, args.lang),
                             tokenize=args.tokenize)
        result.tokenized_score = tokenized_bleu(hyps, refs)
        if args.compound_split:
            result.compound_split_score = tokenized_bleu(hyps, refs, compound=True)
    else:
        result = corpus_bleu(hyps, refs, compound=args.compound_split, tokenize=args.tokenize)
    print(f"sacreBLEU = {result.score:.2f}  ({result.signature})")
    print(f"tokenized BLEU = {result.tokenized_score:.2f}")
    if result.compound_split_score is not None:
        print(f"compound-split BLEU = {result.compound_split_score:.2f}")
    if args.json:
        payload = asdict(result)
        payload.update(hyp=str(args.hyp), ref=str(args.ref), detok=bool(args.detok), bpe_removed=not args.keep_bpe)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        logger.info("wrote %s", args.json)
    return 0

