"""Diagonal-Gaussian maths with explicit ``mean`` and ``logvar``, masked over sequence positions."""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over valid positions and features.

    Args:
        z, mean, logvar: [B, T, D].
        valid: [B, T] bool.

    Returns:
        [B] log-density.
    """
    per = -0.5 * (LOG_2PI + logvar + (z - mean) ** 2 * torch.exp(-logvar))
    return (per.sum(-1) * valid).sum(-1)


def standard_normal_log_prob(z: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over valid positions and features; z [B, T, D], valid [B, T] -> [B]."""
    per = -0.5 * (LOG_2PI + z**2)
    return (per.sum(-1) * valid).sum(-1)


def gaussian_kl_per_position(
    mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor, logvar_p: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """KL(q‖p) of two diagonal Gaussians in closed form, per position.

    KL = ½ Σ_d [logvar_p − logvar_q + (exp(logvar_q) + (mean_q − mean_p)²) / exp(logvar_p) − 1]

    Args:
        mean_q, logvar_q, mean_p, logvar_p: [B, T, D].
        valid: [B, T] bool.

    Returns:
        [B, T] KL per position (0 at invalid positions).
    """
    kl = 0.5 * (logvar_p - logvar_q + (torch.exp(logvar_q) + (mean_q - mean_p) ** 2) * torch.exp(-logvar_p) - 1.0)
    return kl.sum(-1) * valid


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, temperature: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mean + temperature · exp(½ logvar) · ε, ε ~ N(0, I); [B, T, D] -> [B, T, D]."""
    eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
    return mean + temperature * torch.exp(0.5 * logvar) * eps
