"""Glancing sampler of GLAT (Qian et al. 2021, "Glancing Transformer for Non-Autoregressive NMT").

Given the first-pass prediction ŷ and the reference y, reveal N = ⌊ratio · Hamming(ŷ, y)⌋ target positions
chosen uniformly at random among the real tokens.
"""
from __future__ import annotations

import torch


def glancing_mask(predicted: torch.Tensor, target: torch.Tensor, words: torch.Tensor, ratio: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Positions to reveal.

    Args:
        predicted: [B, T] first-pass argmax tokens.
        target: [B, T] reference tokens.
        words: [B, T] bool, True at real target tokens (not pad, not EOS).
        ratio: glancing ratio in [0, 1].

    Returns:
        [B, T] bool with exactly ⌊ratio · Hamming⌋ True entries per row, all inside ``words``.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"glancing ratio must be in [0, 1], got {ratio}")
    hamming = ((predicted != target) & words).sum(1)
    count = torch.floor(ratio * hamming.double()).long()
    noise = torch.rand(target.shape, generator=generator, device=target.device).masked_fill(~words, 2.0)  # never pick padding or EOS
    rank = noise.argsort(1).argsort(1)  # rank of each position among its row's random scores
    return (rank < count[:, None]) & words
