"""``fairseq-nat-study study [--config F] [--seeds S ...] --out DIR``: the whole study, resumable stage by stage.

With no ``--config`` it runs the quick study on the synthetic corpus (what ``make demo`` runs); the shipped
configs are in ``examples/study/``. ``--jobs N`` runs N independent stages side by side; ``--redo evaluation`` evaluates again
what is trained. See :mod:`fairseq_nat_study.study.pipeline` for the stages. ``--seeds`` (or the config's
``seeds``) trains the grid once per seed and reads the findings over the seeds (:mod:`fairseq_nat_study.study.seeds`).
"""
from __future__ import annotations

import argparse

from fairseq_nat_study.cli.arg_types import positive_int, seed


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="study config (JSON); default: the quick study on the synthetic corpus")
    parser.add_argument("--out", required=True, help="study directory (created; a rerun resumes)")
    parser.add_argument("--gpu", action="store_true", help="train and evaluate on the GPU (default: the CPU)")
    parser.add_argument("--jobs", type=positive_int, default=None,
                        help="stages run side by side, each with cores/jobs torch threads (default: 2 on a machine "
                             "with 2 cores or more, else 1); decoding speed is always timed alone on every core")
    parser.add_argument("--seeds", nargs="+", type=seed, default=None, metavar="S",
                        help="training seeds: the grid, its AR teacher and its distillation once per seed in "
                             "OUT/seed-<S>/, on data prepared once with the config's seed, and a report over the "
                             "seeds in OUT (overrides the config's seeds; recorded with the config)")
    from fairseq_nat_study.study.pipeline import REDO  # light: no torch, no fairseq

    parser.add_argument("--redo", nargs="+", default=[], choices=sorted(REDO),
                        help="run these finished stages again on the checkpoints already trained (e.g. after a "
                             "change to the evaluation code); nothing is trained again")


def main(args: argparse.Namespace) -> int:
    """Validates the config (every value's type and range, the grid, the data) and checks ``--out`` before any
    stage runs or anything is recorded there; then runs or resumes the study."""
    from fairseq_nat_study.cli.errors import fail, failure_line, missing_file, unwritable_out_dir
    from fairseq_nat_study.study.config import StudyConfigError, validate_seeds
    from fairseq_nat_study.study.config_source import load_config
    from fairseq_nat_study.study.pipeline import Study
    from fairseq_nat_study.study.seeds import SeedStudy
    from fairseq_nat_study.utils.fairseq_runner import say_line

    for message in (args.config and missing_file(args.config, "--config", "config file"), unwritable_out_dir(args.out)):
        if message:
            return fail("study", message)
    try:
        cfg = load_config(args.config)
        if args.seeds is not None:
            validate_seeds(args.seeds, "--seeds")
            cfg.seeds = list(args.seeds)
    except StudyConfigError as err:
        where = f"--config {args.config}: " if args.config and not str(err).startswith("--") else ""
        return fail("study", f"{where}{err}")
    try:
        if cfg.seeds:
            print(f"[study] {cfg.name}: {len(cfg.runs())} training runs for each of seeds "
                  f"{', '.join(map(str, cfg.seeds))} -> {args.out}", flush=True)
            SeedStudy(cfg, args.out, cpu=not args.gpu, progress=say_line, jobs=args.jobs).run(tuple(args.redo))
        else:
            print(f"[study] {cfg.name}: {len(cfg.runs())} training runs -> {args.out}", flush=True)
            Study(cfg, args.out, cpu=not args.gpu, progress=say_line, jobs=args.jobs).run(tuple(args.redo))
    except (StudyConfigError, FileNotFoundError) as err:
        return fail("study", err)
    except RuntimeError as err:  # a stage's fairseq process failed: its log is named; the study resumes there
        return fail("study", f"{failure_line(err)} (fix the cause and rerun the same command to resume)")
    return 0
