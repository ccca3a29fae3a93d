"""Multi-scale flow over features (RealNVP, Dinh et al. 2017, §3.6; Glow, Kingma & Dhariwal 2018; FlowSeq,
Ma et al. 2019, §3.4).

Level ℓ is K steps of [ActNorm → invertible multi-head 1×1 → affine coupling] on D_ℓ features; after every
level but the last, the last ⌊D_ℓ/2⌋ features are factored out: they go to the base N(0, I) unchanged from then on,
and the remaining D_{ℓ+1} = ⌈D_ℓ/2⌉ features enter level ℓ+1. With D = 8 and 3 levels: 8 → 4 → 2 features.
The factored-out features keep their place in eps, so forward and inverse are exact inverses.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from fairseq_nat_study.modules.flows.actnorm import ActNorm
from fairseq_nat_study.modules.flows.base import Context, Flow, SequentialFlow
from fairseq_nat_study.modules.flows.coupling import AffineCoupling
from fairseq_nat_study.modules.flows.linear import InvertibleMultiHeadLinear, default_heads

#: Builds a coupling's conditioner from (D_in, D_out).
ConditionerFactory = Callable[[int, int], nn.Module]


class FactorOut(Flow):
    """Applies ``flow`` to the first ``keep`` features; the others pass through unchanged (log-det 0)."""

    def __init__(self, keep: int, flow: Flow) -> None:
        """Args: keep: features the inner flow acts on; flow: the inner flow over [B, T, keep]."""
        super().__init__()
        self.keep = keep
        self.flow = flow

    def extra_repr(self) -> str:
        return f"keep={self.keep}"

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        inner, out = z.split([self.keep, z.size(-1) - self.keep], dim=-1)
        inner, logdet = self.flow.forward_positions(inner, valid, ctx)
        return torch.cat([inner, out.masked_fill(~valid.unsqueeze(-1), 0.0)], dim=-1), logdet

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        inner, out = eps.split([self.keep, eps.size(-1) - self.keep], dim=-1)
        inner, logdet = self.flow.inverse_positions(inner, valid, ctx)
        return torch.cat([inner, out.masked_fill(~valid.unsqueeze(-1), 0.0)], dim=-1), logdet

    def inverse_unmasked(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        inner, out = eps.split([self.keep, eps.size(-1) - self.keep], dim=-1)
        return torch.cat([self.flow.inverse_unmasked(inner, valid, ctx), out], dim=-1)


def flow_step(dim: int, make_conditioner: ConditionerFactory, heads: int | None, transform_first: bool,
              scale_bound: float) -> SequentialFlow:
    """One step: ActNorm → invertible multi-head 1×1 → affine coupling, over ``dim`` features."""
    id_dim, tr_dim = AffineCoupling.split_sizes(dim, transform_first)
    coupling = AffineCoupling(dim, make_conditioner(id_dim, 2 * tr_dim), transform_first, scale_bound)
    return SequentialFlow([ActNorm(dim), InvertibleMultiHeadLinear(dim, heads), coupling])


def level_dims(dim: int, levels: int) -> list[int]:
    """Features D_ℓ of each level: D, ⌈D/2⌉, …; raises if the last level has fewer than 2."""
    if levels < 1:
        raise ValueError(f"a multi-scale flow needs at least 1 level, got {levels}")
    dims = [dim]
    for _ in range(levels - 1):
        dims.append(dims[-1] - dims[-1] // 2)
    if dims[-1] < 2:
        raise ValueError(f"{levels} flow levels need latent_dim > 2^{levels - 1} (the last level needs at least 2 "
                         f"features; got latent_dim={dim})")
    return dims


def level_heads(dims: list[int], heads: int | None) -> list[int]:
    """Heads per level: ``heads`` at the first level, halved with the features (same head size), or
    ``default_heads`` when None; raises if a level's heads do not divide its features."""
    if heads is None:
        return [default_heads(d) for d in dims]
    out = [max(1, heads // 2**level) for level in range(len(dims))]
    for d, h in zip(dims, out):
        if d % h != 0:
            raise ValueError(f"flow heads: {h} heads do not divide the {d} features of a level (levels {dims})")
    return out


def multiscale_flow(dim: int, make_conditioner: ConditionerFactory, levels: int = 3, steps: int = 2,
                    heads: int | None = None, scale_bound: float = 2.0) -> Flow:
    """The multi-scale flow z [B, T, dim] -> eps [B, T, dim].

    Args:
        dim: latent features D.
        make_conditioner: builds each coupling's conditioner from (D_in, D_out).
        levels: number of levels (features halve between levels).
        steps: K, flow steps per level (couplings alternate which half they transform).
        heads: heads of the 1×1 mixing at the first level (None: ``default_heads`` per level).
        scale_bound: bound on the couplings' |log s|.
    """
    dims = level_dims(dim, levels)
    per_level = [
        SequentialFlow([flow_step(d, make_conditioner, h, k % 2 == 1, scale_bound) for k in range(steps)])
        for d, h in zip(dims, level_heads(dims, heads))
    ]
    flow: Flow = per_level[-1]
    for level in range(levels - 2, -1, -1):  # nest from the innermost level outwards
        flow = SequentialFlow([per_level[level], FactorOut(dims[level + 1], flow)])
    return flow
