"""Length predictor p(T|x) of the latent model (Lee et al. 2020; LaNMT): a 2-layer MLP on mean-pooled
encoder states, categorical over the offset ``T − |x|`` in ``[−M, M]``."""
from __future__ import annotations

import torch
from torch import nn


class LengthPredictor(nn.Module):
    """p(T|x) over offsets T − |x| ∈ [−max_offset, max_offset]."""

    def __init__(self, dim: int, max_offset: int = 64) -> None:
        super().__init__()
        self.max_offset = max_offset
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 2 * max_offset + 1))

    def forward(self, enc_states: torch.Tensor, src_valid: torch.Tensor) -> torch.Tensor:
        """Args: enc_states [B, S, D]; src_valid [B, S] bool. Returns: [B, 2M+1] logits."""
        w = src_valid.unsqueeze(-1).type_as(enc_states)
        pooled = (enc_states * w).sum(1) / w.sum(1).clamp(min=1.0)
        return self.mlp(pooled)

    def target_class(self, tgt_len: torch.Tensor, src_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class index of each reference length, and [B] bool whether it is inside the support."""
        offset = tgt_len - src_len
        in_range = offset.abs() <= self.max_offset
        return (offset.clamp(-self.max_offset, self.max_offset) + self.max_offset), in_range

    def top_lengths(self, logits: torch.Tensor, src_len: torch.Tensor, k: int, min_len: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most probable lengths (each ≥ ``min_len``) and their log-probabilities.

        Args: logits [B, C]; src_len [B]. Returns: (lengths [B, k] long, log_probs [B, k]).
        """
        log_probs = torch.log_softmax(logits.float(), -1)
        lengths_all = src_len[:, None] + torch.arange(-self.max_offset, self.max_offset + 1, device=logits.device)[None, :]
        log_probs = log_probs.masked_fill(lengths_all < min_len, float("-inf"))
        top_lp, top_idx = log_probs.topk(k, dim=-1)
        return lengths_all.gather(1, top_idx), top_lp
