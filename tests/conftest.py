"""Shared fixtures: seeding, and tiny AR / NAT-MLE / latent models trained once on a two-mode synthetic corpus.

The suite runs in worker processes (pytest-xdist, ``make test``): every trained model is built once per test
session, by the first worker that asks for it, in a folder all workers share (:func:`shared`); a worker that
needs a model another is training waits for it, and trains a missing one meanwhile. Each worker runs torch on
one thread, so that N workers use N cores and none waits on another's spinning threads.
"""
from __future__ import annotations

import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from filelock import FileLock, Timeout

from fairseq_helpers import run_generate, run_preprocess, run_train
from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

#: Sizes chosen so that no split is a multiple of fairseq's default batch-size multiple (8).
NUM_VALID = NUM_TEST = 101
#: Training flags of every fixture model.
COMMON = ["--max-tokens", "4096", "--lr", "2e-3", "--dropout", "0.0"]
TWO_MODE = SynthConfig(seed=3, num_train=3000, num_valid=NUM_VALID, num_test=NUM_TEST, preset="two_mode",
                       n_det=8, min_phrases=2, max_phrases=4)

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one core per worker: its fairseq subprocesses read the environment, torch in this process the call
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    """The session's temporary folder common to every worker (each worker's own is a folder inside it)."""
    base = factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"


#: the trained-model fixtures the session's tests use (:func:`pytest_collection_finish`), and builds of folders
#: those fixtures will ask for, which a worker waiting on another's build does meanwhile (:func:`shared`)
NEEDED: set[str] = set()
AHEAD: dict[str, Callable[[Path], None]] = {}


def _build_once(folder: Path, build: Callable[[Path], None], wait: bool) -> bool:
    """Builds ``folder`` unless it is built; False when another worker holds it and ``wait`` is False."""
    try:
        with FileLock(str(folder) + ".lock", timeout=-1 if wait else 0):
            if not (folder / ".done").exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                build(folder)
                (folder / ".done").touch()
    except Timeout:
        return False
    return True


def shared(factory: pytest.TempPathFactory, builds: dict[str, Callable[[Path], None]]) -> dict[str, Path]:
    """The folders ``name`` of ``builds``, each built once per session by ``build(folder)``.

    Under a lock per folder: a folder another worker is building is skipped for one that is free; once none is, a
    folder of :data:`AHEAD` that no worker has built is built meanwhile, and the others are waited for. A build
    that failed (no ``.done``) is redone from scratch by the next worker that asks.
    """
    root = _shared_root(factory)
    root.mkdir(parents=True, exist_ok=True)
    folders = {name: root / name for name in builds}
    pending = dict(builds)
    while pending:
        for name, build in list(pending.items()):
            if _build_once(folders[name], build, wait=False):
                del pending[name]
        if not pending:
            break
        ahead = next((n for n, b in list(AHEAD.items()) if n not in pending and not (root / n / ".done").exists()
                      and _build_once(root / n, b, wait=False)), None)
        if ahead is not None:
            AHEAD.pop(ahead, None)
        elif len(pending) == 1:  # nothing else to do: wait for the other worker's build
            name, build = next(iter(pending.items()))
            _build_once(folders[name], build, wait=True)
            del pending[name]
        else:
            time.sleep(0.5)
    return folders


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files that need trained models first (a stable sort: the order within each group is kept)."""
    needs = {item.path for item in items if TRAINED & set(getattr(item, "fixturenames", ()))}
    items.sort(key=lambda item: item.path not in needs)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Records the trained-model fixtures the selected tests name (:data:`NEEDED`)."""
    for item in session.items:
        NEEDED.update(TRAINED & set(getattr(item, "fixturenames", ())))


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


def _train(data: Path, args: list[str]) -> Callable[[Path], None]:
    return lambda save: run_train(data, save, [*args, *COMMON])


