"""The prior interface every latent model uses."""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from fairseq_nat_study.utils.distributions import gaussian_log_prob_positions


class KLTerms(NamedTuple):
    """Per-position KL terms of q(z|x,y) against a prior, all [B, T] or [B, T, D], 0 at invalid positions."""

    kl: torch.Tensor  #: [B, T] KL(q‖p) per position (gradient to q and p)
    prior_fit: torch.Tensor | None  #: [B, T] the same with q detached (gradient to the prior only), or None
    standard_mean: torch.Tensor | None  #: [B, T, D] posterior mean in the prior's standard coordinates (detached)


class Prior(nn.Module):
    """Conditional prior p(z|x) over z [B, T, D] at the valid target positions.

    Subclasses implement ``log_prob_positions``, ``sample`` and ``mode``. ``kl_positions`` defaults to the
    one-sample Monte Carlo estimate; a prior with a closed-form KL to a diagonal Gaussian posterior overrides it
    (and ``kl_dims``) and sets ``closed_form_kl = True``.
    """

    closed_form_kl: bool = False

    def log_prob_positions(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """log p(z|x) split over target positions: z [B, T, D], valid [B, T] -> [B, T] (sums to ``log_prob``)."""
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """log p(z|x): z [B, T, D], valid [B, T] -> [B]."""
        return self.log_prob_positions(z, valid, encoder_out).sum(-1)

    def sample(self, valid: torch.Tensor, encoder_out: dict[str, Any], temperature: float = 1.0,
               generator: torch.Generator | None = None,
               noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """z ~ p(z|x) at ``temperature`` (scales the base noise) -> (z [B, T, D], log p(z|x) [B]).

        The standard normal base noise is ``noise`` [B, T, D] when given (the caller seeds it, e.g. per sentence),
        else drawn from ``generator``."""
        raise NotImplementedError

    def mode(self, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """The point used to start delta-posterior decoding -> z [B, T, D]."""
        raise NotImplementedError

    def standardize(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """z in the prior's standard coordinates, where p(z|x) is N(0, I) -> [B, T, D] (no gradient)."""
        raise NotImplementedError

    def kl_positions(self, z: torch.Tensor, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor,
                     encoder_out: dict[str, Any], prior_fit: bool = False, standard_mean: bool = True) -> KLTerms:
        """KL(q(z|x,y) ‖ p(z|x)) per target position, summed over the latent dims.

        Here the one-sample Monte Carlo estimate log q(z_t|x,y) − [log p(z|x)]_t at the reparameterised z.

        Args:
            z: [B, T, D] sample of q; mean_q, logvar_q: [B, T, D] parameters of q; valid: [B, T] bool.
            prior_fit: also return the same KL with q (and z) detached, whose gradient reaches only the prior.
            standard_mean: also return the posterior mean in the prior's standard coordinates (a flow pass).
        """
        log_q = gaussian_log_prob_positions(z, mean_q, logvar_q, valid)
        kl = log_q - self.log_prob_positions(z, valid, encoder_out)
        fit = log_q.detach() - self.log_prob_positions(z.detach(), valid, encoder_out) if prior_fit else None
        return KLTerms(kl, fit, self.standardize(mean_q, valid, encoder_out) if standard_mean else None)

    def kl_dims(self, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor,
                encoder_out: dict[str, Any]) -> torch.Tensor | None:
        """KL(q‖p) per position and latent dim [B, T, D] where the prior factorises over dims, else None."""
        return None
