"""``fairseq-nat-study bleu``: the scorer of :mod:`fairseq_nat_study.analysis.bleu` behind the tools' checks.

Both files are read and their line counts compared, the tokenizer name and the ``--json`` location checked,
before anything is scored; every problem is one line ``fairseq-nat-study bleu: error: ...``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the ``bleu`` subcommand options to ``parser``."""
    from fairseq_nat_study.analysis.bleu import SUBWORD_SCHEMES

    parser.add_argument("--hyp", required=True, help="hypothesis file, one sentence per line")
    parser.add_argument("--ref", required=True, help="reference file, one sentence per line")
    parser.add_argument("--compound-split", action="store_true",
                        help="also report WMT'14 En-De compound-split tokenized BLEU")
    parser.add_argument("--detok", action="store_true",
                        help="inputs are tokenized: Moses-detokenise them for the sacreBLEU score")
    parser.add_argument("--lang", default="en", help="detokenizer language (with --detok)")
    parser.add_argument("--tokenize", default="13a", help="sacreBLEU tokenizer")
    parser.add_argument("--remove-bpe", choices=SUBWORD_SCHEMES[:2], default="subword_nmt",
                        help="the segmentation undone in both files first: subword-nmt '@@ ' joins (default) or "
                             "SentencePiece pieces (a data-bin from prepare --spm-vocab; a file without pieces, "
                             "such as prepare's text/ references, is scored as it is)")
    parser.add_argument("--keep-bpe", action="store_true",
                        help="score the text exactly as given, undoing no segmentation (--detok still removes "
                             "'@@ ' joins)")
    parser.add_argument("--json", default=None, help="write the result as JSON to this file")


def main(args: argparse.Namespace) -> int:
    from sacrebleu.metrics import BLEU

    from fairseq_nat_study.analysis import bleu
    from fairseq_nat_study.cli.errors import dir_problem, fail, missing_file

    counts = {}
    for flag, path in (("--hyp", args.hyp), ("--ref", args.ref)):
        if (message := missing_file(path, flag)) is not None:
            return fail("bleu", message)
        try:
            counts[flag] = len(bleu.read_lines(path))
        except UnicodeDecodeError as err:
            return fail("bleu", f"{flag} {path}: not UTF-8 text ({err.reason} at byte {err.start})")
        except ValueError as err:  # an empty file
            return fail("bleu", f"{flag} {path}: {err}")
    if counts["--hyp"] != counts["--ref"]:
        return fail("bleu", f"--hyp {args.hyp} has {counts['--hyp']} lines but --ref {args.ref} has "
                            f"{counts['--ref']}: give the hypotheses of exactly the reference's sentences")
    if args.tokenize not in BLEU.TOKENIZERS:
        return fail("bleu", f"--tokenize {args.tokenize!r}: not a sacreBLEU tokenizer; choose one of "
                            f"{', '.join(BLEU.TOKENIZERS)}")
    if args.json:
        json_path = Path(args.json)
        if json_path.is_dir():
            return fail("bleu", f"--json {args.json}: is a directory; give a file name")
        if (problem := dir_problem(json_path.parent)) is not None:  # the scorer creates the folder
            return fail("bleu", f"--json {args.json}: its folder {json_path.parent} {problem}")
    return _score(args)


def _score(args: argparse.Namespace) -> int:
    """Run the ``bleu`` subcommand.

    The ``--remove-bpe`` segmentation (subword-nmt ``@@ `` markers by default, or SentencePiece pieces) is
    undone in both files unless ``--keep-bpe`` is given.  With ``--detok`` the
    sacreBLEU score is computed on Moses-detokenised text while tokenized and
    compound-split BLEU use the tokenized input.

    Args:
        args: Parsed options from :func:`add_args`.

    Returns:
        0 on success, 2 on bad input files.
    """
    from dataclasses import asdict

    from fairseq_nat_study.analysis.bleu import (undo_segmentation, corpus_bleu, detokenize, read_lines,
                                                 tokenized_bleu)

    try:
        subwords = "none" if args.keep_bpe else args.remove_bpe
        hyps, refs = (undo_segmentation(read_lines(path), subwords) for path in (args.hyp, args.ref))
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
        payload.update(hyp=str(args.hyp), ref=str(args.ref), detok=bool(args.detok), bpe_removed=not args.keep_bpe,
                       subwords=subwords)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        logger.info("wrote %s", args.json)
    return 0
