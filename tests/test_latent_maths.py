"""Gaussian maths, schedules and the ELBO criterion against closed forms and torch.distributions."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from fairseq_nat_study.criterions.elbo import ElboCriterion, check_finite
from fairseq_nat_study.utils.distributions import (
    gaussian_kl_per_position, gaussian_log_prob, reparameterize, standard_normal_log_prob,
)
from fairseq_nat_study.utils.schedules import linear_anneal


def _rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def test_gaussian_log_prob_matches_torch() -> None:
    z, mean, logvar = _rand(2, 3, 4), _rand(2, 3, 4), _rand(2, 3, 4)
    valid = torch.tensor([[True, True, False], [True, True, True]])
    ref = Normal(mean, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_log_prob(z, mean, logvar, valid), (ref * valid).sum(-1))
    std = Normal(torch.zeros_like(z), torch.ones_like(z)).log_prob(z).sum(-1)
    assert torch.allclose(standard_normal_log_prob(z, valid), (std * valid).sum(-1))


def test_gaussian_kl_matches_torch() -> None:
    mq, lq, mp, lp = (_rand(2, 3, 4) for _ in range(4))
    valid = torch.tensor([[True, False, False], [True, True, True]])
    ref = kl_divergence(Normal(mq, torch.exp(0.5 * lq)), Normal(mp, torch.exp(0.5 * lp))).sum(-1) * valid
    assert torch.allclose(gaussian_kl_per_position(mq, lq, mp, lp, valid), ref)
    assert torch.all(gaussian_kl_per_position(mq, lq, mq, lq, valid).abs() < 1e-12)


def test_reparameterize_moments() -> None:
    gen = torch.Generator().manual_seed(0)
    mean, logvar = torch.full((20000, 1, 1), 1.5), torch.full((20000, 1, 1), math.log(4.0))
    z = reparameterize(mean, logvar, temperature=0.5, generator=gen)
    assert z.mean().item() == pytest.approx(1.5, abs=0.03)
    assert z.std().item() == pytest.approx(1.0, abs=0.03)  # 0.5 · sqrt(4)


def test_linear_anneal() -> None:
    assert linear_anneal(0, 0.1, 1.0, 100) == pytest.approx(0.1)
    assert linear_anneal(50, 0.1, 1.0, 100) == pytest.approx(0.55)
    assert linear_anneal(500, 0.1, 1.0, 100) == 1.0
    assert linear_anneal(5, 2.0, 0.0, 0) == 0.0
    assert linear_anneal(5, 2.0, 0.0, 10, delay=10) == 2.0


class _Fixed:
    training = True

    def __init__(self, terms):
        self.terms = terms

    def __call__(self, *args, **kwargs):
        return self.terms


def _elbo_case(kl_value: float):
    logits = torch.log(torch.tensor([[[0.25, 0.75], [0.5, 0.5]]]))  # T=2: one token + EOS position
    target = torch.tensor([[1, 1]])
    return {
        "word_ins": {"out": logits, "tgt": target, "mask": torch.tensor([[True, False]])},
        "length": {"out": torch.log(torch.tensor([[0.5, 0.5]])), "tgt": torch.tensor([0]), "factor": 1.0},
        "kl": {"kl": torch.tensor([kl_value]), "kl_positions": torch.tensor([[kl_value, 0.0]]),
               "valid": torch.tensor([[True, True]]), "num_positions": torch.tensor([2]),
               "standard_mean": torch.zeros(1, 2, 3)},
    }, {"net_input": {"src_tokens": None, "src_lengths": None}, "prev_target": None, "target": target}


def _crit(**kw) -> ElboCriterion:
    kw.setdefault("kl_budget", 0.0)
    return ElboCriterion(SimpleNamespace(target_dictionary=SimpleNamespace(pad=lambda: 1)), **kw).adopt_prior("gaussian")


def test_elbo_loss_is_reconstruction_plus_weighted_kl_plus_length() -> None:
    terms, sample = _elbo_case(0.3)
    crit = _crit(kl_weight_start=0.2, kl_anneal_updates=100)
    crit.set_num_updates(50)  # β = 0.6
    loss, size, log = crit(_Fixed(terms), sample)
    assert loss.item() == pytest.approx(-math.log(0.75) + 0.6 * 0.3 + math.log(2), rel=1e-6)
    assert size == 2 and log["kl"].item() == pytest.approx(0.3)


def test_kl_budget_per_position_and_its_annealing() -> None:
    terms, sample = _elbo_case(0.3)  # KL 0.3 at the first position, 0 at the second (EOS) position
    crit = _crit(kl_budget=0.5, kl_budget_hold_updates=10, kl_budget_anneal_updates=100)
    loss, _, log = crit(_Fixed(terms), sample)
    assert log["kl_used"].item() == pytest.approx(1.0)  # max(0.3, 0.5) + max(0, 0.5)
    crit.set_num_updates(60)  # budget 0.5 · (1 − 50/100) = 0.25
    loss, _, log = crit(_Fixed(terms), sample)
    assert log["kl_used"].item() == pytest.approx(0.3 + 0.25) and log["kl_budget"] == pytest.approx(0.25)
    crit.set_num_updates(110)  # budget annealed to 0
    loss, _, log = crit(_Fixed(terms), sample)
    assert log["kl_used"].item() == pytest.approx(0.3)


def test_non_finite_term_is_named() -> None:
    terms, sample = _elbo_case(float("nan"))
    with pytest.raises(FloatingPointError, match="the kl term is not finite"):
        _crit()(_Fixed(terms), sample)
    with pytest.raises(FloatingPointError, match="reconstruction"):
        check_finite("c", reconstruction=torch.tensor([float("inf")]))
