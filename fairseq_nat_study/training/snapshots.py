"""Where a run's snapshots live: ``checkpoint_at_<updates>.pt`` in its save directory, written by the segmented
training driver (:mod:`~fairseq_nat_study.training.segmented_train`) and read by early stopping, the study and
checkpoint averaging."""
from __future__ import annotations

from pathlib import Path


def snapshot_path(save_dir: Path | str, updates: int) -> Path:
    """The snapshot of ``save_dir`` taken at ``updates`` updates."""
    return Path(save_dir) / f"checkpoint_at_{updates}.pt"
