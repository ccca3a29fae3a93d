"""Per-sentence negative log-likelihoods shared by criterions and the log-likelihood analysis.

fairseq's ``nat_loss`` returns batch means; everything here returns per-sentence sums so that training
losses and evaluation log-likelihoods are computed by the same code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def token_nll(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, label_smoothing: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label-smoothed token negative log-likelihood summed over each sentence.

    loss_t = (1 - ε) · (−log p(y_t)) + ε · mean_v(−log p(v))  (Szegedy et al. 2016).

    Args:
        logits: [B, T, V] unnormalised scores (any float dtype; computed in float32).
        target: [B, T] reference token ids.
        mask: [B, T] bool, True where the token counts.
        label_smoothing: ε in [0, 1).

    Returns:
        (loss [B], nll [B]): smoothed loss and plain NLL (−Σ_t log p(y_t)), both summed over masked tokens.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    log_probs = F.log_softmax(logits.float(), dim=-1)
    nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    nll = nll.masked_fill(~mask, 0.0)
    if label_smoothing > 0.0:
        uniform = -log_probs.mean(-1).masked_fill(~mask, 0.0)
        loss = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    else:
        loss = nll
    return loss.sum(-1), nll.sum(-1)


def length_nll(length_logits: torch.Tensor, length_target: torch.Tensor) -> torch.Tensor:
    """−log p(T|x) per sentence.

    Args:
        length_logits: [B, C] unnormalised scores over length classes.
        length_target: [B] class index of the reference length.

    Returns:
        [B] negative log-probability of the reference length class.
    """
    return F.cross_entropy(length_logits.float(), length_target, reduction="none")
