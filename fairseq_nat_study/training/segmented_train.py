"""fairseq-train in segments inside one process, with a snapshot of the model at the end of each segment.

::

    python -m fairseq_nat_study.training.segmented_train --snapshots 100,200,300 [--patience P] [--stop-after U] \
        DATA [fairseq-train flags]

trains to 100 updates, copies ``checkpoint_last.pt`` to ``checkpoint_at_100.pt``, resumes from it (fairseq's own
resume: optimizer, LR schedule and data iterator) to 200 updates, and so on: the checkpoints along training
that the study scores for its curves and its within-model Pearson r. Two things this does that fairseq's
``--save-interval-updates`` does not: a snapshot is written also where its update count falls at the end of an
epoch (fairseq then writes only the epoch checkpoint), and the segments share one process, so the import of
torch and fairseq and the build of the task are paid once per run, not once per segment.

A segment whose snapshot exists is skipped, so a killed run resumes at the segment it was in. ``--max-update``
is set per segment (a value among the flags is overridden); everything else is fairseq-train's.

Unless the flags disable validation, fairseq validates at the end of every segment; the values of its
``--best-checkpoint-metric`` make the run's validation curve (``RUN/training.json``,
:mod:`~fairseq_nat_study.training.early_stopping`). With ``--patience P`` the run stops once P validations in a row
have not improved on the best one (and it is past ``--stop-after`` updates); its final checkpoint is the best
snapshot.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fairseq_nat_study.training.snapshots import snapshot_path

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


def checkpoint_updates(path: Path) -> int:
    """The update count a fairseq checkpoint was saved at."""
    from fairseq_nat_study.utils.checkpoint import load_checkpoint_state, saved_updates

    return saved_updates(load_checkpoint_state(str(path)))


USAGE = "usage: segmented_train --snapshots N1,N2,... [--patience P] [--stop-after U] DATA [fairseq-train flags]"


def parse_own_flags(argv: list[str]) -> tuple[list[int], int, int, list[str]]:
    """(snapshots, patience, stop_after, fairseq flags): this module's flags lead the command line, so that
    fairseq's pass through untouched. Raises ``ValueError`` with the usage."""
    if len(argv) < 2 or argv[0] != "--snapshots":
        raise ValueError(USAGE)
    targets, rest, own = parse_snapshots(argv[1]), argv[2:], {"--patience": 0, "--stop-after": 0}
    while rest and rest[0] in own:
        try:
            own[rest[0]] = int(rest[1])
        except (IndexError, ValueError) as err:
            unit = "validations" if rest[0] == "--patience" else "updates"
            raise ValueError(f"{rest[0]}: expected a whole number of {unit}") from err
        if own[rest[0]] < 0:
            raise ValueError(f"{rest[0]}: must be >= 0, got {own[rest[0]]}")
        rest = rest[2:]
    return targets, own["--patience"], own["--stop-after"], rest


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        targets, patience, stop_after, fairseq_args = parse_own_flags(argv)
    except ValueError as err:
        print(f"segmented_train: error: {err}" if str(err) != USAGE else USAGE, file=sys.stderr)
        return 2

    from fairseq import distributed_utils, options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq_cli import train

    from fairseq_nat_study.registration import register
    from fairseq_nat_study.training.early_stopping import ValidationCurve, validation_value, write_record

    # this module imported the package before fairseq, so --user-dir finds it imported but not registered
    register()

    at: int | None = None  # updates of checkpoint_last.pt, once known
    curve: ValidationCurve | None = None
    for i, target in enumerate(targets):
        args = options.parse_args_and_arch(options.get_training_parser(), [*fairseq_args, "--max-update", str(target)])
        if curve is None:
            if patience and args.disable_validation:
                print("segmented_train: error: --patience needs validation; drop --disable-validation", file=sys.stderr)
                return 2
            curve = None if args.disable_validation else ValidationCurve(
                args.best_checkpoint_metric, bool(args.maximize_best_checkpoint_metric), patience, stop_after)
        snapshot, last = snapshot_path(args.save_dir, target), Path(args.save_dir) / "checkpoint_last.pt"
        where = f"{SEGMENT_MARKER}{i + 1}/{len(targets)}"
        if snapshot.exists():
            print(f"{where}: {snapshot.name} exists, skipped", file=sys.stderr, flush=True)
        else:
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
        if curve is None:
            continue
        try:
            curve.add(target, validation_value(snapshot))
        except ValueError as err:
            print(f"segmented_train: error: {snapshot}: {err}", file=sys.stderr)
            return 2
        print(f"{where}: valid {curve.metric} {curve.curve[-1][1]:.4f} at {target} updates "
              f"(best {dict(curve.curve)[curve.best_updates()]:.4f} at {curve.best_updates()})", file=sys.stderr, flush=True)
        stop = curve.should_stop()
        if stop or i == len(targets) - 1:
            record = curve.record("patience" if stop else "max_update")
            write_record(Path(args.save_dir), record)
            print(f"segmented_train: stopped at {target} updates ({record['stopped']}); best {curve.metric} at "
                  f"{record['best_updates']} updates{'; still improving' if record['improving_at_end'] else ''}",
                  file=sys.stderr, flush=True)
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
