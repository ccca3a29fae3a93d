"""``fairseq-nat-study prepare``: parallel text → sacremoses normalisation/tokenisation → cleaning of the
training pairs → one joint subword model (subword-nmt BPE, ``--bpe-merges N``, the default; or SentencePiece,
``--spm-vocab N [--spm-type unigram|bpe]``) → ``fairseq-preprocess`` with a joined dictionary.

The recipes' data stage; the same code as the study's (:mod:`fairseq_nat_study.study.data_prep`). Writes
``OUT/text`` (tokenized text without subwords: the references BLEU is computed against), ``OUT/bpe`` (with the
BPE ``codes``) or ``OUT/spm`` (with ``spm.model``), ``OUT/bin`` (the data-bin) and ``OUT/data.json`` (sentence
counts, pairs removed by cleaning, the subword model). A SentencePiece data-bin is scored with
``fairseq-nat-study bleu --remove-bpe sentencepiece`` (``fairseq-generate --post-process sentencepiece``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fairseq_nat_study.cli.arg_types import non_negative_float, non_negative_int, positive_int
from fairseq_nat_study.data.subwords import SPM_TYPES

#: subword-nmt merge operations when neither --bpe-merges nor --spm-vocab is given
DEFAULT_BPE_MERGES = 32000


def _slice(text: str) -> list[int]:
    """``FIRST:END`` (1-based first line, inclusive end line, as ``sed -n FIRST,ENDp`` would print)."""
    try:
        first, end = (int(v) for v in text.split(":"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not FIRST:END") from err
    if not 1 <= first <= end:
        raise argparse.ArgumentTypeError(f"{text!r}: FIRST:END needs 1 <= FIRST <= END")
    return [first - 1, end]


def add_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("input text")
    g.add_argument("--dir", required=True, help="folder with the parallel text files PREFIX.SRC / PREFIX.TGT")
    g.add_argument("--src", required=True, help="source language code (file suffix, Moses language)")
    g.add_argument("--tgt", required=True, help="target language code")
    g.add_argument("--train", default="train", help="prefix of the training files (default: train)")
    g.add_argument("--valid", default="valid", help="prefix of the validation files (default: valid)")
    g.add_argument("--test", default="test", help="prefix of the test files (default: test)")
    g.add_argument("--valid-lines", type=_slice, default=[], metavar="FIRST:END",
                   help="use only these lines of the validation files (1-based, inclusive)")
    g.add_argument("--test-lines", type=_slice, default=[], metavar="FIRST:END",
                   help="use only these lines of the test files, e.g. when test and valid share a file")
    g.add_argument("--max-train", type=non_negative_int, default=0, help="keep only the first N training pairs (0: all)")
    g = parser.add_argument_group("normalisation and tokenisation (sacremoses)")
    g.add_argument("--tokenize", action="store_true", help="the input is raw text: normalise and tokenize it")
    g.add_argument("--lowercase", action="store_true", help="lower-case after tokenizing")
    g.add_argument("--romanian", action="store_true",
                   help="on the ro side: cedilla ş/ţ → ș/ț, then remove diacritics (WMT'16 En-Ro convention)")
    g.add_argument("--clean-max-len", type=non_negative_int, default=0,
                   help="drop training pairs longer than N tokens (0: off)")
    g.add_argument("--clean-ratio", type=non_negative_float, default=0.0,
                   help="drop training pairs with a length ratio > R (0: off; else >= 1)")
    g.add_argument("--workers", type=positive_int, default=1, help="processes for tokenizing")
    # one subword model: the two sizes exclude each other (checked in _subword_settings, so that a conflict is
    # the tool's one-line error like any other bad value)
    g = parser.add_argument_group("subwords and binarisation (one joint model: subword-nmt BPE by default, or "
                                  "SentencePiece; --bpe-merges and --spm-vocab exclude each other)")
    g.add_argument("--bpe-merges", type=int, default=None, metavar="N",
                   help=f"joint subword-nmt BPE merge operations (default: {DEFAULT_BPE_MERGES})")
    g.add_argument("--spm-vocab", type=int, default=None, metavar="N",
                   help="learn a joint SentencePiece model of N pieces instead of BPE")
    g.add_argument("--spm-type", choices=SPM_TYPES, default=None,
                   help="SentencePiece model type (with --spm-vocab; default: unigram)")
    parser.add_argument("--out", required=True, help="output folder (text/, bpe/ or spm/, bin/, data.json)")


def _subword_settings(args: argparse.Namespace) -> tuple[int, int, str]:
    """``(bpe_merges, spm_vocab, spm_type)`` from the options; raises ``ValueError`` naming a bad option."""
    if args.bpe_merges is not None and args.spm_vocab is not None:
        raise ValueError(f"--bpe-merges {args.bpe_merges} and --spm-vocab {args.spm_vocab}: one subword model per "
                         "data-bin; give --bpe-merges N (subword-nmt BPE) or --spm-vocab N (SentencePiece)")
    if args.bpe_merges is not None and args.bpe_merges < 1:
        raise ValueError(f"--bpe-merges {args.bpe_merges}: must be a positive number of merge operations")
    if args.spm_vocab is not None and args.spm_vocab < 1:
        raise ValueError(f"--spm-vocab {args.spm_vocab}: must be a positive vocabulary size (e.g. 8000)")
    if args.spm_type is not None and args.spm_vocab is None:
        raise ValueError(f"--spm-type {args.spm_type}: only with --spm-vocab N (SentencePiece)")
    return args.bpe_merges or DEFAULT_BPE_MERGES, args.spm_vocab or 0, args.spm_type or SPM_TYPES[0]


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.cli.errors import fail, failure_line, missing_dir, unwritable_out_dir
    from fairseq_nat_study.utils.fairseq_runner import run_fairseq
    from fairseq_nat_study.study.data_config import DataConfig, validate_data
    from fairseq_nat_study.study.errors import StudyConfigError
    from fairseq_nat_study.study.data_prep import check_subwords, prepare_data

    try:
        bpe_merges, spm_vocab, spm_type = _subword_settings(args)
    except ValueError as err:
        return fail("prepare", err)
    cfg = DataConfig(kind="text", dir=args.dir, src=args.src, tgt=args.tgt, train=args.train, valid=args.valid,
                     test=args.test, valid_lines=args.valid_lines, test_lines=args.test_lines,
                     max_train=args.max_train, bpe_merges=bpe_merges, spm_vocab=spm_vocab, spm_type=spm_type,
                     tokenize=args.tokenize,
                     lowercase=args.lowercase, romanian=args.romanian, clean_max_len=args.clean_max_len,
                     clean_ratio=args.clean_ratio, workers=args.workers)
    for message in (missing_dir(args.dir, "--dir", "folder of parallel text"), unwritable_out_dir(args.out)):
        if message is not None:
            return fail("prepare", message)
    out = Path(args.out)
    try:
        validate_data(cfg)
        check_subwords(cfg)
        out.mkdir(parents=True, exist_ok=True)
        summary = prepare_data(cfg, 1, out, run_fairseq, lambda s: print(f"[prepare] {s}", flush=True))
    except StudyConfigError as err:
        return fail("prepare", err)
    except RuntimeError as err:  # fairseq-preprocess failed: one line naming its log
        return fail("prepare", failure_line(err))
    print(f"[prepare] {summary['sentences']} sentence pairs binarised into {out / 'bin'}")
    return 0
