"""Diagonal-Gaussian maths with explicit ``mean`` and ``logvar``, masked over sequence positions."""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob_positions(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                                valid: torch.Tensor) -> torch.Tensor:
    """log N(z_t; mean_t, diag(exp(logvar_t))) per position, summed over features.

    Args:
        z, mean, logvar: [B, T, D].
        valid: [B, T] bool.

    Returns:
        [B, T] log-density (0 at invalid positions).
    """
    per = -0.5 * (LOG_2PI + logvar + (z - mean) ** 2 * torch.exp(-logvar))
    return per.sum(-1) * valid


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over valid positions and features: [B, T, D] -> [B]."""
    return gaussian_log_prob_positions(z, mean, logvar, valid).sum(-1)


def standard_normal_log_prob_positions(z: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log N(z_t; 0, I) per position; z [B, T, D], valid [B, T] -> [B, T] (0 at invalid positions)."""
    return -0.5 * (LOG_2PI + z**2).sum(-1) * valid


def standard_normal_log_prob(z: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over valid positions and features; z [B, T, D], valid [B, T] -> [B]."""
    return standard_normal_log_prob_positions(z, valid).sum(-1)


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
    return gaussian_kl_per_dim(mean_q, logvar_q, mean_p, logvar_p).sum(-1) * valid


def gaussian_kl_per_dim(mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor,
                        logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(q‖p) of two diagonal Gaussians per position and latent dim: all [B, T, D] -> [B, T, D] (unmasked)."""
    return 0.5 * (logvar_p - logvar_q + (torch.exp(logvar_q) + (mean_q - mean_p) ** 2) * torch.exp(-logvar_p) - 1.0)


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, temperature: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mean + temperature · exp(½ logvar) · ε, ε ~ N(0, I); [B, T, D] -> [B, T, D]."""
    eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
    return mean + temperature * torch.exp(0.5 * logvar) * eps
