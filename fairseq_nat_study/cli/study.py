"""``fairseq-nat-study study [--config F] --out DIR``: the whole study, resumable stage by stage.

With no ``--config`` it runs the quick study on the synthetic corpus (what ``make demo`` runs); the shipped
configs are in ``examples/study/``. ``--jobs N`` runs N independent stages side by side; ``--redo evaluation`` evaluates again
what is trained. See :mod:`fairseq_nat_study.study.pipeline` for the stages.
"""
from __future__ import annotations

import argparse
import sys


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="study config (JSON); default: the quick study on the synthetic corpus")
    parser.add_argument("--out", required=True, help="study directory (created; a rerun resumes)")
    parser.add_argument("--gpu", action="store_true", help="train and evaluate on the GPU (default: CPU)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="stages run side by side, each with cores/jobs torch threads (default: 2 on a machine "
                             "with 2 cores or more, else 1); decoding speed is always timed alone on every core")
    from fairseq_nat_study.study.pipeline import REDO  # light: no torch, no fairseq

    parser.add_argument("--redo", nargs="+", default=[], choices=sorted(REDO),
                        help="run these finished stages again on the checkpoints already trained (e.g. after a "
                             "change to the evaluation code); nothing is trained again")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.study.config import StudyConfigError, load_config
    from fairseq_nat_study.study.pipeline import Study
    from fairseq_nat_study.utils.fairseq_runner import say_line

    try:
        cfg = load_config(args.config)
        print(f"[study] {cfg.name}: {len(cfg.runs())} training runs -> {args.out}", flush=True)
        Study(cfg, args.out, cpu=not args.gpu, progress=say_line, jobs=args.jobs).run(tuple(args.redo))
    except (StudyConfigError, FileNotFoundError) as err:
        print(f"fairseq-nat-study study: error: {err}", file=sys.stderr)
        return 2
    return 0
