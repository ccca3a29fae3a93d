"""Delta-posterior iterative refinement for latent-variable NAT (Shu et al. 2020, LaNMT; Lee et al. 2020).

For each source x and each candidate (top-L lengths T from p(T|x) × S latent starts):

    z_0 = prior mode (Gaussian mean; flow f⁻¹(0; x)), or a prior sample at temperature τ (latent search)
    ŷ_0 = argmax_y p(y | z_0, x)
    for k = 1..K:  z_k = E_q[z | x, ŷ_{k−1}],  ŷ_k = argmax_y p(y | z_k, x);  stop when ŷ_k = ŷ_{k−1}

Candidates are ranked by log p(ŷ|z,x) + log p(T|x) (``--latent-rank likelihood``, the default), by an
estimate of the ELBO of ŷ (``--latent-rank elbo``: log p(T|x) + log p(ŷ|z',x) − KL(q(z|x,ŷ) ‖ p(z|x)) with one
seeded sample z' of q), or, with an AR teacher (``--iter-decode-with-external-reranker``, teacher last in
``--path``), by the teacher's log p(ŷ|x). Never by the density log p(z|x): it sums over T·d_z dims (about
−d_z nats per position) and so favours short candidates. Every distinct candidate is returned, best first
(``--nbest`` prints them); candidates that decode to the same ŷ are kept once, with the best score. With S = 1 decoding is deterministic (the prior mode); latent search and the ELBO
ranking draw from a ``torch.Generator`` seeded by ``--seed``.
All index tensors are built on the input's device: CPU and CUDA take the same path.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from fairseq.iterative_refinement_generator import IterativeRefinementGenerator

from fairseq_nat_study.generation.reranking import teacher_log_prob
from fairseq_nat_study.utils.distributions import reparameterize
from fairseq_nat_study.utils.tensor import lengths_to_valid_mask

#: How candidates are ranked without an AR teacher.
RANKINGS = ("likelihood", "elbo")


class LatentRefinementGenerator(IterativeRefinementGenerator):
    """fairseq generator protocol for ``nat_study_latent`` models."""

    def __init__(self, tgt_dict: Any, max_iter: int = 1, beam_size: int = 1, adaptive: bool = True,
                 retain_history: bool = False, reranking: bool = False, latent_samples: int = 1,
                 temperature: float = 1.0, seed: int = 1, rank: str = "likelihood", **kwargs: Any) -> None:
        super().__init__(tgt_dict, max_iter=max_iter, beam_size=beam_size, adaptive=adaptive,
                         retain_history=retain_history, reranking=reranking, **kwargs)
        if max_iter < 0:
            raise ValueError(f"--iter-decode-max-iter must be >= 0, got {max_iter}")
        if beam_size < 1:
            raise ValueError(f"--iter-decode-with-beam must be >= 1, got {beam_size}")
        if latent_samples < 1:
            raise ValueError(f"--latent-search-samples must be >= 1, got {latent_samples}")
        if rank not in RANKINGS:
            raise ValueError(f"--latent-rank must be one of {RANKINGS}, got {rank!r}")
        self.latent_samples = latent_samples
        self.temperature = temperature
        self.seed = seed
        self.rank = rank

    @torch.no_grad()
    def generate(self, models: Sequence[Any], sample: dict[str, Any], prefix_tokens: Any = None,
                 constraints: Any = None) -> list[list[dict[str, Any]]]:
        if constraints is not None or prefix_tokens is not None:
            raise NotImplementedError("latent refinement supports neither constraints nor prefixes")
        model, teacher = models[0], None
        if self.reranking:
            if len(models) < 2:
                raise ValueError("--iter-decode-with-external-reranker: give the AR teacher last in --path")
            teacher = models[-1]
        for m in models:
            m.eval()
        src_tokens, src_lengths = sample["net_input"]["src_tokens"], sample["net_input"]["src_lengths"]
        bsz, device = src_tokens.size(0), src_tokens.device
        n_cand = self.beam_size * self.latent_samples

        encoder_out = model.encode(src_tokens, src_lengths)
        length_logits, src_len = model.length_logits(encoder_out)
        lengths, length_lp = model.length_predictor.top_lengths(length_logits, src_len, self.beam_size)
        # candidate c of sentence b sits at row b·n_cand + c; c = length index · S + sample index
        lengths = lengths.repeat_interleave(self.latent_samples, dim=1).reshape(-1)
        length_lp = length_lp.repeat_interleave(self.latent_samples, dim=1).reshape(-1)
        rows = torch.arange(bsz, device=device).repeat_interleave(n_cand)
        encoder_out = model.encoder.reorder_encoder_out(encoder_out, rows)
        valid = lengths_to_valid_mask(lengths)

        z = self._initial_latent(model, valid, encoder_out, device)
        tokens, token_lp = self._decode(model, z, valid, encoder_out)
        history = [tokens.clone()] if self.retain_history else None
        steps = torch.zeros_like(lengths)
        active = torch.ones_like(lengths, dtype=torch.bool)
        for _ in range(self.max_iter):
            idx = active.nonzero(as_tuple=True)[0]
            sub_enc = model.encoder.reorder_encoder_out(encoder_out, idx)
            z_new = model.posterior_params(tokens[idx], sub_enc)[0] * valid[idx].unsqueeze(-1)
            new_tokens, new_lp = self._decode(model, z_new, valid[idx], sub_enc)
            changed = (new_tokens != tokens[idx]).any(1)
            z[idx], tokens[idx], token_lp[idx] = z_new, new_tokens, new_lp
            steps[idx] += 1
            if history is not None:
                history.append(tokens.clone())
            if self.adaptive:
                active[idx[~changed]] = False
            if not active.any():
                break

        if teacher is not None:
            score = teacher_log_prob(teacher, src_tokens, src_lengths, rows, tokens, self.eos, self.pad)[0]
        elif self.rank == "elbo":
            score = self._elbo(model, tokens, valid, encoder_out, length_lp)
        else:
            score = token_lp.sum(1) + length_lp
        return self._finalize(bsz, n_cand, tokens, token_lp, score, steps, history)

    def _initial_latent(self, model: Any, valid: torch.Tensor, encoder_out: dict[str, Any], device: torch.device) -> torch.Tensor:
        """z_0: the prior mode for the first sample of every length, prior samples at τ for the others."""
        z = model.prior.mode(valid, encoder_out)
        if self.latent_samples > 1:
            gen = torch.Generator(device=device).manual_seed(self.seed)
            sampled, _ = model.prior.sample(valid, encoder_out, self.temperature, generator=gen)
            is_sample = (torch.arange(valid.size(0), device=device) % self.latent_samples) != 0
            z = torch.where(is_sample[:, None, None], sampled, z)
        return z

    def _decode(self, model: Any, z: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """ŷ = argmax p(y|z,x) with EOS at position T−1 -> (tokens [N, T], log p(ŷ_t|z,x) [N, T], 0 off tokens)."""
        log_probs = model.decode(z, valid, encoder_out, normalize=True)
        log_probs[..., self.eos] = float("-inf")  # EOS only at the end, which the length fixes
        log_probs[..., self.pad] = float("-inf")
        token_lp, tokens = log_probs.max(-1)
        lengths = valid.sum(1)
        is_eos = torch.arange(valid.size(1), device=valid.device)[None, :] == (lengths - 1)[:, None]
        tokens = tokens.masked_fill(is_eos, self.eos).masked_fill(~valid, self.pad)
        token_lp = token_lp.masked_fill(is_eos | ~valid, 0.0)
        return tokens, token_lp

    def _elbo(self, model: Any, tokens: torch.Tensor, valid: torch.Tensor, encoder_out: dict[str, Any],
              length_lp: torch.Tensor) -> torch.Tensor:
        """One-sample ELBO of each candidate ŷ: log p(T|x) + log p(ŷ|z',x) − KL(q(z|x,ŷ) ‖ p(z|x)), z' ~ q(z|x,ŷ)
        drawn with the ``--seed`` generator -> [N]."""
        gen = torch.Generator(device=tokens.device).manual_seed(self.seed)
        mean_q, logvar_q = model.posterior_params(tokens, encoder_out)
        z = reparameterize(mean_q, logvar_q, generator=gen) * valid.unsqueeze(-1)
        log_probs = model.decode(z, valid, encoder_out, normalize=True)
        words = valid & tokens.ne(self.eos)
        log_py = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).masked_fill(~words, 0.0).sum(1)
        kl = model.kl(z, mean_q, logvar_q, valid, encoder_out)
        return length_lp + log_py - kl

    def _finalize(self, bsz: int, n_cand: int, tokens: torch.Tensor, token_lp: torch.Tensor, score: torch.Tensor,
                  steps: torch.Tensor, history: list[torch.Tensor] | None) -> list[list[dict[str, Any]]]:
        finalized = []
        for b in range(bsz):
            block = range(b * n_cand, (b + 1) * n_cand)
            hypos, seen = [], set()
            for r in sorted(block, key=lambda r: -float(score[r])):
                keep = tokens[r].ne(self.pad)
                key = tuple(tokens[r][keep].tolist())
                if key in seen:  # the same ŷ from another candidate: keep only its best-scored entry
                    continue
                seen.add(key)
                hypo = {"tokens": tokens[r][keep], "positional_scores": token_lp[r][keep], "score": score[r],
                        "steps": int(steps[r]), "hypo_attn": None, "alignment": None}
                if history is not None:
                    own = history[: int(steps[r]) + 1]  # this candidate's ŷ_0 .. ŷ_k, not later no-op steps
                    hypo["history"] = [{"tokens": h[r][h[r].ne(self.pad)]} for h in own]
                hypos.append(hypo)
            finalized.append(hypos)
        return finalized
