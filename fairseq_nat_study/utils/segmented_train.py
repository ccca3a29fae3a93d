"""fairseq-train in segments inside one process, with a snapshot of the model at the end of each segment.

::

    python -m fairseq_nat_study.utils.segmented_train --snapshots 100,200,300 DATA [fairseq-train flags]

trains to 100 updates, copies ``checkpoint_last.pt`` to ``checkpoint_at_100.pt``, resumes from it (fairseq's own
resume: optimizer, LR schedule and data iterator) to 200 updates, and so on: the checkpoints along training
that the study scores for its curves and its within-model Pearson r. Two things this does that fairseq's
``--save-interval-updates`` does not: a snapshot is written also where its update count falls at the end of an
epoch (fairseq then writes only the epoch checkpoint), and the segments share one process, so the import of
torch and fairseq and the build of the task are paid once per run, not once per segment.

A segment whose snapshot exists is skipped, so a killed run resumes at the segment it was in. ``--max-update``
is set per segment (a value among the flags is overridden); everything else is fairseq-train's.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

#: printed to stderr at the start of each segment (the study echoes it as progress)
SEGMENT_MARKER = "segment "


def parse_snapshots(text: str) -> list[int]:
    """``"100,200,300"`` → ``[100, 200, 300]``; raises ``ValueError`` unless strictly increasing positive ints."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise ValueError(f"--snapshots {text!r}: expected comma-separated update counts, e.g. 100,200,300") from err
    if not values or any(v <= 0 for v in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"--snapshots {text!r}: update counts must be positive and strictly increasing")
    return values


def snapshot_path(save_dir: Path, updates: int) -> Path:
    return Path(save_dir) / f"checkpoint_at_{updates}.pt"


def checkpoint_updates(path: Path) -> int:
    """The update count a fairseq checkpoint was saved at."""
    from fairseq_nat_study.utils.checkpoint import load_checkpoint_state, saved_updates

    return saved_updates(load_checkpoint_state(str(path)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) < 2 or argv[0] != "--snapshots":  # first, so that fairseq's flags pass through untouched
        print("usage: segmented_train --snapshots N1,N2,... DATA [fairseq-train flags]", file=sys.stderr)
        return 2
    try:
        targets = parse_snapshots(argv[1])
    except ValueError as err:
        print(f"segmented_train: error: {err}", file=sys.stderr)
        return 2
    fairseq_args = argv[2:]

    from fairseq import distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train

    import fairseq_nat_study

    # this module imported the package before fairseq, so --user-dir finds it imported but not registered
    fairseq_nat_study.register()

    at: int | None = None  # updates of checkpoint_last.pt, once known
    for i, target in enumerate(targets):
        args = options.parse_args_and_arch(options.get_training_parser(), [*fairseq_args, "--max-update", str(target)])
        snapshot, last = snapshot_path(args.save_dir, target), Path(args.save_dir) / "checkpoint_last.pt"
        where = f"{SEGMENT_MARKER}{i + 1}/{len(targets)}"
        if snapshot.exists():
            print(f"{where}: {snapshot.name} exists, skipped", file=sys.stderr, flush=True)
            continue
        if at is None and last.exists():  # a resumed run: where did the killed one stop?
            at = checkpoint_updates(last)
        if at is not None and at > target:
            print(f"segmented_train: error: {last} is at {at} updates, past the snapshot at {target}; "
                  "use a new --save-dir", file=sys.stderr)
            return 2
        if at != target:  # fairseq resumed at max_update would still take one more step
            print(f"{where}: training to {target} updates", file=sys.stderr, flush=True)
            distributed_utils.call_main(convert_namespace_to_omegaconf(args), train.main)
            if not last.exists():
                print(f"segmented_train: error: fairseq-train wrote no {last} (is --no-save set?)", file=sys.stderr)
                return 2
            at = target
        else:
            print(f"{where}: {last.name} is at {target} updates", file=sys.stderr, flush=True)
        shutil.copyfile(last, snapshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