@pytest.fixture(scope="session")
def two_mode_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-mode corpus: ``raw/`` (text and ``stats.json``) and ``bin/`` (fairseq's binarised splits)."""
    def build(root: Path) -> None:
        write_corpus(TWO_MODE, root / "raw")
        run_preprocess(root / "raw", root / "bin")

    root = shared(tmp_path_factory, {"two_mode": build})["two_mode"]
    for fixture, folder in LATER.items():  # GLAT and flow models the session will ask for, built while waiting
        if fixture in NEEDED:
            AHEAD[folder] = _later_build(root, folder)
    return root


@pytest.fixture(scope="session")
def two_mode(two_mode_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedModels:
    """Two-mode corpus (every sentence has one ``a0`` -> "no problem" | "of course" at 50/50), with a tiny
    AR, a tiny NAT-MLE and a tiny Gaussian latent model trained on it."""
    data = two_mode_data / "bin"
    runs = shared(tmp_path_factory, {  # the longest first: two workers train latent | AR then NAT-MLE
        # KL-weight annealing without the KL budget: on this corpus and budget of updates it captures the a0
        # dependency far better than the per-position budget default (share of the mixed outputs 0.12 against
        # 0.30, NAT-MLE 0.49; validation ELBO −0.180 against −0.266 nats/token, docs/BENCHMARKS.md); the defaults
        # are measured by examples/benchmarks/latent_usage.sh
        "latent": _train(data, ["--arch", "nat_study_ga_tiny", "--criterion", "nat_study_elbo", "--kl-budget", "0",
                                "--kl-weight-start", "0.1", "--kl-anneal-updates", "200", "--max-update", "500"]),
        "ar": _train(data, ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy", "--max-update", "300"]),
        # --eval-bleu: validation BLEU runs, and the checkpoint holds fairseq's numpy BLEU meters
        "nat": _train(data, ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle", "--max-update", "500",
                             "--eval-bleu"]),
    })
    return TrainedModels(two_mode_data / "raw", data, runs["ar"] / "checkpoint_last.pt",
                         runs["nat"] / "checkpoint_last.pt", runs["latent"] / "checkpoint_last.pt")


#: the GLAT and flow fixtures' builds, by folder: flags and updates. ``brief`` for tests that need a checkpoint of
#: the family (loading, decoding, refusals), ``fitted`` for tests of what a fitted model does (the slow suite;
#: 1-thread training time on 2 CPU cores: GLAT about 0.5 s per update, flow 0.6 s)
GLAT = ["--arch", "nat_study_glat_tiny", "--criterion", "nat_study_glat", "--glat-ratio-start", "0.5",
        "--glat-ratio-end", "0.5"]
FLOW = ["--arch", "nat_study_fl_tiny", "--criterion", "nat_study_elbo"]
LATER_BUILDS = {"glat_brief": (GLAT, 100), "glat_fitted": (GLAT, 500), "flow_brief": (FLOW, 100),
                "flow_fitted": (FLOW, 300)}
#: fixture → its folder of :data:`LATER_BUILDS`
LATER = {"two_mode_glat": "glat_brief", "two_mode_glat_fitted": "glat_fitted", "two_mode_flow": "flow_brief",
         "two_mode_flow_fitted": "flow_fitted"}
#: the fixtures that train models: test files that use them run first, so that the workers train side by side
TRAINED = {"two_mode", "two_mode_distilled", *LATER}


def _later_build(two_mode_data: Path, folder: str) -> Callable[[Path], None]:
    flags, updates = LATER_BUILDS[folder]
    return _train(two_mode_data / "bin", [*flags, "--max-update", str(updates)])


def _later(two_mode_data: Path, factory: pytest.TempPathFactory, fixture: str) -> Path:
    folder = LATER[fixture]
    return shared(factory, {folder: _later_build(two_mode_data, folder)})[folder] / "checkpoint_last.pt"


@pytest.fixture(scope="session")
def two_mode_glat(two_mode_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GLAT model on the two-mode corpus (constant ratio 0.5), briefly trained: a checkpoint of the family."""
    return _later(two_mode_data, tmp_path_factory, "two_mode_glat")


@pytest.fixture(scope="session")
def two_mode_glat_fitted(two_mode_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GLAT model of :func:`two_mode_glat` trained to a fit (for what a fitted GLAT does)."""
    return _later(two_mode_data, tmp_path_factory, "two_mode_glat_fitted")


@pytest.fixture(scope="session")
def two_mode_flow(two_mode_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny flow-prior latent model on the two-mode corpus (the ELBO stops training on any NaN/inf), briefly
    trained: a checkpoint of the family."""
    return _later(two_mode_data, tmp_path_factory, "two_mode_flow")


@pytest.fixture(scope="session")
def two_mode_flow_fitted(two_mode_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flow model of :func:`two_mode_flow` trained to a fit (for what a fitted flow model does)."""
    return _later(two_mode_data, tmp_path_factory, "two_mode_flow_fitted")


@dataclass
class DistilledModels:
    data: Path
    ar: Path
    nat: Path


@pytest.fixture(scope="session")
def two_mode_distilled(two_mode: TrainedModels, tmp_path_factory: pytest.TempPathFactory) -> DistilledModels:
    """The two-mode corpus distilled by the AR model (beam 4, every split), with AR and NAT-MLE retrained on it."""
    from fairseq_nat_study.distill.extract import parse_hypotheses

    def build(root: Path) -> None:
        (root / "raw").mkdir(parents=True)
        for split in ("train", "valid", "test"):
            sources = (two_mode.raw / f"{split}.src").read_text().splitlines()
            out = run_generate(two_mode.data, two_mode.ar, ["--beam", "4"], subset=split, batch_size=256)
            hyps = parse_hypotheses(out.splitlines(), len(sources))
            (root / "raw" / f"{split}.src").write_text("\n".join(sources) + "\n")
            (root / "raw" / f"{split}.tgt").write_text("\n".join(hyps) + "\n")
        run_preprocess(root / "raw", root / "bin", dict_from=two_mode.data)
        _train(root / "bin", ["--arch", "nat_study_tr_tiny", "--criterion", "cross_entropy",
                              "--max-update", "300"])(root / "ar")
        _train(root / "bin", ["--arch", "nat_study_nat_tiny", "--criterion", "nat_study_mle",
                              "--max-update", "500"])(root / "nat")

    root = shared(tmp_path_factory, {"distilled": build})["distilled"]
    return DistilledModels(root / "bin", root / "ar" / "checkpoint_last.pt", root / "nat" / "checkpoint_last.pt")


