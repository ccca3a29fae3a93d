"""Training in segments inside one process: a snapshot at each requested update count, resumable."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fairseq_helpers import PLUGIN_DIR, run_preprocess
from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus
from fairseq_nat_study.training.segmented_train import USAGE, checkpoint_updates, parse_own_flags, parse_snapshots


def test_snapshot_lists_are_checked() -> None:
    assert parse_snapshots("3,7,12") == [3, 7, 12]
    for bad in ("", "3,3", "5,2", "0,4", "a,b"):
        with pytest.raises(ValueError, match="--snapshots"):
            parse_snapshots(bad)


def test_own_flags_lead_and_fairseq_flags_pass_through() -> None:
    assert parse_own_flags(["--snapshots", "5,10", "--patience", "3", "--stop-after", "7", "DATA", "--patience", "9"]) \
        == ([5, 10], 3, 7, ["DATA", "--patience", "9"])  # fairseq's own --patience after DATA is fairseq's
    assert parse_own_flags(["--snapshots", "5", "DATA"]) == ([5], 0, 0, ["DATA"])
    for bad, message in ((["DATA"], USAGE), (["--snapshots", "5", "--patience"], "whole number of validations"),
                         (["--snapshots", "5", "--stop-after", "x"], "whole number of updates"),
                         (["--snapshots", "5", "--patience", "-1"], "must be >= 0")):
        with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("[", r"\[")):
            parse_own_flags(bad)


def _train(data: Path, save: Path, snapshots: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fairseq_nat_study.training.segmented_train", "--snapshots", snapshots, str(data),
           "--user-dir", PLUGIN_DIR, "--task", "nat_study_translation", "--arch", "nat_study_nat_tiny",
           "--criterion", "nat_study_mle", "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", "512",
           "--save-dir", str(save), "--cpu", "--disable-validation", "--save-interval", "1000000",
           "--no-epoch-checkpoints", "--log-format", "simple", "--seed", "1"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # trains, is killed and resumes in new processes (about 35 s on 2 cores)
def test_one_process_writes_a_snapshot_per_segment_and_resumes(tmp_path: Path) -> None:
    """200 pairs at --max-tokens 512 make epochs of a few updates, so some snapshot counts fall at an epoch's
    end (where fairseq's --save-interval-updates writes nothing); each snapshot holds exactly its count, the
    segments share one process, and a rerun trains only the missing segments."""
    write_corpus(SynthConfig(seed=2, num_train=200, num_valid=20, num_test=20), tmp_path / "raw")
    run_preprocess(tmp_path / "raw", tmp_path / "bin")
    save = tmp_path / "run"
    proc = _train(tmp_path / "bin", save, "4,8,12")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("segment ") == 3 and "segment 3/3: training to 12 updates" in proc.stderr
    assert [checkpoint_updates(save / f"checkpoint_at_{n}.pt") for n in (4, 8, 12)] == [4, 8, 12]
    assert checkpoint_updates(save / "checkpoint_last.pt") == 12
    # the model moved between snapshots: each segment resumed and trained
    first, last = (torch.load(save / f"checkpoint_at_{n}.pt", weights_only=False)["model"] for n in (4, 12))
    assert any(not torch.equal(first[k], last[k]) for k in first)

    (save / "checkpoint_at_12.pt").unlink()
    again = _train(tmp_path / "bin", save, "4,8,12,16")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "segment 1/4: checkpoint_at_4.pt exists, skipped" in again.stderr
    assert "segment 2/4: checkpoint_at_8.pt exists, skipped" in again.stderr
    assert "segment 3/4: checkpoint_last.pt is at 12 updates" in again.stderr
    # checkpoint_last was at 12: copied as it is (a resumed fairseq-train would take one more step), then on to 16
    assert [checkpoint_updates(save / f"checkpoint_at_{n}.pt") for n in (12, 16)] == [12, 16]


def test_bad_snapshot_list_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "fairseq_nat_study.training.segmented_train", "--snapshots", "5,2",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "strictly increasing" in proc.stderr
