"""torch >= 2.6 loads fairseq checkpoints through the plugin with weights-only loading kept on."""
from __future__ import annotations

import argparse
import os
import pickle

import numpy as np
import pytest
import torch

from fairseq_nat_study.utils.checkpoint import allow_fairseq_checkpoints, load_checkpoint_state


class _Untrusted:
    pass


def test_weights_only_is_the_default_and_no_override_is_set() -> None:
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    assert "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ


def test_namespace_and_numpy_meters_load(tmp_path) -> None:
    state = {"args": argparse.Namespace(arch="x", lr=[0.1]), "model": {"w": torch.ones(2)},
             "extra_state": {"counts": np.array([3, 4], dtype=np.int64), "f": np.float64(1.5) * np.ones(1)}}
    torch.save(state, tmp_path / "ck.pt")
    loaded = load_checkpoint_state(str(tmp_path / "ck.pt"))
    assert loaded["args"].arch == "x" and torch.equal(loaded["model"]["w"], torch.ones(2))
    assert loaded["extra_state"]["counts"].tolist() == [3, 4]


def test_other_pickled_objects_are_still_refused(tmp_path) -> None:
    allow_fairseq_checkpoints()
    torch.save({"model": {}, "evil": _Untrusted()}, tmp_path / "bad.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "bad.pt", weights_only=True)


def test_real_checkpoint_loads_weights_only(two_mode) -> None:
    for path in (two_mode.ar, two_mode.nat):
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert "model" in state and state["cfg"]["model"] is not None


def test_run_metadata_reads_in_a_fresh_process_without_fairseq(tmp_path) -> None:
    """The study's ``evaluate`` reads a run's updates, criterion and arch before anything registers the plugin:
    that read must allow-list fairseq's globals itself (a fresh interpreter, fairseq never imported)."""
    import subprocess
    import sys

    state = {"cfg": {"model": argparse.Namespace(arch="nat_study_nat_tiny"), "criterion": {"_name": "nat_study_nat_loss"}},
             "optimizer_history": [{"num_updates": 7}], "model": {"w": torch.ones(1)}}
    torch.save(state, tmp_path / "checkpoint_last.pt")
    code = ("import sys; from pathlib import Path; from fairseq_nat_study.study.run_eval import checkpoint_info; "
            "print(checkpoint_info(Path(sys.argv[1]))); print('fairseq' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "checkpoint_last.pt")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[0] == "(7, 'nat_study_nat_loss', 'nat_study_nat_tiny')"
