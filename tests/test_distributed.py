"""Data-parallel training through fairseq's own distributed path: two CPU processes over gloo (the flag set
../shared/STACK.md lists as working), a flow-prior latent model (ActNorm's data-dependent initialisation must
be shared across ranks), and ``--param-digest-interval`` printing each rank's state digest."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus
from fairseq_nat_study.utils.digest import state_digest
from fairseq_helpers import PLUGIN_DIR, run_preprocess

UPDATES = 4
DIGEST = re.compile(r"nat_study param digest \| rank (\d) \| update (\d+) \| ([0-9a-f]{64})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_state_digest_sees_names_values_shapes_and_dtypes() -> None:
    a = {"w": torch.arange(6.0).view(2, 3), "flag": torch.tensor(True)}
    assert state_digest(a) == state_digest({"flag": torch.tensor(True), "w": torch.arange(6.0).view(2, 3)})
    nudged = a["w"].clone()
    nudged[1, 2] = torch.nextafter(nudged[1, 2], torch.tensor(10.0))  # one ulp
    variants = [{**a, "w": nudged}, {**a, "flag": torch.tensor(False)}, {"v": a["w"], "flag": a["flag"]},
                {**a, "w": a["w"].view(3, 2)}, {**a, "w": a["w"].double()}]
    assert len({state_digest(v) for v in variants} | {state_digest(a)}) == len(variants) + 1


@pytest.mark.slow  # two gloo processes (about 25 s on 2 cores)
def test_two_gloo_processes_train_a_latent_model_with_identical_ranks(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(SynthConfig(seed=2, num_train=300, num_valid=20, num_test=20), raw)
    data = tmp_path / "bin"
    run_preprocess(raw, data)
    port = free_port()
    procs = []
    for rank in (0, 1):
        cmd = [sys.executable, "-m", "fairseq_cli.train", str(data), "--user-dir", PLUGIN_DIR,
               "--task", "nat_study_translation", "--arch", "nat_study_fl_tiny", "--criterion", "nat_study_elbo",
               "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", "512", "--max-update", str(UPDATES),
               "--seed", "1", "--save-dir", str(tmp_path / "ckpt"), "--disable-validation", "--no-epoch-checkpoints",
               "--log-format", "simple", "--log-interval", "1", "--param-digest-interval", "2",
               "--distributed-world-size", "2", "--distributed-rank", str(rank), "--distributed-no-spawn",
               "--distributed-backend", "gloo", "--distributed-init-method", f"tcp://127.0.0.1:{port}",
               "--ddp-backend", "legacy_ddp"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env={**os.environ, "OMP_NUM_THREADS": "1"}))
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for rank, (p, log) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, log[-3000:]
        assert f"distributed init (rank {rank})" in log
    digests = [{int(u): d for r, u, d in DIGEST.findall(log) if int(r) == rank} for rank, log in enumerate(logs)]
    assert set(digests[0]) == set(digests[1]) == {2, UPDATES}  # both ranks made every update
    assert digests[0] == digests[1]  # and hold the same parameters and buffers after each
    assert digests[0][2] != digests[0][UPDATES]  # training changed them
    # rank 0 saved what both ranks hold, after all updates (the all-reduced, not a rank-local, model)
    state = torch.load(tmp_path / "ckpt" / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == UPDATES
    assert state_digest(state["model"]) == digests[1][UPDATES]
    # the flow's ActNorm layers were initialised (from data shared across both ranks) and saved so
    flags = [v for k, v in state["model"].items() if k.endswith("initialized")]
    assert flags and all(bool(f) for f in flags)
