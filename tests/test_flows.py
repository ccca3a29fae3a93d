"""Flows and the flow prior against brute force: round trips, Jacobian log-dets, masking, densities (after nflows'
``tests/transforms``). float64, B=2, T≤5, D≤8."""
from __future__ import annotations

import argparse
import math
from typing import Callable

import pytest
import torch
from torch.autograd.functional import jacobian

from fairseq.models.transformer import base_architecture

from fairseq_nat_study.modules.flows.actnorm import ActNorm
from fairseq_nat_study.modules.flows.base import Context, Flow, InverseFlow, SequentialFlow
from fairseq_nat_study.modules.flows.build import build_flow
from fairseq_nat_study.modules.flows.conditioners import MLPConditioner, TransformerConditioner
from fairseq_nat_study.modules.flows.coupling import AffineCoupling
from fairseq_nat_study.modules.flows.linear import InvertibleMultiHeadLinear
from fairseq_nat_study.modules.flows.multiscale import FactorOut, level_dims, level_heads, multiscale_flow
from fairseq_nat_study.modules.priors.flow import FlowPrior
from fairseq_nat_study.utils.distributions import standard_normal_log_prob

D = 8
VALID = torch.tensor([[True, True, True, False, False], [True, True, True, True, True]])


def tiny_args(**overrides: object) -> argparse.Namespace:
    """fairseq Transformer args shrunk to d=16 (source states of size 12), 2 heads, FFN 32, no dropout."""
    args = argparse.Namespace()
    base_architecture(args)
    sizes = dict(decoder_embed_dim=16, encoder_embed_dim=12, decoder_attention_heads=2, decoder_ffn_embed_dim=32,
                 dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, max_target_positions=64)
    for name, value in {**sizes, **overrides}.items():
        setattr(args, name, value)
    return args


def fake_encoder_out(batch: int = 2, src_len: int = 4, dim: int = 12) -> dict[str, list[torch.Tensor]]:
    """fairseq's encoder output dict: states [S, B, C] and a padding mask [B, S] (sentence 0 has one pad)."""
    pad = torch.zeros(batch, src_len, dtype=torch.bool)
    pad[0, -1] = True
    return {"encoder_out": [torch.randn(src_len, batch, dim, dtype=torch.float64)], "encoder_padding_mask": [pad]}


def randomize(flow: torch.nn.Module, scale: float = 0.3) -> torch.nn.Module:
    """Moves every parameter off its (often identity) initialisation, in float64 and eval mode."""
    flow.double().eval()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn_like(p))
    return flow


def latent(dim: int = D, valid: torch.Tensor = VALID) -> torch.Tensor:
    """Random z [B, T, dim] that is zero at the padded positions."""
    return torch.randn(*valid.shape, dim, dtype=torch.float64) * valid.unsqueeze(-1)


def mlp(in_dim: int, out_dim: int) -> MLPConditioner:
    return MLPConditioner(in_dim, out_dim, hidden=8)


def transformer(in_dim: int, out_dim: int) -> TransformerConditioner:
    return TransformerConditioner(tiny_args(), in_dim, out_dim, num_layers=1)


def coupling(make: Callable[[int, int], torch.nn.Module], transform_first: bool, dim: int = D) -> AffineCoupling:
    id_dim, tr_dim = AffineCoupling.split_sizes(dim, transform_first)
    return AffineCoupling(dim, make(id_dim, 2 * tr_dim), transform_first)


#: name -> (flow builder, whether it needs the source)
CASES: dict[str, tuple[Callable[[], Flow], bool]] = {
    "actnorm": (lambda: ActNorm(D), False),
    "linear_1_head": (lambda: InvertibleMultiHeadLinear(D, heads=1), False),
    "linear_2_heads": (lambda: InvertibleMultiHeadLinear(D, heads=2), False),
    "coupling_mlp": (lambda: coupling(mlp, False), False),
    "coupling_mlp_first": (lambda: coupling(mlp, True), False),
    "coupling_transformer": (lambda: coupling(transformer, True), True),
    "factor_out": (lambda: FactorOut(4, InvertibleMultiHeadLinear(4)), False),
    "inverse": (lambda: InverseFlow(coupling(mlp, False)), False),
    "multiscale_mlp": (lambda: multiscale_flow(D, mlp), False),
    "multiscale_transformer": (lambda: multiscale_flow(D, transformer), True),
}


