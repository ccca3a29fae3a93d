"""Non-causal Transformer decoder layers over a sequence, attending to the source: the one layer stack
that the prior p(z|x), the posterior q(z|x,y) and the latent decoder p(y|z,x) are built from. The layers are
fairseq's ``TransformerDecoderLayer``; this module only runs them batch-first with bool masks."""
from __future__ import annotations

from argparse import Namespace
import weakref
from typing import Any

import torch
from torch import nn
from fairseq.modules import LayerNorm, PositionalEmbedding, TransformerDecoderLayer


class CrossAttentionStack(nn.Module):
    """``num_layers`` of fairseq's decoder layer, no causal mask (every position sees every position)."""

    def __init__(self, args: Namespace, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([TransformerDecoderLayer(args) for _ in range(num_layers)])
        normalize_before = getattr(args, "decoder_normalize_before", False)
        self.layer_norm = LayerNorm(args.decoder_embed_dim) if normalize_before else None

    def forward(self, x: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, list[torch.Tensor]],
                layer_inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Args: x [B, T, D]; valid [B, T] bool; encoder_out fairseq's dict (``encoder_out`` [S, B, D]);
        layer_inputs: optional [B, T, D] tensors added to the input of layers 1, 2, … (skip connections).
        Returns: [B, T, D], zero at invalid positions."""
        enc = encoder_out["encoder_out"][0]
        enc_pad = encoder_out["encoder_padding_mask"][0] if len(encoder_out["encoder_padding_mask"]) > 0 else None
        h = x.transpose(0, 1)
        for i, layer in enumerate(self.layers):
            if layer_inputs and i > 0:
                h = h + layer_inputs[i - 1].transpose(0, 1)
            h, _, _ = layer(h, enc, enc_pad, self_attn_mask=None, self_attn_padding_mask=~valid)
        if self.layer_norm is not None:
            h = self.layer_norm(h)
        return h.transpose(0, 1) * valid.unsqueeze(-1).type_as(h)


class SinusoidalPositions(nn.Module):
    """Sinusoidal position encodings for the valid positions of a right-padded sequence (no parameters)."""

    #: without autograd: (key of the mask, weak reference to it, encodings) of the last lookup, shared by all
    #: instances (their tables of one size are identical)
    _memo: tuple[tuple, Any, torch.Tensor] | None = None

    def __init__(self, max_positions: int, dim: int, padding_idx: int = 1) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.embed = PositionalEmbedding(max_positions, dim, padding_idx, learned=False)

    def forward(self, valid: torch.Tensor) -> torch.Tensor:
        """valid [B, T] bool -> [B, T, D] encodings (zero at invalid positions).

        The rows of fairseq's sinusoid table that ``PositionalEmbedding`` would pick for tokens at the valid
        positions (``make_positions``: padding_idx + the running count of valid positions, padding_idx at
        padding), looked up directly: a third of its operations, which every latent pass pays."""
        table = self.embed.weights
        if self.padding_idx + 1 + valid.size(1) > table.size(0):  # fairseq grows its table
            return self.embed(torch.where(valid, self.padding_idx + 1, self.padding_idx))
        if torch.is_grad_enabled():
            return self._lookup(table, valid)
        # decoding: the prior's conditioners, the posterior and the decoder all encode the same mask; every
        # table of this size holds the same sinusoids, so the last result is reused while that mask is alive and
        # unchanged (same tensor object, same version)
        key = (id(valid), valid._version, table.shape, table.dtype, table.device, self.padding_idx)
        memo = SinusoidalPositions._memo
        if memo is not None and memo[0] == key and memo[1]() is valid:
            return memo[2]
        out = self._lookup(table, valid)
        SinusoidalPositions._memo = (key, weakref.ref(valid), out)
        return out

    def _lookup(self, table: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        index = (valid.cumsum(1) + self.padding_idx).masked_fill_(~valid, self.padding_idx)
        return table.index_select(0, index.view(-1)).view(*valid.shape, -1)


def model_dim(args: Any) -> int:
    return int(args.decoder_embed_dim)
