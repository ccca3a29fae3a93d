"""Factorised decoder p(y|z,x) = Π_t p(y_t|z,x) (Lee et al. 2020): the inputs are Linear(z) plus position
encodings; fairseq decoder layers cross-attend to the source; the output projection is tied to the target
embedding when ``--share-decoder-input-output-embed`` (or ``--share-all-embeddings``) is set.

z also reaches every later layer (LaNMT's skip connections, Shu et al. 2020): a Linear(z) of its own is added
to the input of each layer after the first. Without them the layers' attention to the source can route
around z and the model learns to ignore its latent; ``--no-latent-skip`` turns them off (ablation)."""
from __future__ import annotations

from argparse import Namespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from fairseq.models import FairseqDecoder

from fairseq_nat_study.modules.cross_attention_stack import CrossAttentionStack, SinusoidalPositions


class LatentDecoder(FairseqDecoder):
    """decoder p(y|z,x): logits for every target position from z, independently across positions."""

    def __init__(self, args: Namespace, dictionary: Any, embed_tokens: nn.Embedding, latent_dim: int) -> None:
        super().__init__(dictionary)
        dim = args.decoder_embed_dim
        self.embed_tokens = embed_tokens
        self.max_target_positions = args.max_target_positions
        self.z_proj = nn.Linear(latent_dim, dim)
        self.positions = SinusoidalPositions(args.max_target_positions, dim)
        self.dropout = nn.Dropout(args.dropout)
        self.stack = CrossAttentionStack(args, args.decoder_layers)
        skip = not getattr(args, "no_latent_skip", False)
        self.z_skip = nn.ModuleList(nn.Linear(latent_dim, dim) for _ in range(args.decoder_layers - 1)) if skip else None
        if getattr(args, "share_decoder_input_output_embed", False):
            self.output_projection = None
        else:
            self.output_projection = nn.Linear(dim, len(dictionary), bias=False)
            nn.init.normal_(self.output_projection.weight, mean=0, std=dim**-0.5)

    def forward(self, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any], normalize: bool = False) -> torch.Tensor:
        """Args: z [B, T, D_z]; valid [B, T] bool. Returns: [B, T, V] logits (log-probs if ``normalize``)."""
        x = self.dropout(self.z_proj(z) + self.positions(valid))
        skips = [proj(z) for proj in self.z_skip] if self.z_skip is not None else None
        h = self.stack(x, valid, encoder_out, layer_inputs=skips)
        weight = self.embed_tokens.weight if self.output_projection is None else self.output_projection.weight
        logits = F.linear(h, weight)
        return F.log_softmax(logits.float(), -1) if normalize else logits

    def max_positions(self) -> int:
        return self.max_target_positions
