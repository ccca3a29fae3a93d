"""Approximate posterior q(z|x,y) = Π_t N(z_t; μ_t(x,y), σ_t²(x,y)) (Lee et al. 2020): Transformer decoder
layers over the target embeddings, cross-attending to the source, then a weight-normalised Linear."""
from __future__ import annotations

import math
from argparse import Namespace
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from fairseq_nat_study.modules.cross_attention_stack import CrossAttentionStack, SinusoidalPositions


class GaussianPosterior(nn.Module):
    """posterior q(z|x,y) over one latent vector per target position."""

    def __init__(self, args: Namespace, embed_tokens: nn.Embedding, latent_dim: int, num_layers: int) -> None:
        super().__init__()
        dim = args.decoder_embed_dim
        self.embed_tokens = embed_tokens  # shared with the decoder's target embedding
        self.embed_scale = math.sqrt(dim)
        self.positions = SinusoidalPositions(args.max_target_positions, dim)
        self.stack = CrossAttentionStack(args, num_layers)
        self.out = weight_norm(nn.Linear(dim, 2 * latent_dim))

    def forward(self, tgt_tokens: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: tgt_tokens [B, T] (``y </s>``, right-padded); valid [B, T] bool.
        Returns: (mean, logvar) [B, T, D]."""
        x = self.embed_scale * self.embed_tokens(tgt_tokens) + self.positions(valid)
        h = self.stack(x, valid, encoder_out)
        mean, logvar = self.out(h).float().chunk(2, dim=-1)
        return mean, logvar
