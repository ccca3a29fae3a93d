"""The prior interface every latent model uses."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Prior(nn.Module):
    """Conditional prior p(z|x) over z [B, T, D] at the valid target positions.

    Subclasses implement ``log_prob``, ``sample`` and ``mode``; a prior with a closed-form KL to a diagonal
    Gaussian posterior also implements ``kl`` and sets ``closed_form_kl = True``.
    """

    closed_form_kl: bool = False

    def log_prob(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """log p(z|x): z [B, T, D], valid [B, T] -> [B]."""
        raise NotImplementedError

    def sample(self, valid: torch.Tensor, encoder_out: dict[str, Any], temperature: float = 1.0,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """z ~ p(z|x) at ``temperature`` (scales the base noise) -> (z [B, T, D], log p(z|x) [B])."""
        raise NotImplementedError

    def mode(self, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """The point used to start delta-posterior decoding -> z [B, T, D]."""
        raise NotImplementedError

    def kl(self, mean_q: torch.Tensor, logvar_q: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> torch.Tensor:
        """KL(q‖p) per position in closed form -> [B, T]."""
        raise NotImplementedError
