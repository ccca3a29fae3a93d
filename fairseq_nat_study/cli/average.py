"""``fairseq-nat-study average``: average the parameters of several checkpoints of one run (every family, the
flow prior included), with weights-only loading; the result decodes with ``fairseq-generate`` like any
checkpoint. Either ``--inputs A.pt B.pt ...`` or ``--inputs RUN_DIR --num-update-checkpoints N`` (the N
checkpoints of the run with the most updates: fairseq's ``checkpoint_<epoch>_<updates>.pt`` or the study's
``checkpoint_at_<updates>.pt``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from fairseq_nat_study.cli.arg_types import non_negative_int


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inputs", nargs="+", required=True, help="checkpoints, or one run directory")
    parser.add_argument("--num-update-checkpoints", type=non_negative_int, default=0,
                        help="with a run directory: average its last N interval checkpoints (0: not a directory)")
    parser.add_argument("--output", required=True, help="the averaged checkpoint to write")


def main(args: argparse.Namespace) -> int:
    import torch

    from fairseq_nat_study.cli.errors import fail, missing_file, missing_out_dir
    from fairseq_nat_study.utils.averaging import average_checkpoints, last_interval_checkpoints

    if (message := missing_out_dir(args.output, "--output")) is not None:
        return fail("average", message)
    inputs = [Path(p) for p in args.inputs]
    if len(inputs) == 1 and inputs[0].is_dir():
        if args.num_update_checkpoints < 1:
            return fail("average", "--inputs is a directory: give --num-update-checkpoints N (N >= 1)")
        try:
            inputs = last_interval_checkpoints(inputs[0], args.num_update_checkpoints)
        except FileNotFoundError as err:
            return fail("average", err)
    elif args.num_update_checkpoints:
        return fail("average", "--num-update-checkpoints needs --inputs to be one run directory")
    else:
        for path in inputs:
            if path.is_dir():
                return fail("average", f"--inputs {path}: a directory among several inputs; give checkpoint files, "
                                       "or the run directory alone with --num-update-checkpoints N")
            if not path.exists():
                return fail("average", f"--inputs {path}: no checkpoint at {path}")
            if (message := missing_file(path, "--inputs", "checkpoint")) is not None:
                return fail("average", message)
    if Path(args.output).resolve() in {p.resolve() for p in inputs}:
        return fail("average", f"--output {args.output} is one of the inputs; write the average to a new file")
    try:
        state = average_checkpoints(inputs)
    except (FileNotFoundError, ValueError) as err:
        return fail("average", err)
    torch.save(state, args.output)
    print(f"averaged {len(inputs)} checkpoints ({', '.join(p.name for p in inputs)}) -> {args.output}")
    return 0
