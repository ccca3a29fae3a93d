"""Training stopped on validation: the curve of a run's validation metric, the patience rule, and the run's
final checkpoint (the one with the best validation value).

``segmented_train`` validates at the end of every segment (fairseq validates when a run reaches its
``--max-update``, and stores the value of ``--best-checkpoint-metric`` in the checkpoint's ``extra_state``). The
curve is read back from the snapshots, so a killed run resumes with the same curve and the same decision.

A validation improves on the best value only by more than ``MIN_RELATIVE_GAIN`` of it and more than
``MIN_ABSOLUTE_GAIN`` (fairseq rounds the metric to 3 decimals, and a curve that has levelled off still wobbles
by that much: on the quick study's AR model 0.181, 0.179, 0.201, 0.179, 0.178 bits per token; a model of
distilled data approaches 0, where 1 % is no longer a visible gain). A run stops when ``patience`` validations in a row have not
improved on the best value and it is past
``stop_after`` updates (the end of the schedules that change its objective: the ELBO's KL budget and weight,
GLAT's ratio); otherwise it stops at its last snapshot (its ``--max-update``), and the record says whether it was
still improving there. ``RUN/training.json`` holds the curve and the decision::

    {"metric": "nll_loss", "maximize": false, "patience": 3, "stop_after": 0,
     "curve": [[100, 2.41], [200, 1.93], ...], "best_updates": 700, "updates": 1000,
     "stopped": "patience" | "max_update", "improving_at_end": false}
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD = "training.json"

#: a validation value must beat the best by more than this fraction of it, and by more than this much (in the
#: metric's units per target position: bits of NLL, nats of ELBO), to count as an improvement
MIN_RELATIVE_GAIN = 0.01
MIN_ABSOLUTE_GAIN = 0.01


@dataclass
class ValidationCurve:
    """Validation values of one run, in the order of its snapshots, and the patience rule applied to them."""

    metric: str
    maximize: bool = False
    patience: int = 0
    stop_after: int = 0
    min_relative_gain: float = MIN_RELATIVE_GAIN
    min_absolute_gain: float = MIN_ABSOLUTE_GAIN
    curve: list[tuple[int, float]] = field(default_factory=list)

    def add(self, updates: int, value: float | None) -> None:
        """Records the validation ``value`` at ``updates`` (None: the snapshot holds none; an error)."""
        if value is None or not math.isfinite(value):
            raise ValueError(f"no finite validation {self.metric} at {updates} updates (got {value}): "
                             "validation must run at the end of every segment (no --disable-validation)")
        self.curve.append((updates, float(value)))

    def best_index(self) -> int:
        """Index of the best value: the last one that improved on the best before it by more than
        ``min_relative_gain`` of it and ``min_absolute_gain`` (smaller gains, and ties, keep the earlier
        snapshot)."""
        best = 0
        for i, (_, v) in enumerate(self.curve[1:], start=1):
            b = self.curve[best][1]
            gain = (v - b) if self.maximize else (b - v)
            if gain > max(self.min_relative_gain * abs(b), self.min_absolute_gain) + 1e-12:  # 1e-12: float noise
                best = i
        return best

    def best_updates(self) -> int:
        return self.curve[self.best_index()][0]

    def should_stop(self) -> bool:
        """``patience`` validations since the best one, past ``stop_after`` updates (patience 0: never)."""
        if self.patience <= 0 or not self.curve:
            return False
        since_best = len(self.curve) - 1 - self.best_index()
        return since_best >= self.patience and self.curve[-1][0] >= self.stop_after

    def record(self, stopped: str) -> dict:
        """The ``training.json`` record; ``stopped`` is ``patience`` or ``max_update``."""
        return {**asdict(self), "curve": [list(p) for p in self.curve], "best_updates": self.best_updates(),
                "updates": self.curve[-1][0], "stopped": stopped,
                "improving_at_end": stopped == "max_update" and self.best_index() == len(self.curve) - 1}


def validation_value(path: Path) -> float | None:
    """The validation value fairseq stored with a checkpoint (``extra_state["val_loss"]``; None: none)."""
    from fairseq_nat_study.utils.checkpoint import load_checkpoint_state

    value = (load_checkpoint_state(str(path)).get("extra_state") or {}).get("val_loss")
    return None if value is None else float(value)


def write_record(save_dir: Path, record: dict) -> None:
    (Path(save_dir) / RECORD).write_text(json.dumps(record, indent=1))


def read_record(run_dir: Path) -> dict | None:
    """``RUN/training.json``, or None for a run trained without it (a plain fairseq-train run)."""
    path = Path(run_dir) / RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def final_checkpoint(run_dir: Path) -> Path:
    """The checkpoint a run is evaluated, distilled from and timed with: the snapshot with the best validation
    value when training recorded its curve, else ``checkpoint_last.pt``. FileNotFoundError names the run."""
    from fairseq_nat_study.training.snapshots import snapshot_path

    run_dir = Path(run_dir)
    record = read_record(run_dir)
    path = snapshot_path(run_dir, record["best_updates"]) if record else run_dir / "checkpoint_last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: training left no {path.name}")
    return path
