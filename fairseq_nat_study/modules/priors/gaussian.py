"""Conditional diagonal Gaussian prior p(z|x) = Π_t N(z_t; μ_t(x), σ_t²(x)) (Lee et al. 2020, Ga-B/L):
Transformer decoder layers over position encodings of length T, cross-attending to the source."""
from __future__ import annotations

from argparse import Namespace
from typing import Any

import torch
from torch import nn

from fairseq_nat_study.modules.cross_attention_stack import CrossAttentionStack, SinusoidalPositions
from fairseq_nat_study.modules.priors.base import Prior
from fairseq_nat_study.utils.distributions import gaussian_kl_per_position, gaussian_log_prob, reparameterize


class GaussianPrior(Prior):
    """prior p(z|x): per-position mean and log-variance from a cross-attention stack."""

    closed_form_kl = True

    def __init__(self, args: Namespace, latent_dim: int, num_layers: int) -> None:
        super().__init__()
        dim = args.decoder_embed_dim
        self.positions = SinusoidalPositions(args.max_target_positions, dim)
        self.stack = CrossAttentionStack(args, num_layers)
        self.out = nn.Linear(dim, 2 * latent_dim)
        nn.init.zeros_(self.out.weight)  # start at N(0, I)
        nn.init.zeros_(self.out.bias)

    def params(self, valid: torch.Tensor, encoder_out: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """valid [B, T] -> (mean, logvar) [B, T, D]."""
        h = self.stack(self.positions(valid), valid, encoder_out)
        mean, logvar = self.out(h).float().chunk(2, dim=-1)
        return mean, logvar

    def log_prob(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        mean, logvar = self.params(valid, encoder_out)
        return gaussian_log_prob(z, mean, logvar, valid)

    def sample(self, valid: torch.Tensor, encoder_out: dict[str, Any], temperature: float = 1.0,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.params(valid, encoder_out)
        z = reparameterize(mean, logvar, temperature, generator) * valid.unsqueeze(-1)
        return z, gaussian_log_prob(z, mean, logvar, valid)

    def mode(self, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        return self.params(valid, encoder_out)[0] * valid.unsqueeze(-1)

    def kl(self, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        mean_p, logvar_p = self.params(valid, encoder_out)
        return gaussian_kl_per_position(mean_q, logvar_q, mean_p, logvar_p, valid)
