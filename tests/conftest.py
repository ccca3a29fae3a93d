"""Shared fixtures: seeding, and tiny AR / NAT-MLE models trained once on a two-mode synthetic corpus."""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from fairseq_helpers import run_generate, run_preprocess, run_train
from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

#: Sizes chosen so that no split is a multiple of fairseq's default batch-size multiple (8).
NUM_VALID = NUM_TEST = 101
#: Training flags of every fixture model.
COMMON = ["--max-tokens", "4096", "--lr", "2e-3", "--dropout", "0.0"]
TWO_MODE = SynthConfig(seed=3, num_train=3000, num_valid=NUM_VALID, num_test=NUM_TEST, preset="two_mode",
                       n_det=8, min_phrases=2, max_phrases=4)


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
    write_corpus(TWO_MODE, root / "raw")
    run_preprocess(root / "raw", root / "bin")
    run_train(root / "bin", root / "ar", ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy",
                                          "--max-update", "300", *COMMON])
    # --eval-bleu: validation BLEU runs, and the checkpoint holds fairseq's numpy BLEU meters
    run_train(root / "bin", root / "nat", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                                           "--max-update", "500", "--eval-bleu", *COMMON])
    # KL-weight annealing without the KL budget: on this corpus and budget of updates it captures the a0
    # dependency far better than the per-position budget default (share of the mixed outputs 0.12 against
    # 0.30, NAT-MLE 0.49; validation ELBO −0.180 against −0.266 nats/token, docs/BENCHMARKS.md); the defaults are measured by
    # examples/benchmarks/latent_usage.sh
    run_train(root / "bin", root / "latent", ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo",
                                              "--kl-budget", "0", "--kl-weight-start", "0.1",
                                              "--kl-anneal-updates", "200", "--max-update", "500", *COMMON])
    return TrainedModels(root / "raw", root / "bin", root / "ar" / "checkpoint_last.pt",
                         root / "nat" / "checkpoint_last.pt", root / "latent" / "checkpoint_last.pt")


@pytest.fixture(scope="session")
def two_mode_glat(two_mode: TrainedModels) -> Path:
    """A tiny GLAT model on the two-mode corpus (constant ratio 0.5)."""
    save = two_mode.data.parent / "glat"
    run_train(two_mode.data, save, ["--arch", "nat_study_glat_tiny", "--criterion", "nat_study_glat",
                                    "--glat-ratio-start", "0.5", "--glat-ratio-end", "0.5", "--max-update", "500",
                                    *COMMON])
    return save / "checkpoint_last.pt"


@dataclass
class DistilledModels:
    data: Path
    ar: Path
    nat: Path


@pytest.fixture(scope="session")
def two_mode_distilled(two_mode: TrainedModels) -> DistilledModels:
    """The two-mode corpus distilled by the AR model (beam 4, every split), with AR and NAT-MLE retrained on it."""
    from fairseq_nat_study.distill.extract import parse_hypotheses

    root = two_mode.data.parent / "distilled"
    (root / "raw").mkdir(parents=True)
    for split in ("train", "valid", "test"):
        sources = (two_mode.raw / f"{split}.src").read_text().splitlines()
        out = run_generate(two_mode.data, two_mode.ar, ["--beam", "4"], subset=split, batch_size=256)
        hyps = parse_hypotheses(out.splitlines(), len(sources))
        (root / "raw" / f"{split}.src").write_text("\n".join(sources) + "\n")
        (root / "raw" / f"{split}.tgt").write_text("\n".join(hyps) + "\n")
    run_preprocess(root / "raw", root / "bin", dict_from=two_mode.data)
    run_train(root / "bin", root / "ar", ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy",
                                          "--max-update", "300", *COMMON])
    run_train(root / "bin", root / "nat", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                                           "--max-update", "500", *COMMON])
    return DistilledModels(root / "bin", root / "ar" / "checkpoint_last.pt", root / "nat" / "checkpoint_last.pt")


@pytest.fixture(scope="session")
def two_mode_flow(two_mode: TrainedModels) -> Path:
    """A tiny flow-prior latent model on the two-mode corpus (the ELBO stops training on any NaN/inf)."""
    save = two_mode.data.parent / "flow"
    run_train(two_mode.data, save, ["--arch", "nat_study_fl_tiny", "--criterion", "nat_study_elbo",
                                    "--max-update", "300", *COMMON])
    return save / "checkpoint_last.pt"
