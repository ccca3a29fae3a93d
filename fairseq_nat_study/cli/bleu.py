"""``fairseq-nat-study bleu``: the scorer of :mod:`fairseq_nat_study.analysis.bleu` behind the tools' checks.

Both files are read and their line counts compared, the tokenizer name and the ``--json`` location checked,
before anything is scored; every problem is one line ``fairseq-nat-study bleu: error: ...``.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_args(parser: argparse.ArgumentParser) -> None:
    """The scorer's own options (``analysis.bleu.add_args``)."""
    from fairseq_nat_study.analysis.bleu import add_args as scorer_args

    scorer_args(parser)


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
    return bleu.main(args)
