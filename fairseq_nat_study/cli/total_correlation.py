"""``fairseq-nat-study total-correlation``: Ĉ = NLL(NAT-MLE) − NLL(AR) of a split, per sentence and per token.

See :mod:`fairseq_nat_study.analysis.total_correlation` for what the estimate is and is not. With
``--glat-ratio r`` it estimates the GLAT proxy's Ĉ on the unrevealed tokens. ``--stats`` (a synthetic corpus's
``stats.json``) prints the exact C of the split beside the estimate.
"""
from __future__ import annotations

import argparse
import json
import sys

from fairseq_nat_study.cli.arg_types import positive_int, seed, unit_interval


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ar", required=True, help="autoregressive checkpoint")
    parser.add_argument("--nat", required=True, help="NAT-MLE (or GLAT) checkpoint trained on the same data")
    parser.add_argument("--data", required=True, help="binarised data directory")
    parser.add_argument("--subset", default="test", help="split to score")
    parser.add_argument("--glat-ratio", type=unit_interval, default=0.0,
                        help="> 0: the GLAT proxy with this ratio of revealed tokens")
    parser.add_argument("--seed", type=seed, default=1, help="seed of the glancing positions")
    parser.add_argument("--stats", help="stats.json of a synthetic corpus: print the exact C beside Ĉ")
    parser.add_argument("--max-tokens", type=positive_int, default=4096, help="tokens per batch")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is available")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
    from fairseq_nat_study.analysis.loglik import UnsupportedModelError
    from fairseq_nat_study.analysis.total_correlation import estimate
    from fairseq_nat_study.cli.errors import (ToolError, fail, missing_dir, missing_file, missing_out_dir, read_json,
                                              too_small_batch)

    for message in (missing_out_dir(args.out), missing_file(args.ar, "--ar", "checkpoint"),
                    missing_file(args.nat, "--nat", "checkpoint"),
                    missing_dir(args.data, "--data", "binarised data directory")):
        if message is not None:
            return fail("total-correlation", message)
    exact = None
    if args.stats:  # read before the split is scored
        stats = read_json(args.stats, "--stats")
        splits = stats.get("splits")
        if not isinstance(splits, dict) or not all(isinstance(v, dict) and "C" in v for v in splits.values()):
            raise ToolError(f"--stats {args.stats}: not the stats.json of `fairseq-nat-study synth` (no splits with C)")
        exact = splits.get(args.subset)
    try:
        ar, ar_task = load_model_and_task(args.ar, args.data, cpu=args.cpu, flag="--ar")
        nat, nat_task = load_model_and_task(args.nat, args.data, cpu=args.cpu, flag="--nat")
        if (message := too_small_batch(load_split(ar_task, args.data, args.subset), args.max_tokens)) is not None:
            return fail("total-correlation", message)
        print(f"total-correlation: scoring {args.subset} with both models ...", file=sys.stderr, flush=True)
        report = estimate(ar, ar_task, nat, nat_task, args.data, args.subset, args.glat_ratio, args.seed, args.max_tokens)
    except (FileNotFoundError, ValueError, UnsupportedModelError) as err:
        return fail("total-correlation", err)
    line = (f"{args.subset}: Ĉ = {report['C_hat_per_sentence']:.4f} nats/sentence, "
            f"{report['C_hat_per_token']:.4f} nats/token ({report['estimator']})")
    if exact is not None:
        report["C_exact_per_sentence"] = exact["C"]
        line += f"; exact C of the split: {exact['C']:.4f} nats/sentence"
    elif args.stats:
        line += f"; {args.stats} has no split {args.subset}"
    report.update(ar_checkpoint=args.ar, nat_checkpoint=args.nat, data=args.data)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(line + f" -> {args.out}")
    return 0
