"""Affine coupling with a bounded scale (RealNVP, Dinh et al. 2017; Glow, Kingma & Dhariwal 2018, §3.3;
FlowSeq, Ma et al. 2019, §3.3).

The features are split into an identity half z_id and a transformed half z_tr; a conditioner g(z_id, x) gives
(raw, b) and

    log_s = bound · tanh(raw / bound),   eps_tr = z_tr · exp(log_s) + b,   eps_id = z_id,

so logdet = Σ log_s per valid position and |log_s| ≤ bound. The coupling maths (``affine_forward`` /
``affine_inverse``) are plain functions; the conditioner is any module mapping
(z_id [B, T, D_id], valid [B, T], ctx) -> [B, T, 2·D_tr] (see ``conditioners.py``).
"""
from __future__ import annotations

import torch
from torch import nn

from fairseq_nat_study.modules.flows.base import Context, Flow, as_dtype, mask_positions


def bounded_log_scale(raw: torch.Tensor, bound: float) -> torch.Tensor:
    """log_s = bound · tanh(raw / bound): ≈ raw near 0, never beyond ±bound."""
    return bound * torch.tanh(raw / bound)


def affine_forward(z_tr: torch.Tensor, log_s: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """eps_tr = z_tr · exp(log_s) + shift (all [B, T, D_tr])."""
    return z_tr * torch.exp(log_s) + shift


def affine_inverse(eps_tr: torch.Tensor, log_s: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """z_tr = (eps_tr − shift) · exp(−log_s) (all [B, T, D_tr])."""
    return (eps_tr - shift) * torch.exp(-log_s)


class AffineCoupling(Flow):
    """Affine coupling layer: one half of the features is scaled and shifted given the other half and ctx."""

    def __init__(self, dim: int, conditioner: nn.Module, transform_first: bool = False,
                 scale_bound: float = 2.0) -> None:
        """Args:
            dim: features D (≥ 2).
            conditioner: maps (z_id [B, T, D_id], valid, ctx) -> [B, T, 2·D_tr]; sizes from ``split_sizes``.
            transform_first: transform the first ⌊D/2⌋ features (else the last ⌈D/2⌉).
            scale_bound: the bound on |log_s|.
        """
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling needs at least 2 features, got {dim}")
        self.dim, self.transform_first, self.scale_bound = dim, transform_first, scale_bound
        self.conditioner = conditioner

    def extra_repr(self) -> str:
        return f"dim={self.dim}, transform_first={self.transform_first}, scale_bound={self.scale_bound}"

    @staticmethod
    def split_sizes(dim: int, transform_first: bool) -> tuple[int, int]:
        """(D_id, D_tr) of a coupling over ``dim`` features."""
        first, second = dim // 2, dim - dim // 2
        return (second, first) if transform_first else (first, second)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, T, D] -> (x_id, x_tr)."""
        first, second = x.split([self.dim // 2, self.dim - self.dim // 2], dim=-1)
        return (second, first) if self.transform_first else (first, second)

    def _merge(self, x_id: torch.Tensor, x_tr: torch.Tensor) -> torch.Tensor:
        """(x_id, x_tr) -> [B, T, D], the inverse of ``_split``."""
        return torch.cat([x_tr, x_id] if self.transform_first else [x_id, x_tr], dim=-1)

    def scale_shift(self, x_id: torch.Tensor, valid: torch.Tensor, ctx: Context,
                    mask: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(log_s, shift) [B, T, D_tr] from the conditioner, zero at padded positions (unless not ``mask``)."""
        raw, shift = as_dtype(self.conditioner(x_id, valid, ctx), x_id.dtype).chunk(2, dim=-1)
        log_s = bounded_log_scale(raw, self.scale_bound)
        if not mask:
            return log_s, shift
        return mask_positions(log_s, valid), mask_positions(shift, valid)

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        z_id, z_tr = self._split(mask_positions(z, valid))
        log_s, shift = self.scale_shift(z_id, valid, ctx)
        eps = self._merge(z_id, affine_forward(z_tr, log_s, shift))
        return eps, log_s.sum(2)

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        eps_id, eps_tr = self._split(mask_positions(eps, valid))
        log_s, shift = self.scale_shift(eps_id, valid, ctx)
        z = self._merge(eps_id, affine_inverse(eps_tr, log_s, shift))
        return z, -log_s.sum(2)

    def inverse_unmasked(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        eps_id, eps_tr = self._split(eps)
        log_s, shift = self.scale_shift(eps_id, valid, ctx, mask=False)
        return self._merge(eps_id, affine_inverse(eps_tr, log_s, shift))
