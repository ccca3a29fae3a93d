"""LaNMT's per-position KL budget in ``nat_study_elbo``: hand-computed values, the prior's gradient while the
budget holds, the schedule that follows the run, and clear errors for inconsistent flags."""
from __future__ import annotations

from argparse import Namespace
from types import SimpleNamespace

import pytest
import torch

from fairseq_nat_study.criterions.elbo import ElboCriterion, budget_schedule, budgeted_kl
from fairseq_nat_study.modules.priors.gaussian import GaussianPrior
from fairseq_nat_study.utils.distributions import gaussian_log_prob
from fairseq_nat_study.utils.latent_usage import active_dims, posterior_mean_moments
from fairseq_nat_study.utils.schedules import hold_then_anneal
from fairseq_nat_study.utils.errors import PluginError

TASK = SimpleNamespace(target_dictionary=SimpleNamespace(pad=lambda: 1))


def test_budget_is_per_position_not_per_sentence() -> None:
    """One position holds all the KL (3 nats over 4 positions, b = 1): Σ_t max(KL_t, b) = 3 + 1 + 1 + 1 = 6,
    where a per-sentence budget max(Σ_t KL_t, b·T) would give max(3, 4) = 4."""
    kl = torch.tensor([[3.0, 0.0, 0.0, 0.0, 0.0], [0.5, 2.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    valid = torch.tensor([[True, True, True, True, False], [True, True, True, False, False]])
    used = budgeted_kl(kl, valid, 1.0)
    assert used.tolist() == pytest.approx([6.0, 1.0 + 2.0 + 1.0])
    assert budgeted_kl(kl, valid, 0.0).tolist() == pytest.approx([3.0, 2.5])  # no budget: the plain KL


def _prior_and_posterior():
    args = Namespace(decoder_embed_dim=16, decoder_attention_heads=2, decoder_ffn_embed_dim=32, encoder_embed_dim=16,
                     max_target_positions=64, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                     decoder_normalize_before=False, activation_fn="relu")
    prior = GaussianPrior(args, latent_dim=3, num_layers=1).double()
    torch.nn.init.normal_(prior.out.weight, std=0.1)  # a prior away from N(0, I)
    enc = {"encoder_out": [torch.randn(4, 2, 16, dtype=torch.float64)],
           "encoder_padding_mask": [torch.zeros(2, 4, dtype=torch.bool)]}
    valid = torch.tensor([[True, True, True], [True, True, False]])
    mean_q = (0.01 * torch.randn(2, 3, 3, dtype=torch.float64)).requires_grad_()
    logvar_q = (0.01 * torch.randn(2, 3, 3, dtype=torch.float64)).requires_grad_()
    return prior, enc, valid, mean_q, logvar_q


def test_prior_receives_gradient_while_the_budget_holds() -> None:
    prior, enc, valid, mean_q, logvar_q = _prior_and_posterior()
    kl, fit, _ = prior.kl_positions(mean_q, mean_q, logvar_q, valid, enc, prior_fit=True)
    assert torch.allclose(kl, fit) and bool((kl[valid] < 1.0).all())  # every position under the budget
    used = budgeted_kl(kl, valid, 1.0, fit)
    assert used.tolist() == pytest.approx([3.0, 2.0])  # the value is Σ_t b: the prior-fit term adds no value
    used.sum().backward()
    assert mean_q.grad.abs().max().item() == 0.0 and logvar_q.grad.abs().max().item() == 0.0  # q: no gradient
    prior_grad = sum(p.grad.abs().sum().item() for p in prior.parameters() if p.grad is not None)
    assert prior_grad > 0  # the prior still moves towards q
    # and its gradient is the gradient of the plain KL with respect to the prior
    prior.zero_grad()
    kl_plain, _, _ = prior.kl_positions(mean_q.detach(), mean_q.detach(), logvar_q.detach(), valid, enc)
    kl_plain.sum().backward()
    reference = prior.out.weight.grad.clone()
    prior.zero_grad()
    kl, fit, _ = prior.kl_positions(mean_q, mean_q, logvar_q, valid, enc, prior_fit=True)
    budgeted_kl(kl, valid, 1.0, fit).sum().backward()
    assert torch.allclose(prior.out.weight.grad, reference)


def test_flow_prior_fit_term_reaches_only_the_prior() -> None:
    from fairseq_nat_study.modules.flows.conditioners import MLPConditioner
    from fairseq_nat_study.modules.flows.multiscale import multiscale_flow
    from fairseq_nat_study.modules.priors.flow import FlowPrior

    prior = FlowPrior.__new__(FlowPrior)
    torch.nn.Module.__init__(prior)
    prior.latent_dim = 4
    prior.flow = multiscale_flow(4, lambda i, o: MLPConditioner(i, o), levels=2, steps=2).double()
    for p in prior.flow.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    valid = torch.tensor([[True, True, False]])
    mean_q = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    logvar_q = torch.full((1, 3, 4), -1.0, dtype=torch.float64, requires_grad=True)
    z = mean_q + torch.exp(0.5 * logvar_q) * torch.randn(1, 3, 4, dtype=torch.float64)
    kl, fit, _ = prior.kl_positions(z, mean_q, logvar_q, valid, None, prior_fit=True)
    assert kl[0, 2] == 0 and torch.allclose(kl, fit)
    log_q = gaussian_log_prob(z, mean_q, logvar_q, valid)
    assert kl.sum().item() == pytest.approx((log_q - prior.log_prob(z, valid, None)).item())  # the MC estimate
    (fit * valid).sum().backward()
    assert mean_q.grad is None or mean_q.grad.abs().max() == 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in prior.flow.parameters())


def test_flow_log_prob_positions_sum_to_the_sentence_log_prob() -> None:
    from fairseq_nat_study.modules.flows.conditioners import MLPConditioner
    from fairseq_nat_study.modules.flows.multiscale import multiscale_flow

    flow = multiscale_flow(4, lambda i, o: MLPConditioner(i, o), levels=2, steps=2).double()
    for p in flow.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    z = torch.randn(2, 3, 4, dtype=torch.float64)
    valid = torch.tensor([[True, True, False], [True, True, True]])
    eps, logdet = flow(z, valid)
    eps_p, logdet_p = flow.forward_positions(z, valid)
    assert torch.equal(eps, eps_p) and logdet_p.shape == (2, 3) and logdet_p[0, 2] == 0
    assert torch.allclose(logdet_p.sum(1), logdet)
    z_back, inv_p = flow.inverse_positions(eps, valid)
    assert torch.allclose(z_back, z.masked_fill(~valid.unsqueeze(-1), 0), atol=1e-10)
    assert torch.allclose(inv_p, -logdet_p)


def test_schedule_holds_then_anneals_and_follows_the_run() -> None:
    assert budget_schedule(1.0, None, None, 1000) == (500, 500)
    assert budget_schedule(1.0, 100, None, 1000) == (100, 900)
    assert budget_schedule(0.0, None, None, 0) == (0, 0)
    values = [hold_then_anneal(u, 1.0, 500, 500) for u in (0, 499, 500, 750, 1000, 2000)]
    assert values == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.0, 0.0])
    crit = ElboCriterion(TASK, max_update=1000).adopt_prior("gaussian")  # defaults: b = 1 nat, hold 500, anneal 500
    crit.set_num_updates(750)
    assert crit.budget() == pytest.approx(0.5)
    crit = ElboCriterion(TASK, run_updates=2000, max_update=1000).adopt_prior("gaussian")  # a segment of 2000
    crit.set_num_updates(1500)
    assert crit.budget() == pytest.approx(0.5)


