"""``fairseq-generate --score-reference`` for non-autoregressive and latent models: the references' scores.

fairseq answers ``--score-reference`` with its ``SequenceScorer``, which calls an autoregressive decoder; the
refinement generators of NAT models ignore the flag. :class:`NatReferenceScorer` is the generator that
``nat_study_translation`` builds instead, and it returns what fairseq's scorer returns: one hypothesis per
sentence whose tokens are the reference ``y </s>``, so fairseq-generate prints the usual ``H-``/``P-`` lines
(scores in base 2) and a BLEU of 100. The score is the plugin's log-likelihood of the reference
(:mod:`fairseq_nat_study.analysis.loglik`), per token (``|y| + 1``, EOS included) as fairseq's scorer gives it:

- NAT and GLAT (exact): ``log p(T|x) + Σ_t log p(y_t|x,T)``. The ``P-`` line holds ``log p(y_t|x,T)`` at each
  token and ``log p(T|x)`` at the EOS position (where an AR model's EOS probability stands), so it sums to
  the sentence's log-likelihood.
- Latent models: the importance-weighted bound with K posterior samples (:mod:`~fairseq_nat_study.scoring.iwae`;
  ``--iw-samples K`` of the task, K = 1 is the ELBO), seeded by ``--seed``. The bound is a sequence-level
  quantity that does not factorise over positions: the ``P-`` line repeats its per-token average, so that it
  also sums to the sentence's score.
"""
from __future__ import annotations

from typing import Any

import torch
from fairseq import utils

from fairseq_nat_study.utils.errors import PluginError


class NatReferenceScorer:
    """Scores the references of a batch with one ``nat_study_nat``/GLAT model (exact) or latent model (IWAE-K).

    Args:
        tgt_dict: the target dictionary.
        iw_samples: K posterior samples of a latent model's bound (1: the ELBO).
        seed: seed of the latent model's posterior samples.
    """

    def __init__(self, tgt_dict: Any, iw_samples: int = 20, seed: int = 1) -> None:
        self.pad = tgt_dict.pad()
        self.eos = tgt_dict.eos()
        self.iw_samples = iw_samples
        self.seed = seed
        self.symbols_to_strip_from_output = {self.eos}
        self._latent_scorer: Any = None

    @torch.no_grad()
    def generate(self, models: list[Any], sample: dict[str, Any], **kwargs: Any) -> list[list[dict[str, Any]]]:
        """One hypothesis per sentence: the reference, its score per token and positional scores (natural log).

        Args:
            models: one NAT or latent model.
            sample: a translation batch with ``target`` [B, T] (right-padded ``y </s>``).

        Returns:
            B lists of one dict: ``tokens`` [n] (the reference), ``score`` (log-likelihood / n),
            ``positional_scores`` [n], ``attention`` and ``alignment`` None.
        """
        from fairseq_nat_study.scoring.exact import model_family, nat_token_log_probs

        if sample.get("target") is None:
            raise PluginError("--score-reference scores references: this input has none (fairseq-interactive "
                              "reads sources only); use fairseq-generate on a binarised split")
        model = models[0]
        model.eval()
        target = sample["target"]
        num_tokens = target.ne(self.pad).sum(1)
        if model_family(model) == "latent":
            positional = self._latent_positional(model, sample, num_tokens)
        else:
            token_lp, length_lp = nat_token_log_probs(model, sample)
            # log p(T|x) stands at the EOS position (the last of y </s>)
            positional = token_lp.double().scatter_add(
                1, (num_tokens - 1).unsqueeze(1), length_lp.double().unsqueeze(1))
        hypos = []
        for i in range(target.size(0)):
            n = int(num_tokens[i])
            scores = positional[i, :n].float()
            hypos.append([{
                "tokens": utils.strip_pad(target[i], self.pad),
                "score": float(positional[i, :n].sum()) / n,
                "attention": None,
                "alignment": None,
                "positional_scores": scores,
            }])
        return hypos

    def _latent_positional(self, model: Any, sample: dict[str, Any], num_tokens: torch.Tensor) -> torch.Tensor:
        """[B, T] float64: each sentence's IWAE-K bound spread evenly over its n = |y| + 1 positions."""
        from fairseq_nat_study.scoring.iwae import iwae_scorer

        if self._latent_scorer is None:
            self._latent_scorer = iwae_scorer(self.iw_samples, self.seed)
        bound, _counts, _extra = self._latent_scorer(model, sample)
        width = sample["target"].size(1)
        valid = torch.arange(width, device=num_tokens.device).unsqueeze(0) < num_tokens.unsqueeze(1)
        return (bound.double() / num_tokens.double()).unsqueeze(1) * valid.double()
