"""Length predictor p(T|x) of the latent model (Lee et al. 2020; LaNMT): a 2-layer MLP on mean-pooled
encoder states, categorical over the offset ``T − |x|`` in ``[−M, M]`` (``--length-max-offset M``).

A reference whose offset lies outside ``[−M, M]`` has probability 0 under the model. Evaluation says so
(``length_log_prob`` is −inf); training and validation (``training_class``) refuse such a pair with one line
naming ``--length-max-offset`` and the offset needed, rather than clamp it to the boundary class and train and
report a finite loss for a sentence the model cannot produce.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from fairseq_nat_study.utils.errors import PluginError


def refuse_out_of_support(offset: torch.Tensor, low: int, high: int, model: str, head: str,
                          remedy: Callable[[int], str]) -> None:
    """Raises ``PluginError`` when a target-source length difference is outside a length head's support.

    Args:
        offset: [B] |y| − |x| of each pair; low, high: the support's bounds; model: the model's name; head: the
            support in words (e.g. the flag that sets it); remedy: what to do, given the offset magnitude needed.
    """
    outside = (offset < low) | (offset > high)
    if not bool(outside.any()):
        return
    bad = offset[outside]
    worst = int(bad[bad.abs().argmax()])
    raise PluginError(
        f"{model}: {int(outside.sum())} sentence pair(s) of this batch have a target-source length difference "
        f"outside the length predictor's support [{low:+d}, {high:+d}] {head}, up to {worst:+d} tokens; "
        "the model gives them probability 0 (evaluation scores them -inf), so training on them would clamp their "
        f"length: {remedy(abs(worst))}, or remove pairs of such length difference from the data")


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

    def training_class(self, tgt_len: torch.Tensor, src_len: torch.Tensor) -> torch.Tensor:
        """Class index [B] of each reference length; raises ``PluginError`` when one is outside the support.

        Args: tgt_len [B] target lengths T; src_len [B] source lengths (both counting EOS)."""
        cls, _ = self.target_class(tgt_len, src_len)
        m = self.max_offset
        refuse_out_of_support(tgt_len - src_len, -m, m, "nat_study_latent", f"(--length-max-offset {m})",
                              lambda need: f"train with --length-max-offset {need} or more")
        return cls

    def top_lengths(self, logits: torch.Tensor, src_len: torch.Tensor, k: int, min_len: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most probable lengths (each ≥ ``min_len``) and their log-probabilities.

        Args: logits [B, C]; src_len [B]. Returns: (lengths [B, k] long, log_probs [B, k]).
        """
        log_probs = torch.log_softmax(logits.float(), -1)
        lengths_all = src_len[:, None] + torch.arange(-self.max_offset, self.max_offset + 1, device=logits.device)[None, :]
        log_probs = log_probs.masked_fill(lengths_all < min_len, float("-inf"))
        top_lp, top_idx = log_probs.topk(k, dim=-1)
        return lengths_all.gather(1, top_idx), top_lp