def test_schedules_shorter_than_the_run_end_early_and_the_run_goes_on_with_the_elbo() -> None:
    """--run-updates below --max-update (a run stopped on validation after its schedules): the budget holds for
    the first half of the schedule, falls to 0 by its end, and stays 0 for the rest of the run."""
    crit = ElboCriterion(TASK, run_updates=600, max_update=1500).adopt_prior("gaussian")
    assert (crit.budget_hold, crit.budget_anneal) == (300, 300)
    for update, budget in ((100, 1.0), (450, 0.5), (600, 0.0), (1400, 0.0)):
        crit.set_num_updates(update)
        assert crit.budget() == pytest.approx(budget)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kl_weight_start=0.1, max_update=100), "needs --kl-anneal-updates"),
    (dict(kl_budget_hold_updates=80, kl_budget_anneal_updates=40, max_update=100), "longer than the run"),
    (dict(max_update=0), "has no --max-update"),
    (dict(kl_budget=-1.0, max_update=100), "--kl-budget must be >= 0"),
    (dict(kl_weight_start=0.1, kl_anneal_updates=200, max_update=100), "--kl-anneal-updates 200 is longer"),
])
def test_inconsistent_flags_are_errors(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ElboCriterion(TASK, **kwargs).adopt_prior("gaussian")


def test_the_default_objective_follows_the_prior() -> None:
    """Gaussian: budget b = 1 over halves of the run, β = 1; flow: no budget, β 0.1 -> 1 over a third of the run;
    a flag the user gives overrides the prior's value, the others keep it."""
    gauss = ElboCriterion(TASK, max_update=3000).adopt_model(SimpleNamespace(args=Namespace(prior="gaussian")))
    assert (gauss.kl_budget, gauss.budget_hold, gauss.budget_anneal) == (1.0, 1500, 1500)
    assert (gauss.kl_weight_start, gauss.kl_anneal_updates) == (1.0, 0)
    flow = ElboCriterion(TASK, max_update=3000).adopt_model(SimpleNamespace(args=Namespace(prior="flow")))
    assert (flow.kl_budget, flow.kl_weight_start, flow.kl_anneal_updates) == (0.0, 0.1, 1000)
    weights = []
    for update in (0, 500, 1000, 2000):
        flow.set_num_updates(update)
        weights.append(flow.kl_weight())
        assert flow.budget() == 0.0
    assert weights == pytest.approx([0.1, 0.55, 1.0, 1.0])
    both = ElboCriterion(TASK, kl_budget=1.0, max_update=3000).adopt_prior("flow")  # explicit budget + flow's β
    assert (both.kl_budget, both.budget_hold, both.kl_weight_start, both.kl_anneal_updates) == (1.0, 1500, 0.1, 1000)
    plain = ElboCriterion(TASK, kl_weight_start=1.0, max_update=3000).adopt_prior("flow")
    plain.set_num_updates(0)
    assert plain.kl_weight() == 1.0 and plain.budget() == 0.0
    with pytest.raises(ValueError, match="flow prior's KL-weight annealing follows the run"):
        ElboCriterion(TASK).adopt_prior("flow")
    with pytest.raises(PluginError, match="needs a latent model"):
        ElboCriterion(TASK, max_update=10).adopt_model(SimpleNamespace(args=Namespace()))


def test_active_dims_count_dims_whose_posterior_mean_varies() -> None:
    gen = torch.Generator().manual_seed(0)
    mean = torch.zeros(50, 4, 5, dtype=torch.float64)
    mean[..., 0] = torch.randn(50, 4, generator=gen, dtype=torch.float64)  # variance ≈ 1
    mean[..., 1] = 0.3 * torch.randn(50, 4, generator=gen, dtype=torch.float64)  # ≈ 0.09
    mean[..., 2] = 0.05 * torch.randn(50, 4, generator=gen, dtype=torch.float64)  # ≈ 0.0025: inactive
    mean[..., 3] = 7.0  # constant: inactive
    valid = torch.ones(50, 4, dtype=torch.bool)
    halves = [posterior_mean_moments(mean[:25], valid[:25]), posterior_mean_moments(mean[25:], valid[25:])]
    summed = {k: halves[0][k] + halves[1][k] for k in halves[0]}  # moments add up across batches
    assert active_dims(summed) == 2 == active_dims(posterior_mean_moments(mean, valid))


def test_a_collapsed_posterior_has_no_active_dims_in_the_priors_coordinates() -> None:
    """q = p(z|x) at every position: the posterior mean varies with x (it is the prior's mean), but read in the
    prior's standard coordinates it is 0: no active dims. A q that moves away from p by a data-dependent
    amount in one dim gives exactly that dim."""
    prior, enc, valid, _, _ = _prior_and_posterior()
    with torch.no_grad():
        mean_p, logvar_p = prior.params(valid, enc)
    collapsed = prior.standardize(mean_p, valid, enc)
    assert collapsed.abs().max().item() < 1e-12
    assert active_dims(posterior_mean_moments(mean_p * 50, valid)) == 3  # raw means would count every dim
    moved = mean_p.clone()
    moved[..., 1] += torch.exp(0.5 * logvar_p[..., 1]) * torch.randn(2, 3, dtype=torch.float64)
    assert active_dims(posterior_mean_moments(prior.standardize(moved, valid, enc), valid)) == 1
