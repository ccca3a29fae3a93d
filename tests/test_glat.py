"""GLAT: the glancing count formula, the ratio schedule, ratio 0 = MLE, the update-count hook, decoding."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import NUM_TEST
from fairseq_helpers import run_generate
from fairseq_nat_study.analysis.loglik import iterate_batches
from fairseq_nat_study.analysis.loading import load_model_and_task, load_split
from fairseq_nat_study.criterions.glat import GlatCriterion, glat_ratio
from fairseq_nat_study.criterions.mle import NatMleCriterion
from fairseq_nat_study.distill.extract import parse_hypotheses
from fairseq_nat_study.modules.glancing import glancing_mask


@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.5, 1.0])
def test_revealed_count_follows_the_formula(ratio: float) -> None:
    gen = torch.Generator().manual_seed(1)
    target = torch.randint(4, 9, (6, 7), generator=gen)
    predicted = torch.randint(4, 9, (6, 7), generator=gen)
    words = torch.ones(6, 7, dtype=torch.bool)
    words[:, 5:] = False  # EOS and padding
    words[0, 3:] = False
    mask = glancing_mask(predicted, target, words, ratio, generator=gen)
    hamming = ((predicted != target) & words).sum(1)
    assert mask.sum(1).tolist() == [math.floor(ratio * h) for h in hamming.tolist()]
    assert not (mask & ~words).any()


def test_bad_ratio_is_an_error() -> None:
    with pytest.raises(ValueError, match="glancing ratio"):
        glancing_mask(torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2, dtype=torch.bool), 1.5)


def test_ratio_schedule() -> None:
    assert glat_ratio(0, 0.5, 0.3, 1000) == pytest.approx(0.5)
    assert glat_ratio(500, 0.5, 0.3, 1000) == pytest.approx(0.4)
    assert glat_ratio(5000, 0.5, 0.3, 1000) == pytest.approx(0.3)


@pytest.fixture(scope="module")
def nat_batch(two_mode):
    model, task = load_model_and_task(str(two_mode.nat), str(two_mode.data))
    sample = next(iter(iterate_batches(task, load_split(task, str(two_mode.data), "valid"), max_tokens=600)))
    sample["prev_target"] = task.inject_noise(sample["target"])
    return model, task, sample


def test_ratio_zero_is_exactly_mle(nat_batch) -> None:
    model, task, sample = nat_batch
    model.train()  # the fixture model has dropout 0, so training mode is deterministic
    try:
        mle = NatMleCriterion(task)(model, sample)
        glat = GlatCriterion(task, glat_ratio_start=0.0, glat_ratio_end=0.0, max_update=10)(model, sample)
    finally:
        model.eval()
    assert glat[0].item() == pytest.approx(mle[0].item(), rel=1e-6)
    assert glat[1] == mle[1] and glat[2]["revealed"] == 0


def test_glancing_in_training_only_and_revealed_positions_leave_the_loss(nat_batch) -> None:
    model, task, sample = nat_batch
    crit = GlatCriterion(task, glat_ratio_start=1.0, glat_ratio_end=1.0, max_update=10)
    evaluation = crit(model, sample)  # eval mode: no glancing
    assert evaluation[2]["revealed"] == 0
    model.train()
    try:
        loss, size, log = crit(model, sample)
        with torch.no_grad():
            predicted = model(sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"],
                              sample["prev_target"], sample["target"])["word_ins"]["out"].argmax(-1)
    finally:
        model.eval()
    target = sample["target"]
    words = target.ne(model.pad) & target.ne(model.eos)
    hamming = int(((predicted != target) & words).sum())
    assert log["revealed"] == hamming  # ratio 1: N = Hamming
    assert size == int(words.sum()) - hamming + target.size(0)


def test_task_hands_the_update_count_to_the_criterion(nat_batch) -> None:
    model, task, sample = nat_batch

    class _Optimizer:
        def backward(self, loss):
            loss.backward()

    crit = GlatCriterion(task, max_update=1000)  # the ratio's schedule follows the run: 0.5 -> 0.3 over 1000
    task.train_step(dict(sample), model, crit, _Optimizer(), update_num=250)
    model.zero_grad()
    model.eval()
    assert crit.num_updates == 250
    assert crit.ratio() == pytest.approx(0.45)
    assert GlatCriterion(task, run_updates=4000, max_update=1000).anneal_updates == 4000  # a segment of a run
    assert GlatCriterion(task, glat_anneal_updates=300, max_update=1000).anneal_updates == 300
    with pytest.raises(ValueError, match="no --max-update"):
        GlatCriterion(task)


def test_glat_decodes_through_fairseq_generate(two_mode, two_mode_glat) -> None:
    out = run_generate(two_mode.data, two_mode_glat, ["--iter-decode-max-iter", "0"])
    assert len(parse_hypotheses(out.splitlines(), NUM_TEST)) == NUM_TEST
