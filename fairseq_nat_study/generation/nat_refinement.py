"""fairseq's iterative-refinement generator (Gu et al. 2019; Ghazvininejad et al. 2019) for the plugin's NAT
and GLAT models, with two methods changed: :meth:`NatRefinementGenerator.rerank`, and ``generate``, which does
not walk a model that is already in eval mode (fairseq calls ``model.eval()`` on every call, which visits every
submodule: a measurable share of a batch-1 NAT decode; a model left in training mode is still put in eval mode).

fairseq's ``rerank`` (``--iter-decode-with-external-reranker``) reads ``encoder_out.encoder_out`` (the
encoder outputs are dicts since fairseq 0.10) and overwrites the first token of every candidate with EOS
(``translation_lev`` targets start with BOS; the plugin's ``y </s>`` targets do not). Here the AR teacher
(last in ``--path``) scores each length candidate ``ŷ </s>`` as it is, and, as in fairseq, its mean log-probability
per token becomes the candidate's score before the best candidate of each sentence is kept.
"""
from __future__ import annotations

from typing import Any

import torch
from fairseq.iterative_refinement_generator import IterativeRefinementGenerator

from fairseq_nat_study.generation.reranking import teacher_log_prob


class NatRefinementGenerator(IterativeRefinementGenerator):
    """fairseq's generator; the external reranker scores the plugin's target layout."""

    def generate(self, models: list[Any], sample: dict[str, Any], prefix_tokens: Any = None,
                 constraints: Any = None) -> list[list[dict[str, Any]]]:
        """fairseq's ``generate``; models already in eval mode are not put in eval mode again."""
        if self.retain_dropout or any(m.training for m in models):
            return super().generate(models, sample, prefix_tokens, constraints)
        self.retain_dropout = True  # fairseq's only use of the flag: skip the eval() walk
        try:
            return super().generate(models, sample, prefix_tokens, constraints)
        finally:
            self.retain_dropout = False

    def rerank(self, reranker: Any, finalized: list[list[dict[str, Any]]], encoder_input: list[torch.Tensor],
               beam_size: int) -> list[list[dict[str, Any]]]:
        """Sets ``score`` of every length candidate to the teacher's mean log p(ŷ_t | ŷ_<t, x) over ``ŷ </s>``.

        Args:
            finalized: B·beam_size lists of one hypothesis; entry i belongs to sentence i // beam_size.
            encoder_input: [src_tokens [B, S], src_lengths [B]].
        """
        src_tokens, src_lengths = encoder_input
        hyps = [f[0]["tokens"] for f in finalized]
        tokens = hyps[0].new_full((len(hyps), max(h.numel() for h in hyps)), self.pad)
        for i, h in enumerate(hyps):
            tokens[i, : h.numel()] = h
        rows = torch.arange(src_tokens.size(0), device=tokens.device).repeat_interleave(beam_size)
        ll, count = teacher_log_prob(reranker, src_tokens, src_lengths, rows, tokens, self.eos, self.pad)
        for i, f in enumerate(finalized):
            f[0]["score"] = ll[i] / count[i].clamp(min=1).to(ll)
        return finalized
