"""Conditioner networks of the affine couplings: (z_id [B, T, D_in], valid [B, T], ctx) -> [B, T, D_out].

``TransformerConditioner`` is FlowSeq's (Ma et al. 2019, §3.3) self-attention conditioner attending to the
source: fairseq's decoder layers (through ``CrossAttentionStack``) over a projection of z_id plus position
encodings. Its output layer is weight-normalised and starts at zero, so each coupling starts as the identity
(Glow, Kingma & Dhariwal 2018, §3.3). ``MLPConditioner`` ignores the source (unit tests, unconditional flows).
"""
from __future__ import annotations

from argparse import Namespace

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from fairseq_nat_study.modules.cross_attention_stack import CrossAttentionStack, SinusoidalPositions
from fairseq_nat_study.modules.flows.base import Context, ParameterCache, as_dtype


def zero_weight_norm_linear(in_dim: int, out_dim: int) -> nn.Linear:
    """A weight-normalised Linear (w = g · v / ‖v‖) whose output starts at exactly zero.

    The gain g and the bias are zeroed, not v (v = 0 would make v / ‖v‖ undefined)."""
    linear = weight_norm(nn.Linear(in_dim, out_dim))
    with torch.no_grad():
        linear.parametrizations.weight.original0.zero_()
        linear.bias.zero_()
    return linear


class TransformerConditioner(nn.Module):
    """Linear(z_id) + positions -> ``num_layers`` decoder layers attending to the source -> zero-init Linear."""

    def __init__(self, args: Namespace, in_dim: int, out_dim: int, num_layers: int = 1) -> None:
        """Args:
            args: fairseq model args (``decoder_embed_dim``, ``decoder_attention_heads``, ``decoder_ffn_embed_dim``,
                ``encoder_embed_dim``, dropouts, …: whatever ``TransformerDecoderLayer(args)`` reads).
            in_dim: D_in, features of z_id; out_dim: D_out (2·D_tr for an affine coupling).
            num_layers: decoder layers.
        """
        super().__init__()
        dim = args.decoder_embed_dim
        self.inp = nn.Linear(in_dim, dim)
        self.positions = SinusoidalPositions(getattr(args, "max_target_positions", 1024) or 1024, dim)
        self.stack = CrossAttentionStack(args, num_layers)
        self.out = zero_weight_norm_linear(dim, out_dim)
        self._cache = ParameterCache()

    def forward(self, x: torch.Tensor, valid: torch.Tensor, ctx: Context) -> torch.Tensor:
        """Args: x [B, T, D_in]; valid [B, T] bool; ctx fairseq's encoder output dict.
        Returns: [B, T, D_out] in the dtype of x."""
        if ctx is None:
            raise ValueError("TransformerConditioner attends to the source: pass the encoder output as ctx")
        h = self.inp(as_dtype(x, self.inp.weight.dtype))
        h = self.stack(h + as_dtype(self.positions(valid), h.dtype), valid, ctx)
        # the weight-normalised output weight, recomputed only when its parameters change (or in training)
        parts = self.out.parametrizations.weight
        weight = self._cache.get(self, "out weight", (parts.original0, parts.original1), lambda: self.out.weight)
        return as_dtype(nn.functional.linear(h, weight, self.out.bias), x.dtype)


class MLPConditioner(nn.Module):
    """Per-position MLP Linear -> tanh -> zero-init Linear; ignores ctx."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 16) -> None:
        """Args: in_dim: D_in; out_dim: D_out; hidden: hidden units."""
        super().__init__()
        self.inp = nn.Linear(in_dim, hidden)
        self.out = zero_weight_norm_linear(hidden, out_dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, ctx: Context = None) -> torch.Tensor:
        """Args: x [B, T, D_in]; valid [B, T] bool (unused: positions are independent); ctx ignored.
        Returns: [B, T, D_out] in the dtype of x."""
        h = torch.tanh(self.inp(x.to(self.inp.weight.dtype)))
        return self.out(h).to(x.dtype)
