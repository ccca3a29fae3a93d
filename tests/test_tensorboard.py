"""``--tensorboard-logdir`` writes event files (tensorboardX is a runtime dependency)."""
from __future__ import annotations

from fairseq_helpers import run_train


def test_tensorboard_logdir_writes_events(two_mode, tmp_path) -> None:
    logdir = tmp_path / "tb"
    run_train(two_mode.data, tmp_path / "ckpt", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                                                 "--max-update", "3", "--max-tokens", "2048", "--log-interval", "1",
                                                 "--tensorboard-logdir", str(logdir)])
    events = list(logdir.rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    assert {e.parent.name for e in events} >= {"train_inner"}
