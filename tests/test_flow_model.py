"""The flow-prior latent NAT end to end: trains through fairseq-train, decodes deterministically through
fairseq-generate, IWAE >= ELBO, and ActNorm's data-dependent initialisation survives save/load."""
from __future__ import annotations

import pytest
import torch

from conftest import NUM_TEST
from fairseq_helpers import run_generate
from fairseq_nat_study.analysis.loglik import evaluate_dataset
from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
from fairseq_nat_study.distill.extract import parse_hypotheses
from fairseq_nat_study.modules.flows.actnorm import ActNorm
from fairseq_nat_study.modules.priors.flow import FlowPrior


def test_flow_model_loads_with_its_actnorm_initialised(two_mode, two_mode_flow) -> None:
    model, _ = load_model_and_task(str(two_mode_flow), str(two_mode.data))
    assert isinstance(model.prior, FlowPrior)
    actnorms = [m for m in model.modules() if isinstance(m, ActNorm)]
    assert len(actnorms) == 6  # 3 levels × 2 steps
    assert all(bool(m.initialized) for m in actnorms)
    state = torch.load(two_mode_flow, map_location="cpu", weights_only=True)["model"]
    assert any(k.endswith("initialized") for k in state)


def test_flow_model_decodes_deterministically_through_fairseq_generate(two_mode, two_mode_flow) -> None:
    flags = ["--iter-decode-max-iter", "2"]
    first = parse_hypotheses(run_generate(two_mode.data, two_mode_flow, flags).splitlines(), NUM_TEST)
    second = parse_hypotheses(run_generate(two_mode.data, two_mode_flow, flags).splitlines(), NUM_TEST)
    assert first == second and len(first) == NUM_TEST


def test_flow_iwae_is_at_least_the_elbo(two_mode, two_mode_flow) -> None:
    model, task = load_model_and_task(str(two_mode_flow), str(two_mode.data))
    result = evaluate_dataset(model, task, load_split(task, str(two_mode.data), "valid"), iw_samples=10)
    assert result.estimator == "iwae-10"
    assert all(ll >= elbo - 1e-9 for ll, elbo in zip(result.ll, result.extra["elbo"]))
    assert all(torch.isfinite(torch.tensor(result.ll)))


def test_training_reads_the_flows_active_dims_on_one_batch_in_ten(two_mode, two_mode_flow) -> None:
    """The flow pass that puts the posterior mean in the prior's coordinates serves only the active-dims
    statistic: in training it runs on batches 1, 11, 21, ... (the loss is the same either way); in evaluation
    on every batch; the moments of the batches that have them give the active dims."""
    from fairseq import checkpoint_utils

    from fairseq_nat_study.criterions.elbo import ACTIVE_DIMS_EVERY
    from fairseq_nat_study.utils.latent_usage import active_dims

    model, task = load_model_and_task(str(two_mode_flow), str(two_mode.data))
    criterion = task.build_criterion(checkpoint_utils.load_checkpoint_to_cpu(str(two_mode_flow))["cfg"].criterion)
    dataset = load_split(task, str(two_mode.data), "valid")
    sample = dataset.collater([dataset[i] for i in range(32)])
    sample["prev_target"] = sample["target"]
    model.train()
    logs, losses = [], []
    for _ in range(2 * ACTIVE_DIMS_EVERY + 1):
        torch.manual_seed(0)  # the same z every call: the loss must not depend on the extra pass
        loss, _, log = criterion(model, sample)
        logs.append(log)
        losses.append(loss.item())
    read = [i for i, log in enumerate(logs) if "_zm_n" in log]
    assert read == [0, ACTIVE_DIMS_EVERY, 2 * ACTIVE_DIMS_EVERY]
    assert max(losses) - min(losses) < 1e-6 * abs(losses[0])
    summed = {k: sum(log.get(k, 0.0) for log in logs) for k in logs[0] if k.startswith("_zm")}
    assert summed["_zm_n"] == 3 * int(sample["target"].ne(task.target_dictionary.pad()).sum())
    assert 0 <= active_dims(summed) <= 8
    model.eval()
    with torch.no_grad():
        assert all("_zm_n" in criterion(model, sample)[2] for _ in range(3))


@pytest.mark.slow
def test_flow_tiny_trains_500_updates_without_non_finite_values(tmp_path) -> None:
    """Stability on the default synthetic corpus; nat_study_elbo raises on the first non-finite term."""
    from conftest import COMMON
    from fairseq_helpers import run_preprocess, run_train
    from fairseq_nat_study.data.synthetic import SynthConfig, write_corpus

    write_corpus(SynthConfig(seed=5, num_train=5000, num_valid=200, num_test=200), tmp_path / "raw")
    run_preprocess(tmp_path / "raw", tmp_path / "bin")
    run_train(tmp_path / "bin", tmp_path / "fl", ["--arch", "nat_study_fl_tiny", "--criterion", "nat_study_elbo",
                                                 "--max-update", "500", "--kl-weight-start", "0.1",
                                                 "--kl-anneal-updates", "200", *COMMON])
    model, task = load_model_and_task(str(tmp_path / "fl" / "checkpoint_last.pt"), str(tmp_path / "bin"))
    assert all(torch.isfinite(p).all() for p in model.parameters())
