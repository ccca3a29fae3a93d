"""Scoring decoded candidates with an autoregressive teacher (``--iter-decode-with-external-reranker``)."""
from __future__ import annotations

from typing import Any

import torch

from fairseq_nat_study.scoring.exact import sentence_log_likelihoods


def teacher_log_prob(teacher: Any, src_tokens: torch.Tensor, src_lengths: torch.Tensor, rows: torch.Tensor,
                     tokens: torch.Tensor, eos: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """log p_AR(ŷ|x) of every candidate under the AR teacher (the plugin's ``y </s>`` layout, no BOS; dict
    encoder outputs of fairseq >= 0.12).

    Args:
        teacher: an autoregressive fairseq encoder-decoder model, in eval mode.
        src_tokens: [B, S] sources; src_lengths: [B].
        rows: [N] the source row of each candidate.
        tokens: [N, T] candidates ``ŷ </s>``, right-padded with ``pad``.

    Returns:
        (log p(ŷ|x) [N] float, token count [N] = |ŷ| + 1).
    """
    prev = torch.cat([tokens.new_full((tokens.size(0), 1), eos), tokens[:, :-1]], 1)
    prev = prev.masked_fill(prev.eq(eos) & (torch.arange(prev.size(1), device=prev.device) > 0), pad)
    batch = {"net_input": {"src_tokens": src_tokens[rows], "src_lengths": src_lengths[rows],
                           "prev_output_tokens": prev}, "target": tokens}
    ll, count = sentence_log_likelihoods(teacher, batch)
    return ll.to(tokens.device).float(), count.to(tokens.device)


class WithTeacher:
    """A generator whose candidates the AR ``teacher`` ranks: ``generate([model], sample)`` runs the wrapped
    generator (built with ``reranking=True``) on ``[model, teacher]``, the teacher last as
    ``--iter-decode-with-external-reranker`` reads it, so that code decoding or timing one model runs it as is."""

    def __init__(self, generator: Any, teacher: Any) -> None:
        self.generator, self.teacher = generator, teacher

    def generate(self, models: Any, sample: dict[str, Any], **kwargs: Any) -> list[list[dict[str, Any]]]:
        """The wrapped generator's hypotheses for ``sample``, best first by the teacher's log p(ŷ|x)."""
        return self.generator.generate([*models, self.teacher], sample, **kwargs)
