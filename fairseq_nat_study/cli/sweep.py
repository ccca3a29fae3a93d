"""``fairseq-nat-study sweep --config F --out DIR``: the C sweep of Huang et al. (2022), resumable corpus by
corpus (:mod:`fairseq_nat_study.study.sweep`). Shipped configs: ``examples/sweep/quick.json`` and
``examples/sweep/full.json`` (λ), ``examples/sweep/tied.json`` (the share of ambiguous words)."""
from __future__ import annotations

import argparse
from pathlib import Path

from fairseq_nat_study.cli.arg_types import positive_int
from fairseq_nat_study.cli.errors import fail, unwritable_out_dir


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True,
                        help="sweep config (JSON): a study config on synthetic data with 'ambiguity': [λ, ...] "
                             "or 'p_ambiguous': [p, ...]")
    parser.add_argument("--out", required=True, help="sweep directory (created; a rerun resumes)")
    parser.add_argument("--gpu", action="store_true", help="train and evaluate on the GPU (default: CPU)")
    parser.add_argument("--jobs", type=positive_int, default=None,
                        help="stages run side by side within each corpus's study (default: as the study's)")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.study.config import StudyConfigError
    from fairseq_nat_study.study.sweep import knob, load_sweep, run_sweep
    from fairseq_nat_study.utils.fairseq_runner import say_line

    if (message := unwritable_out_dir(args.out)) is not None:
        return fail("sweep", message)
    try:
        base, values = load_sweep(args.config)
        print(f"[sweep] {base.get('name', 'sweep')}: {len(values)} corpora, {knob(base)} {values} -> {args.out}",
              flush=True)
        run_sweep(base, values, Path(args.out), Path(args.config).parent, cpu=not args.gpu, progress=say_line,
                  jobs=args.jobs)
    except (StudyConfigError, FileNotFoundError) as err:
        return fail("sweep", err)
    return 0