def build_case(name: str) -> tuple[Flow, Context]:
    make, needs_source = CASES[name]
    return randomize(make()), fake_encoder_out() if needs_source else None


def brute_force_logdet(flow: Flow, z: torch.Tensor, valid: torch.Tensor, ctx: Context, b: int) -> torch.Tensor:
    """log|det| of the Jacobian of sentence b's valid outputs w.r.t. its valid inputs (flattened)."""
    n = int(valid[b].sum())

    def f(x: torch.Tensor) -> torch.Tensor:
        zz = z.clone()
        zz[b, :n] = x.view(n, -1)
        return flow(zz, valid, ctx)[0][b, :n].reshape(-1)

    return torch.linalg.slogdet(jacobian(f, z[b, :n].reshape(-1)))[1]


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip(name: str) -> None:
    torch.manual_seed(0)
    flow, ctx = build_case(name)
    z = latent()
    eps, logdet = flow(z, VALID, ctx)
    z_back, logdet_inv = flow.inverse(eps, VALID, ctx)
    assert torch.allclose(z_back, z, atol=1e-10, rtol=0)
    assert torch.allclose(logdet_inv, -logdet, atol=1e-10, rtol=0)
    assert not torch.allclose(eps, z)  # the flow is not the identity
    eps = latent()
    z, _ = flow.inverse(eps, VALID, ctx)
    assert torch.allclose(flow(z, VALID, ctx)[0], eps, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["actnorm", "linear_1_head", "linear_2_heads", "coupling_mlp", "coupling_mlp_first",
                                  "coupling_transformer", "factor_out", "multiscale_mlp", "multiscale_transformer"])
def test_logdet_matches_brute_force_jacobian(name: str) -> None:
    torch.manual_seed(0)
    flow, ctx = build_case(name)
    z = latent()
    _, logdet = flow(z, VALID, ctx)
    assert logdet.shape == (2,)
    # fairseq's attention softmax runs in float32, so Jacobian entries through a Transformer conditioner carry
    # ~1e-7 relative error; the numeric determinant of a stack that mixes features sees it
    tol = 1e-6 if name == "multiscale_transformer" else 1e-9
    for b in range(2):
        assert logdet[b].item() == pytest.approx(brute_force_logdet(flow, z, VALID, ctx, b).item(), abs=tol)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("training", [True, False])
def test_inverse_without_logdet_equals_the_full_inverse(name: str, training: bool) -> None:
    """``inverse_only`` (decoding: no log-dets; in eval mode without autograd, cached parameter factors) gives
    exactly the z of ``inverse``, zero at padded positions whatever the padded noise holds."""
    torch.manual_seed(0)
    flow, ctx = build_case(name)
    flow.train(training)
    eps = latent()
    noisy = eps + 100.0 * torch.randn_like(eps) * ~VALID.unsqueeze(-1)
    with torch.no_grad():
        want = flow.inverse(eps, VALID, ctx)[0]
        for _ in range(2):  # the second call reads the caches of the first in eval mode
            assert torch.equal(flow.inverse_only(eps, VALID, ctx), want)
            assert torch.equal(flow.inverse_only(noisy, VALID, ctx), want)


