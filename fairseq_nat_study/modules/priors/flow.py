"""Flow prior p(z|x) (FlowSeq, Ma et al. 2019; used as a latent prior by Lee et al. 2020): a standard-normal base
pushed through a multi-scale flow conditioned on the source,

    log p(z|x) = log N(f(z; x); 0, I) + log|det ∂f(z; x)/∂z|,   f = ``build_flow(args, latent_dim)``.

It has no closed-form KL to the Gaussian posterior, so the model uses the Monte Carlo estimate.
"""
from __future__ import annotations

from argparse import Namespace
from typing import Any

import torch

from fairseq_nat_study.modules.flows.build import build_flow
from fairseq_nat_study.modules.priors.base import Prior
from fairseq_nat_study.utils.distributions import standard_normal_log_prob, standard_normal_log_prob_positions


class FlowPrior(Prior):
    """prior p(z|x) = N(f(z; x); 0, I) · |det ∂f/∂z| with a source-conditioned multi-scale flow f."""

    closed_form_kl = False

    def __init__(self, args: Namespace, latent_dim: int) -> None:
        """Args: args: fairseq model args (``flow_*`` options and decoder sizes); latent_dim: d_z."""
        super().__init__()
        self.latent_dim = latent_dim
        self.flow = build_flow(args, latent_dim)

    def log_prob_positions(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """log p(z|x) split over positions, log N(eps_t) + logdet_t: z [B, T, D], valid [B, T] -> [B, T]."""
        eps, logdet = self.flow.forward_positions(z, valid, encoder_out)
        return standard_normal_log_prob_positions(eps, valid) + logdet

    @torch.no_grad()
    def standardize(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """eps = f(z; x), the base-noise coordinates where the prior is N(0, I) -> [B, T, D]."""
        return self.flow(z, valid, encoder_out)[0]

    def _base_noise(self, valid: torch.Tensor, temperature: float, generator: torch.Generator | None,
                    noise: torch.Tensor | None = None) -> torch.Tensor:
        """eps ~ N(0, temperature² I) at the valid positions, zero elsewhere -> [B, T, D] (at least float32); the
        standard normal draw is ``noise`` [B, T, D] when given."""
        param = next(self.flow.parameters())
        dtype = torch.promote_types(param.dtype, torch.float32)
        shape = (*valid.shape, self.latent_dim)
        if temperature == 0:
            return torch.zeros(shape, dtype=dtype, device=valid.device)
        if noise is not None:
            eps = noise.to(dtype)
        else:
            eps = torch.randn(shape, dtype=dtype, device=valid.device, generator=generator)
        return (temperature * eps).masked_fill(~valid.unsqueeze(-1), 0.0)

    def sample(self, valid: torch.Tensor, encoder_out: dict[str, Any], temperature: float = 1.0,
               generator: torch.Generator | None = None,
               noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f⁻¹(eps; x), eps ~ N(0, temperature² I) (eps = temperature · ``noise`` when given)
        -> (z [B, T, D], log p(z|x) [B] at temperature 1)."""
        eps = self._base_noise(valid, temperature, generator, noise)
        z, logdet_inverse = self.flow.inverse(eps, valid, encoder_out)
        # change of variables: log p(z|x) = log N(eps) + log|det ∂eps/∂z| = log N(eps) − log|det ∂z/∂eps|
        return z, standard_normal_log_prob(eps, valid) - logdet_inverse

    def mode(self, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """z = f⁻¹(0; x), the image of the base mode (not in general the mode of p(z|x)) -> [B, T, D] (the inverse
        without its log-dets)."""
        return self.flow.inverse_only(self._base_noise(valid, 0.0, None), valid, encoder_out)
