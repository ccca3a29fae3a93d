"""``fairseq-nat-study distill``: sequence-level distillation of a data-bin split by an AR teacher.

See :mod:`fairseq_nat_study.distill.pipeline`. Rerunning the same command after a kill or a Ctrl-C resumes it.
"""
from __future__ import annotations

import argparse

from fairseq_nat_study.cli.arg_types import float_in, int_at_least, positive_int


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", required=True, help="AR teacher checkpoint (.pt)")
    parser.add_argument("--data", required=True, help="binarised data directory (fairseq-preprocess output)")
    parser.add_argument("--out", required=True, help="data-bin to write: the distilled split, the rest copied")
    parser.add_argument("--subset", default="train", help="split to distil")
    parser.add_argument("--beam", type=positive_int, default=4, help="beam size of the teacher")
    parser.add_argument("--shard-size", type=positive_int, default=100_000,
                        help="about this many sentences per shard; finished shards survive a kill")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="shards decoded at once, one fairseq-generate process each (one GPU each with CUDA)")
    parser.add_argument("--max-tokens", type=positive_int, default=8192, help="tokens per batch of fairseq-generate")
    parser.add_argument("--cpu", action="store_true", help="decode on the CPU even if CUDA is available")
    parser.add_argument("--max-len-a", type=float_in(0.0), default=None,
                        help="hypotheses of at most A·|x| + B tokens (with --max-len-b); default: A = 1 and B from the "
                             "split, so no pair gets a target-minus-source length difference above the split's largest "
                             "(for a split other than train, the larger of its own and the training split's)")
    parser.add_argument("--max-len-b", type=int_at_least(0), default=None, help="B of the length cap (with --max-len-a)")
    parser.add_argument("--generate-args", action="append", default=[],
                        help="further fairseq-generate flags as one string, e.g. \"--lenpen 1.2 --unkpen 1\"; "
                             "may be repeated (--generate-args=--lenpen=1.2 --generate-args=--unkpen=1)")


def main(args: argparse.Namespace) -> int:
    from fairseq_nat_study.cli.errors import fail, failure_line, missing_dir, missing_file, unwritable_out_dir
    from fairseq_nat_study.distill.pipeline import DistillConfig, DistillError, distill

    for message in (missing_file(args.teacher, "--teacher", "checkpoint"),
                    missing_dir(args.data, "--data", "binarised data directory"),
                    unwritable_out_dir(args.out)):
        if message is not None:
            return fail("distill", message)
    cfg = DistillConfig(teacher=args.teacher, data=args.data, out=args.out, subset=args.subset, beam=args.beam,
                        shard_size=args.shard_size, workers=args.workers, max_tokens=args.max_tokens, cpu=args.cpu,
                        generate_args=" ".join(args.generate_args).split(), max_len_a=args.max_len_a,
                        max_len_b=args.max_len_b)
    try:
        distill(cfg)
    except DistillError as err:
        return fail("distill", err)
    except RuntimeError as err:  # fairseq-generate failed (e.g. a bad --generate-args flag): its log is named
        return fail("distill", failure_line(err))
    return 0
