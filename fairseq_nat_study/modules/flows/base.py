"""The flow interface and its containers (nflows convention, as in ``nflows/transforms/base.py``).

``forward(z, valid, ctx) -> (eps, logdet)`` maps a latent to base noise, with logdet = log|det ∂eps/∂z| summed
over the valid positions of each sentence; ``inverse(eps, valid, ctx) -> (z, -logdet)`` maps noise back. There is
no per-instance direction flag: ``InverseFlow`` swaps the two. Every flow keeps padded positions at exactly zero,
and padded input values never change outputs or log-dets.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

#: What a flow is conditioned on: fairseq's encoder output dict (``encoder_out`` [S, B, C],
#: ``encoder_padding_mask`` [B, S]), or None for unconditional flows.
Context = dict[str, list[torch.Tensor]] | None


def mask_positions(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Zeroes the padded positions (``where``, so non-finite padding cannot leak); x [B, T, D], valid [B, T]."""
    return x.masked_fill(~valid.unsqueeze(-1), 0.0)


class Flow(nn.Module):
    """An invertible map z [B, T, D] -> eps [B, T, D], conditioned on ``ctx``, applied at valid positions."""

    def forward(self, z: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent to noise.

        Args:
            z: [B, T, D] latent (padded positions are ignored).
            valid: [B, T] bool, True at real positions.
            ctx: encoder output dict or None.

        Returns:
            eps [B, T, D] (zero at padded positions) and logdet [B] = log|det ∂eps/∂z| over valid positions.
        """
        raise NotImplementedError

    def inverse(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise to latent.

        Args:
            eps: [B, T, D] noise (padded positions are ignored).
            valid: [B, T] bool.
            ctx: encoder output dict or None.

        Returns:
            z [B, T, D] (zero at padded positions) and logdet [B] = log|det ∂z/∂eps| (minus the forward one).
        """
        raise NotImplementedError


class SequentialFlow(Flow):
    """Composition f_K ∘ … ∘ f_1 (``forward`` runs f_1 first); log-dets add up."""

    def __init__(self, flows: Iterable[Flow]) -> None:
        super().__init__()
        self.flows = nn.ModuleList(flows)

    def forward(self, z: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        total = z.new_zeros(z.size(0))
        for flow in self.flows:
            z, logdet = flow(z, valid, ctx)
            total = total + logdet
        return z, total

    def inverse(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        total = eps.new_zeros(eps.size(0))
        for flow in reversed(self.flows):
            eps, logdet = flow.inverse(eps, valid, ctx)
            total = total + logdet
        return eps, total


class InverseFlow(Flow):
    """The inverse of ``flow``: its ``forward`` is ``flow.inverse`` and vice versa."""

    def __init__(self, flow: Flow) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, z: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow.inverse(z, valid, ctx)

    def inverse(self, eps: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow(eps, valid, ctx)
