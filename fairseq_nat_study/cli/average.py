"""``fairseq-nat-study average``: average the parameters of several checkpoints of one run (every family, the
flow prior included), with weights-only loading; the result decodes with ``fairseq-generate`` like any
checkpoint. Either ``--inputs A.pt B.pt ...`` or ``--inputs RUN_DIR --num-update-checkpoints N`` (the N
interval checkpoints with the most updates)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inputs", nargs="+", required=True, help="checkpoints, or one run directory")
    parser.add_argument("--num-update-checkpoints", type=int, default=0,
                        help="with a run directory: average its last N interval checkpoints")
    parser.add_argument("--output", required=True, help="the averaged checkpoint to write")


def main(args: argparse.Namespace) -> int:
    import torch

    from fairseq_nat_study.utils.averaging import average_checkpoints, last_interval_checkpoints

    def fail(message: str) -> int:
        print(f"fairseq-nat-study average: error: {message}", file=sys.stderr)
        return 2

    inputs = [Path(p) for p in args.inputs]
    if len(inputs) == 1 and inputs[0].is_dir():
        if args.num_update_checkpoints < 1:
            return fail("--inputs is a directory: give --num-update-checkpoints N (N >= 1)")
        try:
            inputs = last_interval_checkpoints(inputs[0], args.num_update_checkpoints)
        except FileNotFoundError as err:
            return fail(str(err))
    elif args.num_update_checkpoints:
        return fail("--num-update-checkpoints needs --inputs to be one run directory")
    output = Path(args.output)
    if not output.parent.is_dir():
        return fail(f"--output: no directory {output.parent}")
    try:
        state = average_checkpoints(inputs)
    except (FileNotFoundError, ValueError) as err:
        return fail(str(err))
    torch.save(state, output)
    print(f"averaged {len(inputs)} checkpoints ({', '.join(p.name for p in inputs)}) -> {output}")
    return 0
