"""Conditional diagonal Gaussian prior p(z|x) = Π_t N(z_t; μ_t(x), σ_t²(x)) (Lee et al. 2020, Ga-B/L):
Transformer decoder layers over position encodings of length T, cross-attending to the source."""
from __future__ import annotations

from argparse import Namespace
from typing import Any

import torch
from torch import nn

from fairseq_nat_study.modules.cross_attention_stack import CrossAttentionStack, SinusoidalPositions
from fairseq_nat_study.modules.priors.base import KLTerms, Prior
from fairseq_nat_study.utils.distributions import gaussian_kl_per_dim, gaussian_log_prob_positions, reparameterize


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

    def log_prob_positions(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        mean, logvar = self.params(valid, encoder_out)
        return gaussian_log_prob_positions(z, mean, logvar, valid)

    def sample(self, valid: torch.Tensor, encoder_out: dict[str, Any], temperature: float = 1.0,
               generator: torch.Generator | None = None,
               noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.params(valid, encoder_out)
        if noise is None:
            z = reparameterize(mean, logvar, temperature, generator)
        else:  # z = mean + τ · σ · ε with the caller's ε
            z = mean + temperature * torch.exp(0.5 * logvar) * noise.to(mean.dtype)
        z = z * valid.unsqueeze(-1)
        return z, gaussian_log_prob_positions(z, mean, logvar, valid).sum(-1)

    def mode(self, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        return self.params(valid, encoder_out)[0] * valid.unsqueeze(-1)

    @torch.no_grad()
    def standardize(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        mean_p, logvar_p = self.params(valid, encoder_out)
        return _whiten(z, mean_p, logvar_p, valid)

    def kl_positions(self, z: torch.Tensor, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor,
                     encoder_out: dict[str, Any], prior_fit: bool = False, standard_mean: bool = True) -> KLTerms:
        """Closed form: KL_t = ½ Σ_d [logvar_p − logvar_q + (exp(logvar_q) + (mean_q − mean_p)²) / exp(logvar_p) − 1]
        (z is not used); one prior pass serves every returned term."""
        mean_p, logvar_p = self.params(valid, encoder_out)
        kl = gaussian_kl_per_dim(mean_q, logvar_q, mean_p, logvar_p).sum(-1) * valid
        fit = None
        if prior_fit:
            fit = gaussian_kl_per_dim(mean_q.detach(), logvar_q.detach(), mean_p, logvar_p).sum(-1) * valid
        return KLTerms(kl, fit, _whiten(mean_q, mean_p, logvar_p, valid).detach())

    def kl_dims(self, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor,
                encoder_out: dict[str, Any]) -> torch.Tensor:
        mean_p, logvar_p = self.params(valid, encoder_out)
        return gaussian_kl_per_dim(mean_q, logvar_q, mean_p, logvar_p) * valid.unsqueeze(-1)


def _whiten(z: torch.Tensor, mean_p: torch.Tensor, logvar_p: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(z − mean_p) / σ_p at the valid positions -> [B, T, D]."""
    return ((z - mean_p) * torch.exp(-0.5 * logvar_p)) * valid.unsqueeze(-1)
