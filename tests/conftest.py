"""Shared fixtures: seeding, and tiny AR / NAT-MLE models trained once on a two-mode synthetic corpus."""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from fairseq_helpers import run_preprocess, run_train
from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

#: Sizes chosen so that no split is a multiple of fairseq's default batch-size multiple (8).
NUM_VALID = NUM_TEST = 101


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@dataclass
class TrainedModels:
    raw: Path
    data: Path
    ar: Path
    nat: Path
    latent: Path


@pytest.fixture(scope="session")
def two_mode(tmp_path_factory: pytest.TempPathFactory) -> TrainedModels:
    """Two-mode corpus (every sentence has one ``a0`` -> "no problem" | "of course" at 50/50), with a tiny
    AR, a tiny NAT-MLE and a tiny Gaussian latent model trained on it."""
    root = tmp_path_factory.mktemp("two_mode")
    cfg = SynthConfig(seed=3, num_train=3000, num_valid=NUM_VALID, num_test=NUM_TEST, preset="two_mode",
                      n_det=8, min_phrases=2, max_phrases=4)
    write_corpus(cfg, root / "raw")
    run_preprocess(root / "raw", root / "bin")
    common = ["--max-tokens", "4096", "--lr", "2e-3", "--dropout", "0.0"]
    run_train(root / "bin", root / "ar", ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy",
                                          "--max-update", "300", *common])
    run_train(root / "bin", root / "nat", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                                           "--max-update", "500", *common])
    run_train(root / "bin", root / "latent", ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo",
                                              "--kl-weight-start", "0.1", "--kl-anneal-updates", "200",
                                              "--free-bits", "0.5", "--free-bits-anneal-updates", "300",
                                              "--max-update", "500", *common])
    return TrainedModels(root / "raw", root / "bin", root / "ar" / "checkpoint_last.pt",
                         root / "nat" / "checkpoint_last.pt", root / "latent" / "checkpoint_last.pt")
