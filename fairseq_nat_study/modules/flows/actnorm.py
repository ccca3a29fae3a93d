"""Masked activation normalisation (Glow, Kingma & Dhariwal 2018, §3.1; FlowSeq, Ma et al. 2019, §3.3).

eps = (z − bias) · exp(−log_scale) per feature, with bias and log_scale initialised from the first training
batch so that the valid outputs have zero mean and unit variance per feature. Whether that has happened is kept
in the persistent buffer ``initialized``, so a loaded checkpoint is never re-initialised.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from fairseq_nat_study.modules.flows.base import Context, Flow, ParameterCache, mask_positions


class ActNorm(Flow):
    """Per-feature affine normalisation of z [B, T, D] with lazy data-dependent initialisation."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        """Args: dim: number of features D; eps: added to the variance at initialisation."""
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))
        self._cache = ParameterCache()

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    @torch.no_grad()
    def initialize(self, z: torch.Tensor, valid: torch.Tensor) -> None:
        """Sets bias = mean and log_scale = log std of the valid positions of z [B, T, D] (valid [B, T]).

        Under distributed training the statistics are pooled over all workers, so every replica starts from the
        same parameters."""
        w = valid.unsqueeze(-1).to(torch.float64)
        x = mask_positions(z, valid).to(torch.float64)
        stats = torch.cat([w.sum().reshape(1), (x * w).sum((0, 1)), (x * x * w).sum((0, 1))])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
        count, total, total_sq = stats[0].clamp_min(1.0), stats[1:1 + self.dim], stats[1 + self.dim:]
        mean = total / count
        var = (total_sq / count - mean * mean).clamp_min(0.0)
        self.bias.copy_(mean.to(self.bias.dtype))
        self.log_scale.copy_((0.5 * torch.log(var + self.eps)).to(self.log_scale.dtype))
        self.initialized.fill_(True)

    def _logdet(self, valid: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """−Σ_d log_scale_d at every valid position -> [B, T]."""
        return -self.log_scale.to(dtype).sum() * valid.to(dtype)

    def forward_positions(self, z: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(z, valid)
        eps = (z - self.bias.to(z.dtype)) * torch.exp(-self.log_scale.to(z.dtype))
        return mask_positions(eps, valid), self._logdet(valid, z.dtype)

    def inverse_positions(self, eps: torch.Tensor, valid: torch.Tensor,
                          ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        z = eps * torch.exp(self.log_scale.to(eps.dtype)) + self.bias.to(eps.dtype)
        return mask_positions(z, valid), -self._logdet(valid, eps.dtype)

    def inverse_unmasked(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        scale, bias = self._cache.get(self, f"inverse {eps.dtype}", (self.log_scale, self.bias),
                                      lambda: (torch.exp(self.log_scale.to(eps.dtype)), self.bias.to(eps.dtype)))
        return eps * scale + bias