def test_actnorm_logdet_after_data_dependent_init() -> None:
    torch.manual_seed(0)
    flow = ActNorm(D).double()
    flow(3.0 * latent() + 1.0, VALID)  # training mode: initialises
    flow.eval()
    z = latent()
    _, logdet = flow(z, VALID)
    for b in range(2):
        assert logdet[b].item() == pytest.approx(brute_force_logdet(flow, z, VALID, None, b).item(), abs=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_padded_positions_change_nothing(name: str) -> None:
    torch.manual_seed(0)
    flow, ctx = build_case(name)
    z = latent()
    noisy = z + 100.0 * torch.randn_like(z) * ~VALID.unsqueeze(-1)
    for direction in (flow.forward, flow.inverse):
        out, logdet = direction(z, VALID, ctx)
        out_noisy, logdet_noisy = direction(noisy, VALID, ctx)
        assert torch.allclose(out_noisy, out, atol=1e-12, rtol=0)
        assert torch.allclose(logdet_noisy, logdet, atol=1e-12, rtol=0)
        assert torch.all(out_noisy[~VALID] == 0)


def test_sequential_logdet_is_sum_of_parts() -> None:
    torch.manual_seed(0)
    parts = [randomize(f) for f in (ActNorm(D), InvertibleMultiHeadLinear(D, 2), coupling(mlp, False))]
    z = latent()
    eps, logdet = SequentialFlow(parts)(z, VALID)
    x, total = z, torch.zeros(2, dtype=torch.float64)
    for part in parts:
        x, ld = part(x, VALID)
        total = total + ld
    assert torch.allclose(eps, x) and torch.allclose(logdet, total)
    z_back, logdet_inv = SequentialFlow(parts).inverse(eps, VALID)
    assert torch.allclose(z_back, z, atol=1e-10) and torch.allclose(logdet_inv, -total)


def test_inverse_flow_swaps_directions() -> None:
    torch.manual_seed(0)
    inner = randomize(coupling(mlp, False))
    z = latent()
    for a, b in ((InverseFlow(inner)(z, VALID), inner.inverse(z, VALID)),
                 (InverseFlow(inner).inverse(z, VALID), inner(z, VALID))):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_density_integrates_to_one() -> None:
    """exp(log N(f(z)) + logdet) of a 2-D flow (T=1) sums to 1 on a wide grid."""
    torch.manual_seed(0)
    flow = randomize(SequentialFlow([ActNorm(2), InvertibleMultiHeadLinear(2, 1), coupling(mlp, False, 2),
                                     coupling(mlp, True, 2)]), scale=0.5)
    step = 0.04
    axis = torch.arange(-12.0, 12.0, step, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis).unsqueeze(1)  # [N, 1, 2]
    valid = torch.ones(grid.size(0), 1, dtype=torch.bool)
    eps, logdet = flow(grid, valid)
    density = torch.exp(standard_normal_log_prob(eps, valid) + logdet)
    assert density.sum().item() * step**2 == pytest.approx(1.0, abs=1e-2)
    assert density.max().item() * step**2 < 1e-2  # the grid resolves the density


def test_actnorm_data_dependent_init_and_reload() -> None:
    torch.manual_seed(0)
    flow = ActNorm(D).double()
    z = (latent() * torch.linspace(0.5, 4.0, D, dtype=torch.float64) + torch.arange(D)) * VALID.unsqueeze(-1)
    eps, _ = flow(z, VALID)
    assert bool(flow.initialized)
    assert torch.allclose(eps[VALID].mean(0), torch.zeros(D, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(eps[VALID].std(0, unbiased=False), torch.ones(D, dtype=torch.float64), atol=1e-5)

    state = flow.state_dict()
    assert "initialized" in state and bool(state["initialized"])
    fresh = ActNorm(D).double()
    fresh.load_state_dict(state)
    other = latent()
    out, logdet = fresh(other, VALID)  # training mode, but already initialised: no re-initialisation
    ref, ref_logdet = flow(other, VALID)
    assert torch.equal(out, ref) and torch.equal(logdet, ref_logdet)
    assert torch.equal(fresh.bias, flow.bias) and torch.equal(fresh.log_scale, flow.log_scale)
    assert not torch.allclose(ActNorm(D).double()(other, VALID)[0], ref)  # an uninitialised one would re-fit


def test_coupling_scale_is_bounded() -> None:
    torch.manual_seed(0)
    flow = coupling(mlp, False).double()
    with torch.no_grad():
        flow.conditioner.out.bias.fill_(1e4)
    z = latent()
    log_s, _ = flow.scale_shift(z[..., :4], VALID, None)
    assert log_s.abs().max().item() <= flow.scale_bound
    _, logdet = flow(z, VALID)
    assert torch.allclose(logdet, 2.0 * 4 * VALID.sum(1).double())
    assert torch.allclose(flow.inverse(flow(z, VALID)[0], VALID)[0], z, atol=1e-10)


def test_multiscale_levels() -> None:
    assert level_dims(8, 3) == [8, 4, 2]
    assert level_heads([8, 4, 2], None) == [2, 1, 1]
    assert level_heads([16, 8, 4], 4) == [4, 2, 1]
    with pytest.raises(ValueError):
        level_dims(2, 3)
    with pytest.raises(ValueError):
        level_heads([6, 3], 4)
    flow = multiscale_flow(8, mlp, levels=3, steps=2)
    assert sum(isinstance(m, AffineCoupling) for m in flow.modules()) == 6
    assert sorted(m.dim for m in flow.modules() if isinstance(m, AffineCoupling)) == [2, 2, 4, 4, 8, 8]


def test_multiscale_factored_features_pass_through() -> None:
    """Features factored out after level 1 (the last 4) leave the flow as level 1 output them."""
    torch.manual_seed(0)
    flow = randomize(multiscale_flow(D, mlp))
    z = latent()
    level_1 = flow.flows[0]
    assert torch.equal(flow(z, VALID)[0][..., 4:], level_1(z, VALID)[0][..., 4:])


def flow_prior() -> FlowPrior:
    return randomize(FlowPrior(tiny_args(flow_steps=1, flow_levels=2), D))


def test_build_flow_defaults() -> None:
    flow = build_flow(tiny_args(), D)
    couplings = [m for m in flow.modules() if isinstance(m, AffineCoupling)]
    assert len(couplings) == 6 and all(isinstance(c.conditioner, TransformerConditioner) for c in couplings)
    assert all(c.scale_bound == 2.0 for c in couplings)
    z, ctx = latent().float(), fake_encoder_out()
    ctx["encoder_out"][0] = ctx["encoder_out"][0].float()
    eps, logdet = flow.eval()(z, VALID, ctx)  # fresh couplings and actnorms are the identity
    assert torch.allclose(logdet, torch.zeros(2)) and torch.allclose(eps.norm(dim=-1), z.norm(dim=-1), atol=1e-5)


def test_flow_prior_sample_log_prob_and_mode() -> None:
    torch.manual_seed(0)
    prior, ctx = flow_prior(), fake_encoder_out()
    assert prior.closed_form_kl is False
    z, log_prob = prior.sample(VALID, ctx, temperature=0.8, generator=torch.Generator().manual_seed(1))
    assert z.dtype == torch.float64 and torch.all(z[~VALID] == 0)
    assert torch.allclose(log_prob, prior.log_prob(z, VALID, ctx), atol=1e-10, rtol=0)
    mode = prior.mode(VALID, ctx)
    assert torch.allclose(mode, prior.flow.inverse(torch.zeros_like(mode), VALID, ctx)[0], atol=1e-12, rtol=0)
    assert torch.allclose(prior.sample(VALID, ctx, temperature=0.0)[0], mode, atol=1e-12, rtol=0)
    assert not torch.allclose(mode, torch.zeros_like(mode))


def test_flow_prior_log_prob_is_change_of_variables() -> None:
    torch.manual_seed(0)
    prior, ctx = flow_prior(), fake_encoder_out()
    z = latent()
    eps, logdet = prior.flow(z, VALID, ctx)
    expected = (-0.5 * (math.log(2 * math.pi) + eps**2)).sum(-1)[VALID.nonzero(as_tuple=True)]
    per_sentence = torch.zeros(2, dtype=torch.float64).index_add_(0, VALID.nonzero()[:, 0], expected) + logdet
    assert torch.allclose(prior.log_prob(z, VALID, ctx), per_sentence)
    for b in range(2):  # log p(z|x) of one sentence = base density at f(z) + brute-force log|det J|
        brute = brute_force_logdet(prior.flow, z, VALID, ctx, b)
        assert prior.log_prob(z, VALID, ctx)[b].item() == pytest.approx((per_sentence[b] - logdet[b] + brute).item())


def test_flow_prior_trains_with_float32_latents() -> None:
    """Data-dependent init on the first training call, then finite gradients everywhere."""
    torch.manual_seed(0)
    prior = FlowPrior(tiny_args(), D)
    ctx = fake_encoder_out()
    ctx["encoder_out"][0] = ctx["encoder_out"][0].float().requires_grad_()
    z = latent().float().requires_grad_()
    log_prob = prior.log_prob(z, VALID, ctx)
    log_prob.sum().backward()
    assert log_prob.dtype == torch.float32 and torch.isfinite(log_prob).all()
    assert all(bool(m.initialized) for m in prior.modules() if isinstance(m, ActNorm))
    grads = [p.grad for p in prior.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert torch.isfinite(z.grad).all() and torch.all(z.grad[~VALID] == 0)
