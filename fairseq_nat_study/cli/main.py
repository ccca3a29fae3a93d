"""``fairseq-nat-study``: one console script, one subcommand per tool.

Each subcommand lives in its own module exposing ``add_args(parser)`` and ``main(args) -> int``; modules
are imported only when their subcommand runs, so ``--help`` is fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("fairseq_nat_study.cli.synth", "write the synthetic corpus with exact entropies and C"),
    "prepare": ("fairseq_nat_study.cli.prepare", "raw parallel text → sacremoses → joint BPE or SentencePiece → fairseq-preprocess"),
    "distill": ("fairseq_nat_study.cli.distill", "decode a split with an AR teacher (beam 4) and re-binarise it"),
    "bleu": ("fairseq_nat_study.analysis.bleu", "sacreBLEU with signature, tokenized and compound-split BLEU"),
    "loglik": ("fairseq_nat_study.cli.loglik", "per-sentence / per-token log-likelihood of a split's references"),
    "total-correlation": ("fairseq_nat_study.cli.total_correlation", "conditional total correlation Ĉ = NLL(NAT) - NLL(AR)"),
    "bench": ("fairseq_nat_study.cli.bench", "decoding latency (batch 1) and throughput (large batch), side by side"),
    "user-dir": ("fairseq_nat_study.cli.user_dir", "print the plugin's directory for fairseq's --user-dir"),
    "average": ("fairseq_nat_study.cli.average", "average the parameters of a run's last checkpoints (every family)"),
    "evaluate": ("fairseq_nat_study.cli.evaluate", "BLEU, LL, refinement, diversity and speed of a run's checkpoints"),
    "collect": ("fairseq_nat_study.cli.collect", "a recipe's eval.json and Ĉ files → results.json and the report"),
    "report": ("fairseq_nat_study.study.report.write", "the study's tables, Pearson r, plots and findings from results.json"),
    "docs": ("fairseq_nat_study.cli.docs", "render README's headline results table from docs/results/*/results.json"),
    "study": ("fairseq_nat_study.cli.study", "the whole study: data, teacher, distillation, model grid, evaluation, report"),
    "sweep": ("fairseq_nat_study.cli.sweep", "the C sweep: the study on synthetic corpora of rising exact C, read together"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO, stream=sys.stderr)
    parser = argparse.ArgumentParser(prog="fairseq-nat-study", description="Train, decode and study NAT models.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv else None
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == chosen:  # import only the module that will run
            importlib.import_module(module).add_args(p)
    args = parser.parse_args(argv)
    return int(importlib.import_module(args._module).main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
